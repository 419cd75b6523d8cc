//! Real hub, real client, loopback.

use std::sync::Arc;

use chrono::Utc;
use dps_hub::Store;
use dps_model::ReplicaId;
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};
use dps_sync::{ReplicaSource, SyncError};

use crate::common::*;

#[tokio::test]
async fn a_backlog_goes_in_bounded_batches_and_totals_match() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    visits(&k, 500, 300, 1);
    let c = client(&hub.url(), true, 5_000);
    let r = sync(&k, &c, 40).await.unwrap();
    assert_eq!(r.cells_sent, 300);
    assert_eq!(r.batches, 8, "300 cells in batches of 40");
    assert_eq!(k.pending_count().unwrap(), 0);
    assert_eq!(hub.totals(), k.totals());
    // Nothing new: one empty push, nothing sent, still equal.
    let r = sync(&k, &c, 40).await.unwrap();
    assert_eq!((r.batches, r.cells_sent), (1, 0));
    visits(&k, 30, 300, 2);
    let r = sync(&k, &c, 40).await.unwrap();
    assert!(r.cells_sent > 0 && r.cells_sent <= 30);
    assert_eq!(hub.totals(), k.totals());
    let d = hub.store.device(&k.replica().device).unwrap().unwrap();
    assert_eq!(d.pending, Some(0));
    assert!(d.last_sync.is_some());
    hub.stop().await;
}

#[tokio::test]
async fn every_batch_replayed_three_times_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let c = client(&hub.url(), true, 5_000);
    let tok = token(&k);
    let mut sent: Vec<PushRequest> = Vec::new();
    for round in 0..4 {
        visits(&k, 120, 90, round);
        let mut after = k.acked().unwrap();
        loop {
            let (cells, upto) = k.pending(after, 25).unwrap();
            let n = cells.len();
            let req = PushRequest {
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
            };
            for _ in 0..3 {
                let (resp, _) = c.push(&tok, &req).await.unwrap();
                assert!(resp.watermark >= upto);
            }
            sent.push(req);
            k.set_acked(upto).unwrap();
            after = upto;
            if n < 25 {
                break;
            }
        }
        assert_eq!(hub.totals(), k.totals(), "round {round}");
    }
    // Every old batch again, newest first: stale absolute counts never lower
    // or double anything.
    for req in sent.iter().rev() {
        c.push(&tok, req).await.unwrap();
    }
    assert_eq!(hub.totals(), k.totals());
    hub.stop().await;
}

#[tokio::test]
async fn a_hub_restored_from_an_older_copy_is_healed_by_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let url = hub.url();
    let addr = hub.addr;
    let k = kiosk(&url, &hub.code("dps-a"), "inc1").await;
    let c = client(&url, false, 5_000);
    visits(&k, 200, 150, 1);
    sync(&k, &c, 30).await.unwrap();
    hub.stop().await;
    copy_dir(dir.path(), snapshot.path());

    let hub = TestHub::start_on(dir.path(), addr).await;
    visits(&k, 300, 400, 2);
    sync(&k, &c, 30).await.unwrap();
    assert_eq!(hub.totals(), k.totals());
    let acked_before = k.acked().unwrap();
    hub.stop().await;

    // The disaster: the hub's store goes back to the older copy.
    std::fs::remove_dir_all(dir.path()).unwrap();
    copy_dir(snapshot.path(), dir.path());
    let hub = TestHub::start_on(dir.path(), addr).await;
    assert_ne!(
        hub.totals(),
        k.totals(),
        "the older copy should miss counts"
    );
    let r = sync(&k, &c, 30).await.unwrap();
    let from = r
        .resent_from
        .expect("the kiosk should notice the hub lost data");
    assert!(from < acked_before);
    assert_eq!(hub.totals(), k.totals());
    assert_eq!(hub.store.watermark(&k.replica()).unwrap(), k.last_seq());
    hub.stop().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_kiosks_syncing_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let mut kiosks = Vec::new();
    for i in 0..50 {
        kiosks.push(kiosk(&hub.url(), &hub.code("dps-a"), &format!("inc{i}")).await);
    }
    for round in 0..2 {
        let mut set = tokio::task::JoinSet::new();
        for (i, k) in kiosks.iter().enumerate() {
            visits(k, 60 + i, 80, i * 31 + round);
            let k = Arc::clone(k);
            let c = client(&hub.url(), true, 10_000);
            set.spawn(async move { sync(&k, &c, 10 + i % 7).await });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(hub.totals(), sum(&kiosks), "round {round}");
    }
    assert_eq!(hub.store.devices().unwrap().len(), 50);
    hub.stop().await;
}

