//! Every step kind and the journey controls (back, undo, restart, language,
//! abandon), on a small flow written for the purpose.
use expect_test::expect;

use crate::harness::{inline, run};

const T: &str = r#"{ fr = "fr", nl = "nl", en = "en", de = "de" }"#;

/// info -> check -> choice (a: identify -> info showing the number -> end,
/// b: end). Every displayed kind once.
fn kinds() -> dps_flow::Flow {
    inline(&format!(
        r#"
id = "kinds"
version = 7
languages = ["fr", "nl", "en", "de"]
title = {T}
summary = {T}
pictogram = "help"

[[step]]
id = "hello"
kind = "info"
pictogram = "help"
title = {{ fr = "Bonjour", nl = "Hallo", en = "Hello", de = "Hallo" }}
body = {{ fr = "Un.\n\nDeux.", nl = "Een.\n\nTwee.", en = "One.\n\nTwo.", de = "Eins.\n\nZwei." }}
next = "tick"

[[step]]
id = "tick"
kind = "check"
pictogram = "check"
title = {T}
next = "pick"

[[step]]
id = "pick"
kind = "choice"
pictogram = "question"
title = {T}
[[step.option]]
id = "a"
label = {{ fr = "A fr", nl = "A nl", en = "A en", de = "A de" }}
next = "who"
[[step.option]]
id = "b"
pictogram = "stop"
label = {T}
next = "end-b"

[[step]]
id = "who"
kind = "identify"
ask = ["number", "postcode"]
manual = false
pictogram = "id-card"
title = {T}
next = "shown"

[[step]]
id = "shown"
kind = "info"
show = ["national_number", "postcode"]
pictogram = "keyboard"
title = {T}
next = "after"

[[step]]
id = "after"
kind = "info"
pictogram = "help"
title = {T}
next = "end-a"

[[step]]
id = "end-a"
kind = "end"
outcome = "done_a"
pictogram = "check"
title = {T}

[[step]]
id = "end-b"
kind = "end"
outcome = "done_b"
pictogram = "stop"
title = {T}
"#
    ))
}

