//! From TLV elements to typed fields: birth dates in every form real cards
//! use, validity dates, sex, and the identity and address records.

use std::fmt::{self, Write as _};

use chrono::{Datelike, NaiveDate};
use dps_person::{PartialDate, SecretString, Sex, Zeroizing};

use crate::tlv;

/// Why a birth date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateParseError {
    #[error("the birth date field is empty")]
    Empty,
    #[error("the birth date is not in a form known from real cards")]
    Unrecognised,
}

/// Month names as cards write them, in French, Dutch and German (and the
/// English-looking spellings that coincide). Accents are compared as written
/// and without (`MÄR`, `MAR`).
fn month_from_name(name: &str) -> Option<u8> {
    // The upper-cased copy is part of a birth date: wiped when dropped.
    let n = Zeroizing::new(name.trim_end_matches('.').to_uppercase());
    let m = match n.as_str() {
        "JAN" | "JANV" => 1,
        "FEV" | "FÉV" | "FEB" | "FEBR" => 2,
        "MARS" | "MAAR" | "MÄR" | "MAR" | "MRZ" => 3,
        "AVR" | "APR" => 4,
        "MAI" | "MEI" | "MAY" => 5,
        "JUIN" | "JUN" => 6,
        "JUIL" | "JUL" => 7,
        "AOUT" | "AOÛT" | "AUG" => 8,
        "SEPT" | "SEP" => 9,
        "OCT" | "OKT" => 10,
        "NOV" => 11,
        "DEC" | "DÉC" | "DEZ" => 12,
        _ => return None,
    };
    Some(m)
}

/// Reads tag 0C as real cards write it: `01 JAN 1971`, `1 JAN 1971`,
/// `26 AVR  1975`, `29 SEPT 1979`, `13.AUG. 1996`, `23.SEP.1982`, `1984`,
/// `        1962`, also numeric `30.07.1985`. A blank or `00` day or month is
/// unknown: the date stays partial (year-only stays year-only), never 1 January.
pub fn parse_birth_date(raw: &str) -> Result<PartialDate, DateParseError> {
    let tokens: Vec<&str> = raw
        .split([' ', '.', '/', '-'])
        .filter(|t| !t.is_empty())
        .collect();
    let number = |t: &str| -> Option<u16> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let year_of = |t: &str| -> Result<u16, DateParseError> {
        match number(t) {
            Some(y) if t.len() == 4 => Ok(y),
            _ => Err(DateParseError::Unrecognised),
        }
    };
    let month_of = |t: &str| -> Result<Option<u8>, DateParseError> {
        if let Some(m) = month_from_name(t) {
            return Ok(Some(m));
        }
        match number(t) {
            Some(0) => Ok(None),
            Some(m) if m <= 12 && t.len() <= 2 => Ok(Some(m as u8)),
            _ => Err(DateParseError::Unrecognised),
        }
    };
    let (year, month, day) = match tokens.as_slice() {
        [] => return Err(DateParseError::Empty),
        [y] => (year_of(y)?, None, None),
        [m, y] => (year_of(y)?, month_of(m)?, None),
        [d, m, y] => {
            let day = match number(d) {
                Some(0) => None,
                Some(d) if d <= 31 && d_len_ok(d) => Some(d as u8),
                _ => return Err(DateParseError::Unrecognised),
            };
            let month = month_of(m)?;
            // A known day in an unknown month says nothing usable.
            let day = if month.is_none() { None } else { day };
            (year_of(y)?, month, day)
        }
        _ => return Err(DateParseError::Unrecognised),
    };
    PartialDate::new(year, month, day).map_err(|_| DateParseError::Unrecognised)
}

fn d_len_ok(d: u16) -> bool {
    d <= 99
}

/// Validity dates (tags 03/04): `DD.MM.YYYY`.
pub fn parse_card_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%d.%m.%Y").ok()
}

