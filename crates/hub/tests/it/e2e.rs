//! Real hub, real client, loopback.

use std::sync::Arc;
use std::time::Duration;

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

/// The window's background loop, wired as the window wires it.
struct Loop {
    journey: tokio::sync::watch::Sender<bool>,
    stop: tokio::sync::watch::Sender<bool>,
    status: tokio::sync::watch::Receiver<dps_sync::SyncStatus>,
    wake: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Loop {
    fn start(k: &Arc<dps_sync::MemSource>, journey: bool, batch_limit: usize) -> Loop {
        use dps_sync::background::{run, Controls, Options};
        use tokio::sync::{watch, Notify};
        let (journey_tx, journey_rx) = watch::channel(journey);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (status_tx, status_rx) = watch::channel(dps_sync::SyncStatus::default());
        let wake = Arc::new(Notify::new());
        let ctl = Controls {
            wake: wake.clone(),
            journey_active: journey_rx,
            shutdown: stop_rx,
        };
        let opts = Options {
            rng_seed: 1,
            batch_limit,
            ..Options::default()
        };
        let src: Arc<dyn ReplicaSource> = k.clone();
        let task = tokio::spawn(run(src, Arc::new(Utc::now), ctl, opts, status_tx));
        Loop {
            journey: journey_tx,
            stop: stop_tx,
            status: status_rx,
            wake,
            task,
        }
    }

    /// The next status the loop publishes (after an attempt, or a pause).
    async fn next_status(&mut self) -> dps_sync::SyncStatus {
        self.status.changed().await.unwrap();
        self.status.borrow_and_update().clone()
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

/// Longer than many whole syncs of these backlogs on loopback (a few ms
/// each), so a sync that should not happen would have happened.
const WELL_PAST_A_SYNC: Duration = Duration::from_millis(600);

/// While a journey is on screen nothing is sent, not even on "sync now";
/// when it ends the backlog goes; "sync now" sends new visits at once.
#[tokio::test]
async fn background_loop_holds_every_sync_while_a_journey_is_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    visits(&k, 40, 30, 1);
    let mut l = Loop::start(&k, true, 2_000);

    // A journey is on screen: neither the loop's first attempt nor "sync
    // now" may send anything, however long we wait.
    l.wake.notify_one();
    tokio::time::sleep(WELL_PAST_A_SYNC).await;
    assert!(hub.totals().is_empty(), "a sync ran during a journey");
    assert!(hub
        .store
        .device(&k.replica().device)
        .unwrap()
        .unwrap()
        .last_sync
        .is_none());
    assert!(!l.status.has_changed().unwrap());
    assert_eq!(k.pending_count().unwrap(), 30);

    l.journey.send(false).unwrap();
    let st = l.next_status().await;
    assert_eq!((st.pending_cells, st.last_error.clone()), (0, None));
    assert!(st.next_attempt.is_some());
    assert_eq!(hub.totals(), k.totals());

    visits(&k, 20, 60, 9);
    l.wake.notify_one();
    // The "sync now" pressed during the journey was kept and may have caused
    // one more sync before these visits: wait for the next status change(s).
    let mut syncs = 0;
    while hub.totals() != k.totals() {
        l.next_status().await;
        syncs += 1;
        assert!(syncs <= 2, "sync now did not send the new visits");
    }
    assert_eq!(l.status.borrow().pending_cells, 0);
    l.stop().await;
    hub.stop().await;
}

/// A journey that starts while a long backlog is syncing stops the sync
/// after the batch in flight; nothing more goes until the journey ends, then
/// the rest follows from the last acknowledged batch. The link is slowed
/// (each answer held 150 ms by the proxy) so the journey reliably starts
/// while the first batch's answer is on its way back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_starting_mid_backlog_stops_the_sync_after_the_batch_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let proxy = dps_faultproxy::FaultProxy::start(hub.addr).await.unwrap();
    // Enrolled through the proxy, so the loop reaches the hub through it.
    let k = kiosk(&proxy.url(), &hub.code("dps-a"), "inc1").await;
    proxy.set_default(dps_faultproxy::Fault::Slow(Duration::from_millis(150)));
    visits(&k, 100, 100, 1);
    assert_eq!(k.pending_count().unwrap(), 100);

    // Batches of 10: a backlog of 10 batches.
    let mut l = Loop::start(&k, false, 10);
    // The hub has merged the first batch; its answer is held in the proxy.
    proxy.answer_held.notified().await;
    l.journey.send(true).unwrap();

    let st = l.next_status().await;
    let cells = hub.store.cells().unwrap().len();
    assert_eq!(cells, 10, "the sync went on past the batch in flight");
    assert_eq!(st.pending_cells, 90);
    assert_eq!(k.pending_count().unwrap(), 90);
    assert!(
        k.acked().unwrap() > 0,
        "the batch in flight was acknowledged"
    );
    assert_eq!(st.last_error, None);

    // Nothing more while the journey lasts.
    tokio::time::sleep(WELL_PAST_A_SYNC).await;
    assert_eq!(hub.store.cells().unwrap().len(), 10);
    assert!(!l.status.has_changed().unwrap());

    // Journey over: the rest, from where it stopped.
    l.journey.send(false).unwrap();
    let st = l.next_status().await;
    assert_eq!(st.pending_cells, 0);
    assert_eq!(hub.totals(), k.totals());
    l.stop().await;
    hub.stop().await;
}

// ---- re-enrolment: a kiosk keeps its device id, hence its replica ----

/// Revoked after it synced, the kiosk takes a new code as the SAME device:
/// the counts it had not sent arrive, and nothing it had sent is doubled.
#[tokio::test]
async fn a_revoked_kiosk_re_enrols_with_a_new_code_and_its_counts_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let device = k.replica().device;
    let old_token = token(&k);
    let c = client(&hub.url(), true, 5_000);
    visits(&k, 200, 150, 1);
    sync(&k, &c, 40).await.unwrap();
    assert!(hub.store.revoke(&device, Utc::now()).unwrap());
    visits(&k, 100, 300, 2);
    let e = sync(&k, &c, 40).await.unwrap_err();
    assert!(matches!(e, SyncError::Refused(_)), "{e:?}");
    assert!(k.pending_count().unwrap() > 0);

