//! The storage contract: the SAME cases run against the embedded sled store
//! (always) and against `PgStore` on a throw-away PostgreSQL cluster (when
//! `DPS_TEST_PG=1`; otherwise that half says it was skipped).
//!
//! Each case gets a [`Backend`]: a fresh, empty store it can open handles on.
//! For sled, a second handle is a clone of the same database (sled is one
//! process's store); for PostgreSQL it is a separate `PgStore` with its own
//! connection pool on the same database, as a second hub process would be.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use dps_hub_pg::testing::{synth, TempCluster};
use dps_hub_pg::{migrations, PgError, PgStore};
use dps_hub_store::{
    totals, Account, CellQuery, Device, PendingEnrolment, ReEnrolment, Session, SledStore, Store,
    StoreError,
};
use dps_model::{AgeBand, CellKey, Channel, Code, Language, PnCount, ReplicaId};
use dps_report::TalliesRequest;
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};

trait Backend: Sync {
    /// Another handle on the same (initially empty) store.
    fn open(&self) -> Arc<dyn Store>;
}

struct Sled {
    _dir: tempfile::TempDir,
    store: SledStore,
}

impl Sled {
    fn new() -> Sled {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        Sled { _dir: dir, store }
    }
}

impl Backend for Sled {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }
}

struct Pg {
    url: String,
}

impl Backend for Pg {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(PgStore::connect(&self.url).unwrap())
    }
}

/// SHA-256 of a code, as the hub keys enrolments (dps_hub::secret::code_hash,
/// less its typing normalisation, which these codes do not need).
fn code_hash(code: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(code.as_bytes()).into()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn site(s: &str) -> Code {
    Code::new(s).unwrap()
}

/// A device as the hub's enrol handler builds it before redeeming.
fn candidate(id: &str, now: DateTime<Utc>) -> Device {
    Device {
        id: id.into(),
        site: site("unknown"),
        token_hash: format!("hash-of-{id}"),
        enrolled: now,
        last_sync: None,
        clock_skew_secs: None,
        pending: None,
        revoked: None,
    }
}

/// Enrol device `id` at `site_id` through a one-time code.
fn enrolled(s: &dyn Store, id: &str, site_id: &str) -> Device {
    let now = t("2026-03-01T09:00:00Z");
    let code = format!("code-for-{id}");
    s.add_enrolment(
        &code_hash(&code),
        &PendingEnrolment {
            site: site(site_id),
            expires: now + Duration::hours(1),
        },
    )
    .unwrap();
    s.redeem(&code_hash(&code), now, candidate(id, now))
        .unwrap()
        .unwrap()
}

fn replica(device: &str, inc: &str) -> ReplicaId {
    ReplicaId {
        device: device.into(),
        incarnation: inc.into(),
    }
}

fn push(r: &ReplicaId, after: u64, upto: u64, cells: &[(CellKey, PnCount)]) -> PushRequest {
    PushRequest {
        v: PROTOCOL_VERSION,
        replica: r.clone(),
        after,
        upto,
        cells: cells
            .iter()
            .map(|(k, c)| WireCell::new(k.clone(), *c))
            .collect(),
        kiosk_time: t("2026-03-01T10:00:00Z"),
        pending: 0,
    }
}

fn pn(inc: u64, ret: u64) -> PnCount {
    PnCount { inc, ret }
}

fn stored_cells(s: &dyn Store) -> BTreeMap<(ReplicaId, CellKey), PnCount> {
    s.cells()
        .unwrap()
        .into_iter()
        .map(|(r, k, c)| ((r, k), c))
        .collect()
}

/// What a store must hold after synthetic replicas of `devices` with `n` cells each.
fn synth_totals(devices: usize, n: usize) -> BTreeMap<CellKey, u64> {
    let mut t = BTreeMap::new();
    for _ in 0..devices {
        for i in 0..n {
            let net = synth::count(i).net();
            *t.entry(synth::cell(i)).or_insert(0) += net;
        }
    }
    t.retain(|_, v| *v > 0);
    t
}

fn nonzero(mut t: BTreeMap<CellKey, u64>) -> BTreeMap<CellKey, u64> {
    t.retain(|_, v| *v > 0);
    t
}

/// A deterministic permutation (no RNG dependency; Fisher-Yates over an LCG).
fn shuffled<T>(mut v: Vec<T>, seed: u64) -> Vec<T> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..v.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, ((x >> 33) % (i as u64 + 1)) as usize);
    }
    v
}

// ---- the cases ----

fn enrolment_works_once(b: &dyn Backend) {
    let s = b.open();
    let now = t("2026-03-01T09:00:00Z");
    let h = code_hash("ABCD-EFGH");
    s.add_enrolment(
        &h,
        &PendingEnrolment {
            site: site("dps-molenbeek-1"),
            expires: now + Duration::hours(24),
        },
    )
    .unwrap();
    let d = s
        .redeem(&h, now, candidate("dev-1", now))
        .unwrap()
        .expect("first redeem works");
    assert_eq!(
        d.site,
        site("dps-molenbeek-1"),
        "the device gets the code's site"
    );
    assert_eq!(s.device("dev-1").unwrap(), Some(d.clone()));
    assert_eq!(
        s.redeem(&h, now, candidate("dev-2", now)).unwrap(),
        None,
        "a code works once"
    );
    assert_eq!(s.device("dev-2").unwrap(), None);
    assert_eq!(
        s.redeem(&code_hash("never-issued"), now, candidate("dev-3", now))
            .unwrap(),
        None
    );
    assert_eq!(s.devices().unwrap(), vec![d]);
}

fn a_redeemed_device_reads_back_exactly(b: &dyn Backend) {
    let s = b.open();
    // A clock with nanoseconds, as `Utc::now()` has.
    let now = t("2026-03-01T09:00:00.123456789Z");
    let h = code_hash("NANO");
    s.add_enrolment(
        &h,
        &PendingEnrolment {
            site: site("bus-2"),
            expires: now + Duration::hours(1),
        },
    )
    .unwrap();
    let d = s.redeem(&h, now, candidate("dev-n", now)).unwrap().unwrap();
    assert_eq!(s.device("dev-n").unwrap(), Some(d));
}

