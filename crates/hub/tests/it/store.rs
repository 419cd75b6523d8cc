//! The sled store's ingest on its own, below HTTP: merge semantics the
//! end-to-end scenarios would only show as a wrong total.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use dps_hub::store::{Device, PendingEnrolment};
use dps_hub::{SledStore, Store};
use dps_model::{CellKey, Code, PnCount, ReplicaId};
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};
use proptest::prelude::*;

use crate::common::cell;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn replica() -> ReplicaId {
    ReplicaId {
        device: "dev-s".into(),
        incarnation: "i1".into(),
    }
}

/// A store with device `dev-s` enrolled.
fn store() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let site = Code::new("dps-a").unwrap();
    let code = [9u8; 32];
    s.add_enrolment(
        &code,
        &PendingEnrolment {
            site: site.clone(),
            expires: now() + Duration::hours(1),
        },
    )
    .unwrap();
    let d = Device {
        id: "dev-s".into(),
        site,
        token_hash: String::new(),
        enrolled: now(),
        last_sync: None,
        clock_skew_secs: None,
        pending: None,
        revoked: None,
    };
    s.redeem(&code, now(), d).unwrap().unwrap();
    (dir, s)
}

fn push(cells: &[(CellKey, PnCount)]) -> PushRequest {
    PushRequest {
        v: PROTOCOL_VERSION,
        replica: replica(),
        after: 0,
        upto: cells.len() as u64,
        cells: cells
            .iter()
            .map(|(k, c)| WireCell::new(k.clone(), *c))
            .collect(),
        kiosk_time: now(),
        pending: 0,
    }
}

fn pn(inc: u64, ret: u64) -> PnCount {
    PnCount { inc, ret }
}

fn stored(s: &SledStore) -> BTreeMap<CellKey, PnCount> {
    s.cells()
        .unwrap()
        .into_iter()
        .map(|(r, k, c)| {
            assert_eq!(r, replica());
            (k, c)
        })
        .collect()
}

/// Regression: a later entry for the same cell in ONE push used to
/// overwrite the earlier one (the batch's reads do not see its own writes),
/// so (4, 0) then (2, 1) stored (2, 1) and counted the cell twice.
#[test]
fn duplicate_keys_in_one_push_merge_by_maximum() {
    let (_dir, s) = store();
    let x = cell(0);
    let o = s
        .ingest(
            "dev-s",
            &push(&[(x.clone(), pn(4, 0)), (x.clone(), pn(2, 1))]),
            now(),
        )
        .unwrap();
    assert_eq!(o.stored, 1, "one cell grew");
    assert_eq!(stored(&s), [(x, pn(4, 1))].into_iter().collect());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    /// Any pushes, with keys repeated within and across them: the store
    /// holds each cell's maximum over every entry ever pushed, and each
    /// push's `stored` is the number of distinct cells whose value grew.
    #[test]
    fn pushes_with_repeated_keys_store_the_maximum(
        pushes in prop::collection::vec(
            prop::collection::vec((0usize..4, 0u64..6, 0u64..6), 0..10),
            1..5,
        )
    ) {
        let (_dir, s) = store();
        let mut model: BTreeMap<CellKey, PnCount> = BTreeMap::new();
        for p in pushes {
            let cells: Vec<_> = p.iter().map(|&(n, i, r)| (cell(n), pn(i, r))).collect();
            let before = model.clone();
            for (k, c) in &cells {
                let e = model.entry(k.clone()).or_default();
                *e = e.merge(*c);
            }
            // A cell that stays at (0, 0) is never written, so it is not there.
            model.retain(|_, c| *c != PnCount::default());
            let grew = model.iter().filter(|(k, c)| before.get(*k) != Some(*c)).count();
            let o = s.ingest("dev-s", &push(&cells), now()).unwrap();
            prop_assert_eq!(o.stored, grew as u64);
            prop_assert_eq!(stored(&s), model.clone());
        }
    }
}
