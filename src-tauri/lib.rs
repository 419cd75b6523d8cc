//! The Tauri shell: opens the kiosk window and forwards inputs to Tauri-free
//! crates. The window's commands and the card watcher both drive one
//! [`dps_controller::Kiosk`]; after every change the whole [`KioskView`] is
//! sent to the window as the `kiosk` event. A finished visit goes to the
//! [`dps_steward::Steward`], which counts it in the tally store; the steward's
//! status (session, counts, sync) goes out as the `steward` event. The sync
//! loop runs in the background on Tauri's async runtime. Nothing here holds
//! logic worth testing on its own: the crates do, and the e2e suite drives
//! this shell for real.

mod commands;
mod lockdown;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use dps_controller::{Kiosk, KioskView};
use dps_model::VisitRecord;
use dps_steward::{CountOutcome, Steward, StewardStatus};
use dps_sync::SyncStatus;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::{watch, Notify};

/// What the window's commands, the watcher thread and the sync loop share.
pub struct Shared {
    pub kiosk: Mutex<Kiosk>,
    pub steward: Mutex<Steward>,
    /// The sync loop's latest status (a default "not enrolled" without a store).
    pub sync_status: watch::Receiver<SyncStatus>,
    /// "Sync now": the steward's button, an enrolment, a visit counted.
    pub wake: Arc<Notify>,
    /// Whether a resident's journey is on screen: the sync loop waits it out.
    journey: watch::Sender<bool>,
    /// Set by the steward's "quit": the only close the window lets through.
    pub quitting: AtomicBool,
    /// `--data-dir` or the XDG default (store, settings, logs).
    pub data_dir: std::path::PathBuf,
    /// The last `StewardStatus::seq` handed out; held while a status's state
    /// is read, so a higher number always means newer state.
    status_seq: Mutex<u64>,
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
    /// The sync status as the store has it now (an enrolment or an attempt
    /// shows at once), with the loop's next attempt time.
    pub fn sync_now(&self) -> SyncStatus {
        let live = self.sync_status.borrow().clone();
        let store = self.steward.lock().ok().and_then(|s| s.store());
        match store.as_deref().map(|s| dps_sync::status(s)) {
            Some(Ok(mut st)) => {
                st.next_attempt = live.next_attempt;
                st
            }
            _ => live,
        }
    }

    pub fn steward_status(&self) -> Option<StewardStatus> {
        let (status, seq) = self.stamped(|sync| self.steward.lock().ok().map(|s| s.status(sync)));
        status.map(|st| StewardStatus { seq, ..st })
    }

    /// Reads a status's state with `read` under the stamp lock and returns
    /// its `seq`: a status stamped later was read later, so the window can
    /// drop one that arrives after a newer one.
    pub fn stamped<T>(&self, read: impl FnOnce(SyncStatus) -> T) -> (T, u64) {
        let mut last = self.status_seq.lock().unwrap_or_else(|p| p.into_inner());
        *last += 1;
        let seq = *last;
        (read(self.sync_now()), seq)
    }

    /// After any change of the kiosk: tell the sync loop whether a journey is
    /// on screen, and the window what to show.
    pub fn publish(&self, app: &AppHandle, view: &KioskView, in_journey: bool) {
        self.journey
            .send_if_modified(|j| std::mem::replace(j, in_journey) != in_journey);
        let _ = app.emit("kiosk", view);
    }

    pub fn publish_steward(&self, app: &AppHandle) {
        if let Some(status) = self.steward_status() {
            let _ = app.emit("steward", &status);
        }
    }

    /// Counts a finished visit. Only bands and codes reach the store; a visit
    /// not counted is logged with its reason, never with anything personal.
    pub fn count(&self, app: &AppHandle, visit: Option<VisitRecord>) {
        let Some(visit) = visit else { return };
        dps_logs::kiosk::visit(&visit);
        let outcome = match self.steward.lock() {
            Ok(mut s) => s.count(visit, Utc::now()),
            Err(_) => return,
        };
        match outcome {
            CountOutcome::Counted { visit_no } => {
                tracing::info!(visit_no, "visit counted");
                self.wake.notify_one();
            }
            CountOutcome::NotCounted(e) => {
                tracing::warn!(reason = e.code(), "visit not counted: {e}")
            }
        }
        self.publish_steward(app);
    }
}

