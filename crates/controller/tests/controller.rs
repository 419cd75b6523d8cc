//! The kiosk's screen logic, driven as the window and the card watcher would.

use chrono::NaiveDate;
use dps_controller::{Command, Kiosk, ReaderState, Screen};
use dps_eid::{CardAddress, CardData, Event as CardEvent, SignatureStatus};
use dps_flow::{AbandonReason, Event};
use dps_model::Language;
use dps_person::{PartialDate, Zeroizing};
use expect_test::expect;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn kiosk() -> Kiosk {
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictos) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictos);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let directory = dps_directory::Directory::bundled().unwrap();
    Kiosk::new(loaded.flows, vec![], directory)
}

fn card(birth_year: u16, postcode: &str) -> CardEvent {
    card_in("vpcd 0", "Zoë Anne", birth_year, postcode)
}

fn card_in(reader: &str, given: &str, birth_year: u16, postcode: &str) -> CardEvent {
    CardEvent::CardRead {
        reader: reader.into(),
        warnings: vec![],
        data: Box::new(CardData {
            reader: reader.into(),
            applet: "1.8".into(),
            card_number: Some("592123456789".into()),
            document_type: Some("1".into()),
            valid_from: None,
            valid_until: None,
            issuing_municipality: None,
            national_number: Some("85073003328".into()),
            surname: Some("Dupont-Müller".into()),
            given_names: Some(given.into()),
            third_initial: None,
            nationality: Some("Belge".into()),
            birth_place: None,
            birth_date: Some(Zeroizing::new(PartialDate {
                year: birth_year,
                month: Some(7),
                day: Some(30),
            })),
            sex: None,
            address: Some(CardAddress {
                street: Some("Rue Test 1".into()),
                postcode: Some(postcode.into()),
                municipality: Some("Schaerbeek".into()),
            }),
            signature: SignatureStatus::Valid,
        }),
    }
}

