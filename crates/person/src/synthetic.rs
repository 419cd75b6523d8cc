//! Made-up residents for privacy tests, benchmarks and training: valid
//! national register numbers and unique pronounceable names that belong to
//! no one. One place, so every privacy test searches for the same kinds of
//! data the same way.

use chrono::{Datelike, NaiveDate};

use crate::NationalNumber;

/// A national register number for `birth` and a serial (1–997) with valid
/// mod-97 check digits (the rule for births from 2000 prefixes a 2).
pub fn national_number(birth: NaiveDate, serial: u32) -> String {
    let base = format!(
        "{:02}{:02}{:02}{:03}",
        birth.year() % 100,
        birth.month(),
        birth.day(),
        serial % 1000
    );
    // Nine ASCII digits always parse; 0 is unreachable.
    let mut n: u64 = base.parse().unwrap_or(0);
    if birth.year() >= 2000 {
        n += 2_000_000_000;
    }
    format!("{base}{:02}", 97 - n % 97)
}

const SYL: [&str; 16] = [
    "ba", "de", "ki", "lo", "mu", "ra", "sel", "tor", "vin", "zu", "mar", "que", "van", "der",
    "bro", "ek",
];

/// A made-up, capitalised word, unique for each `i` under one `salt`.
pub fn word(i: usize, salt: usize) -> String {
    let mut n = i * 7919 + salt;
    let mut w = String::new();
    for _ in 0..4 {
        w.push_str(SYL[n % SYL.len()]);
        n /= SYL.len();
    }
    w.push_str(SYL[salt % SYL.len()]);
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The usual written forms of a national number (bare, as the card prints
/// it, dashed, spaced) and of a birth date (ISO, dotted, slashed, dashed, and
/// both compact orders), each with what it is. Every privacy test searches
/// for all of them, plus its own names and card texts. A number that is not
/// 11 digits is searched for as given only.
pub fn number_and_date_forms(number: &str, birth: NaiveDate) -> Vec<(&'static str, String)> {
    let (y, m, dd) = (birth.year(), birth.month(), birth.day());
    let mut v = vec![("national number", number.to_owned())];
    let d = number;
    let eleven_digits = d.len() == 11 && d.bytes().all(|b| b.is_ascii_digit());
    if let (true, Ok(n)) = (eleven_digits, NationalNumber::parse_unchecked(d)) {
        v.extend([
            ("national number, dotted", n.formatted()),
            (
                "national number, dashed",
                format!("{}-{}-{}", &d[0..6], &d[6..9], &d[9..11]),
            ),
            (
                "national number, spaced",
                format!("{} {} {}", &d[0..6], &d[6..9], &d[9..11]),
            ),
        ]);
    }
    v.extend([
        ("birth date", format!("{y:04}-{m:02}-{dd:02}")),
        ("birth date", format!("{dd:02}.{m:02}.{y:04}")),
        ("birth date", format!("{dd:02}/{m:02}/{y:04}")),
        ("birth date", format!("{dd:02}-{m:02}-{y:04}")),
        ("birth date", format!("{y:04}{m:02}{dd:02}")),
        ("birth date", format!("{dd:02}{m:02}{y:04}")),
    ]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_numbers_pass_the_check_in_both_centuries() {
        for (y, m, d) in [(1948, 5, 12), (1999, 12, 31), (2000, 1, 1), (2004, 9, 21)] {
            let birth = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            for serial in [1, 2, 500, 997] {
                let n = national_number(birth, serial);
                assert!(NationalNumber::parse(&n).is_ok(), "{n}");
            }
        }
        assert_ne!(word(1, 3), word(2, 3));
    }

    #[test]
    fn a_number_and_a_birth_date_in_every_usual_form() {
        let birth = NaiveDate::from_ymd_opt(1985, 7, 30).unwrap();
        let forms: Vec<String> = number_and_date_forms("85073003328", birth)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        assert_eq!(
            forms,
            [
                "85073003328",
                "85.07.30-033.28",
                "850730-033-28",
                "850730 033 28",
                "1985-07-30",
                "30.07.1985",
                "30/07/1985",
                "30-07-1985",
                "19850730",
                "30071985",
            ]
        );
        assert_eq!(number_and_date_forms("8507", birth).len(), 7);
    }
}
