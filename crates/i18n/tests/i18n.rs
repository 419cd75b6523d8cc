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
