//! Belgian eID cards over PC/SC, Tauri-free.
//!
//! - [`Watcher`]: a thread with its own PC/SC context, blocked in
//!   `get_status_change` (+ PnP) and emitting [`Event`]s: readers added and
//!   removed, card inserted / read / error / removed, service unavailable.
//!   Survives pcscd restarts.
//! - [`read_first_card`]: the blocking one-shot read of `dps-kiosk card read`.
//! - [`apdu`]: reading with the fewest APDUs over any [`apdu::Transport`]
//!   (one transaction; never the photo; the RRN certificate only up to its DER length),
//!   handing each file to a [`apdu::FileSink`] as it arrives.
//! - [`CardCheck`]: verification fed file by file, so that for P-384 cards the
//!   costly half of each signature check overlaps the APDU exchange.
//! - [`tlv`], [`fields`]: tolerant parsing of the identity and address files.
//! - [`verify`]: RSA PKCS#1 v1.5 / ECDSA P-384 file signatures and the RRN
//!   certificate chain to the bundled Belgium roots (+ roots added at run time).
//!
//! Invariants: nothing personal is logged or written; personal values live in
//! `dps_person` zeroize-on-drop types and raw file buffers are `Zeroizing`;
//! no input from the card panics the reader.

pub mod apdu;
mod card;
mod ec;
pub mod fields;
mod pcsc_io;
pub mod tlv;
pub mod verify;
mod watcher;

pub use apdu::{ReadError, Transport, TransportError};
pub use card::{assemble, assemble_with, CardAddress, CardData};
pub use dps_person::{NationalNumber, PartialDate, SecretString, Sex};
pub use pcsc_io::{
    diagnose, read_first_card, read_raw, read_raw_into, read_reader, read_reader_timed, Diagnosis,
    Phases, Read, WaitError, SERVICE_DOWN,
};
pub use verify::{CardCheck, SignatureStatus, TrustError, TrustStore};
pub use watcher::{CardErrorKind, Event, Watcher};
