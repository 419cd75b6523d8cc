// The window's reactive state. Reading `ui.lang` inside `t()` makes every text
// in every component re-render when the language changes.
import sources from "./catalogs";
import { createTranslator, errorMessage, type Args } from "./i18n";
import type { Language } from "./bindings";

const translator = createTranslator(sources);

export const ui = $state({ lang: "fr" as Language });

export function t(id: string, args?: Args): string {
  return translator.t(ui.lang, id, args);
}

export function tError(error: unknown): string {
  return errorMessage(translator, ui.lang, error);
}
