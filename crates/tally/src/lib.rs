//! Anonymous visit tallies: counts, not people.
//!
//! The kiosk's one record of its visits is a PN-counter replica per tally
//! cell ([`dps_model::CellKey`] → [`dps_model::PnCount`]) in a sled store.
//! Nothing here can hold a name, a number, a birth date or an address: the
//! only input is a [`dps_model::VisitRecord`], which is made of bands and codes.
//!
//! Durability: [`TallyStore::record`] returns only after the commit is
//! flushed by sled AND its log file is fdatasynced (sled's own flush ends in
//! `sync_file_range`, which does not survive a power cut).
//!
//! Size: sled 0.34 never reclaims its log when cells are re-counted, so
//! [`TallyStore::open`] compacts the store when it has outgrown its live data
//! (see [`CompactPolicy`]), crash-safely and without a new incarnation.

mod compact;
mod error;
mod pin;
mod settings;
pub mod simulate;
mod store;
mod types;

pub use compact::{dir_size, CompactPolicy, CompactStep, Compaction};
pub use error::{Result, TallyError};
pub use settings::{StoreNotice, SETTINGS_FILE};
pub use store::{
    brussels_day, OpenStatus, Opened, TallyStore, DAMAGED_MARKER, QUARANTINE_DIR,
    SETTING_DEVICE_ID, SETTING_HUB_URL, SETTING_SESSION_SITE, SETTING_STEWARD_LANGUAGE,
    SETTING_TOKEN, STORE_DIR,
};
pub use types::{CellTotal, ProcedureOutcome, Session, Site, Summary, UndoReceipt, VisitReceipt};
