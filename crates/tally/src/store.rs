//! The sled store: one PN-counter replica of every tally cell, a change index
//! for sync, outreach sessions, settings and the steward PIN, all in ONE sled
//! tree so that every commit is a single atomic `Batch`.
//!
//! Key layout (prefix bytes keep the kinds apart and ordered):
//! - `c/` + cell key (`day|site|…`, see `cell_bytes`) → `inc ‖ ret ‖ seq` (3 × u64 BE)
//! - `q/` + seq (u64 BE)  → cell key: the change index. A commit bumps the
//!   store's sequence and moves the touched cell to the new number, so the
//!   index holds each cell once, at its latest change.
//! - `m/…`                → meta (incarnation, sequence, acked watermark, …)
//! - `s/` + session id    → session JSON
//! - `v/` + session id + visit no → `flag ‖ cell key`: the open session's
//!   visit log, only so "undo last visit" knows which cell to retract. It is
//!   deleted when the session ends; a visit log never outlives its session.
//! - `o/` + name          → settings of stores made before `settings.json`;
//!   moved into that file (see `settings`) the first time such a store opens.
//!
//! The PIN, the steward's language and the enrolment live in `settings.json`
//! beside the store, not in it, so a quarantined store takes none of them
//! along. A damaged entry found after a good open marks the store damaged
//! (`tally.damaged`), so the next start sets it aside as the error says.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Brussels;
use dps_model::{CellKey, PnCount, ReplicaId, VisitRecord};
use fs2::FileExt;
use serde::{Deserialize, Serialize};
use sled::Batch;

use crate::compact::{self, CompactPolicy, Compaction};
use crate::error::{Result, TallyError};
use crate::settings::{Settings, StoreNotice};
use crate::types::{CellTotal, Session, Site, Summary, UndoReceipt, VisitReceipt};

/// Sub-directory of the data dir holding the sled files.
pub const STORE_DIR: &str = "tally";
/// Sub-directory of the data dir where damaged stores are moved aside.
pub const QUARANTINE_DIR: &str = "quarantine";
const LOCK_FILE: &str = "tally.lock";
/// Present while a new store is being created (see `TallyStore::create`).
const CREATING_MARKER: &str = "tally.creating";
/// Written when an entry of the open store cannot be decoded: the next open
/// quarantines the store (its content is the reason, never personal data:
/// the store holds none).
pub const DAMAGED_MARKER: &str = "tally.damaged";

/// Settings the sync helper uses. The token is a secret of the device, not
/// personal data.
pub const SETTING_DEVICE_ID: &str = "device_id";
pub const SETTING_HUB_URL: &str = "hub_url";
pub const SETTING_TOKEN: &str = "token";
pub const SETTING_STEWARD_LANGUAGE: &str = "steward_language";
/// The open session's site (JSON), so a session goes on after a quarantine.
pub const SETTING_SESSION_SITE: &str = "session_site";

/// Counts are tiny; a small cache keeps the kiosk's memory low on old laptops.
const CACHE_CAPACITY: u64 = 4 * 1024 * 1024;

const P_CELL: &[u8] = b"c/";
const P_CHANGE: &[u8] = b"q/";
const P_SESSION: &[u8] = b"s/";
const P_VISIT: &[u8] = b"v/";
const P_SETTING: &[u8] = b"o/";
const M_INCARNATION: &[u8] = b"m/incarnation";
const M_DEVICE_FALLBACK: &[u8] = b"m/device_fallback";
const M_CREATED: &[u8] = b"m/created";
const M_SEQ: &[u8] = b"m/seq";
const M_ACKED: &[u8] = b"m/acked";
const M_SESSION_NEXT: &[u8] = b"m/session_next";
const M_SESSION_CURRENT: &[u8] = b"m/session_current";
const M_VISIT_NEXT: &[u8] = b"m/visit_next";
pub(crate) const M_PIN: &[u8] = b"m/pin";

/// How the store came to be open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OpenStatus {
    /// The existing store, as it was.
    Existing,
    /// No store was there: a new one (new incarnation) was created.
    New,
    /// The store could not be opened; it was moved aside and a new one (new
    /// incarnation) was created.
    Quarantined { moved_to: PathBuf, reason: String },
}

/// A freshly opened store and how it came to be.
#[derive(Debug)]
pub struct Opened {
    pub store: TallyStore,
    pub status: OpenStatus,
    /// Whether the existing store was compacted on the way (see `compact`).
    pub compaction: Option<Compaction>,
}

impl Opened {
    /// What to tell the steward, if anything.
    pub fn steward_message(&self) -> Option<String> {
        match &self.status {
            OpenStatus::Quarantined { moved_to, .. } => Some(format!(
                "The visit counts on this kiosk were damaged and could not be read. They were \
                 set aside in {} and counting starts again from zero in a new store; the PIN, \
                 the steward's language and the hub connection are kept. Visits already sent \
                 to the coordination hub are safe there.",
                moved_to.display()
            )),
            _ => None,
        }
    }
}