/// One line per screen: what the window would show.
fn line(k: &Kiosk) -> String {
    let v = k.view();
    let screen = match &v.screen {
        Screen::Welcome => "welcome".to_owned(),
        Screen::Procedures { procedures } => format!(
            "procedures [{}]",
            procedures
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Screen::Journey { view } => format!(
            "{}:{} {:?}{}",
            view.procedure,
            view.step,
            view.kind,
            view.national_number
                .as_deref()
                .map(|n| format!(" nn={n}"))
                .unwrap_or_default()
        ),
        Screen::TakeCard => "take-card".to_owned(),
    };
    format!("{:?} greet={:?} {screen}", v.reader, v.greeting)
}

/// Walks a journey to its end by taking the first option / next / tick,
/// recording every screen.
fn walk(k: &mut Kiosk, log: &mut Vec<String>) -> Option<dps_model::VisitRecord> {
    for _ in 0..40 {
        log.push(line(k));
        let Screen::Journey { view } = k.view().screen else {
            return None;
        };
        let event = match view.kind {
            dps_flow::ViewKind::Info => Event::Next,
            dps_flow::ViewKind::Check => Event::Tick,
            dps_flow::ViewKind::Choice => Event::Choose {
                option: view.options[0].id.clone(),
            },
            dps_flow::ViewKind::End => Event::Finish,
            dps_flow::ViewKind::Identify => return None,
        };
        if let Some(v) = k.command(Command::Journey { event }, today()) {
            log.push(line(k));
            return Some(v);
        }
    }
    None
}

fn reader_ready(k: &mut Kiosk) {
    k.card_event(
        CardEvent::ReaderAdded {
            reader: "vpcd 0".into(),
        },
        today(),
    );
}

#[test]
fn card_first_then_bruvax_to_the_end_counts_one_visit_and_asks_for_the_card() {
    let mut k = kiosk();
    let mut log = vec![line(&k)];
    reader_ready(&mut k);
    log.push(line(&k));
    k.card_event(
        CardEvent::CardInserted {
            reader: "vpcd 0".into(),
        },
        today(),
    );
    log.push(line(&k));
    k.card_event(card(1985, "1030"), today());
    log.push(line(&k));
    k.command(Command::ShowProcedures, today());
    log.push(line(&k));
    k.command(
        Command::StartProcedure {
            procedure: "bruvax-registration".into(),
        },
        today(),
    );
    let visit = walk(&mut k, &mut log).expect("a visit");
    log.push(format!("visit: {}", serde_json::to_string(&visit).unwrap()));
    k.card_event(
        CardEvent::CardRemoved {
            reader: "vpcd 0".into(),
        },
        today(),
    );
    log.push(line(&k));
    expect![[r#"
        Starting greet=None welcome
        InsertCard greet=None welcome
        Reading greet=None welcome
        Read greet=Some("Zoë") welcome
        Read greet=Some("Zoë") procedures [bruvax-registration, bruvax-waiting-list, find-dps, other-help]
        Read greet=Some("Zoë") bruvax-registration:open-site Check
        Read greet=Some("Zoë") bruvax-registration:type-number Check nn=85.07.30-033.28
        Read greet=Some("Zoë") bruvax-registration:type-postcode Check
        Read greet=Some("Zoë") bruvax-registration:choose-centre Check
        Read greet=Some("Zoë") bruvax-registration:choose-slot Check
        Read greet=Some("Zoë") bruvax-registration:confirmation Choice
        Read greet=Some("Zoë") bruvax-registration:confirm-sms Check
        Read greet=Some("Zoë") bruvax-registration:booked-check Choice
        Read greet=Some("Zoë") bruvax-registration:booked End
        Read greet=Some("Zoë") take-card
        visit: {"procedure":"bruvax-registration","outcome":"appointment_booked","language":"fr","channel":"eid","age_band":"30_44","residence":"schaerbeek"}
        InsertCard greet=None welcome
    "#]]
    .assert_eq(&(log.join("\n") + "\n"));
}

#[test]
fn pulling_the_card_mid_journey_wipes_it_and_counts_an_abandoned_visit() {
    let mut k = kiosk();
    reader_ready(&mut k);
    k.command(Command::ShowProcedures, today());
    k.command(
        Command::StartProcedure {
            procedure: "bruvax-registration".into(),
        },
        today(),
    );
    let mut log = vec![line(&k)];
    k.card_event(card(1950, "1210"), today());
    log.push(line(&k));
    let visit = k.card_event(
        CardEvent::CardRemoved {
            reader: "vpcd 0".into(),
        },
        today(),
    );
    log.push(line(&k));
    log.push(format!("visit: {}", serde_json::to_string(&visit).unwrap()));
    expect![[r#"
        InsertCard greet=None bruvax-registration:identify Identify
        Read greet=Some("Zoë") bruvax-registration:open-site Check
        InsertCard greet=None welcome
        visit: {"procedure":"bruvax-registration","outcome":"abandoned","language":"fr","channel":"eid","age_band":"75_plus","residence":"saint-josse-ten-noode"}
    "#]]
    .assert_eq(&(log.join("\n") + "\n"));
}

#[test]
fn idle_sends_everyone_home_and_forgets_the_card() {
    let mut k = kiosk();
    reader_ready(&mut k);
    k.card_event(card(1990, "1080"), today());
    k.command(
        Command::SetLanguage {
            language: Language::Nl,
        },
        today(),
    );
    k.command(Command::ShowProcedures, today());
    k.command(
        Command::StartProcedure {
            procedure: "find-dps".into(),
        },
        today(),
    );
    let before = line(&k);
    let visit = k.command(
        Command::Home {
            reason: AbandonReason::Idle,
        },
        today(),
    );
    let v = k.view();
    assert_eq!(v.greeting, None);
    assert_eq!(v.screen, Screen::Welcome);
    assert_eq!(v.language, Language::Nl);
    expect![[r#"
        Read greet=Some("Zoë") find-dps:list End
        {"procedure":"find-dps","outcome":"referred","language":"nl","channel":"eid","age_band":"30_44","residence":"molenbeek-saint-jean"}"#]].assert_eq(&format!("{before}\n{}", serde_json::to_string(&visit).unwrap()));
}

#[test]
fn reader_states_follow_the_watcher() {
    let mut k = kiosk();
    let mut states = vec![k.view().reader];
    let events = vec![
        CardEvent::ServiceUnavailable {
            message: "down".into(),
        },
        CardEvent::ReaderAdded { reader: "a".into() },
        CardEvent::CardInserted { reader: "a".into() },
        CardEvent::CardError {
            reader: "a".into(),
            kind: dps_eid::CardErrorKind::NotEid,
            message: String::new(),
        },
        CardEvent::CardRemoved { reader: "a".into() },
        CardEvent::CardInserted { reader: "a".into() },
        CardEvent::CardError {
            reader: "a".into(),
            kind: dps_eid::CardErrorKind::RemovedTooEarly,
            message: String::new(),
        },
        CardEvent::CardRemoved { reader: "a".into() },
        CardEvent::ReaderRemoved { reader: "a".into() },
    ];
    for e in events {
        k.card_event(e, today());
        states.push(k.view().reader);
    }
    use ReaderState::*;
    assert_eq!(
        states,
        vec![
            Starting,
            ServiceUnavailable,
            InsertCard,
            Reading,
            NotEid,
            NotEid,
            Reading,
            RemovedTooEarly,
            RemovedTooEarly,
            NoReader
        ]
    );
}

#[test]
fn training_mode_offers_sample_residents_and_counts_nothing() {
    let mut k = kiosk();
    reader_ready(&mut k);
    // Outside training the sample cards do nothing.
    assert_eq!(
        k.command(Command::TrainingCardIn { index: 0 }, today()),
        None
    );
    assert_eq!(k.view().greeting, None);
    assert!(k.view().training_residents.is_empty());

    k.set_training(true);
    let v = k.view();
    assert!(v.training);
    expect![[r#"
        [
            "Marie 1948-05-12 1080",
            "Youssef 1986-02-03 1210",
            "Sofia 2004-09-21 1070",
            "Jan 1962 1000",
        ]
    "#]]
    .assert_debug_eq(
        &v.training_residents
            .iter()
            .map(|r| format!("{} {} {}", r.first_name, r.birth, r.postcode))
            .collect::<Vec<_>>(),
    );
    // Every sample number passes the mod-97 check, so practice never trips
    // on a "wrong number" screen the steward did not ask for.
    let mut log = vec![];
    for index in 0..4 {
        k.command(Command::TrainingCardIn { index }, today());
        k.command(Command::ShowProcedures, today());
        k.command(
            Command::StartProcedure {
                procedure: "bruvax-registration".into(),
            },
            today(),
        );
        // A whole journey to its end: nothing comes out to be counted.
        assert_eq!(walk(&mut k, &mut log), None);
        k.command(Command::TrainingCardOut, today());
        assert_eq!(k.view().screen, Screen::Welcome);
        assert_eq!(k.view().greeting, None);
    }
    let text = log.join("\n");
    assert!(text.contains("greet=Some(\"Marie\")"), "{text}");
    assert!(!text.contains("wrong"), "{text}");
    // The last step of each journey was an outcome screen.
    assert_eq!(text.matches(" End").count(), 4, "{text}");

    // Pulling out in the middle, too, is never counted; turning training off
    // wipes whoever was there and puts the reader back as it was.
    k.command(Command::TrainingCardIn { index: 1 }, today());
    k.command(Command::ShowProcedures, today());
    k.command(
        Command::StartProcedure {
            procedure: "bruvax-registration".into(),
        },
        today(),
    );
    assert_eq!(k.command(Command::TrainingCardOut, today()), None);
    k.command(Command::TrainingCardIn { index: 2 }, today());
    k.set_training(false);
    let v = k.view();
    assert!(!v.training);
    assert_eq!(v.greeting, None);
    assert_eq!(v.reader, ReaderState::InsertCard);
    assert_eq!(v.screen, Screen::Welcome);

    // And out of training, a real journey is counted again.
    k.card_event(card(1950, "1080"), today());
    k.command(Command::ShowProcedures, today());
    k.command(
        Command::StartProcedure {
            procedure: "bruvax-registration".into(),
        },
        today(),
    );
    assert!(walk(&mut k, &mut Vec::new()).is_some());
}

#[test]
fn another_reader_never_disturbs_the_resident_being_served() {
    let mut k = kiosk();
    let mut log = vec![];
    let mut step = |k: &mut Kiosk, what: &str, e: CardEvent| {
        let visit = k.card_event(e, today());
        log.push(format!(
            "{what:<22} {}{}",
            line(k),
            visit
                .map(|v| format!(" visit={:?}", v.outcome))
                .unwrap_or_default()
        ));
    };
    let reader = |r: &str| r.to_owned();
    step(
        &mut k,
        "A added",
        CardEvent::ReaderAdded {
            reader: reader("A"),
        },
    );
    step(
        &mut k,
        "B added",
        CardEvent::ReaderAdded {
            reader: reader("B"),
        },
    );
    step(
        &mut k,
        "A inserted",
        CardEvent::CardInserted {
            reader: reader("A"),
        },
    );
    step(&mut k, "A read", card_in("A", "Zoë Anne", 1950, "1030"));
    k.command(Command::ShowProcedures, today());
    k.command(
        Command::StartProcedure {
            procedure: "bruvax-registration".into(),
        },
        today(),
    );
    step(
        &mut k,
        "B inserted",
        CardEvent::CardInserted {
            reader: reader("B"),
        },
    );
    step(&mut k, "B read", card_in("B", "Lucas Jan", 1990, "1210"));
    step(
        &mut k,
        "B removed",
        CardEvent::CardRemoved {
            reader: reader("B"),
        },
    );
    step(
        &mut k,
        "B inserted",
        CardEvent::CardInserted {
            reader: reader("B"),
        },
    );
    step(
        &mut k,
        "B not an eID",
        CardEvent::CardError {
            reader: reader("B"),
            kind: dps_eid::CardErrorKind::NotEid,
            message: String::new(),
        },
    );
    step(
        &mut k,
        "B removed",
        CardEvent::CardRemoved {
            reader: reader("B"),
        },
    );
    step(
        &mut k,
        "B reader unplugged",
        CardEvent::ReaderRemoved {
            reader: reader("B"),
        },
    );
    // Only the card that identified the resident ends the visit.
    step(
        &mut k,
        "A removed",
        CardEvent::CardRemoved {
            reader: reader("A"),
        },
    );
    // Then any reader's card is served.
    step(
        &mut k,
        "B added",
        CardEvent::ReaderAdded {
            reader: reader("B"),
        },
    );
    step(
        &mut k,
        "B inserted",
        CardEvent::CardInserted {
            reader: reader("B"),
        },
    );
    step(&mut k, "B read", card_in("B", "Lucas Jan", 1990, "1210"));
    step(
        &mut k,
        "A inserted",
        CardEvent::CardInserted {
            reader: reader("A"),
        },
    );
    step(&mut k, "A read", card_in("A", "Zoë Anne", 1950, "1030"));
    step(
        &mut k,
        "A removed",
        CardEvent::CardRemoved {
            reader: reader("A"),
        },
    );
    step(
        &mut k,
        "B removed",
        CardEvent::CardRemoved {
            reader: reader("B"),
        },
    );
    expect![[r#"
        A added                InsertCard greet=None welcome
        B added                InsertCard greet=None welcome
        A inserted             Reading greet=None welcome
        A read                 Read greet=Some("Zoë") welcome
        B inserted             Read greet=Some("Zoë") bruvax-registration:open-site Check
        B read                 Read greet=Some("Zoë") bruvax-registration:open-site Check
        B removed              Read greet=Some("Zoë") bruvax-registration:open-site Check
        B inserted             Read greet=Some("Zoë") bruvax-registration:open-site Check
        B not an eID           Read greet=Some("Zoë") bruvax-registration:open-site Check
        B removed              Read greet=Some("Zoë") bruvax-registration:open-site Check
        B reader unplugged     Read greet=Some("Zoë") bruvax-registration:open-site Check
        A removed              InsertCard greet=None welcome visit=Code("abandoned")
        B added                InsertCard greet=None welcome
        B inserted             Reading greet=None welcome
        B read                 Read greet=Some("Lucas") welcome
        A inserted             Read greet=Some("Lucas") welcome
        A read                 Read greet=Some("Lucas") welcome
        A removed              Read greet=Some("Lucas") welcome
        B removed              InsertCard greet=None welcome
    "#]]
    .assert_eq(&(log.join("\n") + "\n"));
}
