// A stand-in for the Rust side when the built UI runs in a plain browser
// (the app-vs-Chromium benchmark, `crates/appbench`): the welcome screen in
// French, no card, no counting. It never runs inside the app.
import type { AppInfo, KioskView, StewardStatus } from "./bindings";
import type { UnlistenFn } from "@tauri-apps/api/event";

const info: AppInfo = {
  version: "browser",
  languages: [
    { code: "fr", endonym: "Français" },
    { code: "nl", endonym: "Nederlands" },
    { code: "en", endonym: "English" },
    { code: "de", endonym: "Deutsch" },
  ],
  default_language: "fr",
  idle_seconds: 60,
  idle_warning_seconds: 15,
};

const view: KioskView = {
  language: "fr",
  reader: "insert_card",
  greeting: null,
  screen: { kind: "welcome" },
  flow_problems: [],
  training: false,
  training_residents: [],
};

const status: StewardStatus = {
  pin_set: true,
  unlocked: false,
  counting: "counting",
  session: null,
  last_counted: null,
  store_problem: null,
  notice: false,
  sync: {
    enrolled: false,
    hub: null,
    site: null,
    last_success: null,
    last_attempt: null,
    pending_cells: 0,
    last_error: null,
    last_error_code: null,
    clock_skew_secs: null,
    clock_skew_warning: false,
    next_attempt: null,
  },
};

export async function invoke<T>(cmd: string, _args?: Record<string, unknown>): Promise<T> {
  switch (cmd) {
    case "app_info":
      return info as T;
    case "kiosk_view":
    case "kiosk_command":
    case "set_language":
      return view as T;
    case "steward_status":
      return status as T;
    case "first_screen":
      // The bench's own server notes the time.
      await fetch("/__first-screen", { method: "POST" }).catch(() => undefined);
      return undefined as T;
    default:
      throw { code: "generic", params: {} };
  }
}

export async function listen<T>(_event: string, _f: (payload: T) => void): Promise<UnlistenFn> {
  return () => {};
}
