// Translation from the Fluent catalogs in assets/i18n/<lang>/*.ftl: the very
// files `cargo test -p dps-i18n` checks. Pure functions, so Vitest can test
// them without a window.
import { FluentBundle, FluentResource, type FluentVariable } from "@fluent/bundle";
import type { IpcError, Language } from "./bindings";

export const LANGUAGES: readonly Language[] = ["fr", "nl", "en", "de"];

export type Args = Record<string, FluentVariable>;

export interface Translator {
  t(lang: Language, id: string, args?: Args): string;
  has(lang: Language, id: string): boolean;
  ids(lang: Language): string[];
}

/** Builds bundles from `{path: source}`; the language is the path's folder. */
export function createTranslator(sources: Record<string, string>): Translator {
  const bundles = new Map<Language, FluentBundle>();
  for (const lang of LANGUAGES) {
    // No bidi isolation marks: all four languages are left-to-right, and the
    // marks would leak into screen readers and test assertions.
    bundles.set(lang, new FluentBundle(lang, { useIsolating: false }));
  }
  for (const [path, source] of Object.entries(sources).sort()) {
    const lang = path.split("/").at(-2) as Language;
    const bundle = bundles.get(lang);
    if (!bundle) continue;
    const errors = bundle.addResource(new FluentResource(source));
    if (errors.length > 0) console.error(`i18n: ${path}: ${errors.join("; ")}`);
  }
  const format = (lang: Language, id: string, args?: Args): string | null => {
    const bundle = bundles.get(lang);
    const message = bundle?.getMessage(id);
    if (!bundle || !message?.value) return null;
    return bundle.formatPattern(message.value, args ?? null);
  };
  return {
    t(lang, id, args) {
      // Never show a raw id to a resident: fall back to French, then to a
      // generic message, and log what was missing.
      const text = format(lang, id, args) ?? format("fr", id, args);
      if (text !== null) return text;
      console.error(`i18n: missing message ${id} (${lang})`);
      return format(lang, "error-generic") ?? id;
    },
    has(lang, id) {
      return bundles.get(lang)?.hasMessage(id) ?? false;
    },
    ids(lang) {
      const bundle = bundles.get(lang);
      return bundle ? [...bundle._messages.keys()] : [];
    },
  };
}

/** The translated message for an error that crossed IPC as `{code, params}`. */
export function errorMessage(tr: Translator, lang: Language, error: unknown): string {
  const e = asIpcError(error);
  const id = `error-${e.code}`;
  return tr.has(lang, id) ? tr.t(lang, id, e.params) : tr.t(lang, "error-generic");
}

/** Anything thrown by `invoke` as an IpcError (Tauri rejects with our value). */
export function asIpcError(error: unknown): IpcError {
  if (
    typeof error === "object" &&
    error !== null &&
    typeof (error as IpcError).code === "string"
  ) {
    const params = (error as IpcError).params ?? {};
    return { code: (error as IpcError).code, params };
  }
  return { code: "generic", params: {} };
}
