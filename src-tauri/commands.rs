//! Thin commands: parse, call a crate, map the error to `{code, params}`.

use std::sync::atomic::Ordering;

use chrono::Utc;
use dps_controller::{Command, KioskView};
use dps_ipc::{AppInfo, IpcError, StewardAction, StewardReply, StewardStatus};
use dps_model::Language;
use dps_steward::Effect;
use tauri::AppHandle;

use crate::{today, view_of, AppState, Shared};

#[tauri::command]
pub fn app_info() -> AppInfo {
    let mut info = AppInfo::current();
    // Tests shorten the idle timeout (60 s in the field) to keep the suite fast.
    if let Some(secs) = std::env::var("DPS_IDLE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        info.idle_seconds = secs.max(2);
        // At most half of it: a warning 1 s after the last touch covered the
        // screen while a loaded test machine was still between two clicks.
        info.idle_warning_seconds = info.idle_warning_seconds.min(info.idle_seconds / 2);
    }
    info
}

#[tauri::command]
pub fn set_language(
    language: String,
    app: AppHandle,
    state: tauri::State<'_, AppState>,
) -> Result<KioskView, IpcError> {
    let language: Language = language
        .parse()
        .map_err(|_| IpcError::new("unknown_language").with("value", &language))?;
    kiosk_command(Command::SetLanguage { language }, app, state)
}

#[tauri::command]
pub fn kiosk_view(state: tauri::State<'_, AppState>) -> Result<KioskView, IpcError> {
    view_of(&state.shared)
}

#[tauri::command]
pub fn kiosk_command(
    command: Command,
    app: AppHandle,
    state: tauri::State<'_, AppState>,
) -> Result<KioskView, IpcError> {
    let shared = &state.shared;
    dps_logs::kiosk::command(&command);
    let (view, visit, in_journey) = {
        let mut kiosk = shared.kiosk.lock().map_err(|_| IpcError::new("generic"))?;
        let visit = kiosk.command(command, today());
        (kiosk.view(), visit, kiosk.in_journey())
    };
    shared.count(&app, visit);
    shared.publish(&app, &view, in_journey);
    Ok(view)
}

#[tauri::command]
pub fn steward_status(state: tauri::State<'_, AppState>) -> Result<StewardStatus, IpcError> {
    state
        .shared
        .steward_status()
        .ok_or_else(|| IpcError::new("generic"))
}

fn reply(shared: &Shared) -> Result<StewardReply, IpcError> {
    let (reply, seq) = shared.stamped(|sync| -> Result<StewardReply, IpcError> {
        let steward = shared
            .steward
            .lock()
            .map_err(|_| IpcError::new("generic"))?;
        Ok(steward.reply(sync, Utc::now())?)
    });
    let mut reply = reply?;
    reply.status.seq = seq;
    Ok(reply)
}

#[tauri::command]
pub async fn steward_action(
    action: StewardAction,
    app: AppHandle,
    state: tauri::State<'_, AppState>,
) -> Result<StewardReply, IpcError> {
    let shared = &state.shared;
    let effect = {
        let mut steward = shared
            .steward
            .lock()
            .map_err(|_| IpcError::new("generic"))?;
        steward.act(action, Utc::now())?
    };
    match effect {
        Effect::None => {}
        Effect::SyncNow => shared.wake.notify_one(),
        Effect::Training(on) => {
            let (view, in_journey) = {
                let mut kiosk = shared.kiosk.lock().map_err(|_| IpcError::new("generic"))?;
                kiosk.set_training(on);
                (kiosk.view(), kiosk.in_journey())
            };
            shared.publish(&app, &view, in_journey);
        }
        Effect::Enrol { hub, code } => {
            enrol(shared, hub.trim(), code.trim()).await?;
            shared.wake.notify_one();
        }
        Effect::SupportBundle => {
            let path = support_bundle(shared.data_dir.clone()).await?;
            if let Ok(mut s) = shared.steward.lock() {
                s.bundle_written(path.display().to_string());
            }
        }
        Effect::Quit => {
            shared.quitting.store(true, Ordering::SeqCst);
            app.exit(0);
        }
    }
    shared.publish_steward(&app);
    reply(shared)
}

async fn enrol(shared: &Shared, hub: &str, code: &str) -> Result<(), IpcError> {
    let store = shared
        .steward
        .lock()
        .map_err(|_| IpcError::new("generic"))?
        .store()
        .ok_or_else(|| IpcError::new("store_unavailable"))?;
    // Enrolling again (after a revocation, or with a hub restored from an
    // older copy) is safe: `dps_sync::enrol` sends the device id this kiosk
    // already has, so its counts stay under the same replica and are never
    // counted twice; a hub that still has the device active refuses (409).
    dps_sync::enrol(store.as_ref(), hub, code, None)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::warn!(reason = e.code(), "enrolment failed: {e}");
            IpcError::new(match e.code() {
                "bad_code" => "enrol_bad_code",
                "device_active" => "enrol_device_active",
                "unreachable" | "timeout" => "enrol_unreachable",
                _ => "enrol_failed",
            })
        })
}

/// The support bundle on the USB stick. Off the window's threads: the
/// doctor asks pcscd and the hub, and fsyncs the stick.
async fn support_bundle(data_dir: std::path::PathBuf) -> Result<std::path::PathBuf, IpcError> {
    let roots = dps_cli::support::media_roots(dps_cli::support::current_user().as_deref());
    tauri::async_runtime::spawn_blocking(move || {
        dps_cli::support::to_usb_stick(&data_dir, &roots, Utc::now())
    })
    .await
    .map_err(|_| IpcError::new("bundle_failed"))?
    .map_err(|e| {
        tracing::warn!(reason = e.code(), "support bundle: {e}");
        IpcError::new(e.code())
    })
}

/// The window calls this once the first screen is drawn; the app-vs-browser
/// bench (`app-bench`) times start-up by this line. The bench's journey
/// driver (loaded only with `DPS_BENCH_JOURNEY=1`) calls it again with a
/// `mark` when its journey is done: a fixed word, never anything of a
/// resident, and printed only for the bench.
#[tauri::command]
pub fn first_screen(mark: Option<String>) {
    if !crate::bench() {
        return;
    }
    match mark {
        None => println!("dps-kiosk: first-screen"),
        Some(m) if m.len() <= 32 && m.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') => {
            println!("dps-kiosk: mark {m}")
        }
        Some(_) => {}
    }
}
