//! A store sled cannot read is set aside in a dated quarantine folder and a
//! new incarnation starts; nothing panics and the steward is told plainly.

use std::path::Path;

use dps_tally::{OpenStatus, TallyStore, QUARANTINE_DIR, STORE_DIR};

use crate::{at, site, visit};

/// Builds a store with some counts; returns its incarnation.
fn populated(dir: &Path) -> String {
    let now = at(2026, 5, 4, 10, 0);
    let store = TallyStore::open(dir, now).unwrap().store;
    store.start_session(site(), now).unwrap();
    for i in 0..50 {
        store
            .record(visit(if i % 2 == 0 { "a" } else { "b" }, "done"), now)
            .unwrap();
    }
    store.replica().incarnation
}

fn check_quarantined(dir: &Path, old_incarnation: &str, how: &str) {
    let now = at(2026, 5, 5, 8, 30);
    let opened = TallyStore::open(dir, now).unwrap_or_else(|e| panic!("{how}: {e}"));
    let OpenStatus::Quarantined { moved_to, reason } = &opened.status else {
        panic!("{how}: expected quarantine, got {:?}", opened.status)
    };
    println!("{how}: quarantined because {reason}");
    assert!(
        moved_to.starts_with(dir.join(QUARANTINE_DIR)),
        "{how}: {moved_to:?}"
    );
    assert!(
        moved_to
            .to_string_lossy()
            .contains("tally-20260505T083000Z"),
        "{moved_to:?}"
    );
    assert!(
        moved_to.join("db").exists(),
        "{how}: the damaged files are kept, not deleted"
    );
    let msg = opened.steward_message().unwrap();
    assert!(
        msg.contains("set aside") && msg.contains("starts again from zero"),
        "{msg}"
    );
    let store = opened.store;
    assert_ne!(
        store.replica().incarnation,
        old_incarnation,
        "{how}: new incarnation"
    );
    assert!(store.cells().unwrap().is_empty(), "{how}");
    // The session open at the time goes on at the same site (its site is
    // kept in the settings file, which the quarantine does not touch).
    let resumed = store.current_session().unwrap();
    assert_eq!(resumed.map(|s| s.site), Some(site()), "{how}");
    store.end_session(now).unwrap();
    drop(store);
    let again = TallyStore::open(dir, now).unwrap();
    assert_eq!(
        again.status,
        OpenStatus::Existing,
        "{how}: the new store is kept"
    );
}

fn damage_file(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_scrambled_log_is_quarantined() {
    let d = tempfile::tempdir().unwrap();
    let inc = populated(d.path());
    damage_file(&d.path().join(STORE_DIR).join("db"), |b| {
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(31) ^ 0x5a;
        }
    });
    check_quarantined(d.path(), &inc, "scrambled log");
}

#[test]
fn a_damaged_config_is_quarantined() {
    let d = tempfile::tempdir().unwrap();
    let inc = populated(d.path());
    damage_file(&d.path().join(STORE_DIR).join("conf"), |b| {
        for x in b.iter_mut() {
            *x = !*x;
        }
    });
    check_quarantined(d.path(), &inc, "damaged conf");
}

#[test]
fn an_emptied_log_is_quarantined() {
    let d = tempfile::tempdir().unwrap();
    let inc = populated(d.path());
    damage_file(&d.path().join(STORE_DIR).join("db"), |b| b.clear());
    // sled's snapshot files would let it rebuild from an older point; a lost
    // log with them gone is the cut-short case.
    for e in std::fs::read_dir(d.path().join(STORE_DIR)).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("snap."))
        {
            std::fs::remove_file(p).unwrap();
        }
    }
    check_quarantined(d.path(), &inc, "emptied log");
}

#[test]
fn two_quarantines_in_the_same_second_do_not_collide() {
    let d = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let inc = populated(d.path());
        damage_file(&d.path().join(STORE_DIR).join("db"), |b| {
            b.iter_mut().for_each(|x| *x = !*x)
        });
        check_quarantined(d.path(), &inc, &format!("round {round}"));
    }
    let n = std::fs::read_dir(d.path().join(QUARANTINE_DIR))
        .unwrap()
        .count();
    assert_eq!(n, 2);
}

#[test]
fn a_creation_cut_short_is_redone_not_quarantined() {
    let d = tempfile::tempdir().unwrap();
    let now = at(2026, 5, 4, 10, 0);
    // What a crash between sled creating its files and the identity record
    // being durable leaves: sled's files and the creation marker.
    drop(sled::open(d.path().join(STORE_DIR)).unwrap());
    std::fs::write(d.path().join("tally.creating"), b"").unwrap();
    let opened = TallyStore::open(d.path(), now).unwrap();
    assert_eq!(opened.status, OpenStatus::New);
    assert!(!d.path().join(QUARANTINE_DIR).exists());
    assert!(!d.path().join("tally.creating").exists());
    drop(opened);
    assert_eq!(
        TallyStore::open(d.path(), now).unwrap().status,
        OpenStatus::Existing
    );
}

/// A kill while sled writes a snapshot leaves an empty `snap.<lsn>.generating`
/// beside the finished ones, which sled 0.34 then takes for the newest
/// snapshot and refuses ("Read corrupted data at file offset None"; found by
/// the compaction crash test). The store is not damaged: it opens as is,
/// with every count, and the unfinished file is gone.
#[test]
fn a_snapshot_left_unfinished_by_a_kill_is_not_damage() {
    let d = tempfile::tempdir().unwrap();
    let inc = populated(d.path());
    let store_dir = d.path().join(STORE_DIR);
    let now = at(2026, 5, 5, 8, 30);
    let cells = {
        let opened = TallyStore::open(d.path(), now).unwrap();
        assert_eq!(opened.status, OpenStatus::Existing);
        opened.store.cells().unwrap()
    };
    assert!(!cells.is_empty());
    // Newer than any finished snapshot, as a snapshot being written is.
    let newest = std::fs::read_dir(&store_dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .max()
        .unwrap_or(0);
    let unfinished = store_dir.join(format!("snap.{:016X}.generating", newest + 0x1000));
    std::fs::write(&unfinished, b"").unwrap();

    let opened = TallyStore::open(d.path(), now).unwrap();
    assert_eq!(opened.status, OpenStatus::Existing, "not quarantined");
    assert_eq!(opened.store.replica().incarnation, inc);
    assert_eq!(opened.store.cells().unwrap(), cells);
    assert!(!unfinished.exists());
}
