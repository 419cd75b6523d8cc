//! Soak: two years of simulated visits; the store stays bounded on disk and
//! every visit is in the totals after a reopen.

use std::path::Path;

use chrono::NaiveDate;
use dps_tally::simulate::{simulate, SimParams};
use dps_tally::TallyStore;

use crate::at;

/// Bytes of every file under `dir`.
pub fn du(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        n += if m.is_dir() { du(&e.path()) } else { m.len() };
    }
    n
}

/// How many times any of `needles` occurs in any file under `dir`.
pub fn grep_dir(dir: &Path, needles: &[&[u8]]) -> usize {
    let mut hits = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits += grep_dir(&p, needles);
        } else {
            let bytes = std::fs::read(&p).unwrap();
            for n in needles {
                hits += bytes.windows(n.len()).filter(|w| w == n).count();
            }
        }
    }
    hits
}

#[test]
fn two_years_of_visits_stay_bounded() {
    let visits: u64 = std::env::var("DPS_TALLY_SOAK_VISITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40_000);
    let d = tempfile::tempdir().unwrap();
    let now = at(2026, 11, 23, 18, 0);
    let p = SimParams {
        visits,
        days: 730,
        seed: 2021,
        last_day: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        undo_rate: 0.02,
    };
    let report = {
        let store = TallyStore::open(d.path(), now).unwrap().store;
        simulate(&store, &p).unwrap()
    };
    assert_eq!(report.visits, visits);
    assert!(report.sessions > 600, "{report:?}");
    let store = TallyStore::open(d.path(), now).unwrap().store;
    let totals = store.totals().unwrap();
    let net: u64 = totals.iter().map(|c| c.net).sum();
    assert_eq!(
        net,
        report.visits - report.undone,
        "every simulated visit is counted once"
    );
    let cells = store.cells().unwrap().len() as u64;
    assert_eq!(
        store.pending_count().unwrap(),
        cells,
        "nothing acked yet: every cell pending once"
    );
    let size = du(d.path());
    println!(
        "soak: {} visits ({} undone) over 730 days in {} sessions: {cells} cells, {size} bytes on disk ({:.1} MiB), sled says {}",
        report.visits,
        report.undone,
        report.sessions,
        size as f64 / 1048576.0,
        store.size_on_disk().unwrap()
    );
    // The bound: the store grows with cells, not visits; 2 KiB per cell is
    // generous for a ~200-byte key stored twice plus sled's segments.
    assert!(
        size < 2048 * cells + 16 * 1024 * 1024,
        "{size} bytes for {cells} cells"
    );
}
