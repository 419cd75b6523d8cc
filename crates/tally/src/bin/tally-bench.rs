//! Benchmarks of the tally store, printing figures (not a test: numbers
//! depend on the machine's disk).
//!
//! `cargo run --release -p dps-tally --bin tally-bench -- [DIR] [COMMITS] [TWO_YEAR_VISITS]`
//!
//! DIR must be on the real disk (not tmpfs, where fsync is free); default
//! /var/tmp. Prints: visit commit latency p50/p99/max including the fsync,
//! store size per 10,000 visits, and the time of `tally show` (open + totals
//! + JSON) on two years of simulated visits.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::Utc;
use dps_tally::simulate::{simulate, SimParams, VisitGen};
use dps_tally::{dir_size, Site, TallyError, TallyStore};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let commits = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000usize);
    let two_years = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40_000u64);
    let dir = base.join(format!("dps-tally-bench-{}", std::process::id()));
    let r = run(&dir, commits, two_years);
    // Best effort: a leftover bench dir in /var/tmp is harmless.
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(dir: &Path, commits: usize, two_years: u64) -> Result<(), TallyError> {
    let now = Utc::now();
    let today = dps_tally::brussels_day(now);
    println!(
        "tally-bench on {} ({} CPUs), {}",
        dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        now.format("%Y-%m-%d %H:%M UTC")
    );

    // 1. Commit latency, durable (flush + fdatasync), as the steward sees it.
    let d1 = dir.join("latency");
    let store = TallyStore::open(&d1, now)?.store;
    let site = Site::Certified {
        id: dps_model::Code::new("bench-site")
            .map_err(|e| TallyError::InvalidSite(e.to_string()))?,
    };
    store.start_session(site, now)?;
    let mut g = VisitGen::new(1)?;
    let mut lat = Vec::with_capacity(commits);
    for _ in 0..commits {
        let v = g.visit()?;
        let t = Instant::now();
        store.record(v, Utc::now())?;
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "visit commit latency incl. fsync ({commits} commits): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99)),
        ms(pct(&lat, 1.0))
    );
    drop(store);

    // 2. Size per 10,000 visits (30 days, realistic spread).
    let d2 = dir.join("size");
    let store = TallyStore::open(&d2, now)?.store;
    let p = SimParams {
        visits: 10_000,
        days: 30,
        seed: 10,
        last_day: today,
        undo_rate: 0.02,
    };
    simulate(&store, &p)?;
    let cells = store.cells()?.len();
    drop(store);
    let size = dir_size(&d2)?;
    println!(
        "store size per 10,000 visits over 30 days: {size} bytes ({:.1} MiB), {cells} cells",
        size as f64 / 1048576.0
    );

    // 3. Two years, then `tally show`.
    let d3 = dir.join("two-years");
    let store = TallyStore::open(&d3, now)?.store;
    let p = SimParams {
        visits: two_years,
        days: 730,
        seed: 730,
        last_day: today,
        undo_rate: 0.02,
    };
    let t = Instant::now();
    simulate(&store, &p)?;
    let sim = t.elapsed();
    drop(store);
    let t = Instant::now();
    let store = TallyStore::open(&d3, Utc::now())?.store;
    let totals = store.totals()?;
    let json = serde_json::to_string(&totals).map_err(|e| TallyError::Damaged(e.to_string()))?;
    let show = t.elapsed();
    let size = dir_size(&d3)?;
    println!(
        "two years ({two_years} visits, simulated in {:.1} s): {} cells, {} bytes on disk ({:.1} MiB); tally show (open + totals + JSON, {} bytes) {:.0} ms",
        sim.as_secs_f64(),
        totals.len(),
        size,
        size as f64 / 1048576.0,
        json.len(),
        ms(show)
    );
    Ok(())
}