/// Procedure id → title by language, for the steward's summaries.
type Titles = std::collections::BTreeMap<
    dps_model::Code,
    std::collections::BTreeMap<dps_model::Language, String>,
>;

fn load_kiosk() -> (Kiosk, dps_directory::Directory, Titles) {
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictograms_dir) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictograms_dir);
    let titles = loaded
        .flows
        .iter()
        .map(|f| {
            let by_lang = dps_model::Language::ALL
                .into_iter()
                .map(|l| (l, f.title.get(l).to_owned()))
                .filter(|(_, t)| !t.is_empty())
                .collect();
            (f.id.clone(), by_lang)
        })
        .collect();
    let mut problems: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
    // A broken directory must not stop the kiosk: the procedures still work,
    // "find a DPS" just lists nothing, and the steward sees why.
    let directory = dps_directory::Directory::bundled().unwrap_or_else(|e| {
        problems.push(format!("DPS directory: {e}"));
        empty_directory()
    });
    (
        Kiosk::new(loaded.flows, problems, directory.clone()),
        directory,
        titles,
    )
}

/// An empty TOML document is a valid, empty directory; if that ever stops
/// being true it is a bug in this crate, not bad input.
fn empty_directory() -> dps_directory::Directory {
    dps_directory::Directory::parse("(empty)", "")
        .unwrap_or_else(|_| panic!("an empty DPS directory must parse"))
}

fn trust_store() -> dps_eid::TrustStore {
    let mut trust = dps_eid::TrustStore::belgium();
    // Extra roots for test PKIs (e2e with virtual cards) or pilots: a
    // colon-separated list of PEM files.
    if let Some(paths) = std::env::var_os("DPS_TRUST_ROOTS") {
        for path in std::env::split_paths(&paths) {
            match std::fs::read_to_string(&path).map(|pem| trust.add_pem(&pem)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("{}: {e}", path.display()),
                Err(e) => tracing::warn!("{}: {e}", path.display()),
            }
        }
    }
    trust
}

/// Development and tests may want an ordinary window; the field gets the kiosk.
fn windowed() -> bool {
    std::env::var_os("DPS_WINDOWED").is_some_and(|v| v == "1")
}

/// The app-vs-browser bench (`app-bench`) sets `DPS_BENCH_READY=1`: the app
/// then prints when the first screen is drawn and where start-up time went.
fn bench() -> bool {
    std::env::var_os("DPS_BENCH_READY").is_some_and(|v| v == "1")
}

/// A start-up phase, for the bench only (it timestamps each line as it
/// arrives; stdout is line-buffered).
pub fn phase(name: &str) {
    if bench() {
        println!("dps-kiosk: phase {name}");
    }
}

/// What the window's commands need, made on a thread of its own while GTK
/// starts and WebKit launches its processes: opening the store and parsing
/// the procedures are not needed to put a window on screen.
struct Backend {
    shared: Arc<Shared>,
    store: Option<Arc<dps_tally::TallyStore>>,
    sync_tx: watch::Sender<SyncStatus>,
    journey_rx: watch::Receiver<bool>,
    /// The store was refused because another process holds it.
    store_in_use: bool,
}

