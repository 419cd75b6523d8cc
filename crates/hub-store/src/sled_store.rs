//! The embedded store: one sled database in the data directory (one
//! process at a time; other processes reach it through the hub's admin
//! channel).

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dps_model::{CellKey, PnCount, ReplicaId};
use dps_sync::wire::PushRequest;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::{
    advance_watermark, merged_cells, Device, IngestOutcome, PendingEnrolment, ReEnrolment, Store,
    StoreError,
};

/// The embedded store: one sled database in the data directory.
#[derive(Clone)]
pub struct SledStore {
    pub(crate) db: sled::Db,
    /// Cells and replica watermarks (see `P_CELL`, `P_WATERMARK`).
    pub(crate) data: sled::Tree,
    devices: sled::Tree,
    enrolments: sled::Tree,
    /// Coordination accounts, failed logins and sessions (see `coordination`).
    pub(crate) accounts: sled::Tree,
    pub(crate) failures: sled::Tree,
    pub(crate) sessions: sled::Tree,
    /// Serialises ingests and device updates: a plain atomic `Batch` under
    /// this lock replaced a sled transaction (the one-kiosk-year sync went
    /// from 10.7 s to 7.5 s); one process owns the store anyway.
    write: Arc<Mutex<()>>,
}

/// The sled database's directory inside the hub's data directory.
const DB_DIR: &str = "hub.sled";

const SEP: u8 = 0x00;
const REP_SEP: u8 = 0x1f;

fn replica_key(r: &ReplicaId) -> Vec<u8> {
    let mut k = Vec::with_capacity(r.device.len() + r.incarnation.len() + 1);
    k.extend_from_slice(r.device.as_bytes());
    k.push(REP_SEP);
    k.extend_from_slice(r.incarnation.as_bytes());
    k
}

/// Key prefixes in the `data` tree: cells, watermarks and each device's sync
/// status share one tree so a single atomic `Batch` covers a whole push.
const P_CELL: u8 = b'c';
const P_WATERMARK: u8 = b'w';
/// `s` + device id: what the device's last push said ([`SyncState`]). Kept
/// apart from the device's record (`devices` tree: identity, token, site,
/// revocation), which an ingest therefore never rewrites: a push cannot undo
/// a revocation or a re-keying that happened while it was on the way.
const P_STATUS: u8 = b's';

fn status_key(device: &str) -> Vec<u8> {
    let mut k = vec![P_STATUS];
    k.extend_from_slice(device.as_bytes());
    k
}

/// A device's last sync as its latest push recorded it. Stores written
/// before this key existed kept these fields in the device record; the
/// record's values stand until the device's next push.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SyncState {
    last_sync: Option<DateTime<Utc>>,
    clock_skew_secs: Option<i64>,
    pending: Option<u64>,
}

fn watermark_key(rk: &[u8]) -> Vec<u8> {
    let mut k = vec![P_WATERMARK];
    k.extend_from_slice(rk);
    k
}

fn cell_key(rk: &[u8], c: &CellKey) -> Result<Vec<u8>, StoreError> {
    let mut k = vec![P_CELL];
    k.extend_from_slice(rk);
    k.push(SEP);
    serde_json::to_writer(&mut k, c).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(k)
}

fn count_bytes(c: PnCount) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&c.inc.to_be_bytes());
    b[8..].copy_from_slice(&c.ret.to_be_bytes());
    b
}

pub(crate) fn count_of(b: &[u8]) -> Result<PnCount, StoreError> {
    let arr: [u8; 16] = b
        .try_into()
        .map_err(|_| StoreError::Corrupt("cell value".into()))?;
    let (i, r) = arr.split_at(8);
    let inc = u64::from_be_bytes(
        i.try_into()
            .map_err(|_| StoreError::Corrupt("cell value".into()))?,
    );
    let ret = u64::from_be_bytes(
        r.try_into()
            .map_err(|_| StoreError::Corrupt("cell value".into()))?,
    );
    Ok(PnCount { inc, ret })
}

fn u64_of(b: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(
        b.try_into()
            .map_err(|_| StoreError::Corrupt("watermark".into()))?,
    ))
}

