//! Compaction at open (crates/tally/src/compact.rs): it changes nothing but
//! the size, a small or freshly compacted store is left alone, and a crash at
//! any point of it leaves a store that opens with exactly the same counts,
//! incarnation, watermark and settings.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use dps_model::{Language, PnCount};
use dps_tally::simulate::{simulate, SimParams};
use dps_tally::{
    CellTotal, CompactPolicy, CompactStep, Compaction, OpenStatus, Session, Summary, TallyStore,
};
use expect_test::expect;
use rand::Rng;

use crate::crash::{env_or, kill_at_random, CHILD};
use crate::{at, site, visit};

/// Everything the store lets anyone read.
#[derive(Debug, PartialEq)]
struct Snapshot {
    device: String,
    incarnation: String,
    cells: Vec<CellTotal>,
    /// The change index and the latest change number.
    pending: (Vec<(dps_model::CellKey, PnCount)>, u64),
    acked: u64,
    sessions: Vec<Session>,
    current: Option<Session>,
    summary: Option<Summary>,
    settings: Vec<Option<String>>,
    language: Option<Language>,
    pin_set: bool,
}

fn snapshot(store: &TallyStore) -> Snapshot {
    let r = store.replica();
    Snapshot {
        device: r.device,
        incarnation: r.incarnation,
        cells: store.cells().unwrap(),
        pending: store.pending(0, usize::MAX).unwrap(),
        acked: store.acked().unwrap(),
        sessions: store.sessions().unwrap(),
        current: store.current_session().unwrap(),
        summary: store.session_summary().unwrap(),
        settings: ["hub_url", "token", "device_id"]
            .iter()
            .map(|s| store.get_setting(s).unwrap())
            .collect(),
        language: store.steward_language().unwrap(),
        pin_set: store.pin_is_set().unwrap(),
    }
}

fn now() -> DateTime<Utc> {
    at(2026, 6, 1, 12, 0)
}

/// A store with `visits` simulated visits over 60 days counted twice (so
/// sled's log holds garbage to reclaim), settings, a PIN, a watermark, and an
/// open session with a visit log. Returns its snapshot.
fn populated(dir: &Path, visits: u64) -> Snapshot {
    let store = TallyStore::open(dir, now()).unwrap().store;
    let p = SimParams {
        visits,
        days: 60,
        seed: 5,
        last_day: now().date_naive(),
        undo_rate: 0.02,
    };
    simulate(&store, &p).unwrap();
    simulate(&store, &p).unwrap();
    store.put_setting("hub_url", "https://hub.example").unwrap();
    store.put_setting("token", "secret-token").unwrap();
    store.put_setting("device_id", "kiosk-042").unwrap();
    store.set_steward_language(Language::Nl).unwrap();
    store.set_pin("4321").unwrap();
    let (_, latest) = store.pending(0, usize::MAX).unwrap();
    store.set_acked(latest / 3).unwrap();
    store.start_session(site(), now()).unwrap();
    for p in ["a", "b", "a"] {
        store.record(visit(p, "done"), now()).unwrap();
    }
    store.undo_last().unwrap();
    snapshot(&store)
}

/// The data dir's entries, sorted, for the expectations below.
fn listing(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.join(" ")
}

fn open(dir: &Path, policy: CompactPolicy) -> (TallyStore, Option<Compaction>) {
    let o = TallyStore::open_with(dir, now(), policy).unwrap();
    assert_eq!(o.status, OpenStatus::Existing);
    (o.store, o.compaction)
}

#[test]
fn a_compaction_changes_nothing_but_the_size_and_is_not_repeated_for_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let before = populated(dir.path(), 4000);

    // A store under 16 MiB is never compacted by the default policy.
    let (store, c) = open(dir.path(), CompactPolicy::default());
    assert_eq!(c, None);
    assert_eq!(snapshot(&store), before);
    drop(store);

    let (store, c) = open(dir.path(), CompactPolicy::always());
    let Some(Compaction::Done {
        before: size_before,
        after,
        live,
        took,
    }) = c
    else {
        panic!("expected a compaction, got {c:?}")
    };
    println!(
        "compacted {size_before} -> {after} bytes ({live} live) in {} ms",
        took.as_millis()
    );
    // Smaller or not (a fresh sled copy of a small store takes about what
    // the store took; the soak in dps-cli shows what a compaction reclaims),
    // it holds more than the live data, and exactly the same keys.
    assert!(live < after, "{live} >= {after}");
    assert_eq!(snapshot(&store), before, "same keys, same values");
    assert!(store.verify_pin("4321").unwrap());
    expect!["settings.json tally tally.lock"].assert_eq(&listing(dir.path()));
    // The open session's visit log came along: undo and counting go on.
    let undone = store.undo_last().unwrap();
    assert_eq!(undone.cell.procedure.as_str(), "b");
    store.record(visit("c", "done"), now()).unwrap();
    drop(store);

    // Freshly compacted: even a policy that asks for any size and any live
    // ratio waits until the store has grown past its fresh size.
    let no_floor = CompactPolicy {
        min_size: 0,
        live_ratio: 0,
        ..CompactPolicy::default()
    };
    let (store, c) = open(dir.path(), no_floor);
    assert_eq!(c, None);
    drop(store);
    let (_, c) = open(dir.path(), CompactPolicy::always());
    assert!(matches!(c, Some(Compaction::Done { .. })), "{c:?}");
}

