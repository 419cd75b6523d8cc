//! Test helper for the crash tests (tests/it/crash.rs, tests/it/compact.rs):
//! records visits (and an occasional undo) into the store of a data dir as
//! fast as it can, printing each acknowledged one, until it is killed or has
//! done `max_ops`.
//!
//! Protocol on stdout, one line each, flushed:
//! `ready` once the store is open (after `compacted` if opening compacted
//! it); `begin rec` / `begin undo` before an
//! operation; `ack rec <cell json>` / `ack undo <cell json>` after it returned.
//!
//! `tally-crash-child DIR SEED compact` closes and reopens the store after
//! every few operations, compacting it at every open (so a kill often lands
//! inside a compaction); `… compact STEP` instead opens once and aborts the
//! process right after the compaction step named `STEP` (`Copying`, …).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use chrono::Utc;
use dps_tally::simulate::VisitGen;
use dps_tally::{CompactPolicy, CompactStep, Compaction, Site, TallyError, TallyStore};
use rand::Rng;

/// The compaction step after which to abort (`compact STEP`).
static ABORT_AFTER: OnceLock<CompactStep> = OnceLock::new();

fn abort_at(step: CompactStep) {
    if ABORT_AFTER.get() == Some(&step) {
        // Like SIGKILL: no destructor runs, nothing more reaches the disk.
        std::process::abort();
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: tally-crash-child DATA_DIR SEED [MAX_OPS | compact [STEP]]");
        return ExitCode::from(2);
    };
    let third = args.next();
    if third.as_deref() == Some("compact") {
        let r = match args.next() {
            None => run_compacting(PathBuf::from(dir), seed),
            Some(name) => {
                let Some(step) = CompactStep::ALL
                    .into_iter()
                    .find(|s| format!("{s:?}") == name)
                else {
                    eprintln!("tally-crash-child: no compaction step {name:?}");
                    return ExitCode::from(2);
                };
                let _ = ABORT_AFTER.set(step);
                let policy = CompactPolicy {
                    after_step: Some(abort_at),
                    ..CompactPolicy::always()
                };
                TallyStore::open_with(&PathBuf::from(dir), Utc::now(), policy).map(|_| ())
            }
        };
        return match r {
            // The step was never reached: the caller sees a clean exit.
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tally-crash-child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let max_ops = third
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    match run(PathBuf::from(dir), seed, max_ops) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally-crash-child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(line: &str) -> Result<(), TallyError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|source| TallyError::Io {
            path: "stdout".into(),
            source,
        })
}

fn run(dir: PathBuf, seed: u64, max_ops: u64) -> Result<(), TallyError> {
    let store = open(&dir, CompactPolicy::default())?;
    let mut g = VisitGen::new(seed)?;
    for _ in 0..max_ops {
        one_op(&store, &mut g)?;
    }
    Ok(())
}

/// Opens with `policy` (saying `compacted` if it did), opens a session if
/// none is, says `ready`. A compaction that failed is an error here.
fn open(dir: &Path, policy: CompactPolicy) -> Result<TallyStore, TallyError> {
    let opened = TallyStore::open_with(dir, Utc::now(), policy)?;
    match opened.compaction {
        Some(Compaction::Done { .. }) => say("compacted")?,
        Some(Compaction::Failed { reason, .. }) => {
            return Err(TallyError::Damaged(format!("compaction failed: {reason}")))
        }
        None => {}
    }
    let store = opened.store;
    if store.current_session()?.is_none() {
        let id = dps_model::Code::new("crash-test-site")
            .map_err(|e| TallyError::InvalidSite(e.to_string()))?;
        store.start_session(Site::Certified { id }, Utc::now())?;
    }
    say("ready")?;
    Ok(store)
}

/// Reopens (and so compacts) the store after every 1-3 operations, forever.
fn run_compacting(dir: PathBuf, seed: u64) -> Result<(), TallyError> {
    let mut g = VisitGen::new(seed)?;
    loop {
        let store = open(&dir, CompactPolicy::always())?;
        for _ in 0..g.rng().gen_range(1..=3) {
            one_op(&store, &mut g)?;
        }
    }
}

fn one_op(store: &TallyStore, g: &mut VisitGen) -> Result<(), TallyError> {
    if g.rng().gen_ratio(1, 7) {
        say("begin undo")?;
        match store.undo_last() {
            Ok(r) => say(&format!("ack undo {}", json(&r.cell)?))?,
            Err(TallyError::NothingToUndo) => say("nothing undo")?,
            Err(e) => return Err(e),
        }
    } else {
        let v = g.visit()?;
        say("begin rec")?;
        let r = store.record(v, Utc::now())?;
        say(&format!("ack rec {}", json(&r.cell)?))?;
    }
    Ok(())
}

fn json(c: &dps_model::CellKey) -> Result<String, TallyError> {
    serde_json::to_string(c).map_err(|e| TallyError::Damaged(e.to_string()))
}
