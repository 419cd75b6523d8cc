//! The one integration-test binary of dps-tally.

mod algebra;
mod compact;
mod corruption;
mod crash;
mod fsync;
mod privacy;
mod settings;
mod store;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use dps_model::{AgeBand, Channel, Code, Language, Municipality, Residence, VisitRecord};
use dps_tally::{Site, TallyStore};

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid test time")
}

pub fn code(s: &str) -> Code {
    Code::new(s).expect("valid test code")
}

pub fn visit(procedure: &str, outcome: &str) -> VisitRecord {
    VisitRecord {
        procedure: code(procedure),
        outcome: code(outcome),
        language: Language::Fr,
        channel: Channel::Eid,
        age_band: AgeBand::From65To74,
        residence: Residence::Brussels(Municipality::SaintJosseTenNoode),
    }
}

pub fn site() -> Site {
    Site::Certified {
        id: code("dps-test-site"),
    }
}

/// A fresh store in a temp data dir, with a session open.
pub fn fresh() -> (tempfile::TempDir, TallyStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = TallyStore::open(dir.path(), at(2026, 3, 2, 9, 0))
        .expect("open")
        .store;
    store
        .start_session(site(), at(2026, 3, 2, 9, 0))
        .expect("start session");
    (dir, store)
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