pub(crate) fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn unjson<T: for<'a> Deserialize<'a>>(b: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

impl SledStore {
    /// Whether `dir` holds a store (so [`SledStore::open`] would not create one).
    pub fn exists(dir: &Path) -> bool {
        dir.join(DB_DIR).join("conf").is_file()
    }

    /// Open (or create) the store in `dir`. Another process holding it is
    /// reported as [`StoreError::Locked`], never as a raw lock error.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir.join(DB_DIR))
            .open()
            .map_err(|e| match e {
                // sled wraps the failed file lock in an `Other` I/O error whose
                // only mark is its text.
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.raw_os_error() == Some(11)
                        || io.to_string().contains("could not acquire lock") =>
                {
                    StoreError::Locked {
                        dir: dir.display().to_string(),
                    }
                }
                other => other.into(),
            })?;
        Ok(SledStore {
            data: db.open_tree("data")?,
            write: Arc::new(Mutex::new(())),
            devices: db.open_tree("devices")?,
            enrolments: db.open_tree("enrolments")?,
            accounts: db.open_tree("accounts")?,
            failures: db.open_tree("login_failures")?,
            sessions: db.open_tree("sessions")?,
            db,
        })
    }
}

impl SledStore {
    fn write_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // Poisoned only if a writer panicked; sled's own state is consistent.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The device record alone (no sync status).
    fn record(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.devices
            .get(id.as_bytes())?
            .map(|b| unjson(&b, "device"))
            .transpose()
    }

    /// The record with its latest sync status laid over it.
    fn with_status(&self, mut d: Device) -> Result<Device, StoreError> {
        if let Some(raw) = self.data.get(status_key(&d.id))? {
            let st: SyncState = unjson(&raw, "device sync status")?;
            d.last_sync = st.last_sync;
            d.clock_skew_secs = st.clock_skew_secs;
            d.pending = st.pending;
        }
        Ok(d)
    }
}

impl Store for SledStore {
    fn add_enrolment(&self, code_hash: &[u8; 32], e: &PendingEnrolment) -> Result<(), StoreError> {
        self.enrolments.insert(code_hash, json(e)?)?;
        self.db.flush()?;
        Ok(())
    }

    fn redeem(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<Option<Device>, StoreError> {
        // Device records change under the write lock only (see `revoke`).
        let _w = self.write_lock();
        let r = (&self.enrolments, &self.devices)
            .transaction(|(en, dv)| {
                let Some(raw) = en.get(code_hash)? else {
                    return Ok(None);
                };
                let pe: PendingEnrolment =
                    unjson(&raw, "enrolment").map_err(ConflictableTransactionError::Abort)?;
                // Used or not, an expired code is gone.
                en.remove(&code_hash[..])?;
                if pe.expires <= now {
                    return Ok(None);
                }
                let d = Device {
                    site: pe.site,
                    ..device.clone()
                };
                dv.insert(
                    d.id.as_bytes(),
                    json(&d).map_err(ConflictableTransactionError::Abort)?,
                )?;
                Ok(Some(d))
            })
            .map_err(tx_err)?;
        self.db.flush()?;
        Ok(r)
    }

    fn re_enrol(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<ReEnrolment, StoreError> {
        // Under the write lock: a revocation or a push of this device cannot
        // interleave with the check and the re-keying.
        let _w = self.write_lock();
        let r = (&self.enrolments, &self.devices)
            .transaction(|(en, dv)| {
                let Some(raw) = en.get(code_hash)? else {
                    return Ok(ReEnrolment::BadCode);
                };
                let pe: PendingEnrolment =
                    unjson(&raw, "enrolment").map_err(ConflictableTransactionError::Abort)?;
                if pe.expires <= now {
                    en.remove(&code_hash[..])?;
                    return Ok(ReEnrolment::BadCode);
                }
                let old: Option<Device> = dv
                    .get(device.id.as_bytes())?
                    .map(|b| unjson(&b, "device"))
                    .transpose()
                    .map_err(ConflictableTransactionError::Abort)?;
                if old.as_ref().is_some_and(|d| d.revoked.is_none()) {
                    // Nothing written: the code stays for this or another kiosk.
                    return Ok(ReEnrolment::Active);
                }
                en.remove(&code_hash[..])?;
                let d = Device {
                    site: pe.site,
                    revoked: None,
                    ..match &old {
                        // Keep what the old record knew of its last sync.
                        Some(o) => Device {
                            token_hash: device.token_hash.clone(),
                            enrolled: device.enrolled,
                            ..o.clone()
                        },
                        None => device.clone(),
                    }
                };
                dv.insert(
                    d.id.as_bytes(),
                    json(&d).map_err(ConflictableTransactionError::Abort)?,
                )?;
                Ok(if old.is_some() {
                    ReEnrolment::Rekeyed(d)
                } else {
                    ReEnrolment::Restored(d)
                })
            })
            .map_err(tx_err)?;
        self.db.flush()?;
        Ok(match r {
            ReEnrolment::Rekeyed(d) => ReEnrolment::Rekeyed(self.with_status(d)?),
            other => other,
        })
    }

    fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.record(id)?.map(|d| self.with_status(d)).transpose()
    }

    fn devices(&self) -> Result<Vec<Device>, StoreError> {
        self.devices
            .iter()
            .map(|r| {
                r.map_err(StoreError::from)
                    .and_then(|(_, v)| unjson(&v, "device"))
                    .and_then(|d| self.with_status(d))
            })
            .collect()
    }

    fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let _w = self.write_lock();
        let Some(mut d) = self.record(id)? else {
            return Ok(false);
        };
        if d.revoked.is_none() {
            d.revoked = Some(now);
        }
        self.devices.insert(id.as_bytes(), json(&d)?)?;
        self.db.flush()?;
        Ok(true)
    }

