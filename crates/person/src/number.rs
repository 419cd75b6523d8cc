//! The Belgian national register number (NRN) and BIS number: `YYMMDD SSS CC`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::date::{days_in_month, PartialDate};
use crate::Sex;

/// Eleven digits identifying a person. Zeroized on drop; `Debug` prints
/// `NationalNumber(***)`; no `Display` (use [`NationalNumber::formatted`] or
/// [`NationalNumber::digits`] deliberately, for the resident's own screen).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct NationalNumber {
    // Always exactly 11 ASCII digits (checked by both constructors).
    digits: String,
}

/// What kind of number it is, from the month field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// A national register number (month 00-12).
    Register,
    /// A BIS number for people not in the register: month + 20 when the sex
    /// was unknown at registration, + 40 when it was known.
    Bis { sex_known: bool },
}

/// Why a national number was refused. The messages are written for a steward
/// typing a number off a paper document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("a national number has 11 digits; this one has {found}")]
    WrongLength { found: usize },
    #[error(
        "a national number contains only digits (dots, dashes and spaces are allowed between them)"
    )]
    NotDigits,
    #[error("the check digits do not match: a digit was probably mistyped")]
    CheckDigits,
    #[error("the first six digits are not a possible birth date: a digit was probably mistyped")]
    ImpossibleDate,
}

impl NationalNumber {
    /// Parses and fully checks a number: `85073003328`, `85.07.30-033.28`,
    /// with any spaces, dots or dashes between digits. Checks the length, the
    /// mod-97 check digits (pre- and post-2000 rules) and that the first six
    /// digits are a possible (possibly partial, possibly BIS) birth date.
    pub fn parse(input: &str) -> Result<NationalNumber, NumberError> {
        let n = Self::parse_unchecked(input)?;
        n.validate()?;
        Ok(n)
    }

    /// Accepts any 11 digits without the check-digit and date rules: specimen
    /// cards break them, and the kiosk must report that rather than refuse the card.
    pub fn parse_unchecked(input: &str) -> Result<NationalNumber, NumberError> {
        // Room for every character up front: a growing String would leave
        // copies of the digits in the buffers it frees.
        let mut digits = String::with_capacity(input.len());
        let mut result = Ok(());
        for c in input.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' => {}
                _ => {
                    result = Err(NumberError::NotDigits);
                    break;
                }
            }
        }
        // Wrap before any early return so the partial copy is zeroized too.
        let n = NationalNumber { digits };
        result?;
        if n.digits.len() != 11 {
            return Err(NumberError::WrongLength {
                found: n.digits.len(),
            });
        }
        Ok(n)
    }

    /// Checks the mod-97 check digits, then that the date part is possible.
    pub fn validate(&self) -> Result<(), NumberError> {
        let born_2000s = self.century_from_check().ok_or(NumberError::CheckDigits)?;
        if self.is_fully_unknown_date() {
            return Ok(());
        }
        let (yy, mm, dd) = self.raw_date();
        let month = match self.kind() {
            NumberKind::Register => mm,
            NumberKind::Bis { sex_known: false } => mm - 20,
            NumberKind::Bis { sex_known: true } => mm - 40,
        };
        if month > 12 {
            return Err(NumberError::ImpossibleDate);
        }
        let year = if born_2000s { 2000 } else { 1900 } + u16::from(yy);
        let max_day = if month == 0 {
            31
        } else {
            days_in_month(year, month)
        };
        if dd > max_day {
            return Err(NumberError::ImpossibleDate);
        }
        Ok(())
    }

    /// Register number or BIS number, from the month field (20-32 / 40-52 = BIS).
    pub fn kind(&self) -> NumberKind {
        match self.raw_date().1 {
            20..=39 => NumberKind::Bis { sex_known: false },
            40..=99 => NumberKind::Bis { sex_known: true },
            _ => NumberKind::Register,
        }
    }

    /// As printed on the card: `85.07.30-033.28`.
    pub fn formatted(&self) -> String {
        let d = &self.digits;
        format!(
            "{}.{}.{}-{}.{}",
            &d[0..2],
            &d[2..4],
            &d[4..6],
            &d[6..9],
            &d[9..11]
        )
    }

    /// The 11 digits without separators.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The birth date the number encodes, with the century taken from whichever
    /// check-digit rule matches. `00` month or day means unknown (a partial date);
    /// `000001` means the date is wholly unknown. `None` when the date is unknown,
    /// the check digits match neither rule (the century cannot be known) or the
    /// date is impossible.
    pub fn birth_date(&self) -> Option<PartialDate> {
        let born_2000s = self.century_from_check()?;
        if self.is_fully_unknown_date() {
            return None;
        }
        let (yy, mm, dd) = self.raw_date();
        let month = match self.kind() {
            NumberKind::Register => mm,
            NumberKind::Bis { sex_known: false } => mm - 20,
            NumberKind::Bis { sex_known: true } => mm - 40,
        };
        let year = if born_2000s { 2000 } else { 1900 } + u16::from(yy);
        let (month, day) = match (month, dd) {
            (0, _) => (None, None),
            (m, 0) => (Some(m), None),
            (m, d) => (Some(m), Some(d)),
        };
        PartialDate::new(year, month, day).ok()
    }

    /// Odd serial for men, even for women; unknown for a BIS number registered
    /// without the sex (month + 20).
    pub fn sex(&self) -> Option<Sex> {
        if self.kind() == (NumberKind::Bis { sex_known: false }) {
            return None;
        }
        let serial: u16 = self.digits[6..9].parse().ok()?;
        Some(if serial % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        })
    }

    /// `Some(false)` if the pre-2000 rule matches, `Some(true)` for the post-2000
    /// rule ("2" prefixed to the first nine digits), `None` if neither does.
    fn century_from_check(&self) -> Option<bool> {
        let first9: u64 = self.digits[0..9].parse().ok()?;
        let check: u64 = self.digits[9..11].parse().ok()?;
        if 97 - first9 % 97 == check {
            Some(false)
        } else if 97 - (2_000_000_000 + first9) % 97 == check {
            Some(true)
        } else {
            None
        }
    }

    fn raw_date(&self) -> (u8, u8, u8) {
        let two = |i: usize| {
            let b = self.digits.as_bytes();
            (b[i] - b'0') * 10 + (b[i + 1] - b'0')
        };
        (two(0), two(2), two(4))
    }

    fn is_fully_unknown_date(&self) -> bool {
        &self.digits[0..6] == "000001"
    }
}

impl fmt::Debug for NationalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalNumber(***)")
    }
}

/// Serialised as its 11 digits: only for the resident's own screen (IPC) and
/// `card read --json`, never for storage or sync payloads.
impl serde::Serialize for NationalNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.digits())
    }
}