fn open_backend(data_dir: &std::path::Path) -> Backend {
    let (store, store_problem, store_in_use) =
        match dps_tally::TallyStore::open(data_dir, Utc::now()) {
            Ok(opened) => {
                // The steward reads it in the steward area, in their language
                // (the store keeps the notice until they acknowledge it).
                if let Some(m) = opened.steward_message() {
                    tracing::warn!("{m}");
                }
                // Sizes and a reason only: the store holds no personal data.
                match &opened.compaction {
                    Some(dps_tally::Compaction::Done {
                        before,
                        after,
                        took,
                        ..
                    }) => tracing::info!(before, after, ?took, "counts store compacted"),
                    Some(dps_tally::Compaction::Failed { reason }) => tracing::warn!(
                    "counts store not compacted (it still works; next start tries again): {reason}"
                ),
                    None => {}
                }
                (Some(Arc::new(opened.store)), None, false)
            }
            Err(e) => {
                // The journeys still work; the steward is told visits are not
                // counted rather than the kiosk refusing to start.
                tracing::error!("{e}");
                let in_use = matches!(e, dps_tally::TallyError::StoreInUse { .. });
                let code = dps_steward::StewardError::from(e).code();
                (None, Some(code.to_owned()), in_use)
            }
        };
    phase("store-open");
    let (kiosk, directory, titles) = load_kiosk();
    phase("flows-loaded");
    let autostart = dps_steward::autostart_dir().and_then(|dir| {
        let exe = std::env::current_exe().ok()?;
        Some(dps_steward::autostart::Autostart::new(
            dir,
            exe.to_string_lossy().into_owned(),
        ))
    });
    let steward =
        Steward::new(store.clone(), store_problem, directory, autostart).with_titles(titles);
    let initial_sync = store
        .as_deref()
        .and_then(|s| dps_sync::status(s).ok())
        .unwrap_or_default();
    let (sync_tx, sync_rx) = watch::channel(initial_sync);
    let (journey_tx, journey_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        kiosk: Mutex::new(kiosk),
        steward: Mutex::new(steward),
        sync_status: sync_rx,
        wake: Arc::new(Notify::new()),
        journey: journey_tx,
        quitting: AtomicBool::new(false),
        data_dir: data_dir.to_owned(),
        status_seq: Mutex::new(0),
    });
    Backend {
        shared,
        store,
        sync_tx,
        journey_rx,
        store_in_use,
    }
}

