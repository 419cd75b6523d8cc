//! [`Coordination`] on the embedded store: one tree each for accounts,
//! failed logins and sessions.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use dps_model::CellKey;

use crate::sled_store::{json, unjson};
use crate::{Account, Coordination, Session, SledStore, Store, StoreError};

/// `name NUL time`: the failures of one account are one key range, in time
/// order. Times are microseconds since the epoch, big-endian with the sign
/// bit flipped so negative times still sort first.
fn failure_key(name: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut k = failure_prefix(name);
    let micros = at.timestamp_micros() as u64 ^ (1 << 63);
    k.extend_from_slice(&micros.to_be_bytes());
    k
}

fn failure_prefix(name: &str) -> Vec<u8> {
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

    fn add_login_failure(&self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        // Two failures in the same microsecond are still two.
        let mut k = failure_key(name, at);
        while self
            .failures
            .compare_and_swap(&k, None as Option<&[u8]>, Some(&[][..]))?
            .is_err()
        {
            k.push(0);
        }
        self.db.flush()?;
        Ok(())
    }

    fn login_failures_since(&self, name: &str, since: DateTime<Utc>) -> Result<u32, StoreError> {
        let n = self
            .failures
            .range(failure_key(name, since)..failure_prefix_end(name))
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn clear_login_failures(&self, name: &str) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for r in self.failures.scan_prefix(failure_prefix(name)) {
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

    fn net_cells(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<(CellKey, u64)>, StoreError> {
        let mut t: BTreeMap<CellKey, u64> = BTreeMap::new();
        for (_, k, c) in self.cells()? {
            if from.is_some_and(|f| k.day < f) || to.is_some_and(|x| k.day > x) {
                continue;
            }
            *t.entry(k).or_insert(0) += c.net();
        }
        Ok(t.into_iter().filter(|(_, n)| *n > 0).collect())
    }
}

/// The first key after every failure key of `name`.
fn failure_prefix_end(name: &str) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.push(1);
    k
}
