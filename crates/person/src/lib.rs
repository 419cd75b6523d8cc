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
///
/// Personal data like the rest: `Debug` prints `Sex(***)`, and it zeroizes
/// (to `Male`, the all-zero byte: an enum has no "nothing" value, and what
/// matters is that the card's value no longer sits in memory).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum Sex {
    #[serde(rename = "M")]
    Male = 0,
    #[serde(rename = "F")]
    Female = 1,
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
        // No upper-cased copy: it would be one more heap buffer holding the value.
        match value.trim().as_bytes() {
            [b'M' | b'm'] => Some(Sex::Male),
            [b'F' | b'f' | b'V' | b'v' | b'W' | b'w'] => Some(Sex::Female),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Sex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sex(***)")
    }
}

impl Zeroize for Sex {
    fn zeroize(&mut self) {
        // SAFETY: `self` is a valid, aligned, exclusive reference and `Male` a
        // valid value; the volatile write is not optimised away as dead.
        unsafe { std::ptr::write_volatile(self, Sex::Male) };
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}