#[tokio::test]
async fn clock_skew_is_measured_flagged_and_recorded_on_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let c = client(&hub.url(), true, 5_000);
    let ahead = || Utc::now() + chrono::Duration::minutes(7);
    let r = dps_sync::sync_once(k.as_ref(), &c, &token(&k), &ahead, 100).await;
    dps_sync::record(k.as_ref(), Utc::now(), &r).unwrap();
    let r = r.unwrap();
    assert!(
        (415..=425).contains(&r.clock_skew_secs),
        "{}",
        r.clock_skew_secs
    );
    let st = dps_sync::status(k.as_ref()).unwrap();
    assert!(
        st.clock_skew_warning
            && st.enrolled
            && st.last_success.is_some()
            && st.last_error.is_none()
    );
    let d = hub.store.device(&k.replica().device).unwrap().unwrap();
    assert!(d.clock_skew_secs.is_some_and(|s| (415..=425).contains(&s)));

    // On time: no warning.
    let r = dps_sync::sync_once(k.as_ref(), &c, &token(&k), &Utc::now, 100).await;
    dps_sync::record(k.as_ref(), Utc::now(), &r).unwrap();
    assert!(!dps_sync::status(k.as_ref()).unwrap().clock_skew_warning);
    hub.stop().await;
}

#[tokio::test]
async fn a_revoked_device_is_told_in_plain_words_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let c = client(&hub.url(), true, 5_000);
    visits(&k, 10, 10, 0);
    sync(&k, &c, 100).await.unwrap();
    hub.store.revoke(&k.replica().device, Utc::now()).unwrap();
    visits(&k, 10, 20, 5);
    let r = sync(&k, &c, 100).await;
    dps_sync::record(k.as_ref(), Utc::now(), &r).unwrap();
    let e = r.unwrap_err();
    assert!(matches!(e, SyncError::Refused(_)), "{e:?}");
    assert!(!e.is_transient());
    let st = dps_sync::status(k.as_ref()).unwrap();
    assert_eq!(
        st.last_error.as_deref(),
        Some("the hub refused this device: ask the coordination for a new code")
    );
    assert!(st.pending_cells > 0);
    assert_ne!(hub.totals(), k.totals());
    // A kiosk cannot write another device's replica even with a valid token.
    let other = ReplicaId {
        device: "dev-someoneelse".into(),
        incarnation: "x".into(),
    };
    let k2 = kiosk(&hub.url(), &hub.code("dps-a"), "inc2").await;
    let req = PushRequest {
        v: PROTOCOL_VERSION,
        replica: other,
        after: 0,
        upto: 1,
        cells: vec![WireCell {
            key: cell(1),
            inc: 5,
            ret: 0,
        }],
        kiosk_time: Utc::now(),
        pending: 0,
    };
    let e = c.push(&token(&k2), &req).await.unwrap_err();
    assert!(e.plain().contains("another device"), "{}", e.plain());
    hub.stop().await;
}

#[tokio::test]
async fn unreachable_hub_is_transient_with_a_plain_message() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let e = dps_sync::enrol(&dps_sync::MemSource::new("i"), &url, "ABCD-EFGH", None)
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(e.plain().contains("could not be reached"));
    let e = dps_sync::enrol(&dps_sync::MemSource::new("i"), "ftp://x", "ABCD-EFGH", None)
        .await
        .unwrap_err();
    assert!(matches!(e, SyncError::Config(_)));
}

/// The window's background loop: waits while a journey is on screen, syncs
/// when it ends, syncs again on "sync now", stops on shutdown.
#[tokio::test]
async fn background_loop_respects_the_journey_and_sync_now() {
    use dps_sync::background::{run, Controls, Options};
    use tokio::sync::{watch, Notify};

    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    visits(&k, 40, 30, 1);
    let (journey_tx, journey_rx) = watch::channel(true);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (status_tx, mut status_rx) = watch::channel(dps_sync::SyncStatus::default());
    let wake = Arc::new(Notify::new());
    let ctl = Controls {
        wake: wake.clone(),
        journey_active: journey_rx,
        shutdown: stop_rx,
    };
    let opts = Options {
        rng_seed: 1,
        ..Options::default()
    };
    let src: Arc<dyn ReplicaSource> = k.clone();
    let task = tokio::spawn(run(src, Arc::new(Utc::now), ctl, opts, status_tx));

    // A journey is on screen: "sync now" must not send anything.
    wake.notify_one();
    tokio::task::yield_now().await;
    assert!(hub.totals().is_empty());
    assert!(!status_rx.has_changed().unwrap());

    journey_tx.send(false).unwrap();
    status_rx.changed().await.unwrap();
    let st = status_rx.borrow_and_update().clone();
    assert_eq!((st.pending_cells, st.last_error.clone()), (0, None));
    assert!(st.next_attempt.is_some());
    assert_eq!(hub.totals(), k.totals());

    visits(&k, 20, 60, 9);
    wake.notify_one();
    // The "sync now" pressed during the journey was kept and may have caused
    // one more sync before these visits: wait for the next status change(s).
    let mut syncs = 0;
    while hub.totals() != k.totals() {
        status_rx.changed().await.unwrap();
        syncs += 1;
        assert!(syncs <= 2, "sync now did not send the new visits");
    }
    assert_eq!(status_rx.borrow().pending_cells, 0);

    stop_tx.send(true).unwrap();
    task.await.unwrap();
    hub.stop().await;
}