/// The tally store of this kiosk: one replica.
pub struct TallyStore {
    db: sled::Db,
    /// A second handle on sled's log file, only to fdatasync it: sled's own
    /// flush ends in `sync_file_range`, which neither flushes the disk's write
    /// cache nor the file's size, so it does not survive a power cut.
    log_file: File,
    /// Held for the store's lifetime: tells a second process "in use".
    _lock: File,
    /// Serialises read-modify-write commits (the batches themselves are atomic).
    write: Mutex<()>,
    /// While true (bulk simulation only) commits skip the flush+fsync.
    deferred: std::sync::atomic::AtomicBool,
    incarnation: String,
    device: RwLock<String>,
    path: PathBuf,
    /// The data dir (the settings file and the damage marker live there).
    data_dir: PathBuf,
    /// `settings.json`, as last written (this process alone writes it).
    settings: Mutex<Settings>,
    /// The damage marker is written once per process.
    damage_marked: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for TallyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TallyStore")
            .field("path", &self.path)
            .field("replica", &self.replica())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CellVal {
    count: PnCount,
    seq: u64,
}

impl CellVal {
    fn encode(self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.count.inc.to_be_bytes());
        b[8..16].copy_from_slice(&self.count.ret.to_be_bytes());
        b[16..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
    fn decode(b: &[u8]) -> Result<CellVal> {
        let u = |r: std::ops::Range<usize>| -> Result<u64> {
            b.get(r)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| TallyError::Damaged("a cell value has the wrong length".into()))
        };
        if b.len() != 24 {
            return Err(TallyError::Damaged(
                "a cell value has the wrong length".into(),
            ));
        }
        Ok(CellVal {
            count: PnCount {
                inc: u(0..8)?,
                ret: u(8..16)?,
            },
            seq: u(16..24)?,
        })
    }
}

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

fn visit_key(session: u64, visit_no: u32) -> Vec<u8> {
    let mut k = key(P_VISIT, &session.to_be_bytes());
    k.extend_from_slice(&visit_no.to_be_bytes());
    k
}

fn u64_of(v: Option<sled::IVec>, what: &str) -> Result<u64> {
    match v {
        None => Ok(0),
        Some(v) => <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| TallyError::Damaged(format!("{what} has the wrong length"))),
    }
}

/// A cell key as stored: `day|site|procedure|outcome|language|channel|age|residence`.
/// Every part is a code that cannot contain `|`; this is about a third of
/// the JSON's size, and the store holds each key twice (cell + change index).
fn cell_bytes(cell: &CellKey) -> Result<Vec<u8>> {
    Ok(format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        cell.day.format("%Y-%m-%d"),
        cell.site,
        cell.procedure,
        cell.outcome,
        cell.language.code(),
        cell.channel.code(),
        cell.age_band.code(),
        cell.residence.code()
    )
    .into_bytes())
}

fn cell_of(bytes: &[u8]) -> Result<CellKey> {
    let bad = |what: &str| TallyError::Damaged(format!("a cell key ({what})"));
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not text"))?;
    let p: Vec<&str> = text.split('|').collect();
    let [day, site, procedure, outcome, language, channel, age_band, residence] = p[..] else {
        return Err(bad("wrong number of parts"));
    };
    let e = |e: dps_model::CodeError| bad(&e.to_string());
    Ok(CellKey {
        day: iso_day(day).ok_or_else(|| bad("day"))?,
        site: site.parse().map_err(e)?,
        procedure: procedure.parse().map_err(e)?,
        outcome: outcome.parse().map_err(e)?,
        language: language.parse().map_err(e)?,
        channel: channel.parse().map_err(e)?,
        age_band: age_band.parse().map_err(e)?,
        residence: residence.parse().map_err(e)?,
    })
}

/// `YYYY-MM-DD` as `cell_bytes` writes it. By hand: chrono's format-string
/// parser was a fifth of reading a sync batch.
fn iso_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// The local day in Brussels: tallies are counted per day as the steward lives it.
pub fn brussels_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Brussels).date_naive()
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    // Directory entries (new files, renames) are only durable once the
    // directory itself is fsynced.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TallyError::io(dir))
}

fn remove_if_there(file: &Path, dir: &Path) -> Result<()> {
    match std::fs::remove_file(file) {
        Ok(()) => fsync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TallyError::Io {
            path: file.to_owned(),
            source: e,
        }),
    }
}

/// Moves settings a store made before `settings.json` still holds (`o/…`
/// keys and the PIN) into the settings file, then out of sled: file first,
/// so a crash in between only leaves a copy that the next open moves again
/// (what the file has already wins).
fn migrate_settings(db: &sled::Db, data_dir: &Path, settings: &mut Settings) -> Result<()> {
    let mut old = Vec::new();
    for kv in db.scan_prefix(P_SETTING) {
        let (k, v) = kv?;
        old.push((k, v));
    }
    let pin = db.get(M_PIN)?;
    if old.is_empty() && pin.is_none() {
        return Ok(());
    }
    let mut next = settings.clone();
    for (k, v) in &old {
        let name = String::from_utf8_lossy(&k[P_SETTING.len()..]).into_owned();
        let value = String::from_utf8(v.to_vec())
            .map_err(|_| TallyError::Damaged(format!("setting {name} is not text")))?;
        next.values.entry(name).or_insert(value);
    }
    if let Some(p) = &pin {
        if next.pin.is_none() {
            next.pin = Some(
                String::from_utf8(p.to_vec())
                    .map_err(|_| TallyError::Damaged("the PIN hash is not text".into()))?,
            );
        }
    }
    next.save(data_dir)?;
    *settings = next;
    let mut b = Batch::default();
    for (k, _) in old {
        b.remove(k);
    }
    b.remove(M_PIN);
    db.apply_batch(b)?;
    db.flush()?;
    Ok(())
}

/// Why sled could not open the store, sorted into what we do about it.
pub(crate) enum OpenFailure {
    InUse,
    /// The store is unreadable: quarantine it.
    Damaged(String),
    /// Not the store's fault (permissions, disk full): report, touch nothing.
    Other(TallyError),
}

