//! Made-up residents for privacy tests, benchmarks and training: valid
//! national register numbers and unique pronounceable names that belong to
//! no one. One place, so every privacy test searches for the same kinds of
//! data the same way.

use chrono::{Datelike, NaiveDate};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NationalNumber;

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
}
