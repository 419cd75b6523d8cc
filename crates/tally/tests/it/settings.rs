//! The kiosk's settings (PIN, steward language, enrolment, the open
//! session's site) live outside the counts store and survive its
//! quarantine; the steward gets a notice that stays until acknowledged; a
//! store found damaged while counting is set aside at the next start.

use std::path::Path;

use dps_model::Language;
use dps_tally::{
    OpenStatus, StoreNotice, TallyError, TallyStore, DAMAGED_MARKER, QUARANTINE_DIR, SETTINGS_FILE,
    STORE_DIR,
};

use crate::{at, site, visit};

/// A kiosk in use: PIN, Dutch steward, enrolled, a session with visits, and
/// some of it acknowledged by the hub.
fn kiosk_in_use(dir: &Path) -> String {
    let now = at(2026, 5, 4, 10, 0);
    let store = TallyStore::open(dir, now).unwrap().store;
    store.set_pin("4826").unwrap();
    store.set_steward_language(Language::Nl).unwrap();
    store.put_setting("hub_url", "https://hub.example").unwrap();
    store.put_setting("token", "device-secret").unwrap();
    store
        .put_setting(dps_tally::SETTING_DEVICE_ID, "kiosk-42")
        .unwrap();
    store.start_session(site(), now).unwrap();
    for _ in 0..20 {
        store.record(visit("a", "done"), now).unwrap();
    }
    let (_, mark) = store.pending(0, 1000).unwrap();
    store.set_acked(mark).unwrap();
    store.replica().incarnation
}

fn scramble(dir: &Path) {
    let db = dir.join(STORE_DIR).join("db");
    let mut b = std::fs::read(&db).unwrap();
    b.iter_mut().for_each(|x| *x = !*x);
    std::fs::write(db, b).unwrap();
}

/// Checks what a quarantine must keep and what it must not.
fn check_kept(dir: &Path, old_incarnation: &str) -> TallyStore {
    let now = at(2026, 5, 5, 8, 30);
    let opened = TallyStore::open(dir, now).unwrap();
    let OpenStatus::Quarantined { moved_to, .. } = &opened.status else {
        panic!("expected a quarantine, got {:?}", opened.status)
    };
    let moved_to = moved_to.clone();
    let store = opened.store;
    // What belongs to the kiosk is kept…
    assert!(store.pin_is_set().unwrap(), "no first-start setup again");
    assert!(store.verify_pin("4826").unwrap());
    assert_eq!(store.steward_language().unwrap(), Some(Language::Nl));
    assert_eq!(
        store.get_setting("hub_url").unwrap().as_deref(),
        Some("https://hub.example")
    );
    assert_eq!(
        store.get_setting("token").unwrap().as_deref(),
        Some("device-secret")
    );
    // …the replica is new (same device, new incarnation: its counts add on
    // the hub), and the hub's watermark belonged to the old one.
    assert_eq!(store.replica().device, "kiosk-42");
    assert_ne!(store.replica().incarnation, old_incarnation);
    assert_eq!(store.acked().unwrap(), 0);
    assert!(store.cells().unwrap().is_empty());
    // Counting goes on in the same session's site.
    let s = store.current_session().unwrap().expect("session resumed");
    assert_eq!(s.site, site());
    store.record(visit("a", "done"), now).unwrap();
    // The steward is told, until they say they have read it.
    let notices = store.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    match &notices[0] {
        StoreNotice::Quarantined {
            moved_to: m,
            session_resumed,
            at: when,
            ..
        } => {
            assert_eq!(m, &moved_to);
            assert!(m.starts_with(dir.join(QUARANTINE_DIR)));
            assert!(*session_resumed);
            assert_eq!(*when, now);
        }
        other => panic!("{other:?}"),
    }
    store
}

#[test]
fn the_pin_language_enrolment_and_session_survive_a_quarantine() {
    let d = tempfile::tempdir().unwrap();
    let inc = kiosk_in_use(d.path());
    scramble(d.path());
    let store = check_kept(d.path(), &inc);
    drop(store);
    // The notice is still there after a restart, gone once acknowledged.
    let now = at(2026, 5, 5, 9, 0);
    let store = TallyStore::open(d.path(), now).unwrap().store;
    assert_eq!(store.notices().len(), 1);
    store.acknowledge_notices().unwrap();
    assert!(store.notices().is_empty());
    drop(store);
    let opened = TallyStore::open(d.path(), now).unwrap();
    assert_eq!(opened.status, OpenStatus::Existing);
    assert!(opened.store.notices().is_empty());
    assert!(opened.store.verify_pin("4826").unwrap());
}

