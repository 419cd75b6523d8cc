//! Behaviour of the store: recording, undo, sessions, sync API, settings, PIN.

use dps_model::{Municipality, PnCount};
use dps_tally::{OpenStatus, Site, TallyError, TallyStore};
use expect_test::expect;

use crate::{at, fresh, site, visit};

#[test]
fn a_visit_lands_in_the_brussels_day_of_its_session_site() {
    let (_d, store) = fresh();
    // 23:30 UTC on 28 March 2026 is already 29 March in Brussels (CET+1, DST
    // starts at 02:00 local that night).
    let r = store
        .record(
            visit("bruvax-registration", "done"),
            at(2026, 3, 28, 23, 30),
        )
        .unwrap();
    assert_eq!(r.cell.day.to_string(), "2026-03-29");
    assert_eq!(r.cell.site.as_str(), "dps-test-site");
    assert_eq!((r.visit_no, r.seq), (1, 1));
    let totals = store.totals().unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].inc, totals[0].ret, totals[0].net), (1, 0, 1));
}

#[test]
fn no_session_no_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = TallyStore::open(dir.path(), at(2026, 1, 1, 8, 0))
        .unwrap()
        .store;
    let e = store
        .record(visit("p", "done"), at(2026, 1, 1, 8, 0))
        .unwrap_err();
    assert!(matches!(e, TallyError::NoSession), "{e}");
    assert!(store.totals().unwrap().is_empty());
}

#[test]
fn undo_retracts_the_last_visits_of_the_session_only_and_never_below_zero() {
    let (_d, store) = fresh();
    let now = at(2026, 3, 2, 10, 0);
    store.record(visit("a", "done"), now).unwrap();
    store.record(visit("b", "done"), now).unwrap();
    let u = store.undo_last().unwrap();
    assert_eq!((u.cell.procedure.as_str(), u.visit_no), ("b", 2));
    let u = store.undo_last().unwrap();
    assert_eq!((u.cell.procedure.as_str(), u.visit_no), ("a", 1));
    assert!(matches!(store.undo_last(), Err(TallyError::NothingToUndo)));
    assert!(
        store.totals().unwrap().is_empty(),
        "net zero cells are not totals"
    );
    let cells = store.cells().unwrap();
    assert!(cells.iter().all(|c| c.inc == 1 && c.ret == 1 && c.net == 0));

    // A new session cannot undo the previous session's visits.
    store.record(visit("c", "done"), now).unwrap();
    store.end_session(at(2026, 3, 2, 17, 0)).unwrap();
    store.start_session(site(), at(2026, 3, 3, 9, 0)).unwrap();
    assert!(matches!(store.undo_last(), Err(TallyError::NothingToUndo)));
}

#[test]
fn session_summary_by_procedure_and_outcome() {
    let (_d, store) = fresh();
    let now = at(2026, 3, 2, 10, 0);
    for (p, o) in [
        ("bruvax", "done"),
        ("bruvax", "done"),
        ("bruvax", "waiting_list"),
        ("irisbox", "done"),
    ] {
        store.record(visit(p, o), now).unwrap();
    }
    store.record(visit("irisbox", "referred"), now).unwrap();
    store.undo_last().unwrap();
    let live = store.session_summary().unwrap().unwrap();
    let ended = store.end_session(at(2026, 3, 2, 17, 0)).unwrap();
    assert_eq!(ended.summary.as_ref(), Some(&live));
    assert!(store.current_session().unwrap().is_none());
    expect![[r#"
        {
          "visits": 4,
          "undone": 1,
          "by_procedure": [
            {
              "procedure": "bruvax",
              "outcome": "done",
              "visits": 2
            },
            {
              "procedure": "bruvax",
              "outcome": "waiting_list",
              "visits": 1
            },
            {
              "procedure": "irisbox",
              "outcome": "done",
              "visits": 1
            }
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&live).unwrap());
    let today = store.today_summary(now).unwrap();
    assert_eq!(
        today, live,
        "one session that day: the day's summary is the session's"
    );
    assert_eq!(store.sessions().unwrap().len(), 1);
}

#[test]
fn one_session_at_a_time_and_pop_up_sites() {
    let (_d, store) = fresh();
    let popup = Site::PopUp {
        place: "Parvis de Saint-Gilles".into(),
        municipality: Municipality::SaintGilles,
    };
    assert!(matches!(
        store.start_session(popup.clone(), at(2026, 3, 2, 9, 0)),
        Err(TallyError::SessionAlreadyOpen)
    ));
    store.end_session(at(2026, 3, 2, 12, 0)).unwrap();
    let s = store.start_session(popup, at(2026, 3, 2, 13, 0)).unwrap();
    assert_eq!(
        s.site_code.as_str(),
        "popup-saint-gilles-parvis-de-saint-gilles"
    );
    let r = store
        .record(visit("a", "done"), at(2026, 3, 2, 13, 5))
        .unwrap();
    assert_eq!(r.cell.site, s.site_code);
}

#[test]
fn pending_returns_absolute_counts_in_change_order_and_acks_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    let now = at(2026, 3, 2, 10, 0);
    let replica;
    {
        let store = TallyStore::open(dir.path(), now).unwrap().store;
        replica = store.replica();
        store.start_session(site(), now).unwrap();
        store.record(visit("a", "done"), now).unwrap(); // seq 1
        store.record(visit("b", "done"), now).unwrap(); // seq 2
        store.record(visit("a", "done"), now).unwrap(); // seq 3: a moves to 3
        assert_eq!(store.pending_count().unwrap(), 2);
        let (items, mark) = store.pending(0, 10).unwrap();
        let got: Vec<_> = items
            .iter()
            .map(|(c, n)| (c.procedure.as_str(), n.inc))
            .collect();
        assert_eq!(got, [("b", 1), ("a", 2)]);
        assert_eq!(mark, 3);
        let (items, mark) = store.pending(0, 1).unwrap();
        assert_eq!((items.len(), mark), (1, 2));
        store.set_acked(2).unwrap();
        assert_eq!(store.pending_count().unwrap(), 1);
        // A replayed, older ack does not move the watermark back.
        store.set_acked(1).unwrap();
        assert_eq!(store.acked().unwrap(), 2);
        assert!(matches!(
            store.set_acked(99),
            Err(TallyError::WatermarkAhead { .. })
        ));
        store.undo_last().unwrap(); // seq 4, retracts a
    }
    let o = TallyStore::open(dir.path(), now).unwrap();
    assert_eq!(o.status, OpenStatus::Existing);
    let store = o.store;
    assert_eq!(store.replica(), replica, "same store, same replica");
    assert_eq!(store.acked().unwrap(), 2);
    let (items, mark) = store.pending(store.acked().unwrap(), 100).unwrap();
    assert_eq!(mark, 4);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].1, PnCount { inc: 2, ret: 1 });
    let (none, same) = store.pending(4, 100).unwrap();
    assert!(none.is_empty());
    assert_eq!(same, 4);
}

