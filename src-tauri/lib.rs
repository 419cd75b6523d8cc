//! The Tauri shell: opens the kiosk window and forwards inputs to Tauri-free
//! crates. The window's commands and the card watcher both drive one
//! [`dps_controller::Kiosk`]; after every change the whole [`KioskView`] is
//! sent to the window as the `kiosk` event, and a finished visit goes to the
//! tally store. Nothing here holds logic worth testing on its own: the
//! crates do, and the e2e suite drives this shell for real.

mod commands;

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use dps_controller::{Kiosk, KioskView};
use dps_model::VisitRecord;
use tauri::Emitter;

/// What the window's commands and the watcher thread share.
pub struct Shared {
    pub kiosk: Mutex<Kiosk>,
    pub tally: Option<dps_tally::TallyStore>,
}

pub struct AppState {
    pub shared: Arc<Shared>,
    /// Kept alive for the window's lifetime; dropping it stops the thread.
    _watcher: Option<dps_eid::Watcher>,
}

/// The local day in Brussels: age phases and tallies follow it.
pub fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Brussels)
        .date_naive()
}

impl Shared {
    /// Counts a finished visit. Only bands and codes reach the store; a
    /// failure is reported to the steward's log without anything personal.
    pub fn count(&self, visit: Option<VisitRecord>) {
        let Some(visit) = visit else { return };
        match &self.tally {
            Some(store) => {
                if let Err(e) = store.record(visit, Utc::now()) {
                    eprintln!("dps-kiosk: visit not counted: {e}");
                }
            }
            None => eprintln!("dps-kiosk: visit not counted: the tally store is not open"),
        }
    }
}

fn load_kiosk() -> Kiosk {
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictograms_dir) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictograms_dir);
    let problems = loaded.problems.iter().map(|p| p.to_string()).collect();
    let mut problems: Vec<String> = problems;
    // A broken directory must not stop the kiosk: the procedures still work,
    // "find a DPS" just lists nothing, and the steward sees why.
    let directory = dps_directory::Directory::bundled().unwrap_or_else(|e| {
        problems.push(format!("DPS directory: {e}"));
        dps_directory::Directory::parse("(empty)", "").unwrap_or_else(|_| unreachable_empty())
    });
    Kiosk::new(loaded.flows, problems, directory)
}

/// An empty TOML document is a valid, empty directory; if that ever stops
/// being true it is a bug in this crate, not bad input.
fn unreachable_empty() -> dps_directory::Directory {
    panic!("an empty DPS directory must parse")
}

fn trust_store() -> dps_eid::TrustStore {
    let mut trust = dps_eid::TrustStore::belgium();
    // Extra roots for test PKIs (e2e with virtual cards) or pilots: a
    // colon-separated list of PEM files.
    if let Some(paths) = std::env::var_os("DPS_TRUST_ROOTS") {
        for path in std::env::split_paths(&paths) {
            match std::fs::read_to_string(&path).map(|pem| trust.add_pem(&pem)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("dps-kiosk: {}: {e}", path.display()),
                Err(e) => eprintln!("dps-kiosk: {}: {e}", path.display()),
            }
        }
    }
    trust
}

/// Opens the kiosk window and runs until it closes.
pub fn run(global: dps_cli::Global) -> anyhow::Result<()> {
    let data_dir = global.data_dir();
    let tally = match dps_tally::TallyStore::open(&data_dir, Utc::now()) {
        Ok(opened) => {
            if let Some(msg) = opened.steward_message() {
                eprintln!("dps-kiosk: {msg}");
            }
            Some(opened.store)
        }
        Err(e) => {
            // The journeys still work; the steward is told visits are not
            // counted rather than the kiosk refusing to start.
            eprintln!("dps-kiosk: {e}");
            None
        }
    };
    let shared = Arc::new(Shared {
        kiosk: Mutex::new(load_kiosk()),
        tally,
    });
    tauri::Builder::default()
        .setup(move |app| {
            let handle = app.handle().clone();
            let for_watcher = Arc::clone(&shared);
            let watcher = dps_eid::Watcher::start(trust_store(), move |event| {
                let view = {
                    let Ok(mut kiosk) = for_watcher.kiosk.lock() else {
                        return;
                    };
                    let visit = kiosk.card_event(event, today());
                    for_watcher.count(visit);
                    kiosk.view()
                };
                let _ = handle.emit("kiosk", &view);
            })
            .context("cannot start the card watcher thread")?;
            use tauri::Manager;
            app.manage(AppState {
                shared,
                _watcher: Some(watcher),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::set_language,
            commands::kiosk_view,
            commands::kiosk_command
        ])
        .run(tauri::generate_context!("tauri.conf.json"))?;
    Ok(())
}

/// The current view, for commands.
pub fn view_of(shared: &Shared) -> Result<KioskView, dps_ipc::IpcError> {
    shared
        .kiosk
        .lock()
        .map(|k| k.view())
        .map_err(|_| dps_ipc::IpcError::new("generic"))
}