fn expired_codes_are_refused_and_gone(b: &dyn Backend) {
    let s = b.open();
    let made = t("2026-03-01T09:00:00Z");
    let expires = made + Duration::hours(1);
    let (h1, h2) = (code_hash("late"), code_hash("in-time"));
    for h in [&h1, &h2] {
        s.add_enrolment(
            h,
            &PendingEnrolment {
                site: site("bus-2"),
                expires,
            },
        )
        .unwrap();
    }
    assert_eq!(
        s.redeem(&h1, expires, candidate("late", expires)).unwrap(),
        None,
        "expiry is exclusive"
    );
    // Gone, not merely refused: even a clock going back does not revive it.
    assert_eq!(s.redeem(&h1, made, candidate("late", made)).unwrap(), None);
    let just_before = expires - Duration::seconds(1);
    assert!(s
        .redeem(&h2, just_before, candidate("in-time", just_before))
        .unwrap()
        .is_some());
    assert_eq!(s.devices().unwrap().len(), 1);
}

fn concurrent_redeems_of_one_code_enrol_one_device(b: &dyn Backend) {
    let s = b.open();
    let now = t("2026-03-01T09:00:00Z");
    let h = code_hash("RACE");
    s.add_enrolment(
        &h,
        &PendingEnrolment {
            site: site("bus-2"),
            expires: now + Duration::hours(1),
        },
    )
    .unwrap();
    let handles: Vec<Arc<dyn Store>> = vec![s.clone(), b.open()];
    let barrier = Barrier::new(8);
    let wins: usize = std::thread::scope(|sc| {
        let ts: Vec<_> = (0..8)
            .map(|i| {
                let (st, barrier) = (handles[i % 2].clone(), &barrier);
                sc.spawn(move || {
                    barrier.wait();
                    st.redeem(&h, now, candidate(&format!("racer-{i}"), now))
                        .unwrap()
                        .is_some() as usize
                })
            })
            .collect();
        ts.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);
    assert_eq!(s.devices().unwrap().len(), 1);
}

fn revocation_is_immediate_and_keeps_the_first_time(b: &dyn Backend) {
    let s = b.open();
    let d = enrolled(s.as_ref(), "dev-r", "bus-2");
    assert_eq!(d.revoked, None);
    assert!(!s
        .revoke("no-such-device", t("2026-03-02T00:00:00Z"))
        .unwrap());
    assert!(s.revoke("dev-r", t("2026-03-02T00:00:00Z")).unwrap());
    assert_eq!(
        s.device("dev-r").unwrap().unwrap().revoked,
        Some(t("2026-03-02T00:00:00Z"))
    );
    assert!(s.revoke("dev-r", t("2026-03-05T00:00:00Z")).unwrap());
    assert_eq!(
        s.device("dev-r").unwrap().unwrap().revoked,
        Some(t("2026-03-02T00:00:00Z"))
    );
}

fn ingest_for_an_unknown_device_stores_nothing(b: &dyn Backend) {
    let s = b.open();
    let r = replica("ghost", "i1");
    let err = s.ingest(
        "ghost",
        &push(&r, 0, 1, &[(synth::cell(0), pn(3, 0))]),
        t("2026-03-01T10:00:00Z"),
    );
    assert!(
        matches!(err, Err(StoreError::NoDevice(ref d)) if d == "ghost"),
        "{err:?}"
    );
    assert!(s.cells().unwrap().is_empty());
    assert_eq!(s.watermark(&r).unwrap(), 0);
}

/// Re-enrolment keeps a kiosk's device id (hence its replica): an active
/// device refuses the code and nothing changes, the code included; a revoked
/// one is re-keyed with its cells, watermark and last sync intact; one the
/// store does not know (restored from an older copy) is created with its id.
fn re_enrolment_keeps_the_device_and_refuses_an_active_one(b: &dyn Backend) {
    let s = b.open();
    let now = t("2026-03-02T09:00:00Z");
    let d = enrolled(s.as_ref(), "dev-k", "bus-2");
    let r = replica("dev-k", "i1");
    let mut req = push(
        &r,
        0,
        2,
        &[(synth::cell(0), pn(3, 1)), (synth::cell(1), pn(2, 0))],
    );
    req.pending = 7;
    s.ingest("dev-k", &req, t("2026-03-01T10:00:00Z")).unwrap();
    let synced = s.device("dev-k").unwrap().unwrap();
    let cells = stored_cells(s.as_ref());
    let add = |code: &str, expires| {
        s.add_enrolment(
            &code_hash(code),
            &PendingEnrolment {
                site: site("dps-schaerbeek"),
                expires,
            },
        )
        .unwrap()
    };
    add("NEW", now + Duration::hours(1));
    let mut again = candidate("dev-k", now);
    again.token_hash = "hash-of-new-token".into();

    // Active: refused, nothing changed, and the code still works afterwards.
    assert_eq!(
        s.re_enrol(&code_hash("NEW"), now, again.clone()).unwrap(),
        ReEnrolment::Active
    );
    assert_eq!(s.device("dev-k").unwrap(), Some(synced.clone()));
    assert_eq!(s.devices().unwrap().len(), 1);

    s.revoke("dev-k", now).unwrap();
    let ReEnrolment::Rekeyed(back) = s.re_enrol(&code_hash("NEW"), now, again.clone()).unwrap()
    else {
        panic!("a revoked device is re-keyed");
    };
    assert_eq!(back.id, "dev-k");
    assert_eq!(back.token_hash, "hash-of-new-token");
    assert_eq!(back.site, site("dps-schaerbeek"), "the code's site");
    assert_eq!(back.revoked, None);
    assert_eq!(back.enrolled, now);
    assert_eq!(
        (back.last_sync, back.clock_skew_secs, back.pending),
        (synced.last_sync, synced.clock_skew_secs, synced.pending),
        "the last sync is kept"
    );
    assert_ne!(back.token_hash, d.token_hash);
    assert_eq!(s.device("dev-k").unwrap(), Some(back));
    assert_eq!(stored_cells(s.as_ref()), cells);
    assert_eq!(s.watermark(&r).unwrap(), 2);
    // The code is used up.
    s.revoke("dev-k", now).unwrap();
    assert_eq!(
        s.re_enrol(&code_hash("NEW"), now, again.clone()).unwrap(),
        ReEnrolment::BadCode
    );
    // Expired: refused and gone, the device stays revoked.
    add("LATE", now);
    assert_eq!(
        s.re_enrol(&code_hash("LATE"), now, again.clone()).unwrap(),
        ReEnrolment::BadCode
    );
    assert!(s.device("dev-k").unwrap().unwrap().revoked.is_some());
    add("LATE", now + Duration::hours(1));
    assert!(matches!(
        s.re_enrol(&code_hash("LATE"), now, again).unwrap(),
        ReEnrolment::Rekeyed(_)
    ));

    // Unknown to this store: created with the kiosk's id, at the code's site.
    add("RESTORE", now + Duration::hours(1));
    let ReEnrolment::Restored(new) = s
        .re_enrol(&code_hash("RESTORE"), now, candidate("dev-lost", now))
        .unwrap()
    else {
        panic!("an unknown device is restored");
    };
    assert_eq!(
        (new.id.as_str(), new.site.as_str()),
        ("dev-lost", "dps-schaerbeek")
    );
    assert_eq!((new.revoked, new.last_sync), (None, None));
    assert_eq!(s.device("dev-lost").unwrap(), Some(new));
    let lost = replica("dev-lost", "i9");
    s.ingest(
        "dev-lost",
        &push(&lost, 0, 1, &[(synth::cell(5), pn(1, 0))]),
        now,
    )
    .unwrap();
    assert_eq!(s.watermark(&lost).unwrap(), 1);
}

/// A revoked device's push stores nothing and says why.
fn a_push_after_a_revocation_stores_nothing(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-v", "bus-2");
    let r = replica("dev-v", "i1");
    s.ingest(
        "dev-v",
        &push(&r, 0, 1, &[(synth::cell(0), pn(1, 0))]),
        t("2026-03-01T10:00:00Z"),
    )
    .unwrap();
    s.revoke("dev-v", t("2026-03-01T11:00:00Z")).unwrap();
    let before = (stored_cells(s.as_ref()), s.device("dev-v").unwrap());
    let mut late = push(
        &r,
        1,
        3,
        &[(synth::cell(0), pn(5, 0)), (synth::cell(1), pn(1, 0))],
    );
    late.pending = 99;
    let err = s.ingest("dev-v", &late, t("2026-03-01T12:00:00Z"));
    assert!(
        matches!(err, Err(StoreError::Revoked(ref d)) if d == "dev-v"),
        "{err:?}"
    );
    assert_eq!(
        (stored_cells(s.as_ref()), s.device("dev-v").unwrap()),
        before
    );
    assert_eq!(s.watermark(&r).unwrap(), 1);
}

/// Pushes race a revocation from another handle (another hub process on
/// PostgreSQL): once `revoke` has returned, not one more push lands.
fn revocation_racing_pushes_lets_nothing_in_after_it_returns(b: &dyn Backend) {
    let s = b.open();
    let other = b.open();
    enrolled(s.as_ref(), "dev-race", "bus-2");
    let r = replica("dev-race", "i1");
    let barrier = Barrier::new(2);
    std::thread::scope(|sc| {
        let pusher = sc.spawn(|| {
            barrier.wait();
            // Each push grows a cell, so any push that lands changes the store.
            for n in 1..100_000u64 {
                let req = push(&r, n - 1, n, &[(synth::cell((n % 50) as usize), pn(n, 0))]);
                match s.ingest("dev-race", &req, t("2026-03-01T10:00:00Z")) {
                    Ok(_) => {}
                    Err(StoreError::Revoked(_)) => return n,
                    Err(e) => panic!("{e}"),
                }
            }
            panic!("the revocation never stopped the pushes");
        });
        barrier.wait();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(other.revoke("dev-race", t("2026-03-01T10:30:00Z")).unwrap());
        let at_revocation = (stored_cells(other.as_ref()), other.watermark(&r).unwrap());
        let stopped_at = pusher.join().unwrap();
        assert!(stopped_at > 1, "no push landed before the revocation");
        assert_eq!(
            (stored_cells(other.as_ref()), other.watermark(&r).unwrap()),
            at_revocation,
            "a push landed after revoke() returned"
        );
    });
}

fn ingest_records_each_devices_last_sync_skew_and_pending(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-a", "bus-2");
    let other = enrolled(s.as_ref(), "dev-b", "bus-2");
    let mut req = push(&replica("dev-a", "i1"), 0, 1, &[(synth::cell(0), pn(1, 0))]);
    req.kiosk_time = t("2026-03-01T10:07:30Z");
    req.pending = 42;
    let hub_time = t("2026-03-01T10:00:00Z");
    s.ingest("dev-a", &req, hub_time).unwrap();
    let a = s.device("dev-a").unwrap().unwrap();
    assert_eq!(
        (a.last_sync, a.clock_skew_secs, a.pending),
        (Some(hub_time), Some(450), Some(42))
    );
    assert_eq!(
        s.device("dev-b").unwrap(),
        Some(other),
        "another device is untouched"
    );
}

fn merge_is_by_maximum_per_replica_and_cell(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-m", "bus-2");
    let r = replica("dev-m", "i1");
    let (c0, c1) = (synth::cell(0), synth::cell(1));
    let now = t("2026-03-01T10:00:00Z");
    let o = s
        .ingest(
            "dev-m",
            &push(&r, 0, 2, &[(c0.clone(), pn(5, 1)), (c1.clone(), pn(2, 0))]),
            now,
        )
        .unwrap();
    assert_eq!(o.stored, 2);
    // An older copy of c0 (inc lower) with a newer retraction; c1 unchanged.
    let o = s
        .ingest(
            "dev-m",
            &push(&r, 0, 2, &[(c0.clone(), pn(3, 2)), (c1.clone(), pn(2, 0))]),
            now,
        )
        .unwrap();
    assert_eq!(o.stored, 1, "only c0 grew");
    let o = s
        .ingest("dev-m", &push(&r, 0, 2, &[(c0.clone(), pn(5, 2))]), now)
        .unwrap();
    assert_eq!(o.stored, 0, "nothing grew");
    let want: BTreeMap<_, _> = [((r.clone(), c0), pn(5, 2)), ((r, c1), pn(2, 0))]
        .into_iter()
        .collect();
    assert_eq!(stored_cells(s.as_ref()), want);
}

/// Cells on both sides of the latest day a replica has stored (PostgreSQL
/// inserts later days without ON CONFLICT), with a repeated key among the new
/// ones and other replicas' cells on those days: every cell ends at its
/// maximum, and `stored` counts the cells that are new or grew.
fn a_push_across_the_latest_stored_day_merges_each_cell_once(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-d", "bus-2");
    enrolled(s.as_ref(), "dev-o", "bus-2");
    let now = t("2026-03-01T10:00:00Z");
    // synth::cell(i) is on day i % 365: cells 10, 20, 30 on days 10, 20, 30.
    let r = replica("dev-d", "i1");
    let other = replica("dev-o", "i1");
    let c = synth::cell;
    s.ingest(
        "dev-d",
        &push(
            &r,
            0,
            3,
            &[(c(10), pn(2, 0)), (c(20), pn(3, 1)), (c(30), pn(1, 0))],
        ),
        now,
    )
    .unwrap();
    // Another replica already holds later days: they must not count as this one's.
    s.ingest(
        "dev-o",
        &push(&other, 0, 2, &[(c(40), pn(7, 0)), (c(50), pn(1, 0))]),
        now,
    )
    .unwrap();
    let o = s
        .ingest(
            "dev-d",
            &push(
                &r,
                3,
                9,
                &[
                    (c(50), pn(1, 0)),       // later day, new (dev-o has it)
                    (c(5), pn(4, 0)),        // earlier day, new key
                    (c(20), pn(3, 2)),       // stored, grows (ret)
                    (c(30), pn(1, 0)),       // the latest stored day, unchanged
                    (c(30 + 365), pn(6, 0)), // the latest stored day, new key
                    (c(40), pn(2, 0)),       // later day, new
                    (c(40), pn(5, 1)),       // the same key again: the maximum wins
                ],
            ),
            now,
        )
        .unwrap();
    assert_eq!(o.stored, 5, "c5, c20, c395, c40 and c50 changed");
    assert_eq!(o.watermark, 9);
    let want: BTreeMap<_, _> = [
        ((r.clone(), c(5)), pn(4, 0)),
        ((r.clone(), c(10)), pn(2, 0)),
        ((r.clone(), c(20)), pn(3, 2)),
        ((r.clone(), c(30)), pn(1, 0)),
        ((r.clone(), c(395)), pn(6, 0)),
        ((r.clone(), c(40)), pn(5, 1)),
        ((r.clone(), c(50)), pn(1, 0)),
        ((other.clone(), c(40)), pn(7, 0)),
        ((other, c(50)), pn(1, 0)),
    ]
    .into_iter()
    .collect();
    assert_eq!(stored_cells(s.as_ref()), want);
    // The same push again changes nothing.
    let again = push(
        &r,
        3,
        9,
        &[(c(40), pn(5, 1)), (c(50), pn(1, 0)), (c(5), pn(4, 0))],
    );
    assert_eq!(s.ingest("dev-d", &again, now).unwrap().stored, 0);
    assert_eq!(stored_cells(s.as_ref()), want);
}

/// A push that repeats a cell key merges the entries by maximum (a later,
/// smaller entry never overwrites an earlier one), and `stored` counts cells,
/// not entries.
fn duplicate_keys_in_one_push_merge(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-d", "bus-2");
    let r = replica("dev-d", "i1");
    let (c, d) = (synth::cell(7), synth::cell(8));
    let now = t("2026-03-01T10:00:00Z");
    let o = s
        .ingest(
            "dev-d",
            &push(
                &r,
                0,
                3,
                &[
                    (c.clone(), pn(4, 0)),
                    (d.clone(), pn(1, 0)),
                    (c.clone(), pn(2, 1)),
                ],
            ),
            now,
        )
        .unwrap();
    assert_eq!(o.stored, 2, "two cells grew, from three entries");
    assert_eq!(
        stored_cells(s.as_ref()),
        [
            ((r.clone(), c.clone()), pn(4, 1)),
            ((r.clone(), d.clone()), pn(1, 0))
        ]
        .into_iter()
        .collect()
    );
    // Against stored values: only the entries' maximum counts, once.
    let o = s
        .ingest(
            "dev-d",
            &push(
                &r,
                0,
                3,
                &[
                    (c.clone(), pn(3, 1)),
                    (c.clone(), pn(5, 0)),
                    (c.clone(), pn(1, 2)),
                    (d.clone(), pn(1, 0)),
                    (d.clone(), pn(0, 0)),
                ],
            ),
            now,
        )
        .unwrap();
    assert_eq!(o.stored, 1, "only c grew");
    assert_eq!(
        stored_cells(s.as_ref()),
        [((r.clone(), c), pn(5, 2)), ((r, d), pn(1, 0))]
            .into_iter()
            .collect()
    );
}

fn resends_and_reorders_do_not_change_totals(b: &dyn Backend) {
    let (per, batches) = (50, 10);
    let now = t("2026-03-01T10:00:00Z");
    let s = b.open();
    enrolled(s.as_ref(), "dev-x", "bus-2");
    let r = replica("dev-x", "i1");
    // Every batch three times, in a scrambled order.
    let order = shuffled((0..batches).flat_map(|b| [b, b, b]).collect(), 7);
    for b in order {
        s.ingest("dev-x", &synth::push(&r, b, per, now), now)
            .unwrap();
    }
    assert_eq!(
        nonzero(totals(s.as_ref()).unwrap()),
        synth_totals(1, per * batches)
    );
    let want: BTreeMap<_, _> = (0..per * batches)
        .map(|i| ((r.clone(), synth::cell(i)), synth::count(i)))
        .collect();
    assert_eq!(stored_cells(s.as_ref()), want);
    // The watermark only covers a contiguous prefix: the kiosk heals the rest
    // by resending from it, one batch at a time, as dps-sync does.
    let mut resends = 0;
    loop {
        let wm = s.watermark(&r).unwrap() as usize;
        if wm == per * batches {
            break;
        }
        s.ingest("dev-x", &synth::push(&r, wm / per, per, now), now)
            .unwrap();
        resends += 1;
        assert!(resends <= batches, "the watermark does not advance");
    }
    assert_eq!(
        nonzero(totals(s.as_ref()).unwrap()),
        synth_totals(1, per * batches),
        "resends changed nothing"
    );
}

fn watermark_advances_only_contiguously(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-w", "bus-2");
    let (r, r2) = (replica("dev-w", "i1"), replica("dev-w", "i2"));
    let now = t("2026-03-01T10:00:00Z");
    let c = [(synth::cell(1), pn(1, 0))];
    let wm = |after, upto| {
        s.ingest("dev-w", &push(&r, after, upto, &c), now)
            .unwrap()
            .watermark
    };
    assert_eq!(wm(0, 10), 10);
    assert_eq!(wm(20, 30), 10, "a gap does not move it");
    assert_eq!(wm(5, 15), 15, "an overlapping batch does");
    assert_eq!(wm(0, 10), 15, "a resend never moves it back");
    assert_eq!(wm(15, 15), 15, "an empty range changes nothing");
    assert_eq!(s.watermark(&r).unwrap(), 15);
    assert_eq!(s.watermark(&r2).unwrap(), 0, "replicas are independent");
    assert_eq!(
        s.ingest("dev-w", &push(&r2, 3, 9, &[]), now)
            .unwrap()
            .watermark,
        0,
        "a new replica starts at 0"
    );
}

fn totals_add_replicas_net_of_retractions(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-1", "bus-2");
    enrolled(s.as_ref(), "dev-2", "bus-2");
    let now = t("2026-03-01T10:00:00Z");
    let (c0, c1) = (synth::cell(0), synth::cell(1));
    s.ingest(
        "dev-1",
        &push(
            &replica("dev-1", "a"),
            0,
            1,
            &[(c0.clone(), pn(5, 2)), (c1.clone(), pn(1, 3))],
        ),
        now,
    )
    .unwrap();
    s.ingest(
        "dev-1",
        &push(&replica("dev-1", "b"), 0, 1, &[(c0.clone(), pn(1, 0))]),
        now,
    )
    .unwrap();
    s.ingest(
        "dev-2",
        &push(
            &replica("dev-2", "a"),
            0,
            1,
            &[(c0.clone(), pn(10, 0)), (c1.clone(), pn(4, 0))],
        ),
        now,
    )
    .unwrap();
    let want: BTreeMap<_, _> = [(c0, 3 + 1 + 10), (c1, 4)].into_iter().collect();
    assert_eq!(
        totals(s.as_ref()).unwrap(),
        want,
        "c1 on dev-1/a nets to 0, never negative"
    );
}

fn every_cell_dimension_round_trips(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-all", "bus-2");
    let base = synth::cell(0);
    let mut cells = Vec::new();
    for language in Language::ALL {
        for channel in Channel::ALL {
            for age_band in AgeBand::ALL {
                for residence in synth::residences() {
                    let n = cells.len() as u64;
                    let key = CellKey {
                        language,
                        channel,
                        age_band,
                        residence,
                        ..base.clone()
                    };
                    cells.push((key, pn(n + 1, n % 2)));
                }
            }
        }
    }
    let r = replica("dev-all", "inc_ARNATION-9");
    let o = s
        .ingest(
            "dev-all",
            &push(&r, 0, 1, &cells),
            t("2026-03-01T10:00:00Z"),
        )
        .unwrap();
    assert_eq!(o.stored, cells.len() as u64);
    let want: BTreeMap<_, _> = cells
        .into_iter()
        .map(|(k, c)| ((r.clone(), k), c))
        .collect();
    assert_eq!(stored_cells(s.as_ref()), want);
}

fn concurrent_ingest_from_threads_is_exact(b: &dyn Backend) {
    let (devices, per, batches) = (6, 40, 8);
    let handles: Vec<Arc<dyn Store>> = vec![b.open(), b.open()];
    for d in 0..devices {
        enrolled(handles[0].as_ref(), &format!("dev-{d}"), "bus-2");
    }
    let now = t("2026-03-01T10:00:00Z");
    let barrier = Barrier::new(devices * 2);
    std::thread::scope(|sc| {
        for d in 0..devices {
            // Two senders per replica, in opposite orders and on different
            // handles: a kiosk's retry racing its own original request.
            for dir in 0..2 {
                let (st, barrier) = (handles[(d + dir) % 2].clone(), &barrier);
                sc.spawn(move || {
                    let id = format!("dev-{d}");
                    let r = replica(&id, "i1");
                    barrier.wait();
                    let order: Vec<usize> = if dir == 0 {
                        (0..batches).collect()
                    } else {
                        (0..batches).rev().collect()
                    };
                    for b in order {
                        st.ingest(&id, &synth::push(&r, b, per, now), now).unwrap();
                    }
                });
            }
        }
    });
    let s = handles[1].as_ref();
    assert_eq!(
        nonzero(totals(s).unwrap()),
        synth_totals(devices, per * batches)
    );
    for d in 0..devices {
        assert_eq!(
            s.watermark(&replica(&format!("dev-{d}"), "i1")).unwrap(),
            (per * batches) as u64
        );
    }
}

fn two_handles_on_one_store_see_each_other(b: &dyn Backend) {
    let (a, z) = (b.open(), b.open());
    let now = t("2026-03-01T09:00:00Z");
    a.add_enrolment(
        &code_hash("SHARED"),
        &PendingEnrolment {
            site: site("bus-2"),
            expires: now + Duration::hours(1),
        },
    )
    .unwrap();
    let d = z
        .redeem(&code_hash("SHARED"), now, candidate("dev-s", now))
        .unwrap()
        .unwrap();
    assert_eq!(
        a.redeem(&code_hash("SHARED"), now, candidate("dev-t", now))
            .unwrap(),
        None
    );
    assert_eq!(a.device("dev-s").unwrap(), Some(d));
    let r = replica("dev-s", "i1");
    a.ingest("dev-s", &push(&r, 0, 4, &[(synth::cell(3), pn(4, 1))]), now)
        .unwrap();
    assert_eq!(
        stored_cells(z.as_ref()),
        [((r.clone(), synth::cell(3)), pn(4, 1))]
            .into_iter()
            .collect()
    );
    assert_eq!(z.watermark(&r).unwrap(), 4);
    assert!(z.revoke("dev-s", now).unwrap());
    assert_eq!(a.device("dev-s").unwrap().unwrap().revoked, Some(now));
}

// ---- coordination accounts, sessions and the tallies query ----

fn account(name: &str) -> Account {
    Account {
        name: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt-of-{name}$hash"),
        created: t("2026-03-01T09:00:00.123456Z"),
    }
}

fn accounts_are_created_once_and_read_back(b: &dyn Backend) {
    let (s1, s2) = (b.open(), b.open());
    assert!(s1.add_account(&account("marie")).unwrap());
    // The name is taken, even through another handle: nothing changes.
    let other = Account {
        password_hash: "other".into(),
        ..account("marie")
    };
    assert!(!s2.add_account(&other).unwrap());
    assert_eq!(s2.account("marie").unwrap(), Some(account("marie")));
    assert_eq!(s1.account("nobody").unwrap(), None);
    assert!(s1.add_account(&account("an")).unwrap());
    let names: Vec<String> = s2.accounts().unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["an", "marie"]);
}

