//! The hub's storage behind a trait, so the embedded sled store (default,
//! nothing to install) and PostgreSQL (issue 7) serve the same handlers.
//!
//! The trait is synchronous: handlers call it through `spawn_blocking`, which
//! suits sled and a blocking PostgreSQL client alike.
//!
//! Invariant every implementation keeps: an ingest merges cells by maximum
//! *and* advances the replica's watermark in ONE transaction, and advances
//! it only contiguously (`watermark >= after`). So "the hub holds replica R up
//! to sequence W" is never a lie, even after a crash or a restore from an
//! older copy — which is what lets the kiosk heal the hub by resending.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dps_model::{CellKey, Code, PnCount, ReplicaId};
use dps_sync::wire::PushRequest;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {dir} is in use by another dps-hub process")]
    Locked { dir: String },
    #[error("store: {0}")]
    Backend(String),
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    #[error("no such device {0:?}")]
    NoDevice(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// A code waiting to be redeemed. Only the code's hash is the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrolment {
    pub site: Code,
    pub expires: DateTime<Utc>,
}

/// An enrolled kiosk as the hub knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub site: Code,
    /// Hex SHA-256 of the secret part of the token; the token itself is never stored.
    pub token_hash: String,
    pub enrolled: DateTime<Utc>,
    pub last_sync: Option<DateTime<Utc>>,
    /// Kiosk clock minus hub clock at the last push, in seconds.
    pub clock_skew_secs: Option<i64>,
    /// Cells the kiosk said were still waiting after its last push.
    pub pending: Option<u64>,
    pub revoked: Option<DateTime<Utc>>,
}

/// What an ingest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub watermark: u64,
    /// Cells whose stored value grew.
    pub stored: u64,
}

pub trait Store: Send + Sync + 'static {
    fn add_enrolment(&self, code_hash: &[u8; 32], e: &PendingEnrolment) -> Result<(), StoreError>;
    /// Consume a code (once, atomically) and create `device` at the code's
    /// site. `None` when the code is unknown, used or expired.
    fn redeem(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<Option<Device>, StoreError>;
    fn device(&self, id: &str) -> Result<Option<Device>, StoreError>;
    fn devices(&self) -> Result<Vec<Device>, StoreError>;
    /// Returns false when there is no such device.
    fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Merge a push from `device` (ownership already checked) and record the
    /// device's last sync, clock skew and pending count, all in one transaction.
    fn ingest(
        &self,
        device: &str,
        req: &PushRequest,
        hub_time: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError>;
    /// Every stored replica cell.
    fn cells(&self) -> Result<Vec<(ReplicaId, CellKey, PnCount)>, StoreError>;
    fn watermark(&self, replica: &ReplicaId) -> Result<u64, StoreError>;
    /// Make everything acknowledged so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

/// Net visits per cell over all replicas: what the coordination counts.
pub fn totals(store: &dyn Store) -> Result<BTreeMap<CellKey, u64>, StoreError> {
    let mut t = BTreeMap::new();
    for (_, k, c) in store.cells()? {
        *t.entry(k).or_insert(0) += c.net();
    }
    Ok(t)
}

/// The embedded store: one sled database in the data directory.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    /// Cells and replica watermarks (see `P_CELL`, `P_WATERMARK`).
    data: sled::Tree,
    devices: sled::Tree,
    enrolments: sled::Tree,
    /// Serialises ingests and device updates: a plain atomic `Batch` under
    /// this lock replaced a sled transaction (the one-kiosk-year sync went
    /// from 10.7 s to 7.5 s); one process owns the store anyway.
    write: Arc<Mutex<()>>,
}

const SEP: u8 = 0x00;
const REP_SEP: u8 = 0x1f;

fn replica_key(r: &ReplicaId) -> Vec<u8> {
    let mut k = Vec::with_capacity(r.device.len() + r.incarnation.len() + 1);
    k.extend_from_slice(r.device.as_bytes());
    k.push(REP_SEP);
    k.extend_from_slice(r.incarnation.as_bytes());
    k
}

/// Key prefixes in the `data` tree: cells and watermarks share one tree so a
/// single atomic `Batch` covers both.
const P_CELL: u8 = b'c';
const P_WATERMARK: u8 = b'w';

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

fn count_of(b: &[u8]) -> Result<PnCount, StoreError> {
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

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn unjson<T: for<'a> Deserialize<'a>>(b: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

impl SledStore {
    /// Open (or create) the store in `dir`. Another process holding it is
    /// reported as [`StoreError::Locked`], never as a raw lock error.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir.join("hub.sled"))
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
            db,
        })
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

    fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.devices
            .get(id.as_bytes())?
            .map(|b| unjson(&b, "device"))
            .transpose()
    }

    fn devices(&self) -> Result<Vec<Device>, StoreError> {
        self.devices
            .iter()
            .map(|r| {
                r.map_err(StoreError::from)
                    .and_then(|(_, v)| unjson(&v, "device"))
            })
            .collect()
    }

    fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut d) = self.device(id)? else {
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
        // A push may repeat a cell key. The reads below see the tree as it was
        // before this push (not the pending batch), so duplicates are merged by
        // maximum first: otherwise a later entry would overwrite an earlier,
        // larger one, and `stored` would count one cell twice. Keyed by the
        // encoded key, so each stored cell is read and written once.
        let mut merged: BTreeMap<Vec<u8>, PnCount> = BTreeMap::new();
        for c in &req.cells {
            let e = merged.entry(cell_key(&rk, &c.key)?).or_default();
            *e = e.merge(c.count());
        }
        // One writer at a time: the reads below and the batch that follows
        // must not interleave with another push (or a revoke).
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let Some(raw) = self.devices.get(device.as_bytes())? else {
            return Err(StoreError::NoDevice(device.to_owned()));
        };
        let mut d: Device = unjson(&raw, "device")?;
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
        let new_wm = if wm >= req.after {
            wm.max(req.upto)
        } else {
            wm
        };
        if new_wm != wm {
            batch.insert(wk, &new_wm.to_be_bytes()[..]);
        }
        // Cells and watermark in ONE atomic batch of one tree.
        self.data.apply_batch(batch)?;
        d.last_sync = Some(hub_time);
        d.clock_skew_secs = Some((req.kiosk_time - hub_time).num_seconds());
        d.pending = Some(req.pending);
        self.devices.insert(device.as_bytes(), json(&d)?)?;
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
