// The window's reactive state. Reading `ui.lang` inside `t()` makes every text
// in every component re-render when the language changes. The steward area
// speaks the steward's language (`ui.stewardLang`), whatever the resident chose.
import sources from "./catalogs";
import { createTranslator, errorMessage, type Args } from "./i18n";
import type { Language } from "./bindings";

const translator = createTranslator(sources);

export const ui = $state({ lang: "fr" as Language, stewardLang: "fr" as Language });

export function t(id: string, args?: Args): string {
  return translator.t(ui.lang, id, args);
}

export function tError(error: unknown): string {
  return errorMessage(translator, ui.lang, error);
}

/** Steward-area text, in the steward's language. */
export function ts(id: string, args?: Args): string {
  return translator.t(ui.stewardLang, id, args);
}

/** Steward text for `id` if the catalogs have it, else `fallback` (e.g. an
 * outcome code of a flow added after the catalogs). */
export function tsOr(id: string, fallback: string): string {
  return translator.has(ui.stewardLang, id) || translator.has("fr", id) ? ts(id) : fallback;
}

export function tsError(error: unknown): string {
  return errorMessage(translator, ui.stewardLang, error);
}