fn login_failures_count_per_account_within_a_window(b: &dyn Backend) {
    let (s1, s2) = (b.open(), b.open());
    s1.add_account(&account("marie")).unwrap();
    s1.add_account(&account("jan")).unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let long_ago = t0 - Duration::days(1);
    let fail = |s: &Arc<dyn Store>, name: &str, at| {
        assert!(s.reserve_login_attempt(name, at, long_ago, 100).unwrap());
    };
    for i in 0..4 {
        // Two hub processes record failures for the same account.
        let s = if i % 2 == 0 { &s1 } else { &s2 };
        fail(s, "marie", t0 + Duration::minutes(i));
    }
    // Two failures at the same instant are two.
    fail(&s1, "marie", t0 + Duration::minutes(3));
    fail(&s2, "jan", t0);
    assert_eq!(s2.login_failures_since("marie", t0).unwrap(), 5);
    assert_eq!(
        s1.login_failures_since("marie", t0 + Duration::minutes(2))
            .unwrap(),
        3
    );
    assert_eq!(s1.login_failures_since("jan", t0).unwrap(), 1);
    s2.clear_login_failures("marie").unwrap();
    assert_eq!(s1.login_failures_since("marie", t0).unwrap(), 0);
    assert_eq!(s1.login_failures_since("jan", t0).unwrap(), 1);
}

