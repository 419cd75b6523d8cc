//! What the sync client needs from the kiosk's tally store.
//!
//! The store (`dps-tally`) numbers every change of a cell with a growing
//! sequence number; `pending(after, limit)` returns the cells whose latest
//! change is after `after`, oldest first, and the sequence number of the last
//! one returned (or `after` when there is none). [`MemSource`] is the same
//! contract in memory, for tests, benchmarks and simulated kiosks.

use std::collections::BTreeMap;
use std::sync::Mutex;

use dps_model::{CellKey, PnCount, ReplicaId};

/// An error from the store behind a [`ReplicaSource`], in plain words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Settings the sync client keeps in the kiosk's store.
/// Names follow the tally store's rule (`[a-z0-9_-]`); the first three are
/// the tally store's own constants, and setting `device_id` is what makes the
/// store's replica belong to the enrolled device.
pub mod keys {
    pub const HUB_URL: &str = "hub_url";
    pub const DEVICE: &str = "device_id";
    pub const TOKEN: &str = "token";
    pub const SITE: &str = "sync_site";
    /// A PEM CA certificate to trust instead of the public roots.
    pub const HUB_CA_PEM: &str = "sync_hub_ca_pem";
}

/// The kiosk's replica as the sync client sees it.
pub trait ReplicaSource: Send + Sync {
    fn replica(&self) -> ReplicaId;
    fn pending(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(CellKey, PnCount)>, u64), SourceError>;
    fn acked(&self) -> Result<u64, SourceError>;
    fn set_acked(&self, upto: u64) -> Result<(), SourceError>;
    /// Cells changed since the acknowledged sequence number.
    fn pending_count(&self) -> Result<u64, SourceError>;
    fn get_setting(&self, key: &str) -> Result<Option<String>, SourceError>;
    fn put_setting(&self, key: &str, value: &str) -> Result<(), SourceError>;
    /// Several settings at once; a store that can writes them in one go.
    fn put_settings(&self, pairs: &[(&str, &str)]) -> Result<(), SourceError> {
        for (key, value) in pairs {
            self.put_setting(key, value)?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct MemInner {
    seq: u64,
    acked: u64,
    /// cell -> (count, sequence number of its latest change)
    cells: BTreeMap<CellKey, (PnCount, u64)>,
    settings: BTreeMap<String, String>,
}

/// An in-memory replica with the tally store's contract: its device is the
/// `device_id` setting once enrolled, like the tally store's.
#[derive(Debug)]
pub struct MemSource {
    incarnation: String,
    inner: Mutex<MemInner>,
}

impl MemSource {
    pub fn new(incarnation: &str) -> MemSource {
        MemSource {
            incarnation: incarnation.to_owned(),
            inner: Mutex::new(MemInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemInner> {
        // A poisoned lock only means a test thread panicked; the data is still
        // consistent because every mutation below is a single assignment.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count one visit (or, with `retract`, undo one) in `cell`.
    pub fn record(&self, cell: CellKey, retract: bool) {
        let mut g = self.lock();
        g.seq += 1;
        let seq = g.seq;
        let e = g.cells.entry(cell).or_insert((PnCount::default(), 0));
        if retract {
            e.0.ret += 1;
        } else {
            e.0.inc += 1;
        }
        e.1 = seq;
    }

    /// Net visits per cell, as the hub should end up holding for this replica.
    pub fn totals(&self) -> BTreeMap<CellKey, u64> {
        self.lock()
            .cells
            .iter()
            .map(|(k, (c, _))| (k.clone(), c.net()))
            .collect()
    }

    pub fn counts(&self) -> BTreeMap<CellKey, PnCount> {
        self.lock()
            .cells
            .iter()
            .map(|(k, (c, _))| (k.clone(), *c))
            .collect()
    }

    pub fn last_seq(&self) -> u64 {
        self.lock().seq
    }
}

impl ReplicaSource for MemSource {
    fn replica(&self) -> ReplicaId {
        let device = self
            .lock()
            .settings
            .get(keys::DEVICE)
            .cloned()
            .unwrap_or_else(|| "unenrolled".into());
        ReplicaId {
            device,
            incarnation: self.incarnation.clone(),
        }
    }

    fn pending(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(CellKey, PnCount)>, u64), SourceError> {
        let g = self.lock();
        let mut changed: Vec<(u64, &CellKey, PnCount)> = g
            .cells
            .iter()
            .filter(|(_, (_, s))| *s > after)
            .map(|(k, (c, s))| (*s, k, *c))
            .collect();
        changed.sort_by_key(|(s, _, _)| *s);
        changed.truncate(limit);
        let upto = changed.last().map_or(after, |(s, _, _)| *s);
        Ok((
            changed
                .into_iter()
                .map(|(_, k, c)| (k.clone(), c))
                .collect(),
            upto,
        ))
    }

    fn acked(&self) -> Result<u64, SourceError> {
        Ok(self.lock().acked)
    }

    /// Like the tally store: an acknowledgement never moves backwards.
    fn set_acked(&self, upto: u64) -> Result<(), SourceError> {
        let mut g = self.lock();
        g.acked = g.acked.max(upto);
        Ok(())
    }

    fn pending_count(&self) -> Result<u64, SourceError> {
        let g = self.lock();
        Ok(g.cells.values().filter(|(_, s)| *s > g.acked).count() as u64)
    }

    fn get_setting(&self, key: &str) -> Result<Option<String>, SourceError> {
        Ok(self.lock().settings.get(key).cloned())
    }

    fn put_setting(&self, key: &str, value: &str) -> Result<(), SourceError> {
        self.lock()
            .settings
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

fn tally_err(e: dps_tally::TallyError) -> SourceError {
    SourceError(e.to_string())
}

impl ReplicaSource for dps_tally::TallyStore {
    fn replica(&self) -> ReplicaId {
        dps_tally::TallyStore::replica(self)
    }
    fn pending(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(CellKey, PnCount)>, u64), SourceError> {
        dps_tally::TallyStore::pending(self, after, limit).map_err(tally_err)
    }
    fn acked(&self) -> Result<u64, SourceError> {
        dps_tally::TallyStore::acked(self).map_err(tally_err)
    }
    fn set_acked(&self, upto: u64) -> Result<(), SourceError> {
        dps_tally::TallyStore::set_acked(self, upto).map_err(tally_err)
    }
    fn pending_count(&self) -> Result<u64, SourceError> {
        dps_tally::TallyStore::pending_count(self).map_err(tally_err)
    }
    fn get_setting(&self, key: &str) -> Result<Option<String>, SourceError> {
        dps_tally::TallyStore::get_setting(self, key).map_err(tally_err)
    }
    fn put_setting(&self, key: &str, value: &str) -> Result<(), SourceError> {
        dps_tally::TallyStore::put_setting(self, key, value).map_err(tally_err)
    }
    fn put_settings(&self, pairs: &[(&str, &str)]) -> Result<(), SourceError> {
        dps_tally::TallyStore::put_settings(self, pairs).map_err(tally_err)
    }
}
