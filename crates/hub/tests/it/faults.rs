//! Through a fault-injecting proxy: drops, resets mid-body, answers lost after
//! the hub committed, delays past the client's timeout, 500s. The client
//! retries; the totals come out exact.

use std::time::Duration;

use dps_faultproxy::{Fault, FaultProxy};
use dps_sync::ReplicaSource;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_heals_to_exact_totals() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let proxy = FaultProxy::start(hub.addr).await.unwrap();
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    // One connection per request, so each planned fault hits one request; a
    // read timeout well under the proxy's delay.
    let c = client(&proxy.url(), false, 400);
    let script = [
        Fault::Drop,
        Fault::ResetRequest(120),
        Fault::ResetRequest(2_000),
        Fault::CutResponse(0),
        Fault::CutResponse(30),
        Fault::Delay(Duration::from_millis(1_500)),
        Fault::Http500,
    ];
    let mut total_failures = 0;
    for (round, fault) in script.iter().enumerate() {
        visits(&k, 80, 200, round * 13);
        // The fault hits a batch in the middle of the backlog, then again the
        // first batch of the retry.
        proxy.plan([Fault::Pass, fault.clone(), fault.clone()]);
        let (_, failures) = sync_until_ok(&k, &c, 25, 5).await;
        assert!(failures >= 1, "{fault:?} did not hit");
        total_failures += failures;
        assert_eq!(hub.totals(), k.totals(), "after {fault:?}");
        assert_eq!(k.pending_count().unwrap(), 0);
    }
    assert!(total_failures >= script.len());

    // Chaos: every other connection broken in turn, many small batches.
    visits(&k, 400, 600, 99);
    let mut chaos = Vec::new();
    for i in 0..40 {
        chaos.push(Fault::Pass);
        chaos.push(script[i % script.len()].clone());
    }
    proxy.plan(chaos);
    let (_, failures) = sync_until_ok(&k, &c, 20, 60).await;
    assert!(failures > 0);
    assert_eq!(hub.totals(), k.totals());
    hub.stop().await;
}
