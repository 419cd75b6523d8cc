//! The steward's side through a real tally store on disk.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use dps_directory::Directory;
use dps_model::{AgeBand, Channel, Code, Language, Residence, VisitRecord};
use dps_steward::autostart::Autostart;
use dps_steward::{
    CountOutcome, Counting, Effect, SiteChoice, Steward, StewardAction as A, StewardError,
};
use dps_sync::SyncStatus;
use dps_tally::TallyStore;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    steward: Steward,
    autostart_dir: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = TallyStore::open(&dir.path().join("data"), now())
        .unwrap()
        .store;
    let autostart_dir = dir.path().join("autostart");
    let steward = Steward::new(
        Some(Arc::new(store)),
        None,
        Directory::bundled().unwrap(),
        Some(Autostart::new(autostart_dir.clone(), "/usr/bin/dps-kiosk")),
    );
    Fixture {
        _dir: dir,
        steward,
        autostart_dir,
    }
}

fn visit(procedure: &str, outcome: &str) -> VisitRecord {
    VisitRecord {
        procedure: Code::new(procedure).unwrap(),
        outcome: Code::new(outcome).unwrap(),
        language: Language::Fr,
        channel: Channel::Eid,
        age_band: AgeBand::From65To74,
        residence: Residence::Brussels(dps_model::Municipality::MolenbeekSaintJean),
    }
}

fn code(e: StewardError) -> &'static str {
    e.code()
}

#[test]
fn first_start_sets_the_pin_then_the_area_needs_it() {
    let mut f = fixture();
    let s = f.steward.status(SyncStatus::default());
    assert!(!s.pin_set);
    assert_eq!(s.counting, Counting::NoSession);
    // The area is closed until a PIN exists and is given.
    assert_eq!(code(f.steward.area(now()).unwrap_err()), "steward_locked");
    let mismatch = f.steward.act(
        A::SetPin {
            pin: "4321".into(),
            confirm: "4312".into(),
        },
        now(),
    );
    assert_eq!(code(mismatch.unwrap_err()), "pin_mismatch");
    let short = f.steward.act(
        A::SetPin {
            pin: "12".into(),
            confirm: "12".into(),
        },
        now(),
    );
    assert_eq!(code(short.unwrap_err()), "pin_format");
    f.steward
        .act(
            A::SetPin {
                pin: "4321".into(),
                confirm: "4321".into(),
            },
            now(),
        )
        .unwrap();
    assert!(f.steward.status(SyncStatus::default()).pin_set);
    assert!(f.steward.area(now()).is_ok());
    // A second "first start" cannot replace the PIN.
    let again = f.steward.act(
        A::SetPin {
            pin: "9999".into(),
            confirm: "9999".into(),
        },
        now(),
    );
    assert_eq!(code(again.unwrap_err()), "pin_already_set");
    f.steward.act(A::Lock, now()).unwrap();
    assert_eq!(code(f.steward.area(now()).unwrap_err()), "steward_locked");
    for locked in [
        A::EndSession,
        A::UndoLast,
        A::Quit,
        A::SyncNow,
        A::SetTraining { on: true },
    ] {
        assert_eq!(
            code(f.steward.act(locked, now()).unwrap_err()),
            "steward_locked"
        );
    }
    f.steward
        .act(A::Unlock { pin: "4321".into() }, now())
        .unwrap();
    assert!(f.steward.is_unlocked());
}

