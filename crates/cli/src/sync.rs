//! `dps-kiosk enrol` and `dps-kiosk sync` (owned by the sync work).
//!
//! Both open the tally store themselves; when the kiosk window already holds
//! it they say so in plain words (the store's own message) instead of failing
//! on a lock. Each writes to the `out`/`err` it is given ([`enrol_to`],
//! [`sync_to`]), so tests read exactly what a steward would.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use dps_sync::{keys, SyncError};
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
    /// Kept in the kiosk's settings: enrolling again with the same hub (from
    /// here or the steward area) keeps trusting it.
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

// Writes to a terminal that went away are not worth failing a sync over.
macro_rules! say {
    ($w:expr, $($t:tt)*) => {{
        let _ = writeln!($w, $($t)*);
    }};
}

fn open(g: &Global, err: &mut dyn Write) -> Result<TallyStore, ExitCode> {
    match TallyStore::open(&g.data_dir(), Utc::now()) {
        Ok(o) => {
            if let Some(m) = o.steward_message() {
                say!(err, "dps-kiosk: {m}");
            }
            Ok(o.store)
        }
        Err(e) => {
            say!(err, "dps-kiosk: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn runtime(err: &mut dyn Write) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            say!(err, "dps-kiosk: cannot start: {e}");
            ExitCode::FAILURE
        })
}

pub fn enrol(a: EnrolArgs, g: &Global) -> ExitCode {
    enrol_to(a, g, &mut std::io::stdout(), &mut std::io::stderr())
}

/// `dps-kiosk enrol`. A kiosk enrolled before keeps its device id (see
/// [`dps_sync::enrol`]): after a revocation, or with a hub restored from an
/// older copy, a new code re-enrols the same device, and its counts are never
/// sent again under a new one. A device the hub still has active refuses the
/// code.
pub fn enrol_to(a: EnrolArgs, g: &Global, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let store = match open(g, err) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let ca = match &a.hub_ca {
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => {
                say!(
                    err,
                    "dps-kiosk: cannot read the hub CA {}: {e}",
                    p.display()
                );
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let again = store
        .get_setting(keys::DEVICE)
        .ok()
        .flatten()
        .is_some_and(|d| !d.is_empty());
    let rt = match runtime(err) {
        Ok(r) => r,
        Err(c) => return c,
    };
    match rt.block_on(dps_sync::enrol(&store, &a.hub, &a.code, ca)) {
        Ok(r) => {
            if a.json {
                say!(
                    out,
                    "{}",
                    serde_json::json!({"device": r.device, "site": r.site, "hub": a.hub, "re_enrolled": again})
                );
            } else if again {
                say!(
                    out,
                    "Enrolled again as {} (the same device: its counts carry on) for site {} with {}.",
                    r.device,
                    r.site,
                    a.hub
                );
                say!(out, "Counts the hub has not got yet go with the next sync.");
            } else {
                say!(
                    out,
                    "Enrolled as {} for site {} with {}.",
                    r.device,
                    r.site,
                    a.hub
                );
                say!(
                    out,
                    "The kiosk now sends its counts by itself whenever the hub can be reached."
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            detail(err, &e);
            say!(err, "dps-kiosk: {}", e.plain());
            ExitCode::FAILURE
        }
    }
}

/// The technical detail goes to stderr only with DPS_DEBUG set: the steward
/// line is what people read.
fn detail(err: &mut dyn Write, e: &SyncError) {
    if std::env::var_os("DPS_DEBUG").is_some() {
        say!(err, "dps-kiosk: detail: {e}");
    }
}

pub fn sync(a: SyncArgs, g: &Global) -> ExitCode {
    sync_to(a, g, &mut std::io::stdout(), &mut std::io::stderr())
}

/// `dps-kiosk sync`: once, or until it gets through (backoff with jitter).
pub fn sync_to(a: SyncArgs, g: &Global, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let store = match open(g, err) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if a.status {
        return print_status(&store, a.json, None, None, out, err);
    }
    let rt = match runtime(err) {
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
            say!(err, "dps-kiosk: could not record the sync status: {e}");
        }
        match result {
            Ok(r) => return print_status(&store, a.json, Some(&r), None, out, err),
            Err(e) => {
                detail(err, &e);
                if a.once || !e.is_transient() {
                    print_status(&store, a.json, None, Some(&e), out, err);
                    return ExitCode::FAILURE;
                }
                failures += 1;
                let d = backoff.delay(failures, &mut rng);
                say!(
                    err,
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
    failure: Option<&SyncError>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    let st = match dps_sync::status(store) {
        Ok(s) => s,
        Err(e) => {
            say!(err, "dps-kiosk: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        let v = serde_json::json!({
            "ok": failure.is_none(),
            "error": failure.map(SyncError::plain),
            "error_code": failure.map(SyncError::code),
            "report": report,
            "status": st,
        });
        say!(out, "{v}");
    } else {
        if let Some(r) = report {
            say!(
                out,
                "Synced: {} cells in {} batch(es), {} still pending.",
                r.cells_sent,
                r.batches,
                st.pending_cells
            );
            if let Some(from) = r.resent_from {
                say!(
                    out,
                    "The hub had lost some counts; they were sent again (from change {from})."
                );
            }
        } else if let Some(e) = failure {
            say!(err, "dps-kiosk: {}", e.plain());
        } else {
            say!(
                out,
                "Hub: {}. Last successful sync: {}. Cells pending: {}.",
                st.hub.as_deref().unwrap_or("none (not enrolled)"),
                st.last_success.map_or("never".into(), |t| t.to_rfc3339()),
                st.pending_cells
            );
            if let Some(e) = &st.last_error {
                say!(out, "Last problem: {e}");
            }
        }
        if st.clock_skew_warning {
            if let Some(s) = st.clock_skew_secs {
                say!(
                    out,
                    "Warning: this kiosk's clock is {} minutes off the hub's: please set it right.",
                    s.abs() / 60
                );
            }
        }
    }
    if failure.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
