//! Benchmark of the store's compaction at open (src/compact.rs), printing
//! figures (not a test: they depend on the machine's disk and load).
//!
//! `cargo run --release -p dps-tally --bin tally-compact-bench -- [DIR] [PASSES]`
//!
//! DIR must be on the real disk (default /var/tmp). Prints:
//! 1. a forced compaction of two years of simulated visits (40,000 visits,
//!    ~37,600 cells): time, sizes before and after, live data;
//! 2. the soak: the same two years counted PASSES times (default 5) into one
//!    store in bulk, each pass followed by an open with the default policy,
//!    with and without compaction;
//! 3. the same with a flush + fdatasync per visit (the kiosk's own mode),
//!    10,000 visits over two years a pass.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chrono::{Duration, Utc};
use dps_tally::simulate::{simulate, SimParams, VisitGen};
use dps_tally::{dir_size, CompactPolicy, Compaction, Site, TallyError, TallyStore};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let passes = args.next().and_then(|s| s.parse().ok()).unwrap_or(5u64);
    let dir = base.join(format!("dps-tally-compact-bench-{}", std::process::id()));
    let r = run(&dir, passes);
    // Best effort: a leftover bench dir in /var/tmp is harmless.
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally-compact-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

fn two_years() -> SimParams {
    SimParams {
        visits: 40_000,
        days: 730,
        seed: 2021,
        last_day: dps_tally::brussels_day(Utc::now()),
        undo_rate: 0.02,
    }
}

fn describe(c: &Option<Compaction>) -> String {
    match c {
        None => "not compacted".into(),
        Some(Compaction::Done {
            before,
            after,
            live,
            took,
        }) => format!(
            "compacted {} -> {} ({} live) in {} ms",
            mb(*before),
            mb(*after),
            mb(*live),
            took.as_millis()
        ),
        Some(Compaction::Failed { reason }) => format!("compaction FAILED: {reason}"),
    }
}

fn run(dir: &Path, passes: u64) -> Result<(), TallyError> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "tally-compact-bench on {} ({} CPUs), {}, load average {}",
        dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // 1. A forced compaction of two years, counted once and twice.
    let d1 = dir.join("forced");
    for counted in 1..=2 {
        {
            let store = TallyStore::open_with(&d1, Utc::now(), never())?.store;
            simulate(&store, &two_years())?;
        }
        let before = dir_size(&d1)?;
        let t = Instant::now();
        let o = TallyStore::open_with(&d1, Utc::now(), CompactPolicy::always())?;
        let open = t.elapsed();
        println!(
            "two years counted {counted}x: {} on disk; open with a forced compaction {} ms: {}",
            mb(before),
            open.as_millis(),
            describe(&o.compaction)
        );
    }

    // 2 and 3. The soak, bulk and with an fsync per visit.
    for (label, per_visit_fsync) in [
        ("bulk, two years a pass", false),
        ("fsync per visit, 10,000 visits a pass", true),
    ] {
        for (policy_label, policy) in [
            ("default policy", CompactPolicy::default()),
            ("no compaction", never()),
        ] {
            let d = dir.join(format!("soak-{per_visit_fsync}-{}", policy.min_size));
            let mut line = Vec::new();
            for _ in 0..passes {
                {
                    let store = TallyStore::open_with(&d, Utc::now(), never())?.store;
                    if per_visit_fsync {
                        recount(&store)?;
                    } else {
                        simulate(&store, &two_years())?;
                    }
                }
                let after_pass = dir_size(&d)?;
                let t = Instant::now();
                let o = TallyStore::open_with(&d, Utc::now(), policy)?;
                let open = t.elapsed();
                let cells = o.store.cells()?.len();
                drop(o.store);
                let opened = mb(dir_size(&d)?);
                println!(
                    "  {label}, {policy_label}: {cells} cells, {} after the pass; open {} ms, {}; {} after",
                    mb(after_pass),
                    open.as_millis(),
                    describe(&o.compaction),
                    opened
                );
                line.push(opened);
            }
            println!(
                "{label}, {policy_label}: opened sizes {}",
                line.join(" -> ")
            );
        }
    }
    Ok(())
}

/// Never compacts (for the "before" figures).
fn never() -> CompactPolicy {
    CompactPolicy {
        min_size: u64::MAX,
        ..CompactPolicy::default()
    }
}

/// 10,000 visits over the last two years (a session a day, ~14 visits in
/// it), each flushed and fdatasynced as the kiosk counts; the same visits
/// every time, so a second pass re-counts existing cells.
fn recount(store: &TallyStore) -> Result<(), TallyError> {
    let mut g = VisitGen::new(7)?;
    let id = dps_model::Code::new("sim-dps-molenbeek")
        .map_err(|e| TallyError::InvalidSite(e.to_string()))?;
    let start = Utc::now() - Duration::days(730);
    let (visits, days) = (10_000i64, 730i64);
    for day in 0..days {
        let opened = start + Duration::days(day);
        store.start_session(Site::Certified { id: id.clone() }, opened)?;
        for i in 0..visits / days + i64::from(day < visits % days) {
            store.record(g.visit()?, opened + Duration::minutes(i * 20))?;
        }
        store.end_session(opened + Duration::hours(8))?;
    }
    Ok(())
}
