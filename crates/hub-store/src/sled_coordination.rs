//! [`Coordination`] on the embedded store: one tree each for accounts,
//! failed logins and sessions.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use dps_model::{CellKey, Code};

use crate::sled_store::{json, unjson};
use crate::{placeholder, Account, CellQuery, Coordination, Session, SledStore, Store, StoreError};

/// One account's failed logins are ONE value, under the account's name:
/// its times (microseconds since the epoch, big-endian, 8 bytes each), so
/// an attempt is counted and recorded by one compare-and-swap (see
/// `reserve_login_attempt`). Names never hold a NUL, so this key never
/// meets the `name NUL time` keys an older hub wrote (one key per failure,
/// cleared with the account's failures).
fn failures_of(v: Option<&[u8]>) -> Vec<i64> {
    v.unwrap_or_default()
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(i64::from_be_bytes))
        .collect()
}

fn failures_bytes(times: &[i64]) -> Vec<u8> {
    times.iter().flat_map(|t| t.to_be_bytes()).collect()
}

/// The keys of the older one-key-per-failure layout: `name NUL …`.
fn old_failure_prefix(name: &str) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.push(0);
    k
}

impl Coordination for SledStore {
    fn add_account(&self, a: &Account) -> Result<bool, StoreError> {
        let r = self.accounts.compare_and_swap(
            a.name.as_bytes(),
            None as Option<&[u8]>,
            Some(json(a)?),
        )?;
        self.db.flush()?;
        Ok(r.is_ok())
    }

    fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        self.accounts
            .get(name.as_bytes())?
            .map(|b| unjson(&b, "account"))
            .transpose()
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.accounts
            .iter()
            .map(|r| {
                r.map_err(StoreError::from)
                    .and_then(|(_, v)| unjson(&v, "account"))
            })
            .collect()
    }

    fn reserve_login_attempt(
        &self,
        name: &str,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        max: u32,
    ) -> Result<bool, StoreError> {
        let since = since.timestamp_micros();
        // Read, decide, swap; retry when another attempt swapped first, so
        // two attempts never both see the same count.
        loop {
            let old = self.failures.get(name.as_bytes())?;
            let mut times: Vec<i64> = failures_of(old.as_deref())
                .into_iter()
                .filter(|t| *t >= since)
                .collect();
            if times.len() >= max as usize {
                return Ok(false);
            }
            times.push(at.timestamp_micros());
            let swapped = self.failures.compare_and_swap(
                name.as_bytes(),
                old.as_deref(),
                Some(failures_bytes(&times)),
            )?;
            if swapped.is_ok() {
                self.db.flush()?;
                return Ok(true);
            }
        }
    }

    fn login_failures_since(&self, name: &str, since: DateTime<Utc>) -> Result<u32, StoreError> {
        let since = since.timestamp_micros();
        let n = failures_of(self.failures.get(name.as_bytes())?.as_deref())
            .into_iter()
            .filter(|t| *t >= since)
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn clear_login_failures(&self, name: &str) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        batch.remove(name.as_bytes());
        for r in self.failures.scan_prefix(old_failure_prefix(name)) {
            batch.remove(r?.0);
        }
        self.failures.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    fn put_session(&self, id_hash: &[u8; 32], s: &Session) -> Result<(), StoreError> {
        self.sessions.insert(id_hash, json(s)?)?;
        self.db.flush()?;
        Ok(())
    }

    fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.sessions
            .get(id_hash)?
            .map(|b| unjson(&b, "session"))
            .transpose()
    }

    fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.sessions.remove(id_hash)?;
        self.db.flush()?;
        Ok(())
    }

    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut n = 0;
        for r in self.sessions.iter() {
            let (k, v) = r?;
            let s: Session = unjson(&v, "session")?;
            if s.expires <= now {
                self.sessions.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn query_cells(&self, q: &CellQuery) -> Result<Vec<(CellKey, u64)>, StoreError> {
        Ok(self
            .query_cells_many(std::slice::from_ref(q))?
            .pop()
            .unwrap_or_default())
    }

    /// Every replica cell is read and decoded once (sled has no secondary
    /// index, so that is the cost of any query): each is clamped at 0 and
    /// summed into its group of every query it passes, so only the groups
    /// leave the store.
    fn query_cells_many(&self, qs: &[CellQuery]) -> Result<Vec<Vec<(CellKey, u64)>>, StoreError> {
        let all = Code::new(placeholder::CODE).map_err(|e| StoreError::Backend(e.to_string()))?;
        // Per query: group -> (earliest member day, sum).
        let mut groups: Vec<HashMap<CellKey, (NaiveDate, u64)>> = vec![HashMap::new(); qs.len()];
        for (_, k, c) in self.cells()? {
            let n = c.net();
            if n == 0 {
                continue;
            }
            for (q, g) in qs.iter().zip(groups.iter_mut()) {
                if !q.matches(&k) {
                    continue;
                }
                let e = g.entry(q.project(&k, &all)).or_insert((k.day, 0));
                e.0 = e.0.min(k.day);
                e.1 = e.1.saturating_add(n);
            }
        }
        Ok(groups
            .into_iter()
            .map(|g| {
                let mut out: Vec<(CellKey, u64)> = g
                    .into_iter()
                    .map(|(mut k, (day, n))| {
                        k.day = day;
                        (k, n)
                    })
                    .collect();
                out.sort_unstable();
                out
            })
            .collect())
    }
}