#[test]
fn an_entry_found_damaged_while_counting_sets_the_store_aside_at_the_next_start() {
    let d = tempfile::tempdir().unwrap();
    let inc = kiosk_in_use(d.path());
    // A cell whose value has the wrong length: sled opens the store, the
    // damage shows only when the cell is read.
    {
        let db = sled::open(d.path().join(STORE_DIR)).unwrap();
        db.insert(b"c/2026-05-04|x", b"bad".as_slice()).unwrap();
        db.flush().unwrap();
    }
    let now = at(2026, 5, 4, 11, 0);
    let opened = TallyStore::open(d.path(), now).unwrap();
    assert_eq!(opened.status, OpenStatus::Existing);
    let e = opened.store.cells().expect_err("the bad cell is found");
    assert!(matches!(e, TallyError::Damaged(_)), "{e}");
    assert!(e.to_string().contains("restart the kiosk"), "{e}");
    assert!(
        d.path().join(DAMAGED_MARKER).exists(),
        "marked for the restart"
    );
    drop(opened);
    // The restart does what the message said.
    let store = check_kept(d.path(), &inc);
    assert!(!d.path().join(DAMAGED_MARKER).exists());
    match &store.notices()[0] {
        StoreNotice::Quarantined { reason, .. } => {
            assert!(reason.contains("while counting"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn settings_of_a_store_made_before_the_settings_file_move_into_it() {
    // A PIN hash made the normal way, to plant in the old layout.
    let other = tempfile::tempdir().unwrap();
    let now = at(2026, 5, 4, 10, 0);
    TallyStore::open(other.path(), now)
        .unwrap()
        .store
        .set_pin("1357")
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(other.path().join(SETTINGS_FILE)).unwrap()).unwrap();
    let hash = json["pin"].as_str().unwrap().to_owned();

    let d = tempfile::tempdir().unwrap();
    drop(TallyStore::open(d.path(), now).unwrap());
    std::fs::remove_file(d.path().join(SETTINGS_FILE)).ok();
    {
        let db = sled::open(d.path().join(STORE_DIR)).unwrap();
        db.insert(b"o/hub_url", b"https://old.example".as_slice())
            .unwrap();
        db.insert(b"o/steward_language", b"de".as_slice()).unwrap();
        db.insert(b"m/pin", hash.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = TallyStore::open(d.path(), now).unwrap().store;
    assert_eq!(
        store.get_setting("hub_url").unwrap().as_deref(),
        Some("https://old.example")
    );
    assert_eq!(store.steward_language().unwrap(), Some(Language::De));
    assert!(store.verify_pin("1357").unwrap());
    drop(store);
    // Out of sled for good: a quarantine can no longer take them along.
    let db = sled::open(d.path().join(STORE_DIR)).unwrap();
    assert!(db.scan_prefix(b"o/").next().is_none());
    assert!(db.get(b"m/pin").unwrap().is_none());
}

#[test]
fn an_unreadable_settings_file_is_set_aside_and_counting_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let now = at(2026, 5, 4, 10, 0);
    let inc = kiosk_in_use(d.path());
    std::fs::write(d.path().join(SETTINGS_FILE), b"{\"pin\": tru").unwrap();
    let opened = TallyStore::open(d.path(), now).unwrap();
    assert_eq!(opened.status, OpenStatus::Existing);
    let store = opened.store;
    assert_eq!(store.replica().incarnation, inc, "the counts are untouched");
    assert_eq!(store.cells().unwrap().len(), 1);
    assert!(!store.pin_is_set().unwrap());
    match store.notices().as_slice() {
        [StoreNotice::SettingsReset { moved_to, .. }] => {
            assert!(moved_to.starts_with(d.path().join(QUARANTINE_DIR)));
            assert!(moved_to.exists());
        }
        other => panic!("{other:?}"),
    }
    // The open session's site came back from the store itself.
    assert_eq!(
        store.get_setting(dps_tally::SETTING_SESSION_SITE).unwrap(),
        Some(serde_json::to_string(&site()).unwrap())
    );
}