    fn ingest(
        &self,
        device: &str,
        req: &PushRequest,
        hub_time: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError> {
        let rk = replica_key(&req.replica);
        // Repeated keys merged first (see `merged_cells`); keyed by the
        // encoded key, so each stored cell is read and written once.
        let merged = merged_cells(req)
            .into_iter()
            .map(|(k, c)| Ok((cell_key(&rk, k)?, c)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // One writer at a time: the reads below and the batch that follows
        // must not interleave with another push, a revocation or a re-keying.
        let _w = self.write_lock();
        let Some(d) = self.record(device)? else {
            return Err(StoreError::NoDevice(device.to_owned()));
        };
        // Checked again here, under the lock: the handler authenticated the
        // push before it waited for the lock, and a revocation that returned
        // in between must hold.
        if d.revoked.is_some() {
            return Err(StoreError::Revoked(device.to_owned()));
        }
        let mut batch = sled::Batch::default();
        let mut stored = 0;
        for (k, count) in merged {
            let old = match self.data.get(&k)? {
                Some(b) => count_of(&b)?,
                None => PnCount::default(),
            };
            let merged = old.merge(count);
            if merged != old {
                batch.insert(k, &count_bytes(merged)[..]);
                stored += 1;
            }
        }
        let wk = watermark_key(&rk);
        let wm = match self.data.get(&wk)? {
            Some(b) => u64_of(&b)?,
            None => 0,
        };
        // Only a contiguous batch moves the watermark (see module doc).
        let new_wm = advance_watermark(wm, req.after, req.upto);
        if new_wm != wm {
            batch.insert(wk, &new_wm.to_be_bytes()[..]);
        }
        let st = SyncState {
            last_sync: Some(hub_time),
            clock_skew_secs: Some((req.kiosk_time - hub_time).num_seconds()),
            pending: Some(req.pending),
        };
        batch.insert(status_key(device), json(&st)?);
        // Cells, watermark and the device's sync status in ONE atomic batch
        // of one tree.
        self.data.apply_batch(batch)?;
        Ok(IngestOutcome {
            watermark: new_wm,
            stored,
        })
    }

    fn cells(&self) -> Result<Vec<(ReplicaId, CellKey, PnCount)>, StoreError> {
        let mut out = Vec::new();
        for r in self.data.scan_prefix([P_CELL]) {
            let (k, v) = r?;
            let k = &k[1..];
            let sep = k
                .iter()
                .position(|b| *b == SEP)
                .ok_or_else(|| StoreError::Corrupt("cell key".into()))?;
            let (rk, ck) = (&k[..sep], &k[sep + 1..]);
            let rs = rk
                .iter()
                .position(|b| *b == REP_SEP)
                .ok_or_else(|| StoreError::Corrupt("replica key".into()))?;
            let replica = ReplicaId {
                device: String::from_utf8_lossy(&rk[..rs]).into_owned(),
                incarnation: String::from_utf8_lossy(&rk[rs + 1..]).into_owned(),
            };
            out.push((replica, unjson(ck, "cell key")?, count_of(&v)?));
        }
        Ok(out)
    }

    fn watermark(&self, replica: &ReplicaId) -> Result<u64, StoreError> {
        self.data
            .get(watermark_key(&replica_key(replica)))?
            .map_or(Ok(0), |b| u64_of(&b))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}
