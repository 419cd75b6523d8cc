//! Thin commands: parse, call a crate, map the error to `{code, params}`.

use dps_controller::{Command, KioskView};
use dps_ipc::{AppInfo, IpcError};
use dps_model::Language;

use crate::{today, view_of, AppState};

#[tauri::command]
pub fn app_info() -> AppInfo {
    let mut info = AppInfo::current();
    // Tests shorten the idle timeout (60 s in the field) to keep the suite fast.
    if let Some(secs) = std::env::var("DPS_IDLE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        info.idle_seconds = secs.max(2);
        info.idle_warning_seconds = info.idle_warning_seconds.min(info.idle_seconds - 1);
    }
    info
}

#[tauri::command]
pub fn set_language(
    language: String,
    state: tauri::State<'_, AppState>,
) -> Result<KioskView, IpcError> {
    let language: Language = language
        .parse()
        .map_err(|_| IpcError::new("unknown_language").with("value", &language))?;
    kiosk_command(Command::SetLanguage { language }, state)
}

#[tauri::command]
pub fn kiosk_view(state: tauri::State<'_, AppState>) -> Result<KioskView, IpcError> {
    view_of(&state.shared)
}

#[tauri::command]
pub fn kiosk_command(
    command: Command,
    state: tauri::State<'_, AppState>,
) -> Result<KioskView, IpcError> {
    let shared = &state.shared;
    let mut kiosk = shared.kiosk.lock().map_err(|_| IpcError::new("generic"))?;
    let visit = kiosk.command(command, today());
    shared.count(visit);
    Ok(kiosk.view())
}
