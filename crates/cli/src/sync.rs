//! `dps-kiosk enrol` and `dps-kiosk sync` (owned by the sync work).
//!
//! Both open the tally store themselves; when the kiosk window already holds
//! it they say so in plain words (the store's own message) instead of failing
//! on a lock.
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use dps_sync::{keys, ReplicaSource, SyncError};
use dps_tally::TallyStore;

use crate::Global;

#[derive(Debug, clap::Args)]
pub struct EnrolArgs {
    /// The hub's address, e.g. https://hub.example.brussels
    #[arg(long)]
    pub hub: String,
    /// The one-time code from the coordination (e.g. 7KQ2-M9XD).
    pub code: String,
    /// A PEM CA certificate to trust for this hub instead of the public roots.
    #[arg(long, value_name = "PEM")]
    pub hub_ca: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// One attempt only (default: retry with backoff until it gets through).
    #[arg(long)]
    pub once: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Use this hub address for this run instead of the enrolled one.
    #[arg(long, value_name = "URL")]
    pub hub: Option<String>,
    /// Only show the sync status; send nothing.
    #[arg(long)]
    pub status: bool,
}

fn open(g: &Global) -> Result<TallyStore, ExitCode> {
    match TallyStore::open(&g.data_dir(), Utc::now()) {
        Ok(o) => {
            if let Some(m) = o.steward_message() {
                eprintln!("dps-kiosk: {m}");
            }
            Ok(o.store)
        }
        Err(e) => {
            eprintln!("dps-kiosk: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("dps-kiosk: cannot start: {e}");
            ExitCode::FAILURE
        })
}

pub fn enrol(a: EnrolArgs, g: &Global) -> ExitCode {
    let store = match open(g) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let ca = match &a.hub_ca {
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("dps-kiosk: cannot read the hub CA {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    // Counts this store already sent belong to the old device's replica on
    // the hub; sending them again as a new device would count them twice.
    let already_synced = store.get_setting(keys::TOKEN).ok().flatten().is_some()
        && ReplicaSource::acked(&store).unwrap_or(0) > 0;
    if already_synced {
        eprintln!(
            "dps-kiosk: this kiosk is already enrolled and has sent counts to its hub; enrolling it \
             again would count those visits twice. Keep the current enrolment (it syncs by itself)."
        );
        return ExitCode::FAILURE;
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    match rt.block_on(dps_sync::enrol(&store, &a.hub, &a.code, ca)) {
        Ok(r) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"device": r.device, "site": r.site, "hub": a.hub})
                );
            } else {
                println!(
                    "Enrolled as {} for site {} with {}.",
                    r.device, r.site, a.hub
                );
                println!(
                    "The kiosk now sends its counts by itself whenever the hub can be reached."
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing_free_log(&e);
            eprintln!("dps-kiosk: {}", e.plain());
            ExitCode::FAILURE
        }
    }
}

/// The technical detail goes to stderr only with DPS_DEBUG set: the steward
/// line is what people read.
fn tracing_free_log(e: &SyncError) {
    if std::env::var_os("DPS_DEBUG").is_some() {
        eprintln!("dps-kiosk: detail: {e}");
    }
}

pub fn sync(a: SyncArgs, g: &Global) -> ExitCode {
    let store = match open(g) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if a.status {
        return print_status(&store, a.json, None, None);
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let backoff = dps_sync::Backoff::default();
    let mut rng = rand::thread_rng();
    let mut failures = 0u32;
    loop {
        let result = rt.block_on(async {
            let (client, e) = dps_sync::client_for(&store, a.hub.as_deref())?;
            dps_sync::sync_once(
                &store,
                &client,
                &e.token,
                &Utc::now,
                dps_sync::wire::MAX_BATCH_CELLS,
            )
            .await
        });
        if let Err(e) = dps_sync::record(&store, Utc::now(), &result) {
            eprintln!("dps-kiosk: could not record the sync status: {e}");
        }
        match result {
            Ok(r) => return print_status(&store, a.json, Some(&r), None),
            Err(e) => {
                tracing_free_log(&e);
                if a.once || !e.is_transient() {
                    print_status(&store, a.json, None, Some(&e));
                    return ExitCode::FAILURE;
                }
                failures += 1;
                let d = backoff.delay(failures, &mut rng);
                eprintln!(
                    "dps-kiosk: {} (next try in {} s)",
                    e.plain(),
                    d.as_secs().max(1)
                );
                std::thread::sleep(d);
            }
        }
    }
}

fn print_status(
    store: &TallyStore,
    json: bool,
    report: Option<&dps_sync::SyncReport>,
    err: Option<&SyncError>,
) -> ExitCode {
    let st = match dps_sync::status(store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dps-kiosk: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        let v = serde_json::json!({
            "ok": err.is_none(),
            "error": err.map(SyncError::plain),
            "report": report,
            "status": st,
        });
        println!("{v}");
    } else {
        if let Some(r) = report {
            println!(
                "Synced: {} cells in {} batch(es), {} still pending.",
                r.cells_sent, r.batches, st.pending_cells
            );
            if let Some(from) = r.resent_from {
                println!(
                    "The hub had lost some counts; they were sent again (from change {from})."
                );
            }
        } else if let Some(e) = err {
            eprintln!("dps-kiosk: {}", e.plain());
        } else {
            println!(
                "Hub: {}. Last successful sync: {}. Cells pending: {}.",
                st.hub.as_deref().unwrap_or("none (not enrolled)"),
                st.last_success.map_or("never".into(), |t| t.to_rfc3339()),
                st.pending_cells
            );
            if let Some(e) = &st.last_error {
                println!("Last problem: {e}");
            }
        }
        if st.clock_skew_warning {
            if let Some(s) = st.clock_skew_secs {
                println!(
                    "Warning: this kiosk's clock is {} minutes off the hub's: please set it right.",
                    s.abs() / 60
                );
            }
        }
    }
    if err.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