/// The lockout's count cannot be outrun: 16 attempts at once, through two
/// handles (two hub processes on PostgreSQL), and exactly `max` of them get
/// through; the window then moves on and a success clears the count.
fn login_attempts_are_reserved_atomically(b: &dyn Backend) {
    let handles = [b.open(), b.open()];
    handles[0].add_account(&account("marie")).unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let window = Duration::minutes(15);
    let barrier = Barrier::new(16);
    let granted = std::thread::scope(|sc| {
        let running: Vec<_> = (0..16)
            .map(|i| {
                let (s, barrier) = (&handles[i % 2], &barrier);
                sc.spawn(move || {
                    barrier.wait();
                    let at = t0 + Duration::milliseconds(i as i64);
                    s.reserve_login_attempt("marie", at, at - window, 5)
                        .unwrap()
                })
            })
            .collect();
        running
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });
    assert_eq!(granted, 5, "exactly the allowed attempts got through");
    let s = &handles[1];
    assert_eq!(s.login_failures_since("marie", t0 - window).unwrap(), 5);
    let later = t0 + Duration::minutes(1);
    assert!(!s
        .reserve_login_attempt("marie", later, later - window, 5)
        .unwrap());
    assert_eq!(
        s.login_failures_since("marie", t0 - window).unwrap(),
        5,
        "a refusal records nothing"
    );
    // Once the failures are out of the window, attempts are allowed again.
    let much_later = t0 + window + Duration::minutes(1);
    assert!(s
        .reserve_login_attempt("marie", much_later, much_later - window, 5)
        .unwrap());
    handles[0].clear_login_failures("marie").unwrap();
    assert_eq!(s.login_failures_since("marie", t0 - window).unwrap(), 0);
    // Other accounts are counted on their own.
    assert!(s.reserve_login_attempt("jan", t0, t0 - window, 1).unwrap());
    assert!(!s.reserve_login_attempt("jan", t0, t0 - window, 1).unwrap());
    assert!(s
        .reserve_login_attempt("marie", t0, t0 - window, 1)
        .unwrap());
}

