//! Data-driven tests of the national number and partial date rules.

use dps_person::{NationalNumber, NumberError, NumberKind, PartialDate, SecretString, Sex};
use expect_test::expect;
use proptest::prelude::*;

/// Builds a number with correct check digits for the given first nine digits.
fn with_check(first9: &str, born_2000s: bool) -> String {
    let n: u64 = first9.parse().unwrap();
    let base = if born_2000s { 2_000_000_000 + n } else { n };
    format!("{first9}{:02}", 97 - base % 97)
}

#[test]
fn number_table() {
    let inputs = [
        "85073003328".to_owned(),
        "85.07.30-033.28".to_owned(),
        " 85 07 30 033 28 ".to_owned(),
        "85073003327".to_owned(),
        "8507300332".to_owned(),
        "85O73003328".to_owned(),
        with_check("010101002", true),
        with_check("010101002", false),
        with_check("620300001", false),
        with_check("620000001", false),
        with_check("000001001", false),
        with_check("852730001", false),
        with_check("854730002", false),
        with_check("851330001", false),
        with_check("850230001", false),
        with_check("000229001", true),
        with_check("010229001", true),
    ];
    let mut out = String::new();
    for input in &inputs {
        let line = match NationalNumber::parse(input) {
            Ok(n) => format!(
                "{:<22} ok {} {:?} born={} sex={}",
                format!("{input:?}"),
                n.formatted(),
                n.kind(),
                n.birth_date().map(|d| d.to_iso()).unwrap_or("-".into()),
                n.sex().map_or("-", Sex::code),
            ),
            Err(e) => format!("{:<22} err {e}", format!("{input:?}")),
        };
        out.push_str(&line);
        out.push('\n');
    }
    expect![[r#"
        "85073003328"          ok 85.07.30-033.28 Register born=1985-07-30 sex=M
        "85.07.30-033.28"      ok 85.07.30-033.28 Register born=1985-07-30 sex=M
        " 85 07 30 033 28 "    ok 85.07.30-033.28 Register born=1985-07-30 sex=M
        "85073003327"          err the check digits do not match: a digit was probably mistyped
        "8507300332"           err a national number has 11 digits; this one has 10
        "85O73003328"          err a national number contains only digits (dots, dashes and spaces are allowed between them)
        "01010100225"          ok 01.01.01-002.25 Register born=2001-01-01 sex=F
        "01010100293"          ok 01.01.01-002.93 Register born=1901-01-01 sex=F
        "62030000161"          ok 62.03.00-001.61 Register born=1962-03 sex=M
        "62000000140"          ok 62.00.00-001.40 Register born=1962 sex=M
        "00000100166"          ok 00.00.01-001.66 Register born=- sex=M
        "85273000106"          ok 85.27.30-001.06 Bis { sex_known: false } born=1985-07-30 sex=-
        "85473000248"          ok 85.47.30-002.48 Bis { sex_known: true } born=1985-07-30 sex=F
        "85133000105"          err the first six digits are not a possible birth date: a digit was probably mistyped
        "85023000125"          err the first six digits are not a possible birth date: a digit was probably mistyped
        "00022900145"          ok 00.02.29-001.45 Register born=2000-02-29 sex=M
        "01022900166"          err the first six digits are not a possible birth date: a digit was probably mistyped
    "#]]
    .assert_eq(&out);
}

#[test]
fn specimen_numbers_parse_unchecked_and_report() {
    let n = NationalNumber::parse_unchecked("85073003327").unwrap();
    assert_eq!(n.validate(), Err(NumberError::CheckDigits));
    assert_eq!(n.birth_date(), None);
    assert_eq!(n.sex(), Some(Sex::Male));
    assert_eq!(
        NationalNumber::parse_unchecked("123"),
        Err(NumberError::WrongLength { found: 3 })
    );
}

#[test]
fn nothing_personal_in_debug() {
    let n = NationalNumber::parse("85073003328").unwrap();
    assert_eq!(format!("{n:?}"), "NationalNumber(***)");
    let s = SecretString::from("Émilie");
    assert_eq!(format!("{s:?}"), "SecretString(***)");
    assert_eq!(s.expose(), "Émilie");
    assert_eq!(
        NationalNumber::parse("85073003328").unwrap().kind(),
        NumberKind::Register
    );
    assert_eq!(format!("{:?}", Some(Sex::Female)), "Some(Sex(***))");
}

#[test]
fn sex_zeroizes_to_the_all_zero_byte() {
    use dps_person::Zeroize;
    let mut s = Sex::Female;
    assert_eq!(s as u8, 1);
    s.zeroize();
    assert_eq!(s as u8, 0);
    // In a Zeroizing wrapper, as the card data holds it: wiped on drop too.
    let mut z = dps_person::Zeroizing::new(Sex::Female);
    z.zeroize();
    assert_eq!(*z as u8, 0);
}

#[test]
fn serde_forms() {
    let date: PartialDate = "1962-03".parse().unwrap();
    assert_eq!(serde_json::to_string(&date).unwrap(), r#""1962-03""#);
    assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), r#""F""#);
    let n = NationalNumber::parse("85.07.30-033.28").unwrap();
    assert_eq!(serde_json::to_string(&n).unwrap(), r#""85073003328""#);
    assert_eq!(Sex::from_card(" V "), Some(Sex::Female));
    assert_eq!(Sex::from_card("W"), Some(Sex::Female));
    assert_eq!(Sex::from_card("X"), None);
}

proptest! {
    #[test]
    fn number_parsers_never_panic(s in "\\PC{0,20}") {
        let _ = NationalNumber::parse(&s);
        if let Ok(n) = NationalNumber::parse_unchecked(&s) {
            let _ = (n.validate(), n.kind(), n.formatted(), n.birth_date(), n.sex());
        }
    }

    #[test]
    fn any_eleven_digits_are_safe(s in "[0-9]{11}") {
        let n = NationalNumber::parse_unchecked(&s).unwrap();
        let _ = (n.validate(), n.kind(), n.birth_date(), n.sex());
        prop_assert_eq!(n.formatted().replace(['.', '-'], ""), s);
    }

    #[test]
    fn date_parser_never_panics(s in "\\PC{0,12}", y in 0u16..3000, m in 0u8..14, d in 0u8..33) {
        let _ = s.parse::<PartialDate>();
        if let Ok(date) = PartialDate::new(y, Some(m), Some(d)) {
            prop_assert_eq!(date.to_iso().parse::<PartialDate>(), Ok(date));
            let on = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            if let Some((lo, hi)) = date.age_range_at(on) {
                prop_assert!(lo <= hi);
            }
        }
    }
}
