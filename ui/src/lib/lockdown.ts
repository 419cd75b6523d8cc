// Keys that would let a resident leave, reload or print the kiosk. Alt+F4 and
// the window manager's close are refused on the Rust side; Alt+Tab and the
// like belong to the window manager (docs/kiosk-setup.md).
export function blockedShortcut(ev: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey">): boolean {
  const key = ev.key.toLowerCase();
  if (key === "f5" || key === "f12" || key === "f11" || key === "browserback" || key === "browserrefresh") return true;
  const mod = ev.ctrlKey || ev.metaKey;
  if (mod && ["r", "w", "q", "p", "s", "o", "n", "t", "u", "f4"].includes(key)) return true;
  // Alt+Left/Right navigate history in WebKit.
  if (ev.altKey && (key === "arrowleft" || key === "arrowright" || key === "home")) return true;
  return false;
}