fn sessions_are_shared_and_die_everywhere(b: &dyn Backend) {
    let (s1, s2) = (b.open(), b.open());
    s1.add_account(&account("marie")).unwrap();
    let sess = |exp: &str| Session {
        account: "marie".into(),
        csrf: "csrf-token".into(),
        created: t("2026-03-01T10:00:00.5Z"),
        expires: t(exp),
    };
    let (a, b2) = ([1u8; 32], [2u8; 32]);
    s1.put_session(&a, &sess("2026-03-01T18:00:00Z")).unwrap();
    s1.put_session(&b2, &sess("2026-03-01T11:00:00Z")).unwrap();
    assert_eq!(s2.session(&a).unwrap(), Some(sess("2026-03-01T18:00:00Z")));
    // Logout on one hub process: gone on the other.
    s2.delete_session(&a).unwrap();
    assert_eq!(s1.session(&a).unwrap(), None);
    assert_eq!(s1.purge_sessions(t("2026-03-01T12:00:00Z")).unwrap(), 1);
    assert_eq!(s2.session(&b2).unwrap(), None);
}

fn net_cells_sum_replicas_within_dates(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-a", "dps-a");
    enrolled(s.as_ref(), "dev-b", "dps-b");
    let k = |i: usize| synth::cell(i);
    let (ra, rb) = (replica("dev-a", "i1"), replica("dev-b", "i1"));
    s.ingest(
        "dev-a",
        &push(
            &ra,
            0,
            3,
            &[(k(0), pn(5, 1)), (k(1), pn(2, 2)), (k(2), pn(1, 0))],
        ),
        t("2026-03-01T10:00:00Z"),
    )
    .unwrap();
    s.ingest(
        "dev-b",
        &push(&rb, 0, 1, &[(k(0), pn(3, 0))]),
        t("2026-03-01T10:00:00Z"),
    )
    .unwrap();
    let all: BTreeMap<CellKey, u64> = s.net_cells(None, None).unwrap().into_iter().collect();
    // k(1) nets to zero and is left out.
    let want: BTreeMap<CellKey, u64> = [(k(0), 7), (k(2), 1)].into_iter().collect();
    assert_eq!(all, want);
    assert_eq!(all, nonzero(totals(s.as_ref()).unwrap()));
    let day = k(0).day;
    let only: BTreeMap<CellKey, u64> = s
        .net_cells(Some(day), Some(day))
        .unwrap()
        .into_iter()
        .collect();
    let want_day: BTreeMap<CellKey, u64> = want.into_iter().filter(|(c, _)| c.day == day).collect();
    assert_eq!(only, want_day);
}