/// Opens the kiosk window and runs until the steward quits.
pub fn run(global: dps_cli::Global) -> anyhow::Result<()> {
    phase("main");
    lockdown::before_threads();
    let data_dir = global.data_dir();
    let _logs = dps_logs::init(&dps_logs::dir(&data_dir))
        .map_err(|e| eprintln!("dps-kiosk: logs: {e}"))
        .ok();
    let instance = match dps_steward::instance::claim(&data_dir) {
        Ok(dps_steward::instance::Claim::First(i)) => Some(i),
        Ok(dps_steward::instance::Claim::AlreadyRunning) => {
            println!("DPS Kiosk is already open: it was brought to the front.");
            return Ok(());
        }
        Err(e) => {
            // Not fatal by itself (e.g. a file system without sockets), but
            // nothing else stops a second window: the store's lock only
            // stops a second store, and the window opens without one. So
            // the store decides below.
            tracing::warn!("single-instance socket: {e}");
            None
        }
    };
    let backend = {
        let data_dir = data_dir.clone();
        std::thread::Builder::new()
            .name("open-store".into())
            .spawn(move || open_backend(&data_dir))
            .context("cannot start the store thread")?
    };
    let backend = if instance.is_none() {
        // Without the single-instance socket, a store held by another
        // process is the only sign that a kiosk already runs here.
        let b = join_backend(backend)?;
        if b.store_in_use {
            println!("DPS Kiosk is already open on this data directory.");
            return Ok(());
        }
        Pending::Ready(b)
    } else {
        Pending::Opening(backend)
    };
    tauri::Builder::default()
        .setup(move |app| {
            phase("gtk-ready");
            let window = kiosk_window(app)?;
            phase("window-built");
            let Backend {
                shared,
                store,
                sync_tx,
                journey_rx,
                ..
            } = match backend {
                Pending::Ready(b) => b,
                Pending::Opening(h) => join_backend(h)?,
            };
            phase("backend-ready");
            let handle = app.handle().clone();
            if let Some(instance) = instance {
                let w = window.clone();
                instance.serve(move || {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                })?;
            }
            let for_watcher = Arc::clone(&shared);
            let h = handle.clone();
            let watcher = dps_eid::Watcher::start(trust_store(), move |event| {
                // Through dps-logs only: its summaries never carry a name or number.
                dps_logs::kiosk::card_event(&event);
                let (view, visit, in_journey) = {
                    let Ok(mut kiosk) = for_watcher.kiosk.lock() else {
                        return;
                    };
                    let visit = kiosk.card_event(event, today());
                    (kiosk.view(), visit, kiosk.in_journey())
                };
                for_watcher.count(&h, visit);
                for_watcher.publish(&h, &view, in_journey);
            })
            .context("cannot start the card watcher thread")?;
            if let Some(store) = store {
                start_sync(&handle, &shared, store, sync_tx, journey_rx);
            }
            app.manage(AppState {
                shared,
                _watcher: Some(watcher),
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // A resident cannot close the kiosk (Alt+F4, the window
            // manager's close): only the steward's "quit", behind the PIN.
            // Before the state exists nobody has quit either.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let quitting = window
                    .try_state::<AppState>()
                    .is_some_and(|s| s.shared.quitting.load(Ordering::SeqCst));
                if !quitting {
                    api.prevent_close();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::set_language,
            commands::kiosk_view,
            commands::kiosk_command,
            commands::steward_status,
            commands::steward_action,
            commands::first_screen
        ])
        .run(tauri::generate_context!("tauri.conf.json"))?;
    Ok(())
}

enum Pending {
    Opening(std::thread::JoinHandle<Backend>),
    Ready(Backend),
}

fn join_backend(h: std::thread::JoinHandle<Backend>) -> anyhow::Result<Backend> {
    h.join()
        .map_err(|_| anyhow::anyhow!("opening the store crashed"))
}

/// The one window. tauri.conf.json describes the field's kiosk (fullscreen,
/// no decorations) and leaves its creation to us (`"create": false`), so
/// the window is fullscreen from its first frame instead of switching after
/// it is shown, and `DPS_WINDOWED=1` gets an ordinary window for development.
fn kiosk_window(app: &tauri::App) -> anyhow::Result<tauri::WebviewWindow> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == "main")
        .cloned()
        .context("tauri.conf.json has no \"main\" window")?;
    let kiosk = !windowed();
    if !kiosk {
        config.fullscreen = false;
        config.decorations = true;
    }
    if std::env::var_os("DPS_BENCH_JOURNEY").is_some_and(|v| v == "1") {
        // The bench's journey driver (ui/src/lib/benchjourney.ts) is loaded
        // only on this query; a kiosk never has it.
        config.url = tauri::WebviewUrl::App("index.html?bench-journey".into());
    }
    let window = tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?;
    lockdown::after_window(&window, kiosk);
    Ok(window)
}

/// The background sync loop and the task that tells the window about it.
fn start_sync(
    app: &AppHandle,
    shared: &Arc<Shared>,
    store: Arc<dps_tally::TallyStore>,
    status_tx: watch::Sender<SyncStatus>,
    journey_active: watch::Receiver<bool>,
) {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Kept for the process lifetime: the loop stops when the runtime does.
    std::mem::forget(shutdown_tx);
    let controls = dps_sync::background::Controls {
        wake: Arc::clone(&shared.wake),
        journey_active,
        shutdown: shutdown_rx,
    };
    let src: Arc<dyn dps_sync::ReplicaSource> = store;
    let clock: dps_sync::background::Clock = Arc::new(Utc::now);
    let mut options = dps_sync::background::Options::default();
    // The e2e suite waits for the loop to heal by itself after the hub comes
    // back; with the field's 10-minute cap that could take minutes.
    if let Some(cap) = std::env::var("DPS_SYNC_RETRY_CAP_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        options.backoff.cap = std::time::Duration::from_secs(cap.max(1));
    }
    tauri::async_runtime::spawn(dps_sync::background::run(
        src, clock, controls, options, status_tx,
    ));
    let mut rx = shared.sync_status.clone();
    let (app, shared) = (app.clone(), Arc::clone(shared));
    tauri::async_runtime::spawn(async move {
        while rx.changed().await.is_ok() {
            shared.publish_steward(&app);
        }
    });
}

/// The current view, for commands.
pub fn view_of(shared: &Shared) -> Result<KioskView, dps_ipc::IpcError> {
    shared
        .kiosk
        .lock()
        .map(|k| k.view())
        .map_err(|_| dps_ipc::IpcError::new("generic"))
}
