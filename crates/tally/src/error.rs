//! The tally store's errors. Every message is written for the steward: it says
//! what happened and what to do, in plain words, because the CLI and the
//! window show it as is.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TallyError {
    /// Another process (usually the kiosk window) has the store open.
    #[error(
        "the visit counts in {dir} are already open in another program (probably the kiosk \
         window); close it and try again"
    )]
    StoreInUse { dir: PathBuf },
    #[error("could not read or write the visit counts in {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the visit count store failed: {0}")]
    Store(#[from] sled::Error),
    /// An entry in the store could not be decoded: the store is damaged. The
    /// store marks itself (`tally.damaged`), so the restart this asks for
    /// really does set it aside (see `TallyStore::open`).
    #[error(
        "the visit count store is damaged ({0}); restart the kiosk: it sets the damaged \
         counts aside and counts on in a new store, keeping the PIN and the hub connection"
    )]
    Damaged(String),
    #[error("no outreach session is open: start a session before counting visits")]
    NoSession,
    #[error("an outreach session is already open: end it before starting another")]
    SessionAlreadyOpen,
    #[error("there is no visit to undo in this session")]
    NothingToUndo,
    #[error("the site is not valid: {0}")]
    InvalidSite(String),
    #[error("the hub acknowledged change {watermark} but this store only has {latest} changes")]
    WatermarkAhead { watermark: u64, latest: u64 },
    #[error("setting names are 1-64 lowercase letters, digits, '_' or '-', got {0:?}")]
    InvalidSettingName(String),
    #[error("a PIN is 4 to 12 digits")]
    PinFormat,
    #[error("no steward PIN is set yet")]
    PinNotSet,
    #[error("a steward PIN is already set; change it with the current PIN")]
    PinAlreadySet,
    #[error("the PIN is not correct")]
    WrongPin,
    #[error("could not hash the PIN: {0}")]
    PinHash(String),
}

impl TallyError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TallyError {
        let path = path.into();
        move |source| TallyError::Io { path, source }
    }
}

pub type Result<T, E = TallyError> = std::result::Result<T, E>;
