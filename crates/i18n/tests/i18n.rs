use std::path::{Path, PathBuf};

use expect_test::expect;

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/i18n")
}

#[test]
fn shipped_catalogs_are_complete_and_parse() {
    let problems = dps_i18n::check(&assets()).unwrap();
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(problems.is_empty(), "{}", text.join("\n"));
}

fn write(dir: &Path, lang: &str, body: &str) {
    std::fs::create_dir_all(dir.join(lang)).unwrap();
    std::fs::write(dir.join(lang).join("a.ftl"), body).unwrap();
}

#[test]
fn problems_are_listed_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "fr", "hello = Bonjour\nbye = Au revoir\n");
    write(d, "nl", "hello = Hallo\nhello = Dag\nbye = Dag\n");
    write(d, "en", "hello = Hello\nbye = { $\n");
    write(d, "de", "hello = Hallo\nbye = Tschüss\nextra = Mehr\n");
    let problems = dps_i18n::check(d).unwrap();
    let text: Vec<String> = problems
        .iter()
        .map(|p| p.to_string().replace(&format!("{}/", d.display()), ""))
        .collect();
    expect![[r#"
        de/a.ftl:3: message extra is missing in en
        de/a.ftl:3: message extra is missing in fr
        de/a.ftl:3: message extra is missing in nl
        en/a.ftl:2: syntax error: ExpectedCharRange { range: "a-zA-Z" }
        fr/a.ftl:2: message bye is missing in en
        nl/a.ftl:2: message hello defined twice (first at nl/a.ftl:1)"#]]
    .assert_eq(&text.join("\n"));
}

/// The steward's summaries name each outcome in the steward's language: every
/// outcome an end step of a bundled flow can give needs `outcome-<code>` (the
/// window falls back to the raw code for a flow added later without one).
#[test]
fn every_bundled_outcome_has_a_name_for_the_steward() {
    let flows = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/flows");
    let mut outcomes = std::collections::BTreeSet::new();
    for f in std::fs::read_dir(&flows).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            if let Some(v) = line.trim().strip_prefix("outcome = \"") {
                outcomes.insert(v.trim_end_matches('"').to_owned());
            }
        }
    }
    assert!(outcomes.len() >= 5, "{outcomes:?}");
    let (catalog, _) = dps_i18n::load(&assets()).unwrap();
    let mut missing = Vec::new();
    for (lang, ids) in &catalog {
        for o in &outcomes {
            if !ids.contains_key(&format!("outcome-{o}")) {
                missing.push(format!("{lang}: outcome-{o}"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// The status bar says the last sync error in a few words: each
/// `sync-error-<code>` (the steward area's sentence) has its `sync-short-<code>`.
#[test]
fn every_sync_error_has_a_short_form_for_the_status_bar() {
    let (catalog, _) = dps_i18n::load(&assets()).unwrap();
    let mut missing = Vec::new();
    for (lang, ids) in &catalog {
        for id in ids.keys() {
            if let Some(code) = id.strip_prefix("sync-error-") {
                if !ids.contains_key(&format!("sync-short-{code}")) {
                    missing.push(format!("{lang}: sync-short-{code}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