#[test]
fn every_step_kind_and_stray_inputs() {
    // Inputs that do not fit the step change nothing: a tick on an info
    // screen, "next" on a checklist item, an unknown option, a card on a
    // choice, typing where manual entry is off, finish before the end.
    expect![[r#"
        [1/7] info hello "Bonjour" pict=help
        > tick
        [1/7] info hello "Bonjour" pict=help
        > finish
        [1/7] info hello "Bonjour" pict=help
        > next
        [2/7] check tick "fr" pict=check back
        > next
        [2/7] check tick "fr" pict=check back
        > tick
        [3/7] choice pick "fr" pict=question back undo
            options: a, b
        > choose c
        [3/7] choice pick "fr" pict=question back undo
            options: a, b
        > card 85073003328 1985-07-30 1000
        [3/7] choice pick "fr" pict=question back undo
            options: a, b
        > choose a
        [4/7] identify who "fr" pict=id-card back undo
        > manual 85073003328 1000
        [4/7] identify who "fr" pict=id-card back undo
        > card 85073003328 1985-07-30 1000
        [5/7] info shown "fr" pict=keyboard number=85.07.30-033.28 postcode=1000 back undo
        > next
        [6/7] info after "fr" pict=help back undo
        > next
        [7/7] end end-a "fr" pict=check back undo outcome=done_a
        > finish
        = visit kinds done_a fr eid 30_44 bruxelles
    "#]]
    .assert_eq(&run(
        &kinds(),
        "fr",
        "2021-06-01",
        "
        tick
        finish
        next
        next
        tick
        choose c
        card 85073003328 1985-07-30 1000
        choose a
        manual 85073003328 1000
        card 85073003328 1985-07-30 1000
        next
        next
        finish
    ",
    ));
}

#[test]
fn back_goes_one_screen_and_forgets_the_card_undo_goes_to_the_last_answer() {
    expect![[r#"
        [1/7] info hello "Hello" pict=help
        > next
        [2/7] check tick "en" pict=check back
        > tick
        [3/7] choice pick "en" pict=question back undo
            options: a, b
        > choose a
        [4/7] identify who "en" pict=id-card back undo
        > card 85073003328 1985-07-30 1000
        [5/7] info shown "en" pict=keyboard number=85.07.30-033.28 postcode=1000 back undo
        > next
        [6/7] info after "en" pict=help back undo
        > back
        [5/7] info shown "en" pict=keyboard number=85.07.30-033.28 postcode=1000 back undo
        > back
        [4/7] identify who "en" pict=id-card back undo
        > next
        [4/7] identify who "en" pict=id-card back undo
        > card 85073003328 1985-07-30 1000
        [5/7] info shown "en" pict=keyboard number=85.07.30-033.28 postcode=1000 back undo
        > next
        [6/7] info after "en" pict=help back undo
        > undo
        [4/7] identify who "en" pict=id-card back undo
        > undo
        [3/7] choice pick "en" pict=question back undo
            options: a, b
        > undo
        [2/7] check tick "en" pict=check back
        > undo
        [1/7] info hello "Hello" pict=help
        > undo
        [1/7] info hello "Hello" pict=help
        > back
        [1/7] info hello "Hello" pict=help
        (journey still open)
    "#]]
    .assert_eq(&run(
        &kinds(),
        "en",
        "2021-06-01",
        "
        next
        tick
        choose a
        card 85073003328 1985-07-30 1000
        next
        back
        back
        next
        card 85073003328 1985-07-30 1000
        next
        undo
        undo
        undo
        undo
        undo
        back
    ",
    ));
}

#[test]
fn restart_forgets_answers_and_keeps_the_language() {
    // The same resident starts over: still one (started) visit if they leave.
    expect![[r#"
        [1/7] info hello "Hello" pict=help
        > lang nl
        [1/7] info hello "Hallo" pict=help
        > next
        [2/7] check tick "nl" pict=check back
        > tick
        [3/7] choice pick "nl" pict=question back undo
            options: a, b
        > restart
        [1/7] info hello "Hallo" pict=help
        > quit
        = visit kinds abandoned nl none unknown unknown
    "#]]
    .assert_eq(&run(
        &kinds(),
        "en",
        "2021-06-01",
        "
        lang nl
        next
        tick
        restart
        quit
    ",
    ));
}

#[test]
fn abandoning_counts_only_a_started_procedure() {
    let mut out = String::new();
    for (script, why) in [
        ("idle", "untouched first screen"),
        ("next\nidle", "moved past the first screen"),
        (
            "next\ntick\nchoose a\ncard 85073003328 1985-07-30 1000\npulled",
            "card pulled mid-way",
        ),
        (
            "next\ntick\nchoose b\npulled",
            "card pulled on the outcome screen",
        ),
        ("next\nback\nquit", "went forward then back"),
    ] {
        let t = run(&kinds(), "de", "2021-06-01", script);
        out += &format!("{why}: {}\n", t.lines().last().unwrap_or(""));
    }
    expect![[r#"
        untouched first screen: = ended, nothing counted
        moved past the first screen: = visit kinds abandoned de none unknown unknown
        card pulled mid-way: = visit kinds abandoned de eid 30_44 bruxelles
        card pulled on the outcome screen: = visit kinds done_b de none unknown unknown
        went forward then back: = visit kinds abandoned de none unknown unknown
    "#]]
    .assert_eq(&out);
}

#[test]
fn a_typo_is_explained_in_the_current_language_and_counts_as_started() {
    let f = crate::harness::shipped("bruvax-waiting-list");
    expect![[r#"
        [1/4] identify identify "Votre carte d'identité" pict=id-card
        > manual 85073003329 1030
        [1/4] identify identify "Votre carte d'identité" pict=id-card
            error number_check_digits: Ce numéro n'existe pas : un chiffre est sans doute mal tapé. Relisez-le chiffre par chiffre.
        > lang nl
        [1/4] identify identify "Uw identiteitskaart" pict=id-card
            error number_check_digits: Dit nummer bestaat niet: er is wellicht een cijfer verkeerd getypt. Lees het cijfer per cijfer na.
        > manual 85O73003328 1030
        [1/4] identify identify "Uw identiteitskaart" pict=id-card
            error number_not_digits: Typ alleen cijfers (punten en streepjes mogen).
        > manual 85133003328 1030
        [1/4] identify identify "Uw identiteitskaart" pict=id-card
            error number_check_digits: Dit nummer bestaat niet: er is wellicht een cijfer verkeerd getypt. Lees het cijfer per cijfer na.
        > card - 1985-07-30 1030
        [1/4] identify identify "Uw identiteitskaart" pict=id-card
            error card_no_number: De kaart geeft geen leesbaar rijksregisternummer. Typ het met de hand.
        > card 85073003328 1985-07-30 -
        [1/4] identify identify "Uw identiteitskaart" pict=id-card
            error card_no_postcode: De kaart geeft geen adres. Typ de postcode met de hand.
        > idle
        = visit bruvax-waiting-list abandoned nl none unknown unknown
    "#]]
    .assert_eq(&run(&f, "fr", "2021-06-01", "
        manual 85073003329 1030
        lang nl
        manual 85O73003328 1030
        manual 85133003328 1030
        card - 1985-07-30 1030
        card 85073003328 1985-07-30 -
        idle
    "));
}

#[test]
fn the_view_model_as_the_window_receives_it() {
    use dps_flow::engine::{self, After, Identity, Input, World};
    use dps_person::{NationalNumber, SecretString};
    let f = kinds();
    let dir = crate::harness::directory();
    let world = World {
        today: chrono::NaiveDate::from_ymd_opt(2021, 6, 1).unwrap(),
        directory: &dir,
    };
    let (j, first) = engine::start(&f, dps_model::Language::Fr, &world);
    let mut j = j;
    for e in [
        dps_flow::Event::Next,
        dps_flow::Event::Tick,
        dps_flow::Event::Choose { option: "a".into() },
    ] {
        let After::Continue(next, _) = engine::step(&f, j, Input::Event(e), &world) else {
            panic!()
        };
        j = next;
    }
    let card = Identity {
        national_number: Some(NationalNumber::parse("85073003328").unwrap()),
        birth_date: None,
        postcode: Some(SecretString::from("1000")),
    };
    let After::Continue(_, shown) = engine::step(&f, j, Input::Card(card), &world) else {
        panic!()
    };
    expect![[r#"{"procedure":"kinds","procedure_title":"fr","language":"fr","step":"hello","kind":"info","title":"Bonjour","body":["Un.","Deux."],"pictogram":"help","options":[],"identify":null,"national_number":null,"postcode":null,"nearby":null,"outcome":null,"error":null,"can_go_back":false,"can_undo":false,"progress":{"step":1,"of":7}}"#]]
    .assert_eq(&serde_json::to_string(&first).unwrap());
    expect![[r#"{"procedure":"kinds","procedure_title":"fr","language":"fr","step":"shown","kind":"info","title":"fr","body":[],"pictogram":"keyboard","options":[],"identify":null,"national_number":"85.07.30-033.28","postcode":"1000","nearby":null,"outcome":null,"error":null,"can_go_back":true,"can_undo":true,"progress":{"step":5,"of":7}}"#]]
    .assert_eq(&serde_json::to_string(&shown).unwrap());
    // Events as the window sends them.
    let e: dps_flow::Event =
        serde_json::from_str(r#"{"type":"manual","number":"85073003328","postcode":"1000"}"#)
            .unwrap();
    assert!(matches!(e, dps_flow::Event::Manual { .. }));
    let e: dps_flow::Event =
        serde_json::from_str(r#"{"type":"abandon","reason":"card_removed"}"#).unwrap();
    assert_eq!(
        e,
        dps_flow::Event::Abandon {
            reason: dps_flow::AbandonReason::CardRemoved
        }
    );
}

#[test]
fn the_window_types_generate_as_typescript() {
    use ts_rs::TS;
    let cfg = ts_rs::Config::new();
    expect![[r#"
        type View = { procedure: string, procedure_title: string, language: Language, step: string, kind: ViewKind, title: string, 
        /**
         * Paragraphs (the flow separates them with a blank line).
         */
        body: Array<string>, pictogram: string, options: Array<ViewOption>, identify: IdentifyView | null, 
        /**
         * Formatted as on the card (`85.07.30-033.28`), and only on a step that
         * shows it: every other view leaves it out.
         */
        national_number: string | null, postcode: string | null, nearby: Array<SiteView> | null, 
        /**
         * On the end step: the outcome code that will be counted.
         */
        outcome: string | null, error: ViewError | null, can_go_back: boolean, 
        /**
         * The steward can undo the last answer (choice, tick, identification).
         */
        can_undo: boolean, progress: Progress, };
        type Event = { "type": "next" } | { "type": "tick" } | { "type": "choose", option: string, } | { "type": "manual", number: string, postcode: string, } | { "type": "back" } | { "type": "undo" } | { "type": "restart" } | { "type": "finish" } | { "type": "language", language: Language, } | { "type": "abandon", reason: AbandonReason, };
        type ViewError = { code: ErrorCode, params: { [key in string]: string }, 
        /**
         * Already in the journey's language.
         */
        message: string, };"#]].assert_eq(&format!(
        "{}\n{}\n{}",
        dps_flow::View::decl(&cfg),
        dps_flow::Event::decl(&cfg),
        dps_flow::ViewError::decl(&cfg)
    ));
}

#[test]
fn personal_data_never_shows_in_debug_output() {
    use dps_flow::engine::{self, After, Identity, Input, World};
    use dps_person::{NationalNumber, SecretString, Zeroizing};
    let f = crate::harness::shipped("bruvax-registration");
    let dir = crate::harness::directory();
    let world = World {
        today: chrono::NaiveDate::from_ymd_opt(2021, 6, 1).unwrap(),
        directory: &dir,
    };
    let (j, _) = engine::start(&f, dps_model::Language::Fr, &world);
    let card = Identity {
        national_number: Some(NationalNumber::parse("85073003328").unwrap()),
        birth_date: Some(Zeroizing::new("1985-07-30".parse().unwrap())),
        postcode: Some(SecretString::from("1030")),
    };
    let card_debug = format!("{card:?}");
    let After::Continue(j, _) = engine::step(&f, j, Input::Card(card), &world) else {
        panic!()
    };
    for text in [format!("{j:?}"), card_debug] {
        for secret in ["85073003328", "85.07.30", "1985", "1030"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
