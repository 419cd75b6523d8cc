//! `tally show` timed through the command path (`dps_cli::tally::run`, the
//! function `dps-kiosk tally show` calls: open the store, read the totals,
//! write them to stdout), on two years of visits written by `tally simulate`
//! through the same path. `tally-bench` (dps-tally) times the library calls
//! alone; this adds what the command costs on top (argument handling, the
//! table or JSON written to stdout).
//!
//! `cargo build --release -p dps-cli --bin tally-cli-bench &&
//!  target/release/tally-cli-bench [DIR] [VISITS] [RUNS] >/dev/null`
//!
//! Figures go to stderr; stdout must not be a terminal (it receives every
//! `tally show`, megabytes of it). DIR must be on the real disk; default
//! /var/tmp.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dps_cli::tally::{run, TallyCmd};
use dps_cli::Global;

fn main() -> ExitCode {
    if std::io::stdout().is_terminal() {
        eprintln!(
            "tally-cli-bench: send stdout elsewhere (>/dev/null): it receives every tally show"
        );
        return ExitCode::from(2);
    }
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let visits: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(40_000);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let dir = base.join(format!("dps-tally-cli-bench-{}", std::process::id()));
    let code = bench(&dir, visits, runs.max(1));
    // Best effort: a leftover bench dir in /var/tmp is harmless.
    let _ = std::fs::remove_dir_all(&dir);
    code
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn bench(dir: &Path, visits: u64, runs: usize) -> ExitCode {
    let g = Global {
        data_dir: Some(dir.to_owned()),
    };
    let t = Instant::now();
    let code = run(
        TallyCmd::Simulate {
            visits,
            days: 730,
            seed: 730,
            into_default_store: false,
        },
        &g,
    );
    if code != ExitCode::SUCCESS {
        eprintln!("tally-cli-bench: tally simulate failed");
        return code;
    }
    eprintln!(
        "tally-cli-bench: {} UTC, {} CPUs, load average {}; two years ({visits} visits) simulated through the command in {:.1} s",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        t.elapsed().as_secs_f64()
    );
    for json in [true, false] {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let code = run(TallyCmd::Show { json }, &g);
            times.push(t.elapsed());
            if code != ExitCode::SUCCESS {
                eprintln!("tally-cli-bench: tally show failed");
                return code;
            }
        }
        times.sort();
        eprintln!(
            "tally show{} (command path, stdout to /dev/null), {runs} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
            if json { " --json" } else { "" },
            ms(times[0]),
            ms(times[runs / 2]),
            ms(times[runs - 1])
        );
    }
    ExitCode::SUCCESS
}
