// The only place the window talks to Rust. Every command is typed by the
// generated bindings; errors arrive as IpcError `{code, params}`.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AppInfo, Command, KioskView, Language } from "./bindings";

export const ipc = {
  appInfo: () => invoke<AppInfo>("app_info"),
  setLanguage: (language: Language) => invoke<KioskView>("set_language", { language }),
  view: () => invoke<KioskView>("kiosk_view"),
  command: (command: Command) => invoke<KioskView>("kiosk_command", { command }),
  /** The card watcher pushes a fresh view whenever the reader changes. */
  onView: (f: (v: KioskView) => void): Promise<UnlistenFn> =>
    listen<KioskView>("kiosk", (e) => f(e.payload)),
};