/// Every step of a compaction, in order, with the data dir's entries right
/// after a crash there, then after the next open.
#[test]
fn a_crash_after_any_step_of_a_compaction_reopens_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let before = populated(d, 1500);
    let mut seen = String::new();
    for step in CompactStep::ALL {
        let out = Command::new(CHILD)
            .arg(d)
            .args(["0", "compact", &format!("{step:?}")])
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{step:?}: the child should abort there: {out:?}"
        );
        let crashed = listing(d);
        assert!(TallyStore::exists(d), "{step:?}: {crashed}");
        let (store, c) = open(d, CompactPolicy::default());
        assert_eq!(c, None, "{step:?}: a small store is not compacted again");
        assert_eq!(snapshot(&store), before, "{step:?}");
        drop(store);
        seen += &format!("{step:?}: {crashed} -> {}\n", listing(d));
    }
    expect![[r#"
        Copying: settings.json tally tally.compact tally.lock -> settings.json tally tally.lock
        Copied: settings.json tally tally.compact tally.lock -> settings.json tally tally.lock
        Ready: settings.json tally tally.lock tally.new -> settings.json tally tally.lock
        OldAside: settings.json tally.lock tally.new tally.old -> settings.json tally tally.lock
        Swapped: settings.json tally tally.lock tally.old -> settings.json tally tally.lock
        Done: settings.json tally tally.lock -> settings.json tally tally.lock
    "#]]
    .assert_eq(&seen);
}

/// The crash test's check (every acknowledged visit exactly once, same
/// incarnation, watermark and setting) with a child that compacts its store
/// at every open and is killed at random, often inside a compaction.
#[test]
fn killed_at_random_points_during_compactions_every_acknowledged_visit_counts_exactly_once() {
    let rounds = env_or("DPS_TALLY_COMPACT_ROUNDS", 60);
    let seed = env_or("DPS_TALLY_CRASH_SEED", rand::thread_rng().gen());
    println!("compaction crash test: {rounds} rounds, DPS_TALLY_CRASH_SEED={seed}");
    let dir = tempfile::tempdir().unwrap();
    // Enough cells that a compaction takes a while, no open session (the
    // child opens its own).
    {
        let store = TallyStore::open(dir.path(), now()).unwrap().store;
        let p = SimParams {
            visits: 2000,
            days: 60,
            seed: 9,
            last_day: now().date_naive(),
            undo_rate: 0.0,
        };
        simulate(&store, &p).unwrap();
    }
    // Where each kill landed, from what it left behind.
    let mut landed = std::collections::BTreeMap::<&str, u64>::new();
    // A few lines in (a reopen every 1-3 operations), then anywhere in the
    // next ~100 ms, about what one compaction of this store takes here.
    let wait = (8, 100_000);
    let (acked, compactions) =
        kill_at_random(dir.path(), rounds, seed, &["compact"], wait, |_, d| {
            let names = listing(d);
            let at = if names.contains("tally.compact") {
                "copying"
            } else if names.contains("tally.new") || names.contains("tally.old") {
                "swapping"
            } else {
                "outside a compaction's directories"
            };
            *landed.entry(at).or_default() += 1;
        });
    println!("compaction crash test: kills landed {landed:?}");
    assert!(acked >= rounds / 2, "the child must get work done: {acked}");
    assert!(
        compactions >= rounds / 2,
        "the child must compact: {compactions}"
    );
    assert!(
        landed.get("copying").copied().unwrap_or(0) > 0,
        "no kill landed inside a compaction: {landed:?}"
    );
}
