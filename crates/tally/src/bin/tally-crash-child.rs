//! Test helper for the crash test (tests/it/crash.rs): records visits (and an
//! occasional undo) into the store of a data dir as fast as it can, printing
//! each acknowledged one, until it is killed or has done `max_ops`.
//!
//! Protocol on stdout, one line each, flushed:
//! `ready` once the store is open; `begin rec` / `begin undo` before an
//! operation; `ack rec <cell json>` / `ack undo <cell json>` after it returned.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use dps_tally::simulate::VisitGen;
use dps_tally::{Site, TallyError, TallyStore};
use rand::Rng;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: tally-crash-child DATA_DIR SEED [MAX_OPS]");
        return ExitCode::from(2);
    };
    let max_ops = args
        .next()
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
    let store = TallyStore::open(&dir, Utc::now())?.store;
    if store.current_session()?.is_none() {
        let id = dps_model::Code::new("crash-test-site")
            .map_err(|e| TallyError::InvalidSite(e.to_string()))?;
        store.start_session(Site::Certified { id }, Utc::now())?;
    }
    say("ready")?;
    let mut g = VisitGen::new(seed)?;
    for _ in 0..max_ops {
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
    }
    Ok(())
}

fn json(c: &dps_model::CellKey) -> Result<String, TallyError> {
    serde_json::to_string(c).map_err(|e| TallyError::Damaged(e.to_string()))
}