    // The coordination's new code, at another site.
    let r = dps_sync::enrol(k.as_ref(), &hub.url(), &hub.code("dps-b"), None)
        .await
        .unwrap();
    assert_eq!(r.device, device, "a re-enrolled kiosk keeps its device id");
    assert_eq!(k.replica().device, device);
    assert_ne!(token(&k), old_token);
    let d = hub.store.device(&device).unwrap().unwrap();
    assert_eq!((d.revoked, d.site.as_str()), (None, "dps-b"));
    assert_eq!(hub.store.devices().unwrap().len(), 1);

    sync(&k, &c, 40).await.unwrap();
    assert_eq!(hub.totals(), k.totals());
    assert_eq!(hub.store.watermark(&k.replica()).unwrap(), k.last_seq());
    // The old token is dead.
    let (tok, req) = (old_token, empty_push(&k));
    let e = c.push(&tok, &req).await.unwrap_err();
    assert!(matches!(e, SyncError::Refused(_)), "{e:?}");
    hub.stop().await;
}

/// The hub's store is restored from a copy older than the kiosk's
/// enrolment: every push is refused (unknown device) until a new code
/// re-enrols the same device; the next sync resends everything, exactly once.
#[tokio::test]
async fn a_hub_restored_from_before_the_enrolment_takes_the_kiosk_back_with_a_new_code() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let addr = hub.addr;
    hub.stop().await;
    copy_dir(dir.path(), snapshot.path());

    let hub = TestHub::start_on(dir.path(), addr).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let device = k.replica().device;
    let c = client(&hub.url(), false, 5_000);
    visits(&k, 300, 250, 3);
    sync(&k, &c, 50).await.unwrap();
    assert_eq!(hub.totals(), k.totals());
    hub.stop().await;

    std::fs::remove_dir_all(dir.path()).unwrap();
    copy_dir(snapshot.path(), dir.path());
    let hub = TestHub::start_on(dir.path(), addr).await;
    assert!(hub.totals().is_empty() && hub.store.devices().unwrap().is_empty());
    visits(&k, 50, 400, 4);
    let e = sync(&k, &c, 50).await.unwrap_err();
    assert!(matches!(e, SyncError::Refused(_)), "{e:?}");

    let r = dps_sync::enrol(k.as_ref(), &hub.url(), &hub.code("dps-a"), None)
        .await
        .unwrap();
    assert_eq!(r.device, device);
    let rep = sync(&k, &c, 50).await.unwrap();
    assert_eq!(
        rep.resent_from,
        Some(0),
        "the hub had nothing of this replica"
    );
    assert_eq!(hub.totals(), k.totals());
    assert_eq!(hub.store.watermark(&k.replica()).unwrap(), k.last_seq());
    hub.stop().await;
}

