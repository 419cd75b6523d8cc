// The only place the window talks to Rust. Every command is typed by the
// generated bindings; errors arrive as IpcError `{code, params}`.
//
// Outside the app (the same built UI in a plain browser, for the app-vs-
// browser benchmark) there is no Rust side: `browser.ts` stands in for it.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen as tauriListen, type UnlistenFn } from "@tauri-apps/api/event";
import * as browser from "./browser";
import type {
  AppInfo,
  Command,
  KioskView,
  Language,
  StewardAction,
  StewardReply,
  StewardStatus,
} from "./bindings";

const inTauri = typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;

function invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  return inTauri ? tauriInvoke<T>(cmd, args) : browser.invoke<T>(cmd, args);
}

function listen<T>(event: string, f: (payload: T) => void): Promise<UnlistenFn> {
  return inTauri ? tauriListen<T>(event, (e) => f(e.payload)) : browser.listen<T>(event, f);
}

export const ipc = {
  appInfo: () => invoke<AppInfo>("app_info"),
  setLanguage: (language: Language) => invoke<KioskView>("set_language", { language }),
  view: () => invoke<KioskView>("kiosk_view"),
  command: (command: Command) => invoke<KioskView>("kiosk_command", { command }),
  /** The card watcher pushes a fresh view whenever the reader changes. */
  onView: (f: (v: KioskView) => void): Promise<UnlistenFn> => listen<KioskView>("kiosk", f),
  stewardStatus: () => invoke<StewardStatus>("steward_status"),
  stewardAction: (action: StewardAction) => invoke<StewardReply>("steward_action", { action }),
  /** Visits counted and the sync loop push a fresh status. */
  onSteward: (f: (s: StewardStatus) => void): Promise<UnlistenFn> => listen<StewardStatus>("steward", f),
  /** Once, when the first screen is drawn (start-up benchmark). */
  firstScreen: () => invoke<void>("first_screen"),
  /** The bench's journey driver marks its end (benchjourney.ts). */
  benchMark: (mark: string) => invoke<void>("first_screen", { mark }),
};