/// A replica with more retractions than visits in a cell (a damaged or
/// misbehaving kiosk) counts 0 there: it never subtracts the visits other
/// kiosks counted in the same cell, in any read of either store.
fn a_replica_with_more_retractions_than_visits_subtracts_nothing(b: &dyn Backend) {
    let s = b.open();
    enrolled(s.as_ref(), "dev-good", "dps-a");
    enrolled(s.as_ref(), "dev-bad", "dps-a");
    let now = t("2026-03-01T10:00:00Z");
    let (c0, c1) = (synth::cell(0), synth::cell(1));
    s.ingest(
        "dev-good",
        &push(
            &replica("dev-good", "i1"),
            0,
            1,
            &[(c0.clone(), pn(8, 1)), (c1.clone(), pn(3, 0))],
        ),
        now,
    )
    .unwrap();
    s.ingest(
        "dev-bad",
        &push(
            &replica("dev-bad", "i1"),
            0,
            1,
            &[(c0.clone(), pn(2, 50)), (c1.clone(), pn(1, 0))],
        ),
        now,
    )
    .unwrap();
    let want: BTreeMap<CellKey, u64> = [(c0.clone(), 7), (c1.clone(), 4)].into_iter().collect();
    assert_eq!(totals(s.as_ref()).unwrap(), want);
    let net: BTreeMap<CellKey, u64> = s.net_cells(None, None).unwrap().into_iter().collect();
    assert_eq!(net, want);
    // Summed over every dimension in the store: still 7 + 4.
    let all = s.query_cells(&CellQuery::default()).unwrap();
    assert_eq!(all.iter().map(|(_, n)| n).sum::<u64>(), 11, "{all:?}");
    let by_site = s
        .query_cells(&CellQuery {
            keep_site: true,
            ..CellQuery::default()
        })
        .unwrap();
    assert_eq!(by_site.len(), 1);
    assert_eq!(by_site[0].1, 11);
}