#[test]
fn five_wrong_pins_lock_the_area_for_five_minutes() {
    let mut f = fixture();
    let pin = |p: &str| A::SetPin {
        pin: p.into(),
        confirm: p.into(),
    };
    f.steward.act(pin("2468"), now()).unwrap();
    f.steward.act(A::Lock, now()).unwrap();
    let mut seen = Vec::new();
    for i in 0..6 {
        let e = f
            .steward
            .act(
                A::Unlock { pin: "0000".into() },
                now() + Duration::seconds(i),
            )
            .unwrap_err();
        seen.push(format!("{} {:?}", e.code(), e.params()));
    }
    expect_test::expect![[r#"
        [
            "pin_wrong [(\"left\", \"4\")]",
            "pin_wrong [(\"left\", \"3\")]",
            "pin_wrong [(\"left\", \"2\")]",
            "pin_wrong [(\"left\", \"1\")]",
            "pin_locked_out [(\"minutes\", \"5\")]",
            "pin_locked_out [(\"minutes\", \"5\")]",
        ]
    "#]]
    .assert_debug_eq(&seen);
    // Even the right PIN is refused during the lockout…
    let during = f.steward.act(
        A::Unlock { pin: "2468".into() },
        now() + Duration::minutes(3),
    );
    assert_eq!(code(during.unwrap_err()), "pin_locked_out");
    // …and accepted once it is over.
    f.steward
        .act(
            A::Unlock { pin: "2468".into() },
            now() + Duration::minutes(6),
        )
        .unwrap();
}

#[test]
fn a_session_counts_visits_and_undo_retracts_the_last() {
    let mut f = fixture();
    f.steward
        .act(
            A::SetPin {
                pin: "1357".into(),
                confirm: "1357".into(),
            },
            now(),
        )
        .unwrap();
    // No session: a visit is not counted, and the status says why.
    match f.steward.count(visit("bruvax", "appointment"), now()) {
        CountOutcome::NotCounted(e) => assert_eq!(e.code(), "no_session"),
        other => panic!("{other:?}"),
    }
    let unknown = f.steward.act(
        A::StartSession {
            site: SiteChoice::Certified {
                id: "nowhere".into(),
            },
        },
        now(),
    );
    assert_eq!(code(unknown.unwrap_err()), "site_invalid");
    let bad_commune = f.steward.act(
        A::StartSession {
            site: SiteChoice::PopUp {
                place: "Marché".into(),
                municipality: "paris".into(),
            },
        },
        now(),
    );
    assert_eq!(code(bad_commune.unwrap_err()), "site_invalid");
    f.steward
        .act(
            A::StartSession {
                site: SiteChoice::PopUp {
                    place: "Marché de la gare".into(),
                    municipality: "molenbeek-saint-jean".into(),
                },
            },
            now(),
        )
        .unwrap();
    let again = f.steward.act(
        A::StartSession {
            site: SiteChoice::PopUp {
                place: "x".into(),
                municipality: "ixelles".into(),
            },
        },
        now(),
    );
    assert_eq!(code(again.unwrap_err()), "session_open");
    for (p, o) in [
        ("bruvax", "appointment"),
        ("bruvax", "waiting_list"),
        ("bruvax", "appointment"),
    ] {
        assert!(matches!(
            f.steward.count(visit(p, o), now()),
            CountOutcome::Counted { .. }
        ));
    }
    let st = f.steward.status(SyncStatus::default());
    assert_eq!(st.counting, Counting::Counting);
    assert_eq!(st.last_counted, Some(3));
    let session = st.session.unwrap();
    assert_eq!(session.site, "Marché de la gare (Molenbeek-Saint-Jean)");
    assert_eq!(session.summary.visits, 3);
    assert_eq!(f.steward.act(A::UndoLast, now()).unwrap(), Effect::SyncNow);
    let area = f.steward.area(now()).unwrap();
    assert_eq!(area.last_undone, Some(3));
    assert_eq!(area.today.visits, 2);
    assert_eq!(area.today.undone, 1);
    let st = f.steward.status(SyncStatus::default());
    expect_test::expect![[r#"
        SummaryView {
            visits: 2,
            undone: 1,
            rows: [
                SummaryRow {
                    procedure: Code(
                        "bruvax",
                    ),
                    outcome: Code(
                        "appointment",
                    ),
                    visits: 1,
                },
                SummaryRow {
                    procedure: Code(
                        "bruvax",
                    ),
                    outcome: Code(
                        "waiting_list",
                    ),
                    visits: 1,
                },
            ],
        }
    "#]]
    .assert_debug_eq(&st.session.unwrap().summary);
    f.steward.act(A::EndSession, now()).unwrap();
    let area = f.steward.area(now()).unwrap();
    let ended = area.last_ended.unwrap();
    assert_eq!(ended.summary.visits, 2);
    assert!(ended.ended_at.is_some());
    assert_eq!(
        f.steward.status(SyncStatus::default()).counting,
        Counting::NoSession
    );
    assert_eq!(
        code(f.steward.act(A::UndoLast, now()).unwrap_err()),
        "no_session"
    );
}

#[test]
fn certified_sites_come_from_the_directory() {
    let mut f = fixture();
    f.steward
        .act(
            A::SetPin {
                pin: "1111".into(),
                confirm: "1111".into(),
            },
            now(),
        )
        .unwrap();
    let area = f.steward.area(now()).unwrap();
    assert_eq!(area.sites.len(), 26, "every certified DPS is offered");
    assert_eq!(area.municipalities.len(), 19);
    let first = area.sites[0].clone();
    f.steward
        .act(
            A::StartSession {
                site: SiteChoice::Certified {
                    id: first.id.to_string(),
                },
            },
            now(),
        )
        .unwrap();
    let st = f.steward.status(SyncStatus::default());
    assert_eq!(st.session.unwrap().site, first.name);
}

#[test]
fn steward_language_autostart_training_and_quit() {
    let mut f = fixture();
    f.steward
        .act(
            A::SetPin {
                pin: "8080".into(),
                confirm: "8080".into(),
            },
            now(),
        )
        .unwrap();
    assert_eq!(f.steward.language(), Language::Fr);
    f.steward
        .act(
            A::SetLanguage {
                language: Language::Nl,
            },
            now(),
        )
        .unwrap();
    assert_eq!(f.steward.area(now()).unwrap().language, Language::Nl);
    assert_eq!(f.steward.area(now()).unwrap().autostart, Some(false));
    f.steward.act(A::SetAutostart { on: true }, now()).unwrap();
    let entry = std::fs::read_to_string(f.autostart_dir.join("dps-kiosk.desktop")).unwrap();
    assert!(entry.contains("Exec=\"/usr/bin/dps-kiosk\""), "{entry}");
    assert_eq!(f.steward.area(now()).unwrap().autostart, Some(true));
    f.steward.act(A::SetAutostart { on: false }, now()).unwrap();
    assert!(!f.autostart_dir.join("dps-kiosk.desktop").exists());
    assert_eq!(
        f.steward.act(A::SetTraining { on: true }, now()).unwrap(),
        Effect::Training(true)
    );
    assert_eq!(f.steward.act(A::Quit, now()).unwrap(), Effect::Quit);
    let change = f.steward.act(
        A::ChangePin {
            current: "0000".into(),
            pin: "5555".into(),
            confirm: "5555".into(),
        },
        now(),
    );
    assert_eq!(code(change.unwrap_err()), "pin_wrong");
    f.steward
        .act(
            A::ChangePin {
                current: "8080".into(),
                pin: "5555".into(),
                confirm: "5555".into(),
            },
            now(),
        )
        .unwrap();
    f.steward.act(A::Lock, now()).unwrap();
    f.steward
        .act(A::Unlock { pin: "5555".into() }, now())
        .unwrap();
}

#[test]
fn without_a_store_nothing_is_counted_and_the_status_says_so() {
    let mut s = Steward::new(
        None,
        Some("store_in_use".into()),
        Directory::bundled().unwrap(),
        None,
    );
    let st = s.status(SyncStatus::default());
    assert_eq!(st.counting, Counting::StoreUnavailable);
    assert_eq!(st.store_problem.as_deref(), Some("store_in_use"));
    assert!(!st.notice);
    match s.count(visit("bruvax", "appointment"), now()) {
        CountOutcome::NotCounted(e) => assert_eq!(e.code(), "store_unavailable"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_quarantine_notice_waits_behind_the_pin_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = TallyStore::open(&data, now()).unwrap().store;
        store.set_pin("2580").unwrap();
        store.set_steward_language(Language::De).unwrap();
    }
    let db = data.join(dps_tally::STORE_DIR).join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.iter_mut().for_each(|b| *b = !*b);
    std::fs::write(&db, bytes).unwrap();
    let opened = TallyStore::open(&data, now()).unwrap();
    assert!(matches!(
        opened.status,
        dps_tally::OpenStatus::Quarantined { .. }
    ));
    let mut s = Steward::new(
        Some(Arc::new(opened.store)),
        None,
        Directory::bundled().unwrap(),
        None,
    );
    // Only a flag while locked: the details are for the steward.
    let st = s.status(SyncStatus::default());
    assert!(st.notice && st.pin_set);
    assert_eq!(
        code(s.act(A::AcknowledgeNotices, now()).unwrap_err()),
        "steward_locked"
    );
    s.act(A::Unlock { pin: "2580".into() }, now()).unwrap();
    let area = s.area(now()).unwrap();
    assert_eq!(
        area.language,
        Language::De,
        "the steward's language is kept"
    );
    match area.notices.as_slice() {
        [dps_steward::NoticeView::Quarantined { moved_to, .. }] => {
            assert!(moved_to.contains("quarantine"), "{moved_to}")
        }
        other => panic!("{other:?}"),
    }
    s.act(A::AcknowledgeNotices, now()).unwrap();
    assert!(s.area(now()).unwrap().notices.is_empty());
    assert!(!s.status(SyncStatus::default()).notice);
}

#[test]
fn summaries_name_procedures_in_the_stewards_language() {
    let mut f = fixture();
    let titles = [(
        Code::new("other-help").unwrap(),
        [
            (Language::Fr, "Autre aide numérique".to_owned()),
            (Language::Nl, "Andere digitale hulp".to_owned()),
        ]
        .into_iter()
        .collect(),
    )]
    .into_iter()
    .collect();
    let mut s = std::mem::replace(
        &mut f.steward,
        Steward::new(None, None, Directory::bundled().unwrap(), None),
    )
    .with_titles(titles);
    s.act(
        A::SetPin {
            pin: "2580".into(),
            confirm: "2580".into(),
        },
        now(),
    )
    .unwrap();
    let title = |s: &Steward| s.area(now()).unwrap().procedures[0].title.clone();
    assert_eq!(title(&s), "Autre aide numérique");
    s.act(
        A::SetLanguage {
            language: Language::Nl,
        },
        now(),
    )
    .unwrap();
    assert_eq!(title(&s), "Andere digitale hulp");
    // No title in the steward's language: French, the kiosk's default.
    s.act(
        A::SetLanguage {
            language: Language::En,
        },
        now(),
    )
    .unwrap();
    assert_eq!(title(&s), "Autre aide numérique");
}
