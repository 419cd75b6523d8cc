import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createTranslator, errorMessage, LANGUAGES } from "./i18n";

// The same catalogs the app bundles, read from disk.
const root = join(__dirname, "../../../assets/i18n");
const sources: Record<string, string> = {};
for (const lang of LANGUAGES) {
  for (const f of readdirSync(join(root, lang))) {
    if (f.endsWith(".ftl")) sources[`${root}/${lang}/${f}`] = readFileSync(join(root, lang, f), "utf8");
  }
}
const tr = createTranslator(sources);

describe("translator", () => {
  it("speaks every language on the welcome screen", () => {
    expect(tr.t("fr", "welcome-start")).toBe("Commencer");
    expect(tr.t("nl", "welcome-start")).toBe("Beginnen");
    expect(tr.t("en", "welcome-start")).toBe("Start");
    expect(tr.t("de", "welcome-title")).toBe("Willkommen");
  });

  it("has the same messages in every language", () => {
    const fr = tr.ids("fr").sort();
    expect(fr.length).toBeGreaterThan(5);
    for (const lang of LANGUAGES) expect(tr.ids(lang).sort()).toEqual(fr);
  });

  it("never shows a raw id", () => {
    expect(tr.t("nl", "no-such-message")).toBe(tr.t("nl", "error-generic"));
  });

  it("fills parameters without bidi marks", () => {
    expect(tr.t("en", "language-current", { language: "English" })).toBe("Language: English");
  });
});

describe("errors from IPC", () => {
  it("translates a known code with its params", () => {
    const e = { code: "unknown_language", params: { value: "xx" } };
    expect(errorMessage(tr, "nl", e)).toBe("Deze taal is niet beschikbaar: xx.");
  });

  it("falls back to the generic message for unknown codes and non-errors", () => {
    expect(errorMessage(tr, "de", { code: "nope", params: {} })).toBe(tr.t("de", "error-generic"));
    expect(errorMessage(tr, "fr", "boom")).toBe(tr.t("fr", "error-generic"));
  });
});
