//! [`Coordination`] on PostgreSQL: accounts, failed logins and sessions in
//! tables (migration 2), so every hub process on the database sees the same
//! logins, logouts and lockouts; the tallies query sums in SQL.

use chrono::{DateTime, SubsecRound, Utc};
use dps_hub_store::{placeholder, Account, CellQuery, Coordination, Session, StoreError};
use dps_model::{CellKey, Code};

use crate::PgStore;

/// The advisory-lock class of login attempts ("DP"): with the name's hash
/// it makes the two-key lock of one account's attempts.
const LOGIN_LOCK_CLASS: i32 = 0x4450;

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn account_of(r: &postgres::Row) -> Result<Account, StoreError> {
    Ok(Account {
        name: r.try_get(0).map_err(be)?,
        password_hash: r.try_get(1).map_err(be)?,
        created: r.try_get(2).map_err(be)?,
    })
}

impl Coordination for PgStore {
    fn add_account(&self, a: &Account) -> Result<bool, StoreError> {
        let mut c = self.raw_connection()?;
        let n = c
            .execute(
                "INSERT INTO accounts (name, password_hash, created) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING",
                &[&a.name, &a.password_hash, &a.created.trunc_subsecs(6)],
            )
            .map_err(be)?;
        Ok(n == 1)
    }

    fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let mut c = self.raw_connection()?;
        c.query_opt(
            "SELECT name, password_hash, created FROM accounts WHERE name = $1",
            &[&name],
        )
        .map_err(be)?
        .as_ref()
        .map(account_of)
        .transpose()
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut c = self.raw_connection()?;
        c.query(
            "SELECT name, password_hash, created FROM accounts ORDER BY name",
            &[],
        )
        .map_err(be)?
        .iter()
        .map(account_of)
        .collect()
    }

    /// Serialised per account name by a transaction-level advisory lock
    /// (in its own two-key space, apart from the migrations' one-key lock;
    /// a name need not be an account row): under READ COMMITTED each
    /// statement after the lock sees what the previous holder committed, so
    /// the count and the insert cannot interleave with another attempt's.
    fn reserve_login_attempt(
        &self,
        name: &str,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        max: u32,
    ) -> Result<bool, StoreError> {
        let mut c = self.raw_connection()?;
        let mut tx = c.transaction().map_err(be)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&LOGIN_LOCK_CLASS, &name],
        )
        .map_err(be)?;
        // Failures older than the window are dead weight: drop them here.
        tx.execute(
            "DELETE FROM login_failures WHERE account = $1 AND at < $2",
            &[&name, &since],
        )
        .map_err(be)?;
        let n: i64 = tx
            .query_one(
                "SELECT count(*) FROM login_failures WHERE account = $1 AND at >= $2",
                &[&name, &since],
            )
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let allowed = n < i64::from(max);
        if allowed {
            tx.execute(
                "INSERT INTO login_failures (account, at) VALUES ($1, $2)",
                &[&name, &at],
            )
            .map_err(be)?;
        }
        tx.commit().map_err(be)?;
        Ok(allowed)
    }

    fn login_failures_since(&self, name: &str, since: DateTime<Utc>) -> Result<u32, StoreError> {
        let mut c = self.raw_connection()?;
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM login_failures WHERE account = $1 AND at >= $2",
                &[&name, &since],
            )
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn clear_login_failures(&self, name: &str) -> Result<(), StoreError> {
        let mut c = self.raw_connection()?;
        c.execute("DELETE FROM login_failures WHERE account = $1", &[&name])
            .map_err(be)?;
        Ok(())
    }

    fn put_session(&self, id_hash: &[u8; 32], s: &Session) -> Result<(), StoreError> {
        let mut c = self.raw_connection()?;
        c.execute(
            "INSERT INTO sessions (id_hash, account, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id_hash) DO UPDATE SET account = EXCLUDED.account, csrf = EXCLUDED.csrf,
               created = EXCLUDED.created, expires = EXCLUDED.expires",
            &[&&id_hash[..], &s.account, &s.csrf, &s.created.trunc_subsecs(6), &s.expires.trunc_subsecs(6)],
        )
        .map_err(be)?;
        Ok(())
    }

    fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        let mut c = self.raw_connection()?;
        let Some(r) = c
            .query_opt(
                "SELECT account, csrf, created, expires FROM sessions WHERE id_hash = $1",
                &[&&id_hash[..]],
            )
            .map_err(be)?
        else {
            return Ok(None);
        };
        Ok(Some(Session {
            account: r.try_get(0).map_err(be)?,
            csrf: r.try_get(1).map_err(be)?,
            created: r.try_get(2).map_err(be)?,
            expires: r.try_get(3).map_err(be)?,
        }))
    }

    fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        let mut c = self.raw_connection()?;
        c.execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]])
            .map_err(be)?;
        Ok(())
    }

    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut c = self.raw_connection()?;
        c.execute("DELETE FROM sessions WHERE expires <= $1", &[&now])
            .map_err(be)
    }

    /// The query's sums in SQL: only the dimensions the query looks at are
    /// grouped (the others are summed away and given their placeholder),
    /// days are kept when the query has any time grain, and the filters are
    /// applied first, so what crosses the connection is about as small as
    /// the table the query makes, not one row per (replica, cell). Each
    /// replica's cell is clamped at 0 before the sum (`GREATEST`), as
    /// `PnCount::net` does on the embedded store.
    fn query_cells(&self, q: &CellQuery) -> Result<Vec<(CellKey, u64)>, StoreError> {
        let mut group: Vec<String> = Vec::new();
        let mut col =
            |keep: bool, filtered: &[String], name: &'static str, placeholder: &'static str| {
                if keep || !filtered.is_empty() {
                    group.push(name.to_owned());
                    name.to_owned()
                } else {
                    // Placeholders are constants of our own, never input.
                    format!("'{placeholder}'::text")
                }
            };
        let site = col(q.keep_site, &q.sites, "site", placeholder::CODE);
        let procedure = col(
            q.keep_procedure,
            &q.procedures,
            "procedure",
            placeholder::CODE,
        );
        let outcome = col(q.keep_outcome, &q.outcomes, "outcome", placeholder::CODE);
        let language = col(
            q.keep_language,
            &q.languages,
            "language",
            placeholder::LANGUAGE.code(),
        );
        let channel = col(
            q.keep_channel,
            &q.channels,
            "channel",
            placeholder::CHANNEL.code(),
        );
        let age_band = col(
            q.keep_age_band,
            &q.age_bands,
            "age_band",
            placeholder::AGE_BAND.code(),
        );
        let residence = col(
            q.keep_residence,
            &q.residences,
            "residence",
            placeholder::RESIDENCE.code(),
        );
        // Any time grain is grouped by the day itself: computing a week,
        // month or year bucket for every row (`date_trunc`, on a `date`
        // even a time-zone-aware one) cost more server time than the
        // extra rows save (measured at 3.3 M rows, docs/benchmarks.md);
        // dps-report makes the buckets from the days. With no time kept,
        // every row carries one day inside `from..=to`, not an aggregate.
        let day = if q.time.is_some() {
            group.push("day".into());
            "day"
        } else {
            "COALESCE($1::date, $2::date, DATE '2000-01-01')"
        };
        let group_by = if group.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {}", group.join(", "))
        };
        let sql = format!(
            "SELECT {day}, {site}, {procedure}, {outcome}, {language}, {channel}, {age_band}, {residence},
                    sum(GREATEST(inc - ret, 0))::bigint AS n
             FROM cells
             WHERE ($1::date IS NULL OR day >= $1) AND ($2::date IS NULL OR day <= $2)
               AND (cardinality($3::text[]) = 0 OR site = ANY($3))
               AND (cardinality($4::text[]) = 0 OR procedure = ANY($4))
               AND (cardinality($5::text[]) = 0 OR outcome = ANY($5))
               AND (cardinality($6::text[]) = 0 OR language = ANY($6))
               AND (cardinality($7::text[]) = 0 OR channel = ANY($7))
               AND (cardinality($8::text[]) = 0 OR age_band = ANY($8))
               AND (cardinality($9::text[]) = 0 OR residence = ANY($9))
             {group_by}
             HAVING sum(GREATEST(inc - ret, 0)) > 0"
        );
        let mut c = self.raw_connection()?;
        let mut tx = c.transaction().map_err(be)?;
        // JIT compiling this scan costs more than it saves (measured in
        // `dps-tallies-bench`, see docs/benchmarks.md); for this
        // transaction only, so the pooled connection keeps its settings.
        tx.batch_execute("SET LOCAL jit = off").map_err(be)?;
        let rows = tx
            .query(
                &sql,
                &[
                    &q.from,
                    &q.to,
                    &q.sites,
                    &q.procedures,
                    &q.outcomes,
                    &q.languages,
                    &q.channels,
                    &q.age_bands,
                    &q.residences,
                ],
            )
            .map_err(be)?;
        tx.commit().map_err(be)?;
        rows.iter().map(summed_cell).collect()
    }

    /// Each query on its own pooled connection, all at once: the database
    /// scans in parallel (the dashboard asks five at a time).
    fn query_cells_many(&self, qs: &[CellQuery]) -> Result<Vec<Vec<(CellKey, u64)>>, StoreError> {
        std::thread::scope(|sc| {
            let running: Vec<_> = qs
                .iter()
                .map(|q| sc.spawn(move || self.query_cells(q)))
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(StoreError::Backend(
                            "a tallies query thread panicked".into(),
                        ))
                    })
                })
                .collect()
        })
    }
}

/// `(day, site, procedure, outcome, language, channel, age_band, residence, n)`.
fn summed_cell(row: &postgres::Row) -> Result<(CellKey, u64), StoreError> {
    let text = |i: usize| -> Result<&str, StoreError> { row.try_get(i).map_err(be) };
    let code = |i: usize| -> Result<Code, StoreError> {
        Code::new(text(i)?).map_err(|e| corrupt("cell", e))
    };
    let key = CellKey {
        day: row.try_get(0).map_err(be)?,
        site: code(1)?,
        procedure: code(2)?,
        outcome: code(3)?,
        language: text(4)?.parse().map_err(|e| corrupt("cell", e))?,
        channel: text(5)?.parse().map_err(|e| corrupt("cell", e))?,
        age_band: text(6)?.parse().map_err(|e| corrupt("cell", e))?,
        residence: text(7)?.parse().map_err(|e| corrupt("cell", e))?,
    };
    let n: i64 = row.try_get(8).map_err(be)?;
    Ok((key, u64::try_from(n).map_err(|e| corrupt("cell sum", e))?))
}
