//! Birth dates that may be partial: real cards carry year-only (`1984`) and
//! year-and-month dates, and a blank day or month means *unknown*, never 1 January.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// A calendar date whose month and/or day may be unknown. A known day implies a
/// known month ([`PartialDate::new`] refuses a day without a month).
///
/// Ordering is by year, then month, then day, with "unknown" sorting before any
/// known value: a plain lexicographic order, not a chronological claim.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, zeroize::Zeroize)]
pub struct PartialDate {
    pub year: u16,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

/// Why a [`PartialDate`] could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("the date is not written as YYYY, YYYY-MM or YYYY-MM-DD")]
    Syntax,
    #[error("this date does not exist in the calendar")]
    Impossible,
}

impl PartialDate {
    /// Builds a date, checking that the month is 1-12, that a known day exists in
    /// that month (29 February only in leap years), and that a day comes with a month.
    pub fn new(year: u16, month: Option<u8>, day: Option<u8>) -> Result<Self, DateError> {
        match (month, day) {
            (None, Some(_)) => return Err(DateError::Impossible),
            (Some(m), _) if !(1..=12).contains(&m) => return Err(DateError::Impossible),
            (Some(m), Some(d)) if d == 0 || d > days_in_month(year, m) => {
                return Err(DateError::Impossible)
            }
            _ => {}
        }
        Ok(PartialDate { year, month, day })
    }

    /// A fully known date.
    pub fn full(date: NaiveDate) -> Self {
        // chrono years of birth dates fit in u16; clamp rather than wrap for absurd input.
        let year = u16::try_from(date.year()).unwrap_or(0);
        PartialDate {
            year,
            month: Some(date.month() as u8),
            day: Some(date.day() as u8),
        }
    }

    /// ISO 8601, as precise as the date is: `1962`, `1962-03`, `1962-03-04`.
    pub fn to_iso(&self) -> String {
        match (self.month, self.day) {
            (Some(m), Some(d)) => format!("{:04}-{:02}-{:02}", self.year, m, d),
            (Some(m), None) => format!("{:04}-{:02}", self.year, m),
            _ => format!("{:04}", self.year),
        }
    }

    pub fn is_complete(&self) -> bool {
        self.month.is_some() && self.day.is_some()
    }

    /// The earliest and latest real days this date can stand for.
    pub fn bounds(&self) -> Option<(NaiveDate, NaiveDate)> {
        let y = i32::from(self.year);
        let (m0, m1) = match self.month {
            Some(m) => (m, m),
            None => (1, 12),
        };
        let (d0, d1) = match self.day {
            Some(d) => (d, d),
            None => (1, days_in_month(self.year, m1)),
        };
        let first = NaiveDate::from_ymd_opt(y, u32::from(m0), u32::from(d0))?;
        let last = NaiveDate::from_ymd_opt(y, u32::from(m1), u32::from(d1))?;
        Some((first, last))
    }

    /// Possible ages in whole years on `on`, honest about partial dates:
    /// `(min, max)`, equal when the date is complete. `None` if the date is
    /// (even at its earliest) after `on`.
    ///
    /// Someone born on 29 February turns a year older on 1 March in common
    /// years: until 28 February is over they have not completed the year. This
    /// is the reading of Belgian civil law (a year of age is completed the day
    /// before the anniversary, and 29 February has none in a common year) and
    /// the only choice that never makes a person older than they are.
    pub fn age_range_at(&self, on: NaiveDate) -> Option<(u32, u32)> {
        let (first, last) = self.bounds()?;
        if first > on {
            return None;
        }
        let latest_possible = last.min(on);
        Some((age_on(latest_possible, on), age_on(first, on)))
    }
}

/// Whole years from `birth` to `on` (`birth <= on`). Comparing (month, day)
/// pairs makes 29 February birthdays fall on 1 March in common years.
fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

pub(crate) fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Redacted: a birth date is personal data and must not reach a log by accident.
impl fmt::Debug for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartialDate(***)")
    }
}