#[test]
fn settings_and_device_id() {
    let dir = tempfile::tempdir().unwrap();
    let now = at(2026, 3, 2, 10, 0);
    let store = TallyStore::open(dir.path(), now).unwrap().store;
    let r = store.replica();
    assert!(r.device.starts_with("unenrolled-"), "{}", r.device);
    assert_eq!(r.incarnation.len(), 32);
    assert_eq!(store.get_setting("hub_url").unwrap(), None);
    store.put_setting("hub_url", "https://hub.example").unwrap();
    store
        .put_setting(dps_tally::SETTING_DEVICE_ID, "kiosk-007")
        .unwrap();
    assert!(store.put_setting("Bad Name", "x").is_err());
    assert_eq!(store.replica().device, "kiosk-007");
    assert_eq!(store.replica().incarnation, r.incarnation);
    store.set_steward_language(dps_model::Language::Nl).unwrap();
    drop(store);
    let store = TallyStore::open(dir.path(), now).unwrap().store;
    assert_eq!(
        store.get_setting("hub_url").unwrap().as_deref(),
        Some("https://hub.example")
    );
    assert_eq!(store.replica().device, "kiosk-007");
    assert_eq!(
        store.steward_language().unwrap(),
        Some(dps_model::Language::Nl)
    );
}

#[test]
fn a_store_open_elsewhere_is_in_use_not_a_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let now = at(2026, 3, 2, 10, 0);
    let _first = TallyStore::open(dir.path(), now).unwrap();
    let e = TallyStore::open(dir.path(), now).expect_err("second open must fail");
    assert!(matches!(e, TallyError::StoreInUse { .. }), "{e}");
    assert!(
        e.to_string().contains("already open in another program"),
        "{e}"
    );
}

#[test]
fn steward_pin() {
    let (_d, store) = fresh();
    assert!(!store.pin_is_set().unwrap());
    assert!(matches!(
        store.verify_pin("1234"),
        Err(TallyError::PinNotSet)
    ));
    assert!(matches!(store.set_pin("12a4"), Err(TallyError::PinFormat)));
    assert!(matches!(store.set_pin("123"), Err(TallyError::PinFormat)));
    store.set_pin("2468").unwrap();
    assert!(matches!(
        store.set_pin("1111"),
        Err(TallyError::PinAlreadySet)
    ));
    assert!(store.verify_pin("2468").unwrap());
    assert!(!store.verify_pin("2469").unwrap());
    assert!(matches!(
        store.change_pin("0000", "135790"),
        Err(TallyError::WrongPin)
    ));
    store.change_pin("2468", "135790").unwrap();
    assert!(!store.verify_pin("2468").unwrap());
    assert!(store.verify_pin("135790").unwrap());
}

#[test]
fn the_pin_is_stored_hashed() {
    let (d, store) = fresh();
    store.set_pin("97531").unwrap();
    drop(store);
    let hits = crate::grep_dir(d.path(), &[b"97531".as_slice()]);
    assert_eq!(hits, 0);
    assert!(
        crate::grep_dir(d.path(), &[b"argon2".as_slice()]) >= 1,
        "the PHC hash string is there instead"
    );
}