pub(crate) fn open_sled(path: &Path) -> std::result::Result<sled::Db, OpenFailure> {
    // sled's own lock on its files outlives a dropped `Db` for a moment (its
    // I/O threads let go of the file after `drop` returns; spacejam/sled#1234).
    // The data dir's lock is ours by now, so "in use" can only be our own
    // handle closing (a compaction reopens what it just wrote): wait, briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut pause = std::time::Duration::from_millis(2);
    let mut retried = false;
    loop {
        match try_open_sled(path) {
            Err(OpenFailure::InUse) if std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            // Only once sled has refused the files: no live handle of ours
            // can be writing a snapshot then.
            r @ Err(OpenFailure::Damaged(_)) => {
                if retried || !remove_unfinished_snapshots(path) {
                    return r;
                }
                retried = true;
            }
            r => return r,
        }
    }
}

/// sled 0.34 writes a snapshot to `snap.<lsn>.generating` and renames it
/// when complete; a process killed in between leaves the unfinished file,
/// and the next open takes it for the newest snapshot and fails with
/// "Read corrupted data at file offset None" (spacejam/sled#1527, #1533;
/// seen here by the compaction crash test, about one kill in a thousand).
/// Such a file is never a finished snapshot, and the log still holds what it
/// would have summarised, so removing it loses nothing. Returns whether any
/// was removed.
fn remove_unfinished_snapshots(path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    let mut removed = false;
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.")
            && name.ends_with(".generating")
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed = true;
        }
    }
    if removed {
        // Best effort: the next open would remove it again if this is lost.
        let _ = fsync_dir(path);
    }
    removed
}

fn try_open_sled(path: &Path) -> std::result::Result<sled::Db, OpenFailure> {
    // No background flusher: every commit is flushed and fsynced by `commit`
    // itself, and a thread waking every 500 ms only drains a laptop battery.
    let cfg = sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_CAPACITY)
        .flush_every_ms(None);
    // sled 0.34 panics on some damaged files instead of returning an error; a
    // damaged store must never crash the kiosk, so a panic here is treated as
    // damage. (The panic hook is left alone: swapping a process-wide hook
    // would race with other threads; its message holds no personal data.)
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cfg.open()));
    match r {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
            Err(OpenFailure::InUse)
        }
        Ok(Err(sled::Error::Io(e))) => {
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) {
                Err(OpenFailure::Damaged(e.to_string()))
            } else {
                Err(OpenFailure::Other(TallyError::Io {
                    path: path.to_owned(),
                    source: e,
                }))
            }
        }
        Ok(Err(e)) => Err(OpenFailure::Damaged(e.to_string())),
        Err(_) => Err(OpenFailure::Damaged(
            "the store library crashed reading it".into(),
        )),
    }
}

impl TallyStore {
    /// Whether a store exists in the data dir `dir` (without creating one).
    pub fn exists(dir: &Path) -> bool {
        dir.join(STORE_DIR).join("db").exists() || compact::store_set_aside(dir)
    }

    /// Opens (or creates) the store in the kiosk's data dir `dir`: the sled
    /// files live in `dir/tally`, damaged stores go to `dir/quarantine`.
    pub fn open(dir: &Path, now: DateTime<Utc>) -> Result<Opened, TallyError> {
        TallyStore::open_with(dir, now, CompactPolicy::default())
    }