/// A validity date as ISO 8601 (`2021-03-01`), empty when unreadable.
fn iso_card_date(raw: &SecretString) -> SecretString {
    let Some(d) = parse_card_date(raw.expose()) else {
        return SecretString::default();
    };
    // Sized up front: a String grown while writing frees a buffer holding
    // the first part of the date.
    let mut iso = String::with_capacity(10);
    let _ = write!(iso, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    SecretString::new(iso)
}

/// The identity file (4031), as far as this project uses it. Every field is
/// personal data and zeroizes on drop; the raw file is not kept. Empty text
/// means the card does not carry the field.
#[derive(Clone, Default)]
pub struct Identity {
    pub card_number: SecretString,
    /// ISO 8601 (`2021-03-01`).
    pub valid_from: SecretString,
    pub valid_until: SecretString,
    pub issuing_municipality: SecretString,
    pub national_number: SecretString,
    pub surname: SecretString,
    pub given_names: SecretString,
    pub third_initial: SecretString,
    pub nationality: SecretString,
    pub birth_place: SecretString,
    pub birth_date_raw: SecretString,
    pub birth_date: Option<Zeroizing<PartialDate>>,
    pub sex: Option<Zeroizing<Sex>>,
    /// "1" eID, "6" Kids-ID, "11".."36" foreigner cards (leading zeros removed).
    pub document_type: SecretString,
    /// Length of the photo hash (tag 11): tells RSA cards' signature hash.
    pub photo_hash_len: Option<usize>,
}

/// Redacted: says only what is not personal.
impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("photo_hash_len", &self.photo_hash_len)
            .finish_non_exhaustive()
    }
}

/// The address file (4033).
#[derive(Clone, Default)]
pub struct Address {
    pub street: SecretString,
    pub postcode: SecretString,
    pub municipality: SecretString,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address { .. }")
    }
}

/// Parses the identity file. Missing fields stay empty; unknown tags are skipped.
pub fn parse_identity(file: &[u8]) -> Result<Identity, tlv::TlvError> {
    let mut id = Identity::default();
    for el in tlv::parse(file)? {
        let text = || tlv::text(el.value);
        match el.tag {
            0x01 => id.card_number = text(),
            0x03 => id.valid_from = iso_card_date(&text()),
            0x04 => id.valid_until = iso_card_date(&text()),
            0x05 => id.issuing_municipality = text(),
            0x06 => id.national_number = text(),
            0x07 => id.surname = text(),
            0x08 => id.given_names = text(),
            0x09 => id.third_initial = text(),
            0x0A => id.nationality = text(),
            0x0B => id.birth_place = text(),
            0x0C => {
                let raw = text();
                id.birth_date = parse_birth_date(raw.expose()).ok().map(Zeroizing::new);
                id.birth_date_raw = raw;
            }
            0x0D => id.sex = Sex::from_card(text().expose()).map(Zeroizing::new),
            0x0F => {
                // "1" and "01" both occur: normalise to the number without zeros.
                let t = text();
                let trimmed = t.expose().trim_start_matches('0');
                id.document_type = if trimmed.is_empty() && !t.is_empty() {
                    "0".into()
                } else {
                    trimmed.into()
                };
            }
            0x11 => id.photo_hash_len = Some(el.value.len()),
            _ => {}
        }
    }
    Ok(id)
}

/// Parses the address file (zero padding and padded street tolerated).
pub fn parse_address(file: &[u8]) -> Result<Address, tlv::TlvError> {
    let mut a = Address::default();
    for el in tlv::parse(file)? {
        let text = || tlv::text(el.value);
        match el.tag {
            0x01 => a.street = text(),
            0x02 => a.postcode = text(),
            0x03 => a.municipality = text(),
            _ => {}
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_birth_date_form_of_the_spec() {
        let table = [
            ("01 JAN 1971", Some("1971-01-01")),
            ("1 JAN 1971", Some("1971-01-01")),
            ("26 AVR  1975", Some("1975-04-26")),
            ("29 SEPT 1979", Some("1979-09-29")),
            ("08 MAAR 1980", Some("1980-03-08")),
            ("03 MEI 2001", Some("2001-05-03")),
            ("13.AUG. 1996", Some("1996-08-13")),
            ("23.SEP.1982", Some("1982-09-23")),
            ("23.SEP. 1982", Some("1982-09-23")),
            ("12 MÄR 1950", Some("1950-03-12")),
            ("24 DEZ 1950", Some("1950-12-24")),
            ("15 FEV 1960", Some("1960-02-15")),
            ("1984", Some("1984")),
            ("        1962", Some("1962")),
            ("   MARS 1962", Some("1962-03")),
            ("00 MARS 1962", Some("1962-03")),
            ("30.07.1985", Some("1985-07-30")),
            ("31 FEB 1980", None),
            ("", None),
            ("32 JAN 1980", None),
            ("01 XYZ 1980", None),
            ("85", None),
        ];
        for (raw, want) in table {
            let got = parse_birth_date(raw).ok().map(|d| d.to_iso());
            assert_eq!(got.as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn card_dates() {
        assert_eq!(
            parse_card_date("01.03.2021"),
            NaiveDate::from_ymd_opt(2021, 3, 1)
        );
        assert_eq!(parse_card_date("2021-03-01"), None);
    }
}
