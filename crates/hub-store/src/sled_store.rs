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
    advance_watermark, merged_cells, Device, IngestOutcome, PendingEnrolment, Store, StoreError,
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
            accounts: db.open_tree("accounts")?,
            failures: db.open_tree("login_failures")?,
            sessions: db.open_tree("sessions")?,
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
        // Repeated keys merged first (see `merged_cells`); keyed by the
        // encoded key, so each stored cell is read and written once.
        let merged = merged_cells(req)
            .into_iter()
            .map(|(k, c)| Ok((cell_key(&rk, k)?, c)))
            .collect::<Result<Vec<_>, StoreError>>()?;
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
        let new_wm = advance_watermark(wm, req.after, req.upto);
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