/// Parses the ISO forms [`PartialDate::to_iso`] writes (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`).
impl FromStr for PartialDate {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split('-');
        let num = |p: &str, len: usize| -> Result<u16, DateError> {
            if p.len() != len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DateError::Syntax);
            }
            p.parse::<u16>().map_err(|_| DateError::Syntax)
        };
        let year = num(parts.next().ok_or(DateError::Syntax)?, 4)?;
        let month = parts.next().map(|p| num(p, 2)).transpose()?;
        let day = parts.next().map(|p| num(p, 2)).transpose()?;
        if parts.next().is_some() {
            return Err(DateError::Syntax);
        }
        PartialDate::new(year, month.map(|m| m as u8), day.map(|d| d as u8))
    }
}

/// Serialised as its ISO string (partial when the date is).
impl serde::Serialize for PartialDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

impl<'de> serde::Deserialize<'de> for PartialDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn iso_forms() {
        let table = [
            (PartialDate::new(1962, None, None), "1962"),
            (PartialDate::new(1962, Some(3), None), "1962-03"),
            (PartialDate::new(1962, Some(3), Some(4)), "1962-03-04"),
        ];
        for (date, iso) in table {
            let date = date.unwrap();
            assert_eq!(date.to_iso(), iso);
            assert_eq!(iso.parse::<PartialDate>().unwrap(), date);
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(
            PartialDate::new(2023, Some(2), Some(29)),
            Err(DateError::Impossible)
        );
        assert!(PartialDate::new(2024, Some(2), Some(29)).is_ok());
        assert_eq!(
            PartialDate::new(1900, Some(2), Some(29)),
            Err(DateError::Impossible)
        );
        assert!(PartialDate::new(2000, Some(2), Some(29)).is_ok());
        assert_eq!(
            PartialDate::new(1980, Some(13), None),
            Err(DateError::Impossible)
        );
        assert_eq!(
            PartialDate::new(1980, None, Some(3)),
            Err(DateError::Impossible)
        );
        assert_eq!("1980-1-02".parse::<PartialDate>(), Err(DateError::Syntax));
    }

    #[test]
    fn ages() {
        let full = PartialDate::new(1985, Some(7), Some(30)).unwrap();
        assert_eq!(full.age_range_at(d(2025, 7, 29)), Some((39, 39)));
        assert_eq!(full.age_range_at(d(2025, 7, 30)), Some((40, 40)));
        assert_eq!(full.age_range_at(d(1985, 7, 30)), Some((0, 0)));
        assert_eq!(full.age_range_at(d(1985, 7, 29)), None);

        let year = PartialDate::new(1962, None, None).unwrap();
        assert_eq!(year.age_range_at(d(2025, 6, 1)), Some((62, 63)));
        assert_eq!(year.age_range_at(d(2025, 12, 31)), Some((63, 63)));
        assert_eq!(year.age_range_at(d(1962, 6, 1)), Some((0, 0)));
        assert_eq!(year.age_range_at(d(1961, 12, 31)), None);

        let month = PartialDate::new(1962, Some(3), None).unwrap();
        assert_eq!(month.age_range_at(d(2025, 3, 15)), Some((62, 63)));
        assert_eq!(month.age_range_at(d(2025, 4, 1)), Some((63, 63)));
        assert_eq!(month.age_range_at(d(2025, 2, 28)), Some((62, 62)));
    }

    #[test]
    fn leap_day_birthday_is_first_of_march_in_common_years() {
        let leap = PartialDate::new(2004, Some(2), Some(29)).unwrap();
        assert_eq!(leap.age_range_at(d(2022, 2, 28)), Some((17, 17)));
        assert_eq!(leap.age_range_at(d(2022, 3, 1)), Some((18, 18)));
        assert_eq!(leap.age_range_at(d(2024, 2, 28)), Some((19, 19)));
        assert_eq!(leap.age_range_at(d(2024, 2, 29)), Some((20, 20)));
    }

    #[test]
    fn debug_is_redacted() {
        let date = PartialDate::new(1985, Some(7), Some(30)).unwrap();
        assert_eq!(format!("{date:?}"), "PartialDate(***)");
    }
}
