//! A virtual Belgian eID for tests, and a private-pcscd harness.
//!
//! - [`CardSpec`]: a synthetic resident and the card's behaviour (applet 1.7 or
//!   1.8, RSA or EC key, odd date forms, BIS numbers, padded streets, unknown
//!   tags; faults: SELECT-by-path refused, 6282 at EOF, an identity file
//!   ending on a chunk boundary (6B00), removal at the n-th APDU, not an eID
//!   at all, a tampered identity file).
//! - [`TestPki`]: a throw-away root and RRN certificate made at test time (openssl).
//! - [`CardImage`]: the card's files, signed; [`card::Session`] answers APDUs.
//! - [`vpcd::insert`]: the card side of the vpcd protocol (TCP_QUICKACK before each read).
//! - [`harness::Pcscd`]: starts a private pcscd with N vpcd readers, stops it on drop.
//!
//! Test support only: vpcd listens on all interfaces, never install it on a kiosk.

pub mod card;
pub mod harness;
pub mod pki;
pub mod vpcd;

pub use card::{Applet, Behaviour, CardImage, CardSpec};
pub use pki::{KeyKind, TestPki};
pub use vpcd::{CardLog, InsertedCard};

/// Everything that can go wrong in test support, in words that say what to install or fix.
#[derive(Debug, thiserror::Error)]
pub enum VcardError {
    #[error("test PKI: {0}")]
    Pki(String),
    #[error("vpcd: {0}")]
    Vpcd(String),
    #[error(
        "another pcscd (pid {0}) is running: stop it first (only one pcscd can run per machine)"
    )]
    OtherPcscd(u32),
    #[error("pcscd harness: {0}")]
    Setup(String),
}