    /// [`TallyStore::open`], compacting the existing store when `policy` says so.
    pub fn open_with(
        dir: &Path,
        now: DateTime<Utc>,
        policy: CompactPolicy,
    ) -> Result<Opened, TallyError> {
        std::fs::create_dir_all(dir).map_err(TallyError::io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(TallyError::io(&lock_path))?;
        if let Err(e) = lock.try_lock_exclusive() {
            return Err(if e.kind() == fs2::lock_contended_error().kind() {
                TallyError::StoreInUse {
                    dir: dir.to_owned(),
                }
            } else {
                TallyError::Io {
                    path: lock_path,
                    source: e,
                }
            });
        }
        compact::recover(dir)?;
        let path = dir.join(STORE_DIR);
        let settings = Settings::load(dir, &dir.join(QUARANTINE_DIR), now)?;
        let marker = dir.join(CREATING_MARKER);
        if marker.exists() && path.exists() {
            // A creation cut short by a crash: it never held a count.
            std::fs::remove_dir_all(&path).map_err(TallyError::io(&path))?;
        }
        let damaged_marker = dir.join(DAMAGED_MARKER);
        if !path.exists() {
            // A marker without a store: the quarantine went through and the
            // start was cut short before the marker was removed.
            remove_if_there(&damaged_marker, dir)?;
            let store = TallyStore::create(lock, dir, now, settings)?;
            return Ok(Opened {
                store,
                status: OpenStatus::New,
                compaction: None,
            });
        }
        let marked = std::fs::read_to_string(&damaged_marker).ok();
        let damage = match marked {
            Some(reason) => format!("an entry could not be read while counting: {reason}"),
            None => match open_sled(&path) {
                Ok(db) => {
                    if db.get(M_INCARNATION).map_err(TallyError::from)?.is_some() {
                        let (db, compaction) = compact::at_open(dir, db, policy)?;
                        let store = TallyStore::from_db(db, lock, path, dir, settings)?;
                        return Ok(Opened {
                            store,
                            status: OpenStatus::Existing,
                            compaction,
                        });
                    }
                    // A store only ever appears at `path` with its identity record
                    // (see `create`), so sled recovered a log cut short: counting
                    // on would mix two histories.
                    drop(db);
                    "the store opened without its identity record".to_owned()
                }
                Err(OpenFailure::InUse) => {
                    return Err(TallyError::StoreInUse {
                        dir: dir.to_owned(),
                    })
                }
                Err(OpenFailure::Other(e)) => return Err(e),
                Err(OpenFailure::Damaged(reason)) => reason,
            },
        };
        let moved_to = quarantine(dir, &path, now)?;
        remove_if_there(&damaged_marker, dir)?;
        // The session open when the damage happened goes on at the same site:
        // counting continues without the steward doing anything. (Read
        // before `create`, which drops a session site its store lacks.)
        let carried = settings.values.get(SETTING_SESSION_SITE).cloned();
        let store = TallyStore::create(lock, dir, now, settings)?;
        let session_resumed = match carried.map(|j| serde_json::from_str::<Site>(&j)) {
            Some(Ok(site)) => store.start_session(site, now).is_ok(),
            _ => false,
        };
        store.add_notice(StoreNotice::Quarantined {
            at: now,
            moved_to: moved_to.clone(),
            reason: damage.clone(),
            session_resumed,
        })?;
        Ok(Opened {
            store,
            status: OpenStatus::Quarantined {
                moved_to,
                reason: damage,
            },
            compaction: None,
        })
    }

    fn from_db(
        db: sled::Db,
        lock: File,
        path: PathBuf,
        data_dir: &Path,
        mut settings: Settings,
    ) -> Result<TallyStore> {
        let log_path = path.join("db");
        let log_file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(TallyError::io(&log_path))?;
        let text = |k: &[u8]| -> Result<String> {
            let v = db
                .get(k)?
                .ok_or_else(|| TallyError::Damaged("meta missing".into()))?;
            String::from_utf8(v.to_vec()).map_err(|_| TallyError::Damaged("meta not text".into()))
        };
        let incarnation = text(M_INCARNATION)?;
        let fallback = text(M_DEVICE_FALLBACK)?;
        migrate_settings(&db, data_dir, &mut settings)?;
        let device = settings
            .values
            .get(SETTING_DEVICE_ID)
            .cloned()
            .unwrap_or(fallback);
        let store = TallyStore {
            db,
            log_file,
            _lock: lock,
            write: Mutex::new(()),
            deferred: std::sync::atomic::AtomicBool::new(false),
            incarnation,
            device: RwLock::new(device),
            path,
            data_dir: data_dir.to_owned(),
            settings: Mutex::new(settings),
            damage_marked: std::sync::atomic::AtomicBool::new(false),
        };
        // Not fatal: a damaged session entry marks the store for quarantine
        // at the next start (`noted`), and counting may still work till then.
        if let Err(e) = store.sync_session_site() {
            let _ = store.noted::<()>(Err(e));
        }
        Ok(store)
    }

    /// Keeps `session_site` in the settings in step with the store's open
    /// session (stores from before the settings file, or a crash between the
    /// two writes).
    fn sync_session_site(&self) -> Result<()> {
        let want = match self.current_session_()? {
            Some(s) => Some(
                serde_json::to_string(&s.site)
                    .map_err(|e| TallyError::Damaged(format!("a session site: {e}")))?,
            ),
            None => None,
        };
        if self.get_setting(SETTING_SESSION_SITE)? != want {
            match want {
                Some(w) => self.put_setting(SETTING_SESSION_SITE, &w)?,
                None => self.delete_setting(SETTING_SESSION_SITE)?,
            }
        }
        Ok(())
    }

    /// Creates a store with a new incarnation at `dir/tally`. A marker file
    /// exists from before sled creates anything until the identity record is
    /// durable, so a store without one and without the marker can only be
    /// damage, and one with the marker is an interrupted creation.
    fn create(
        lock: File,
        data_dir: &Path,
        now: DateTime<Utc>,
        settings: Settings,
    ) -> Result<TallyStore> {
        let path = data_dir.join(STORE_DIR);
        let marker = data_dir.join(CREATING_MARKER);
        File::create(&marker)
            .and_then(|f| f.sync_all())
            .map_err(TallyError::io(&marker))?;
        fsync_dir(data_dir)?;
        let db = match open_sled(&path) {
            Ok(db) => db,
            Err(OpenFailure::InUse) => {
                return Err(TallyError::StoreInUse {
                    dir: data_dir.to_owned(),
                })
            }
            Err(OpenFailure::Other(e)) => return Err(e),
            Err(OpenFailure::Damaged(r)) => return Err(TallyError::Damaged(r)),
        };
        let mut b = Batch::default();
        b.insert(
            M_INCARNATION,
            uuid::Uuid::new_v4().simple().to_string().as_bytes(),
        );
        b.insert(
            M_DEVICE_FALLBACK,
            format!("unenrolled-{}", uuid::Uuid::new_v4().simple()).as_bytes(),
        );
        b.insert(M_CREATED, now.to_rfc3339().as_bytes());
        b.insert(M_SEQ, &0u64.to_be_bytes());
        b.insert(M_ACKED, &0u64.to_be_bytes());
        db.apply_batch(b)?;
        db.flush()?;
        // sled's files (conf, db, snapshots) and their directory entries.
        for f in std::fs::read_dir(&path).map_err(TallyError::io(&path))? {
            let f = f.map_err(TallyError::io(&path))?.path();
            if f.is_file() {
                File::open(&f)
                    .and_then(|f| f.sync_all())
                    .map_err(TallyError::io(&f))?;
            }
        }
        fsync_dir(&path)?;
        std::fs::remove_file(&marker).map_err(TallyError::io(&marker))?;
        fsync_dir(data_dir)?;
        TallyStore::from_db(db, lock, path, data_dir, settings)
    }

    /// Where the sled files are.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies a batch and makes it durable: sled flush, then fdatasync of the
    /// log file (see `log_file`). Only after this returns may anything be
    /// shown as confirmed.
    fn commit(&self, batch: Batch) -> Result<()> {
        self.db.apply_batch(batch)?;
        if !self.deferred.load(std::sync::atomic::Ordering::SeqCst) {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        self.log_file
            .sync_data()
            .map_err(TallyError::io(self.path.join("db")))
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // A poisoned lock only means another thread panicked mid-call; the
        // store's state is in sled, committed atomically, so carry on.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with per-commit fsync turned off, then makes everything durable
    /// at once. For `tally simulate` and benchmarks only: a crash inside `f`
    /// may lose any of its commits (never half of one).
    pub fn bulk<R>(&self, f: impl FnOnce(&TallyStore) -> R) -> Result<R> {
        use std::sync::atomic::Ordering::SeqCst;
        self.deferred.store(true, SeqCst);
        let r = f(self);
        self.deferred.store(false, SeqCst);
        self.sync()?;
        Ok(r)
    }

    pub fn replica(&self) -> ReplicaId {
        let device = self
            .device
            .read()
            .map(|d| d.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        ReplicaId {
            device,
            incarnation: self.incarnation.clone(),
        }
    }

    fn cell_val(&self, ck: &[u8]) -> Result<Option<CellVal>> {
        self.db
            .get(key(P_CELL, ck))?
            .map(|v| CellVal::decode(&v))
            .transpose()
    }

    fn seq(&self) -> Result<u64> {
        u64_of(self.db.get(M_SEQ)?, "the change sequence")
    }

    /// Bumps `ck`'s counter with `f` under a new sequence number, into `b`.
    fn touch(&self, b: &mut Batch, ck: &[u8], f: impl FnOnce(&mut PnCount)) -> Result<u64> {
        let seq = self.seq()? + 1;
        let mut v = self.cell_val(ck)?.unwrap_or_default();
        if v.seq != 0 {
            b.remove(key(P_CHANGE, &v.seq.to_be_bytes()));
        }
        f(&mut v.count);
        v.seq = seq;
        b.insert(key(P_CELL, ck), &v.encode());
        b.insert(key(P_CHANGE, &seq.to_be_bytes()), ck);
        b.insert(M_SEQ, &seq.to_be_bytes());
        Ok(seq)
    }

    /// Counts one visit in the open session's site, on `now`'s Brussels day.
    /// Returns only once the count is flushed and fsynced.
    fn record_(&self, visit: VisitRecord, now: DateTime<Utc>) -> Result<VisitReceipt> {
        let _g = self.lock();
        let session = self.current_session_()?.ok_or(TallyError::NoSession)?;
        let cell = CellKey::new(brussels_day(now), session.site_code.clone(), visit);
        let ck = cell_bytes(&cell)?;
        let mut b = Batch::default();
        let seq = self.touch(&mut b, &ck, |c| c.inc += 1)?;
        let visit_no = u32::try_from(u64_of(self.db.get(M_VISIT_NEXT)?, "the visit number")? + 1)
            .map_err(|_| TallyError::Damaged("visit number overflow".into()))?;
        b.insert(M_VISIT_NEXT, &u64::from(visit_no).to_be_bytes());
        b.insert(visit_key(session.id, visit_no), key(&[0], &ck));
        self.commit(b)?;
        Ok(VisitReceipt {
            seq,
            session: session.id,
            visit_no,
            cell,
        })
    }

    /// Retracts the open session's last visit not yet undone. Never retracts
    /// more than was counted, and never a visit of an earlier session.
    fn undo_last_(&self) -> Result<UndoReceipt> {
        let _g = self.lock();
        let session = self.current_session_()?.ok_or(TallyError::NoSession)?;
        let prefix = key(P_VISIT, &session.id.to_be_bytes());
        let mut found = None;
        for kv in self.db.scan_prefix(&prefix).rev() {
            let (k, v) = kv?;
            if v.first() == Some(&0) {
                found = Some((k, v));
                break;
            }
        }
        let (k, v) = found.ok_or(TallyError::NothingToUndo)?;
        let visit_no = k
            .get(prefix.len()..)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| TallyError::Damaged("a visit log key".into()))?;
        let ck = &v[1..];
        let cell = cell_of(ck)?;
        let current = self.cell_val(ck)?.unwrap_or_default();
        if current.count.ret >= current.count.inc {
            // The log says counted but the cell disagrees: refuse rather than
            // go below zero.
            return Err(TallyError::NothingToUndo);
        }
        let mut b = Batch::default();
        let seq = self.touch(&mut b, ck, |c| c.ret += 1)?;
        b.insert(k, key(&[1], ck));
        self.commit(b)?;
        Ok(UndoReceipt {
            seq,
            session: session.id,
            visit_no,
            cell,
        })
    }

    /// Every cell with its counts, in cell order.
    fn cells_(&self) -> Result<Vec<CellTotal>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(P_CELL) {
            let (k, v) = kv?;
            out.push(CellTotal::new(
                cell_of(&k[P_CELL.len()..])?,
                CellVal::decode(&v)?.count,
            ));
        }
        Ok(out)
    }

    /// Net totals by cell (cells whose visits were all undone are left out).
    pub fn totals(&self) -> Result<Vec<CellTotal>> {
        Ok(self.cells_()?.into_iter().filter(|c| c.net > 0).collect())
    }

    /// Today's (Brussels day of `now`) cells, net.
    pub fn today(&self, now: DateTime<Utc>) -> Result<Vec<CellTotal>> {
        let day = brussels_day(now);
        Ok(self
            .totals()?
            .into_iter()
            .filter(|c| c.cell.day == day)
            .collect())
    }

    /// Today's visits by procedure and outcome.
    fn today_summary_(&self, now: DateTime<Utc>) -> Result<Summary> {
        let day = brussels_day(now);
        let cells: Vec<_> = self
            .cells()?
            .into_iter()
            .filter(|c| c.cell.day == day)
            .collect();
        Ok(Summary::of(cells.iter().map(|c| (&c.cell, c.count()))))
    }

    // ---- sync-facing API -------------------------------------------------

    /// Cells changed after watermark `after` with their ABSOLUTE counts, at
    /// most `limit`, in change order, plus the watermark to acknowledge once
    /// the hub has them (`after` itself when nothing is pending).
    fn pending_(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(CellKey, PnCount)>, u64), TallyError> {
        let mut out = Vec::new();
        let mut mark = after;
        if limit == 0 {
            return Ok((out, mark));
        }
        let start = key(P_CHANGE, &after.saturating_add(1).to_be_bytes());
        let end = key(P_CHANGE, &u64::MAX.to_be_bytes());
        // First the change index (one sequential scan), then the cells it
        // names, looked up in key order: on a large backlog the lookups in
        // change order jumped all over the tree and missed sled's small cache
        // for nearly every cell.
        let mut changed: Vec<(u64, sled::IVec)> = Vec::new();
        for kv in self.db.range(start..=end) {
            let (k, ck) = kv?;
            let seq = k
                .get(P_CHANGE.len()..)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| TallyError::Damaged("a change key".into()))?;
            changed.push((seq, ck));
            if changed.len() >= limit {
                break;
            }
        }
        let mut order: Vec<usize> = (0..changed.len()).collect();
        order.sort_by(|&a, &b| changed[a].1.cmp(&changed[b].1));
        let mut counts = vec![PnCount::default(); changed.len()];
        for i in order {
            let v = self
                .cell_val(&changed[i].1)?
                .ok_or_else(|| TallyError::Damaged("a change points at no cell".into()))?;
            counts[i] = v.count;
        }
        for ((seq, ck), count) in changed.iter().zip(counts) {
            out.push((cell_of(ck)?, count));
            mark = *seq;
        }
        Ok((out, mark))
    }

    /// The watermark the hub last acknowledged.
    fn acked_(&self) -> Result<u64, TallyError> {
        u64_of(self.db.get(M_ACKED)?, "the acked watermark")
    }

    /// Records (durably) that the hub has every change up to `watermark`.
    /// Acknowledgements never move backwards: an old, replayed ack is ignored.
    fn set_acked_(&self, watermark: u64) -> Result<(), TallyError> {
        let _g = self.lock();
        let latest = self.seq()?;
        if watermark > latest {
            return Err(TallyError::WatermarkAhead { watermark, latest });
        }
        if watermark <= self.acked_()? {
            return Ok(());
        }
        let mut b = Batch::default();
        b.insert(M_ACKED, &watermark.to_be_bytes());
        self.commit(b)
    }

    /// How many cells changed since the acknowledged watermark.
    fn pending_count_(&self) -> Result<u64, TallyError> {
        let start = key(P_CHANGE, &self.acked_()?.saturating_add(1).to_be_bytes());
        let end = key(P_CHANGE, &u64::MAX.to_be_bytes());
        let mut n = 0;
        for kv in self.db.range(start..=end) {
            kv?;
            n += 1;
        }
        Ok(n)
    }

    // ---- settings (in `settings.json`, see `crate::settings`) -------------

    fn check_setting_name(name: &str) -> Result<()> {
        match dps_model::Code::new(name) {
            Ok(_) => Ok(()),
            Err(_) => Err(TallyError::InvalidSettingName(name.to_owned())),
        }
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        // Poisoned only if a thread panicked mid-update; the file on disk is
        // whole (written atomically), and so is the value in memory, which
        // is only replaced after a successful write.
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the settings with `f` and writes them durably; memory keeps
    /// the old value if the write fails.
    fn update_settings(&self, f: impl FnOnce(&mut Settings)) -> Result<()> {
        let mut current = self.settings();
        let mut next = current.clone();
        f(&mut next);
        if next != *current {
            next.save(&self.data_dir)?;
            *current = next;
        }
        Ok(())
    }

    pub fn get_setting(&self, name: &str) -> Result<Option<String>> {
        Self::check_setting_name(name)?;
        Ok(self.settings().values.get(name).cloned())
    }

    /// Stores a small setting durably. Setting `device_id` changes the
    /// replica's device from the random pre-enrolment one (see `replica`).
    pub fn put_setting(&self, name: &str, value: &str) -> Result<()> {
        self.put_settings(&[(name, value)])
    }

    /// Stores several settings in one durable write of the settings file
    /// (all or none of them), as [`Self::put_setting`] would one by one.
    pub fn put_settings(&self, pairs: &[(&str, &str)]) -> Result<()> {
        for (name, _) in pairs {
            Self::check_setting_name(name)?;
        }
        self.update_settings(|s| {
            for (name, value) in pairs {
                s.values.insert((*name).to_owned(), (*value).to_owned());
            }
        })?;
        if let Some((_, value)) = pairs.iter().rev().find(|(n, _)| *n == SETTING_DEVICE_ID) {
            let mut d = self.device.write().unwrap_or_else(|p| p.into_inner());
            *d = (*value).to_owned();
        }
        Ok(())
    }

    pub fn delete_setting(&self, name: &str) -> Result<()> {
        Self::check_setting_name(name)?;
        self.update_settings(|s| {
            s.values.remove(name);
        })?;
        if name == SETTING_DEVICE_ID {
            let fallback = self
                .db
                .get(M_DEVICE_FALLBACK)?
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default();
            *self.device.write().unwrap_or_else(|p| p.into_inner()) = fallback;
        }
        Ok(())
    }

    pub fn steward_language(&self) -> Result<Option<dps_model::Language>> {
        Ok(self
            .get_setting(SETTING_STEWARD_LANGUAGE)?
            .and_then(|s| s.parse().ok()))
    }

    pub fn set_steward_language(&self, l: dps_model::Language) -> Result<()> {
        self.put_setting(SETTING_STEWARD_LANGUAGE, l.code())
    }

    pub(crate) fn pin_hash(&self) -> Option<String> {
        self.settings().pin.clone()
    }

    pub(crate) fn set_pin_hash(&self, hash: String) -> Result<()> {
        self.update_settings(|s| s.pin = Some(hash))
    }

    /// What the steward has not acknowledged yet (a quarantine…), oldest first.
    pub fn notices(&self) -> Vec<StoreNotice> {
        self.settings().notices.clone()
    }

    fn add_notice(&self, n: StoreNotice) -> Result<()> {
        self.update_settings(|s| s.notices.push(n))
    }

    /// The steward has read the notices: they are gone for good.
    pub fn acknowledge_notices(&self) -> Result<()> {
        self.update_settings(|s| s.notices.clear())
    }

    /// Passes `r` through; an error that shows the store is damaged marks
    /// it so the next start quarantines it (what the error tells the steward).
    fn noted<T>(&self, r: Result<T>) -> Result<T> {
        use std::sync::atomic::Ordering::SeqCst;
        if let Err(
            e @ (TallyError::Damaged(_) | TallyError::Store(sled::Error::Corruption { .. })),
        ) = &r
        {
            if !self.damage_marked.swap(true, SeqCst) {
                let marker = self.data_dir.join(DAMAGED_MARKER);
                // Best effort: if even this write fails, the error still
                // reaches the steward, and the store is no worse.
                let _ = File::create(&marker)
                    .and_then(|mut f| {
                        use std::io::Write;
                        f.write_all(e.to_string().as_bytes())?;
                        f.sync_all()
                    })
                    .map_err(TallyError::io(&marker))
                    .and_then(|()| fsync_dir(&self.data_dir));
            }
        }
        r
    }

    // ---- outreach sessions ----------------------------------------------------

    fn session(&self, id: u64) -> Result<Option<Session>> {
        self.db
            .get(key(P_SESSION, &id.to_be_bytes()))?
            .map(|v| {
                serde_json::from_slice(&v)
                    .map_err(|e| TallyError::Damaged(format!("session {id}: {e}")))
            })
            .transpose()
    }

    /// The open session, if any.
    fn current_session_(&self) -> Result<Option<Session>> {
        match self.db.get(M_SESSION_CURRENT)? {
            None => Ok(None),
            Some(v) => {
                let id = u64_of(Some(v), "the current session")?;
                self.session(id)?
                    .ok_or_else(|| TallyError::Damaged("the open session is missing".into()))
                    .map(Some)
            }
        }
    }

    /// Starts an outreach session at `site`.
    fn start_session_(&self, site: Site, now: DateTime<Utc>) -> Result<Session> {
        let site_code = site.code()?;
        let _g = self.lock();
        if self.current_session_()?.is_some() {
            return Err(TallyError::SessionAlreadyOpen);
        }
        let id = u64_of(self.db.get(M_SESSION_NEXT)?, "the session counter")? + 1;
        let s = Session {
            id,
            site,
            site_code,
            started_at: now,
            ended_at: None,
            summary: None,
        };
        let json = serde_json::to_vec(&s).map_err(|e| TallyError::Damaged(e.to_string()))?;
        let mut b = Batch::default();
        b.insert(key(P_SESSION, &id.to_be_bytes()), json);
        b.insert(M_SESSION_NEXT, &id.to_be_bytes());
        b.insert(M_SESSION_CURRENT, &id.to_be_bytes());
        b.insert(M_VISIT_NEXT, &0u64.to_be_bytes());
        self.commit(b)?;
        Ok(s)
    }

    fn session_log(&self, id: u64) -> Result<Vec<(sled::IVec, CellKey, bool)>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(key(P_VISIT, &id.to_be_bytes())) {
            let (k, v) = kv?;
            let flag = *v
                .first()
                .ok_or_else(|| TallyError::Damaged("empty visit log".into()))?;
            out.push((k, cell_of(&v[1..])?, flag == 0));
        }
        Ok(out)
    }

    /// The open session's visits by procedure and outcome.
    fn session_summary_(&self) -> Result<Option<Summary>> {
        let Some(s) = self.current_session_()? else {
            return Ok(None);
        };
        let log = self.session_log(s.id)?;
        Ok(Some(Summary::of(log.iter().map(|(_, cell, counted)| {
            (
                cell,
                PnCount {
                    inc: 1,
                    ret: u64::from(!counted),
                },
            )
        }))))
    }

    /// Ends the open session: its summary is kept, its visit log dropped (so
    /// no undo after the end).
    fn end_session_(&self, now: DateTime<Utc>) -> Result<Session> {
        let _g = self.lock();
        let mut s = self.current_session_()?.ok_or(TallyError::NoSession)?;
        let log = self.session_log(s.id)?;
        let summary = Summary::of(log.iter().map(|(_, cell, c)| {
            (
                cell,
                PnCount {
                    inc: 1,
                    ret: u64::from(!c),
                },
            )
        }));
        s.ended_at = Some(now);
        s.summary = Some(summary);
        let json = serde_json::to_vec(&s).map_err(|e| TallyError::Damaged(e.to_string()))?;
        let mut b = Batch::default();
        for (k, _, _) in log {
            b.remove(k);
        }
        b.insert(key(P_SESSION, &s.id.to_be_bytes()), json);
        b.remove(M_SESSION_CURRENT);
        b.remove(M_VISIT_NEXT);
        self.commit(b)?;
        Ok(s)
    }

    /// Every session, oldest first.
    fn sessions_(&self) -> Result<Vec<Session>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(P_SESSION) {
            let (_, v) = kv?;
            out.push(
                serde_json::from_slice(&v)
                    .map_err(|e| TallyError::Damaged(format!("a session: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Bytes the store takes on disk (sled's files).
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }
}

/// The public face of the store: each call passes through `noted`, so an
/// entry found damaged marks the store for quarantine at the next start.
impl TallyStore {
    /// Counts one visit in the open session's site, on `now`'s Brussels day.
    /// Returns only once the count is flushed and fsynced.
    pub fn record(&self, visit: VisitRecord, now: DateTime<Utc>) -> Result<VisitReceipt> {
        self.noted(self.record_(visit, now))
    }

    /// Retracts the open session's last visit not yet undone. Never retracts
    /// more than was counted, and never a visit of an earlier session.
    pub fn undo_last(&self) -> Result<UndoReceipt> {
        self.noted(self.undo_last_())
    }

    /// Every cell with its counts, in cell order.
    pub fn cells(&self) -> Result<Vec<CellTotal>> {
        self.noted(self.cells_())
    }

    /// Today's visits by procedure and outcome.
    pub fn today_summary(&self, now: DateTime<Utc>) -> Result<Summary> {
        self.noted(self.today_summary_(now))
    }

    /// Cells changed after watermark `after` with their ABSOLUTE counts, at
    /// most `limit`, in change order, plus the watermark to acknowledge once
    /// the hub has them (`after` itself when nothing is pending).
    pub fn pending(&self, after: u64, limit: usize) -> Result<(Vec<(CellKey, PnCount)>, u64)> {
        self.noted(self.pending_(after, limit))
    }

    /// The watermark the hub last acknowledged.
    pub fn acked(&self) -> Result<u64> {
        self.noted(self.acked_())
    }

    /// Records (durably) that the hub has every change up to `watermark`.
    /// Acknowledgements never move backwards: an old, replayed ack is ignored.
    pub fn set_acked(&self, watermark: u64) -> Result<()> {
        self.noted(self.set_acked_(watermark))
    }

    /// How many cells changed since the acknowledged watermark.
    pub fn pending_count(&self) -> Result<u64> {
        self.noted(self.pending_count_())
    }

    /// The open session, if any.
    pub fn current_session(&self) -> Result<Option<Session>> {
        self.noted(self.current_session_())
    }

    /// Starts an outreach session at `site`. Its site is also kept in the
    /// settings, so the session goes on if the store is ever quarantined.
    pub fn start_session(&self, site: Site, now: DateTime<Utc>) -> Result<Session> {
        let s = self.noted(self.start_session_(site, now))?;
        let json = serde_json::to_string(&s.site)
            .map_err(|e| TallyError::Damaged(format!("a session site: {e}")))?;
        self.put_setting(SETTING_SESSION_SITE, &json)?;
        Ok(s)
    }

    /// The open session's visits by procedure and outcome.
    pub fn session_summary(&self) -> Result<Option<Summary>> {
        self.noted(self.session_summary_())
    }

    /// Ends the open session: its summary is kept, its visit log dropped (so
    /// no undo after the end).
    pub fn end_session(&self, now: DateTime<Utc>) -> Result<Session> {
        let s = self.noted(self.end_session_(now))?;
        self.delete_setting(SETTING_SESSION_SITE)?;
        Ok(s)
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Result<Vec<Session>> {
        self.noted(self.sessions_())
    }
}

/// Moves a damaged store aside to `dir/quarantine/tally-<UTC time>` (never
/// deletes it: someone may want to recover it) and fsyncs the directories.
fn quarantine(dir: &Path, path: &Path, now: DateTime<Utc>) -> Result<PathBuf> {
    let qdir = dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&qdir).map_err(TallyError::io(&qdir))?;
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let mut target = qdir.join(format!("tally-{stamp}"));
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = qdir.join(format!("tally-{stamp}-{n}"));
    }
    std::fs::rename(path, &target).map_err(TallyError::io(path))?;
    fsync_dir(&qdir)?;
    fsync_dir(dir)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_day_reads_what_cell_bytes_writes_and_nothing_else() {
        for d in ["2026-03-05", "1999-12-31", "2024-02-29", "0001-01-01"] {
            assert_eq!(
                iso_day(d),
                NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
                "{d}"
            );
            assert!(iso_day(d).is_some(), "{d}");
        }
        for bad in [
            "",
            "2026-3-05",
            "2026-03-5",
            "2026/03/05",
            "2026-13-01",
            "2023-02-29",
            "+026-03-05",
            "2026-03-05 ",
            "2026-0a-05",
            "２０２６-03-05",
        ] {
            assert_eq!(iso_day(bad), None, "{bad:?}");
        }
    }
}
