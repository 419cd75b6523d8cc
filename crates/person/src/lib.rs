//! Personal data of one resident, as read from an eID card or typed by a steward.
//!
//! Everything here lives in memory only: no type implements `Display`, the
//! `Debug` output of identifying values is redacted, and the heap-holding types
//! zeroize their bytes on drop, so a resident's data does not linger in freed
//! memory after the card is pulled. Nothing in this crate writes to disk or logs.
//!
//! - [`PartialDate`]: a birth date that may know only its year, or year and month.
//! - [`NationalNumber`]: the national register (or BIS) number, with the mod-97
//!   and date checks, reported as errors rather than panics (specimen cards break them).
//! - [`SecretString`]: a zeroize-on-drop string for names and addresses.

mod date;
mod number;
mod secret;
pub mod synthetic;

pub use date::{DateError, PartialDate};
pub use number::{NationalNumber, NumberError, NumberKind};
pub use secret::SecretString;
pub use zeroize::{Zeroize, Zeroizing};

/// Sex as the card states it (the card knows only two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
}

impl Sex {
    /// The one-letter code used in the JSON output: `M` or `F`.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }

    /// Reads the card's sex field: `M` for men; `F`, `V` or `W` for women depending
    /// on the card's language (French, Dutch, German). Case and spaces are ignored.
    pub fn from_card(value: &str) -> Option<Sex> {
        match value.trim().to_ascii_uppercase().as_str() {
            "M" => Some(Sex::Male),
            "F" | "V" | "W" => Some(Sex::Female),
            _ => None,
        }
    }
}