/// The fast tallies path: for many queries (filters, every grouping incl.
/// week, month and year, exact and public), the table dps-report makes from
/// `query_cells` equals the one it makes from every cell's total — so both
/// stores give the same tables, whatever they sum away in the store.
fn query_cells_give_the_reference_tables(b: &dyn Backend) {
    let s = b.open();
    let now = t("2026-03-01T10:00:00Z");
    let start = chrono::NaiveDate::from_ymd_opt(2025, 11, 20).unwrap();
    for r in 0..3usize {
        let dev = format!("dev-{r}");
        enrolled(s.as_ref(), &dev, "bus-2");
        let cells: Vec<(CellKey, PnCount)> = (0..700usize)
            .map(|i| {
                let mut k = synth::cell((i * 37 + r * 11) % 20_000);
                // Late 2025 into 2026: months, ISO weeks and years that
                // straddle each other.
                k.day = start + Duration::days(((i * 13 + r * 5) % 130) as i64);
                k.residence = synth::residences()[(i * 7 + r) % 22];
                k.age_band = AgeBand::ALL[(i / 3 + r) % 7];
                k.channel = Channel::ALL[(i / 11) % 3];
                (k, pn(1 + (i % 5) as u64, u64::from(i % 4 == 0)))
            })
            .collect();
        // Some keys repeat within a replica: merged by maximum on ingest.
        s.ingest(&dev, &push(&replica(&dev, "i1"), 0, 1, &cells), now)
            .unwrap();
    }
    // A replica that retracts more than it counted, on cells others count.
    enrolled(s.as_ref(), "dev-bad", "bus-2");
    let bad: Vec<(CellKey, PnCount)> = s
        .net_cells(None, None)
        .unwrap()
        .into_iter()
        .step_by(5)
        .map(|(k, _)| (k, pn(1, 40)))
        .collect();
    s.ingest("dev-bad", &push(&replica("dev-bad", "i1"), 0, 1, &bad), now)
        .unwrap();

    let reference = nonzero(totals(s.as_ref()).unwrap());
    let queries = [
        "",
        "group_by=site",
        "group_by=municipality&public=true",
        "group_by=site,procedure,outcome",
        "group_by=site,procedure,outcome&public=true",
        "group_by=week",
        "group_by=month,site&public=true",
        "group_by=year,outcome",
        "group_by=day&from=2025-12-10&to=2026-01-05",
        // A month that starts before `from` keeps its days from `from` on.
        "group_by=month&from=2025-12-15",
        "group_by=month,year&from=2025-12-15&to=2026-02-03",
        "group_by=week&from=2025-12-31&to=2026-01-13",
        "group_by=week,month",
        "group_by=year,week&public=true",
        "group_by=language,channel,age_band&procedure=other-digital-help",
        "group_by=site,month&public=true&from=2026-01-15&to=2026-02-20&age_band=under_18,18_29,unknown",
        "group_by=outcome&municipality=anderlecht,abroad,unknown&language=fr,nl&channel=eid,none",
        "site=bus-2&from=2026-01-01&to=2026-12-31&group_by=month,procedure,outcome,age_band,language,municipality,channel",
        "group_by=site&site=nowhere",
        // No time column, but a date range: the summed cells' day must
        // still fall inside it.
        "from=2025-12-20&to=2026-01-10&group_by=site,outcome&public=true",
        "to=2026-01-10&group_by=procedure",
        "from=2026-02-01&group_by=language",
    ];
    let reqs: Vec<TalliesRequest> = queries
        .iter()
        .map(|q| TalliesRequest::from_url_query(q).unwrap())
        .collect();
    let cqs: Vec<CellQuery> = reqs.iter().map(|r| CellQuery::of(&r.query)).collect();
    let many = s.query_cells_many(&cqs).unwrap();
    assert_eq!(many.len(), reqs.len());
    for ((q, req), together) in queries.iter().zip(&reqs).zip(many) {
        let want = dps_report::run(reference.iter().map(|(k, v)| (k, *v)), req).unwrap();
        let alone = s.query_cells(&CellQuery::of(&req.query)).unwrap();
        let got = dps_report::run(alone.iter().map(|(k, v)| (k, *v)), req).unwrap();
        assert_eq!(got, want, "{q}");
        let got = dps_report::run(together.iter().map(|(k, v)| (k, *v)), req).unwrap();
        assert_eq!(got, want, "{q} (asked together)");
        if !q.contains("nowhere") {
            assert!(
                want.grand_total().value().unwrap_or(1) > 0,
                "{q} counts nothing"
            );
        }
    }
}

type Case = fn(&dyn Backend);

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        /// Each case once per test on sled (always available).
        mod sled {
            $( #[test] fn $name() { super::$name(&super::Sled::new()) } )*
        }
        const CASES: &[(&str, Case)] = &[$((stringify!($name), $name)),*];
    };
}

