//! Broken flows, one per kind of problem, with the exact messages a person
//! editing them gets: file, line, column and what to do.
use std::path::PathBuf;

use expect_test::{expect, Expect};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn check(name: &str, expect: Expect) {
    let dir = fixtures();
    let (pictograms, _) = dps_flow::loader::pictograms(&dir.join("pictograms"));
    let text = std::fs::read_to_string(dir.join("flows").join(name)).unwrap();
    let problems = match dps_flow::parse(name, &text, &pictograms) {
        Ok(_) => panic!("{name} was accepted"),
        Err(p) => p,
    };
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    expect.assert_eq(&listed.join("\n"));
}

#[test]
fn dangling_target() {
    check(
        "dangling.toml",
        expect![[
            r#"dangling.toml:17:8: step "start" goes to "nowhere", which is not a step of this flow"#
        ]],
    );
}

#[test]
fn unreachable_step() {
    check(
        "unreachable.toml",
        expect![[
            r#"unreachable.toml:17:6: step "forgotten" cannot be reached from the first step "start""#
        ]],
    );
}

#[test]
fn no_way_out() {
    check(
        "no-way-out.toml",
        expect![[r#"
        no-way-out.toml:29:6: step "lost" has no way out: give it next = "..."
        no-way-out.toml:35:6: step "empty" has no way out: give it options: [[step.option]]
        no-way-out.toml:41:6: step "decide" has no way out: give it otherwise = "..." (where to go when no rule holds)"#]],
    );
}

#[test]
fn unknown_condition() {
    check(
        "unknown-condition.toml",
        expect![[r#"
        unknown-condition.toml:14:8: step "decide": unknown condition "born_before" (known: born_on_or_before, age_at_least, from_date, residence_in, postcode_in, channel, all, any, not)
        unknown-condition.toml:17:8: step "decide": channel is "eid", "manual" or "none"
        unknown-condition.toml:20:8: step "decide": unknown residence "molenbeek" (a municipality slug, other_be, abroad or unknown)
        unknown-condition.toml:23:8: step "decide": "someday" is not a date such as 2021-05-28"#]],
    );
}

#[test]
fn missing_pictogram() {
    check(
        "missing-pictogram.toml",
        expect![[r#"
        missing-pictogram.toml:12:13: pictogram "rocket" does not exist in the pictograms folder
        missing-pictogram.toml:17:6: step "done" needs a pictogram"#]],
    );
}

#[test]
fn missing_translation() {
    check(
        "missing-translation.toml",
        expect![[r#"
        missing-translation.toml:4:13: the kiosk speaks fr, nl, en and de; languages lacks de
        missing-translation.toml:5:9: the flow's title has no text in de
        missing-translation.toml:14:8: step "start": body has no text in nl
        missing-translation.toml:17:9: step "start": option "a": unknown language "es" (use fr, nl, en, de)
        missing-translation.toml:17:9: step "start": option "a" has no text in de"#]],
    );
}

#[test]
fn loop_() {
    check(
        "loop.toml",
        expect![[
            r#"loop.toml:10:6: step "start" is part of a loop: a flow must always move forward (the Back button goes back)"#
        ]],
    );
}

#[test]
fn wrong_kind_and_fields() {
    check(
        "wrong-kind.toml",
        expect![[r#"
        wrong-kind.toml:30:8: step "video" has unknown kind "video" (known: info, check, choice, identify, branch, end)
        wrong-kind.toml:34:6: identify step "who" must say what it asks: ask = ["number", "postcode"]
        wrong-kind.toml:38:11: an identify step has no "outcome" (step "who")
        wrong-kind.toml:42:6: end step "done" needs an outcome code
        wrong-kind.toml:48:6: the outcome "abandoned" is the engine's own; an end step cannot use it"#]],
    );
}

#[test]
fn birth_date_branch_without_unknown() {
    check(
        "birth-without-unknown.toml",
        expect![[
            r#"birth-without-unknown.toml:18:6: step "decide" looks at the birth date, which may be partial or missing: give it unknown = "...""#
        ]],
    );
}

#[test]
fn syntax_error() {
    check(
        "syntax.toml",
        expect!["syntax.toml:3:29: unclosed inline table, expected `}`"],
    );
}

#[test]
fn a_folder_lists_every_problem_of_every_file_and_unsafe_pictograms() {
    let dir = fixtures();
    let loaded = dps_flow::load_dir(&dir.join("flows"), &dir.join("pictograms"));
    assert!(loaded.flows.is_empty(), "a broken fixture was accepted");
    let root = dir.display().to_string();
    let listed: Vec<String> = loaded
        .problems
        .iter()
        .map(|p| p.to_string().replace(&root, "fixtures"))
        .collect();
    expect![[r#"
        fixtures/pictograms/unsafe.svg:2:1: a pictogram may not contain a script
        fixtures/pictograms/unsafe.svg:1:1: a pictogram needs a <title> for screen readers
        fixtures/flows/birth-without-unknown.toml:18:6: step "decide" looks at the birth date, which may be partial or missing: give it unknown = "..."
        fixtures/flows/dangling.toml:17:8: step "start" goes to "nowhere", which is not a step of this flow
        fixtures/flows/loop.toml:10:6: step "start" is part of a loop: a flow must always move forward (the Back button goes back)
        fixtures/flows/missing-pictogram.toml:12:13: pictogram "rocket" does not exist in the pictograms folder
        fixtures/flows/missing-pictogram.toml:17:6: step "done" needs a pictogram
        fixtures/flows/missing-translation.toml:4:13: the kiosk speaks fr, nl, en and de; languages lacks de
        fixtures/flows/missing-translation.toml:5:9: the flow's title has no text in de
        fixtures/flows/missing-translation.toml:14:8: step "start": body has no text in nl
        fixtures/flows/missing-translation.toml:17:9: step "start": option "a": unknown language "es" (use fr, nl, en, de)
        fixtures/flows/missing-translation.toml:17:9: step "start": option "a" has no text in de
        fixtures/flows/no-way-out.toml:29:6: step "lost" has no way out: give it next = "..."
        fixtures/flows/no-way-out.toml:35:6: step "empty" has no way out: give it options: [[step.option]]
        fixtures/flows/no-way-out.toml:41:6: step "decide" has no way out: give it otherwise = "..." (where to go when no rule holds)
        fixtures/flows/syntax.toml:3:29: unclosed inline table, expected `}`
        fixtures/flows/unknown-condition.toml:14:8: step "decide": unknown condition "born_before" (known: born_on_or_before, age_at_least, from_date, residence_in, postcode_in, channel, all, any, not)
        fixtures/flows/unknown-condition.toml:17:8: step "decide": channel is "eid", "manual" or "none"
        fixtures/flows/unknown-condition.toml:20:8: step "decide": unknown residence "molenbeek" (a municipality slug, other_be, abroad or unknown)
        fixtures/flows/unknown-condition.toml:23:8: step "decide": "someday" is not a date such as 2021-05-28
        fixtures/flows/unreachable.toml:17:6: step "forgotten" cannot be reached from the first step "start"
        fixtures/flows/wrong-kind.toml:30:8: step "video" has unknown kind "video" (known: info, check, choice, identify, branch, end)
        fixtures/flows/wrong-kind.toml:34:6: identify step "who" must say what it asks: ask = ["number", "postcode"]
        fixtures/flows/wrong-kind.toml:38:11: an identify step has no "outcome" (step "who")
        fixtures/flows/wrong-kind.toml:42:6: end step "done" needs an outcome code
        fixtures/flows/wrong-kind.toml:48:6: the outcome "abandoned" is the engine's own; an end step cannot use it"#]].assert_eq(&listed.join("\n"));
}

#[test]
fn the_shipped_assets_are_clean() {
    let assets = crate::harness::assets();
    let loaded = dps_flow::load_dir(&assets.join("flows"), &assets.join("pictograms"));
    let problems: Vec<String> = loaded.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems, Vec::<String>::new());
    let ids: Vec<&str> = loaded.flows.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bruvax-registration",
            "bruvax-waiting-list",
            "find-dps",
            "other-help"
        ]
    );
}