/// A code cannot take over a kiosk the hub has active: 409, the kiosk keeps
/// its credentials, the hub's device is untouched and the code stays usable.
#[tokio::test]
async fn re_enrolling_an_active_device_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let c = client(&hub.url(), true, 5_000);
    visits(&k, 30, 20, 1);
    sync(&k, &c, 100).await.unwrap();
    let device = k.replica().device;
    let (tok, before) = (token(&k), hub.store.device(&device).unwrap().unwrap());

    let code = hub.code("dps-b");
    let e = dps_sync::enrol(k.as_ref(), &hub.url(), &code, None)
        .await
        .unwrap_err();
    assert!(matches!(e, SyncError::DeviceActive(_)), "{e:?}");
    assert_eq!(e.code(), "device_active");
    assert!(!e.is_transient());
    assert!(e.plain().contains("still enrolled"), "{}", e.plain());
    assert_eq!(token(&k), tok);
    assert_eq!(
        k.get_setting(dps_sync::keys::SITE).unwrap().as_deref(),
        Some("dps-a")
    );
    assert_eq!(hub.store.device(&device).unwrap().unwrap(), before);
    assert_eq!(hub.store.devices().unwrap().len(), 1);
    // The kiosk syncs on as before.
    visits(&k, 10, 40, 2);
    sync(&k, &c, 100).await.unwrap();
    assert_eq!(hub.totals(), k.totals());
    // The code was not used up: another kiosk can take it.
    let k2 = kiosk(&hub.url(), &code, "inc2").await;
    assert_ne!(k2.replica().device, device);
    hub.stop().await;
}

/// The hub merged the kiosk's first batch but the answer was lost, so the
/// kiosk has nothing acknowledged. Enrolling it again (which used to be
/// allowed, under a NEW device id, resending everything: a double count) now
/// either is refused (device active) or, once the coordination revoked it,
/// re-keys the same device: the totals stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_the_first_batch_never_leads_to_a_double_count() {
    use dps_faultproxy::{Fault, FaultProxy};
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(dir.path()).await;
    let proxy = FaultProxy::start(hub.addr).await.unwrap();
    let k = kiosk(&hub.url(), &hub.code("dps-a"), "inc1").await;
    let device = k.replica().device;
    visits(&k, 60, 50, 1);
    let c = client(&proxy.url(), false, 5_000);
    // The hub answers (so it committed), the proxy passes one byte of the
    // answer and resets the connection.
    proxy.plan([Fault::CutResponse(1)]);
    let e = sync(&k, &c, 2_000).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(k.acked().unwrap(), 0, "the ack was lost");
    assert_eq!(hub.totals(), k.totals(), "but the hub merged the batch");

    let e = dps_sync::enrol(k.as_ref(), &hub.url(), &hub.code("dps-a"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, SyncError::DeviceActive(_)), "{e:?}");
    assert!(hub.store.revoke(&device, Utc::now()).unwrap());
    let r = dps_sync::enrol(k.as_ref(), &hub.url(), &hub.code("dps-a"), None)
        .await
        .unwrap();
    assert_eq!(r.device, device);
    visits(&k, 10, 80, 2);
    sync(&k, &c, 2_000).await.unwrap();
    assert_eq!(hub.totals(), k.totals(), "counted once");
    assert_eq!(hub.store.devices().unwrap().len(), 1);
    assert_eq!(hub.store.cells().unwrap().len(), k.counts().len());
    hub.stop().await;
}

fn empty_push(k: &dps_sync::MemSource) -> PushRequest {
    PushRequest {
        v: PROTOCOL_VERSION,
        replica: k.replica(),
        after: 0,
        upto: 0,
        cells: vec![],
        kiosk_time: Utc::now(),
        pending: 0,
    }
}
