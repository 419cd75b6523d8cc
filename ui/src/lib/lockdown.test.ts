import { describe, expect, it } from "vitest";
import { blockedShortcut } from "./lockdown";

const k = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...mods,
});

describe("kiosk lockdown shortcuts", () => {
  it("blocks reload, close, quit, print and history navigation", () => {
    for (const ev of [k("F5"), k("r", { ctrlKey: true }), k("R", { ctrlKey: true }), k("w", { ctrlKey: true }),
      k("q", { ctrlKey: true }), k("p", { ctrlKey: true }), k("ArrowLeft", { altKey: true }), k("F12")]) {
      expect(blockedShortcut(ev), JSON.stringify(ev)).toBe(true);
    }
  });
  it("lets typing, digits, Tab, Enter and zoom through", () => {
    for (const ev of [k("a"), k("7"), k("Tab"), k("Enter"), k("Backspace"), k("+", { ctrlKey: true }), k("-", { ctrlKey: true })]) {
      expect(blockedShortcut(ev), JSON.stringify(ev)).toBe(false);
    }
  });
});