contract!(
    enrolment_works_once,
    a_redeemed_device_reads_back_exactly,
    expired_codes_are_refused_and_gone,
    concurrent_redeems_of_one_code_enrol_one_device,
    revocation_is_immediate_and_keeps_the_first_time,
    ingest_for_an_unknown_device_stores_nothing,
    re_enrolment_keeps_the_device_and_refuses_an_active_one,
    a_push_after_a_revocation_stores_nothing,
    revocation_racing_pushes_lets_nothing_in_after_it_returns,
    ingest_records_each_devices_last_sync_skew_and_pending,
    merge_is_by_maximum_per_replica_and_cell,
    a_push_across_the_latest_stored_day_merges_each_cell_once,
    duplicate_keys_in_one_push_merge,
    resends_and_reorders_do_not_change_totals,
    watermark_advances_only_contiguously,
    totals_add_replicas_net_of_retractions,
    every_cell_dimension_round_trips,
    concurrent_ingest_from_threads_is_exact,
    two_handles_on_one_store_see_each_other,
    accounts_are_created_once_and_read_back,
    login_failures_count_per_account_within_a_window,
    sessions_are_shared_and_die_everywhere,
    net_cells_sum_replicas_within_dates,
    login_attempts_are_reserved_atomically,
    a_replica_with_more_retractions_than_visits_subtracts_nothing,
    query_cells_give_the_reference_tables,
);

// ---- PostgreSQL only ----

fn migrations_are_idempotent_and_safe_when_hubs_start_together(url: &str) {
    let barrier = Barrier::new(6);
    std::thread::scope(|sc| {
        let ts: Vec<_> = (0..6)
            .map(|_| {
                let barrier = &barrier;
                sc.spawn(move || {
                    barrier.wait();
                    PgStore::connect_with(url, 1).map(|_| ())
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap().unwrap();
        }
    });
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM dps_schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, migrations::MIGRATIONS.len() as i64);
    assert_eq!(
        migrations::migrate(&mut c).unwrap(),
        Vec::<i32>::new(),
        "nothing left to apply"
    );
}

fn a_newer_schema_is_refused(url: &str) {
    PgStore::connect(url).unwrap();
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO dps_schema_migrations (version) VALUES (999)",
        &[],
    )
    .unwrap();
    let err = PgStore::connect(url).err();
    assert!(
        matches!(err, Some(PgError::SchemaTooNew { found: 999, .. })),
        "{:?}",
        err.map(|e| e.to_string())
    );
}

fn several_processes_ingest_into_one_database(url: &str) {
    let (procs, per, batches) = (4, 50, 6);
    let store = PgStore::connect(url).unwrap();
    for p in 0..procs {
        enrolled(&store, &format!("proc-{p}"), "bus-2");
    }
    let children: Vec<_> = (0..procs)
        .map(|p| {
            std::process::Command::new(env!("CARGO_BIN_EXE_pg-ingest"))
                .args([
                    url,
                    &format!("proc-{p}"),
                    "i1",
                    &batches.to_string(),
                    &per.to_string(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(
        nonzero(totals(&store).unwrap()),
        synth_totals(procs, per * batches)
    );
    for p in 0..procs {
        let r = replica(&format!("proc-{p}"), "i1");
        assert_eq!(store.watermark(&r).unwrap(), (per * batches) as u64);
        assert!(store
            .device(&r.device)
            .unwrap()
            .unwrap()
            .last_sync
            .is_some());
    }
}

type PgCase = fn(&str);

const PG_ONLY: &[(&str, PgCase)] = &[
    (
        "migrations_are_idempotent_and_safe_when_hubs_start_together",
        migrations_are_idempotent_and_safe_when_hubs_start_together,
    ),
    ("a_newer_schema_is_refused", a_newer_schema_is_refused),
    (
        "several_processes_ingest_into_one_database",
        several_processes_ingest_into_one_database,
    ),
];

fn pg_enabled(what: &str) -> bool {
    let on = std::env::var("DPS_TEST_PG").is_ok_and(|v| v == "1");
    if !on {
        println!("skipped: {what} (set DPS_TEST_PG=1 to run it on a throw-away PostgreSQL)");
    }
    on
}

/// Every contract case, then the PostgreSQL-only ones, on one throw-away
/// cluster with a database per case. All cases run; the failures are listed.
#[test]
fn postgres_contract() {
    if !pg_enabled("the contract suite on PostgreSQL") {
        return;
    }
    let cluster = TempCluster::start().unwrap();
    let mut failed = Vec::new();
    let mut run = |i: usize, name: &str, f: &dyn Fn(&str)| {
        let url = cluster.create_database(&format!("case_{i}")).unwrap();
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(&url))) {
            Ok(()) => println!("postgres: {name} ... ok"),
            Err(_) => failed.push(name.to_owned()),
        }
    };
    for (i, (name, case)) in CASES.iter().enumerate() {
        run(i, name, &|url: &str| {
            case(&Pg {
                url: url.to_owned(),
            })
        });
    }
    for (i, (name, case)) in PG_ONLY.iter().enumerate() {
        run(CASES.len() + i, name, case);
    }
    assert!(failed.is_empty(), "failed on PostgreSQL: {failed:?}");
    println!("postgres: {} cases passed", CASES.len() + PG_ONLY.len());
}

/// The harness itself: a usable server on loopback, gone with its directory on drop.
#[test]
fn temp_cluster_starts_and_cleans_up() {
    if !pg_enabled("the TempCluster harness test") {
        return;
    }
    let cluster = TempCluster::start().unwrap();
    let (dir, port) = (cluster.dir().to_owned(), cluster.port());
    assert!(cluster
        .url()
        .starts_with(&format!("postgres://postgres@127.0.0.1:{port}/")));
    let mut c = postgres::Client::connect(&cluster.url(), postgres::NoTls).unwrap();
    let v: String = c.query_one("SHOW server_version", &[]).unwrap().get(0);
    assert!(v.starts_with("15"), "{v}");
    let listen: String = c.query_one("SHOW listen_addresses", &[]).unwrap().get(0);
    assert_eq!(listen, "127.0.0.1");
    assert!(cluster.create_database("bad name; DROP").is_err());
    drop(c);
    drop(cluster);
    assert!(!dir.exists(), "the temporary directory is removed");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is stopped"
    );
}

/// The cases count on `synth::cell` never repeating a key.
#[test]
fn synthetic_cells_are_distinct() {
    let n = 20_000;
    let keys: BTreeSet<CellKey> = (0..n).map(synth::cell).collect();
    assert_eq!(keys.len(), n);
}
