//! The counter algebra: PN-counter merge laws, and what the hub can build
//! from replicas (merge by max per (replica, cell), sum over replicas).

use std::collections::BTreeMap;

use dps_model::{CellKey, PnCount, ReplicaId};
use dps_tally::TallyStore;
use proptest::prelude::*;

use crate::{at, site, visit};

fn pn() -> impl Strategy<Value = PnCount> {
    (0u64..1000, 0u64..1000).prop_map(|(inc, ret)| PnCount { inc, ret })
}

type Hub = BTreeMap<(ReplicaId, CellKey), PnCount>;

fn hub_merge(hub: &mut Hub, replica: &ReplicaId, items: &[(CellKey, PnCount)]) {
    for (cell, count) in items {
        let e = hub.entry((replica.clone(), cell.clone())).or_default();
        *e = e.merge(*count);
    }
}

fn hub_total(hub: &Hub) -> u64 {
    hub.values().map(|c| c.net()).sum()
}

proptest! {
    #[test]
    fn merge_is_commutative_associative_idempotent(a in pn(), b in pn(), c in pn()) {
        prop_assert_eq!(a.merge(b), b.merge(a));
        prop_assert_eq!(a.merge(b).merge(c), a.merge(b.merge(c)));
        prop_assert_eq!(a.merge(a), a);
        // Merging never loses an increment or a retraction.
        let m = a.merge(b);
        prop_assert!(m.inc >= a.inc && m.ret >= b.ret);
    }

    /// Any interleaving of visits and undos: the store agrees with a plain
    /// model and no cell ever goes below zero net.
    #[test]
    fn retraction_never_goes_below_zero(ops in proptest::collection::vec(0u8..6, 1..40)) {
        let (_d, store) = crate::fresh();
        let now = at(2026, 3, 2, 10, 0);
        let mut stack: Vec<&str> = Vec::new();
        let names = ["a", "b", "c"];
        for op in ops {
            if op >= 3 {
                match store.undo_last() {
                    Ok(r) => prop_assert_eq!(Some(r.cell.procedure.as_str()), stack.pop()),
                    Err(dps_tally::TallyError::NothingToUndo) => prop_assert!(stack.is_empty()),
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            } else {
                store.record(visit(names[op as usize], "done"), now).unwrap();
                stack.push(names[op as usize]);
            }
            for c in store.cells().unwrap() {
                prop_assert!(c.ret <= c.inc);
            }
        }
        let net: u64 = store.totals().unwrap().iter().map(|c| c.net).sum();
        prop_assert_eq!(net, stack.len() as u64);
    }
}

#[test]
fn resending_pending_is_harmless_and_a_new_incarnation_adds() {
    let now = at(2026, 3, 2, 10, 0);
    let mut hub = Hub::new();
    let dir = tempfile::tempdir().unwrap();
    let old_replica;
    {
        let store = TallyStore::open(dir.path(), now).unwrap().store;
        store
            .put_setting(dps_tally::SETTING_DEVICE_ID, "kiosk-1")
            .unwrap();
        store.start_session(site(), now).unwrap();
        for _ in 0..3 {
            store.record(visit("a", "done"), now).unwrap();
        }
        old_replica = store.replica();
        let (items, _) = store.pending(0, 100).unwrap();
        hub_merge(&mut hub, &old_replica, &items);
        // A lost acknowledgement: everything is sent again, twice.
        hub_merge(&mut hub, &old_replica, &items);
        hub_merge(&mut hub, &old_replica, &items);
        assert_eq!(hub_total(&hub), 3);
    }
    // The laptop's disk is replaced: the store is created anew with the same
    // device id. The new incarnation's 2 visits must add to the 3, not be
    // swallowed by max(3, 2).
    std::fs::remove_dir_all(dir.path()).unwrap();
    let store = TallyStore::open(dir.path(), now).unwrap().store;
    store
        .put_setting(dps_tally::SETTING_DEVICE_ID, "kiosk-1")
        .unwrap();
    store.start_session(site(), now).unwrap();
    store.record(visit("a", "done"), now).unwrap();
    store.record(visit("a", "done"), now).unwrap();
    let new_replica = store.replica();
    assert_eq!(new_replica.device, old_replica.device);
    assert_ne!(new_replica.incarnation, old_replica.incarnation);
    let (items, _) = store.pending(0, 100).unwrap();
    hub_merge(&mut hub, &new_replica, &items);
    assert_eq!(hub_total(&hub), 5);
}
