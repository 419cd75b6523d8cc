//! The kiosk's settings, kept OUTSIDE the counts store so they survive its
//! quarantine: the steward PIN (argon2 hash), the steward's language, the
//! enrolment (hub URL, device id, token, pinned CA), the sync status, the
//! open session's site, and the notices the steward has not acknowledged
//! yet.
//!
//! Why a separate file: a damaged sled store is moved aside whole. With the
//! PIN inside it, the next start showed the first-start setup, where anyone
//! at the kiosk (a resident) could choose a new PIN, and the kiosk lost its
//! enrolment. The sync watermark (`acked`) is NOT here: it describes what the
//! hub has of *this* replica, so it stays with the counts store and a new
//! incarnation starts from zero.
//!
//! The file is small JSON, rewritten whole and atomically (temp file, fsync,
//! rename, fsync of the directory), so a power cut leaves either the old or
//! the new settings, never a mix. Only the process holding the store's lock
//! writes it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TallyError};

/// File name in the data dir.
pub const SETTINGS_FILE: &str = "settings.json";
const SETTINGS_TMP: &str = "settings.json.tmp";

/// Something the steward must read, kept until they acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreNotice {
    /// The counts store could not be read; it was moved to `moved_to` and a
    /// new one (new incarnation) started. `session_resumed`: the session open
    /// at the time goes on at the same site in the new store.
    Quarantined {
        at: DateTime<Utc>,
        moved_to: PathBuf,
        reason: String,
        session_resumed: bool,
    },
    /// The settings file itself could not be read; it was moved aside and
    /// the settings started empty (the PIN must be set again).
    SettingsReset {
        at: DateTime<Utc>,
        moved_to: PathBuf,
    },
}

/// Everything in the settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Named settings (`get_setting`/`put_setting`).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// The steward PIN's argon2 PHC string.
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub notices: Vec<StoreNotice>,
}

impl Settings {
    pub(crate) fn path(dir: &Path) -> PathBuf {
        dir.join(SETTINGS_FILE)
    }

    /// Reads the settings of data dir `dir` (empty when there is no file).
    /// A file that does not parse is moved into `quarantine` beside the
    /// damaged stores and the settings start empty with a notice saying so:
    /// a kiosk that cannot read its settings must still count.
    pub(crate) fn load(dir: &Path, quarantine: &Path, now: DateTime<Utc>) -> Result<Settings> {
        let path = Settings::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(TallyError::Io { path, source: e }),
        };
        match serde_json::from_slice(&bytes) {
            Ok(s) => Ok(s),
            Err(_) => {
                std::fs::create_dir_all(quarantine).map_err(TallyError::io(quarantine))?;
                let moved_to = quarantine.join(format!(
                    "settings-{}.json",
                    now.format("%Y%m%dT%H%M%S%.3fZ")
                ));
                std::fs::rename(&path, &moved_to).map_err(TallyError::io(&path))?;
                let s = Settings {
                    notices: vec![StoreNotice::SettingsReset { at: now, moved_to }],
                    ..Settings::default()
                };
                s.save(dir)?;
                Ok(s)
            }
        }
    }

    /// Writes the whole file atomically and durably.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(SETTINGS_TMP);
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| TallyError::Damaged(format!("settings: {e}")))?;
        (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()
        })()
        .map_err(TallyError::io(&tmp))?;
        let path = Settings::path(dir);
        std::fs::rename(&tmp, &path).map_err(TallyError::io(&path))?;
        crate::store::fsync_dir(dir)
    }
}
