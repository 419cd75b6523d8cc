//! Protocol property: any interleaving of batches resent, reordered and
//! dropped (acks lost included) never over-counts, and the next honest sync
//! makes the hub's totals equal the kiosk's. Runs on the real sled store's
//! ingest, the same code the HTTP handler calls.

use chrono::Utc;
use dps_hub::store::totals;
use dps_hub::{SledStore, Store};
use dps_model::ReplicaId;
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};
use dps_sync::{MemSource, ReplicaSource};
use proptest::prelude::*;

use crate::common::cell;

#[derive(Debug, Clone)]
enum Op {
    /// Count (or retract) a visit in cell `n`.
    Visit(usize, bool),
    /// The kiosk makes its next batch (from its acked mark) and sends it.
    Send { limit: usize, ack_lost: bool },
    /// The network delivers an earlier batch again (resend / reorder).
    Replay(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..12, prop::bool::weighted(0.15)).prop_map(|(n, r)| Op::Visit(n, r)),
        2 => (1usize..5, any::<bool>()).prop_map(|(limit, ack_lost)| Op::Send { limit, ack_lost }),
        2 => any::<usize>().prop_map(Op::Replay),
    ]
}

fn request(k: &MemSource, after: u64, limit: usize) -> PushRequest {
    let (cells, upto) = k.pending(after, limit).unwrap();
    PushRequest {
        v: PROTOCOL_VERSION,
        replica: k.replica(),
        after,
        upto,
        cells: cells
            .into_iter()
            .map(|(a, b)| WireCell::new(a, b))
            .collect(),
        kiosk_time: Utc::now(),
        pending: 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    #[test]
    fn resends_reorders_and_drops_never_change_the_totals(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let hub = SledStore::open(dir.path()).unwrap();
        let k = MemSource::new("inc");
        k.put_setting(dps_sync::keys::DEVICE, "dev-a").unwrap();
        let device = hub_device(&hub);
        let mut sent: Vec<PushRequest> = Vec::new();
        for op in ops {
            match op {
                Op::Visit(n, r) => k.record(cell(n), r),
                Op::Send { limit, ack_lost } => {
                    let req = request(&k, k.acked().unwrap(), limit);
                    let out = hub.ingest(&device, &req, Utc::now()).unwrap();
                    if !ack_lost && out.watermark >= req.after {
                        k.set_acked(req.upto).unwrap();
                    }
                    sent.push(req);
                }
                Op::Replay(i) if !sent.is_empty() => {
                    let req = sent[i % sent.len()].clone();
                    hub.ingest(&device, &req, Utc::now()).unwrap();
                }
                Op::Replay(_) => {}
            }
            // Never more on the hub than on the kiosk, cell by cell.
            let kt = k.counts();
            for (_, key, c) in hub.cells().unwrap() {
                let kc = kt.get(&key).copied().unwrap_or_default();
                prop_assert!(c.inc <= kc.inc && c.ret <= kc.ret);
            }
        }
        // The next honest sync (the client's algorithm) completes the hub.
        let mut after = k.acked().unwrap();
        loop {
            let req = request(&k, after, 3);
            let n = req.cells.len();
            let out = hub.ingest(&device, &req, Utc::now()).unwrap();
            if out.watermark < after {
                after = out.watermark;
                continue;
            }
            k.set_acked(req.upto).unwrap();
            after = req.upto;
            if n < 3 { break; }
        }
        prop_assert_eq!(totals(&hub).unwrap(), k.totals());
        prop_assert_eq!(hub.watermark(&ReplicaId { device: device.clone(), incarnation: "inc".into() }).unwrap(), k.last_seq());
    }
}

fn hub_device(hub: &SledStore) -> String {
    let d = dps_hub::store::Device {
        id: "dev-a".into(),
        site: dps_model::Code::new("dps-a").unwrap(),
        token_hash: String::new(),
        enrolled: Utc::now(),
        last_sync: None,
        clock_skew_secs: None,
        pending: None,
        revoked: None,
    };
    let code = [7u8; 32];
    hub.add_enrolment(
        &code,
        &dps_hub::store::PendingEnrolment {
            site: d.site.clone(),
            expires: Utc::now() + chrono::Duration::hours(1),
        },
    )
    .unwrap();
    hub.redeem(&code, Utc::now(), d).unwrap().unwrap().id
}
