//! [`PgStore`]: the hub's [`Store`] on PostgreSQL.
//!
//! Several `dps-hub` processes may serve one database: every operation is one
//! PostgreSQL transaction and the invariants hold through row locks, never
//! through anything kept in a process.
//!
//! - Ingest locks the device row, then the replica row, then touches only that
//!   replica's cells: concurrent pushes for one replica serialise on its row
//!   (so the watermark rule "advance only contiguously" sees committed data),
//!   pushes for different replicas proceed in parallel, and the lock order is
//!   the same everywhere, so they cannot deadlock.
//! - A push is ONE call of the `dps_ingest` function (migration 4): one round
//!   trip, one transaction. Its cells travel as column arrays (`UNNEST`), in
//!   the primary key's order with repeated keys merged; cells of days later
//!   than any the replica has stored are inserted plainly, the others merged
//!   with `ON CONFLICT DO UPDATE SET inc = GREATEST(…)`.
//! - Redeeming deletes the code row (`DELETE … RETURNING`): of two concurrent
//!   redeems, the second finds nothing, so a code works once.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use dps_hub_store::{Device, IngestOutcome, PendingEnrolment, ReEnrolment, Store, StoreError};
use dps_model::{CellKey, Code, PnCount, ReplicaId};
use dps_sync::wire::PushRequest;
use postgres::NoTls;
use postgres::Statement;

use crate::migrations;

type Pool = r2d2::Pool<Manager>;
type Conn = r2d2::PooledConnection<Manager>;

/// The pool's connection manager: like `r2d2_postgres`, plus each connection
/// keeps the ingest statements prepared, so a push costs one round trip per
/// statement instead of two (parse, then execute) and is planned once.
pub struct Manager {
    config: postgres::Config,
}

/// A pooled connection: the client (it derefs to it) and its prepared statements.
pub struct PgConn {
    client: postgres::Client,
    ingest: Option<IngestStatements>,
}

#[derive(Clone)]
struct IngestStatements {
    /// The whole push as one call ([`INGEST`]).
    push: Statement,
}

impl PgConn {
    fn ingest_statements(&mut self) -> Result<IngestStatements, postgres::Error> {
        if let Some(s) = &self.ingest {
            return Ok(s.clone());
        }
        let c = &mut self.client;
        let s = IngestStatements {
            push: c.prepare(INGEST)?,
        };
        self.ingest = Some(s.clone());
        Ok(s)
    }
}

impl std::ops::Deref for PgConn {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self.client
    }
}

impl std::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        // Statements are prepared on first use: the first connection runs
        // the migrations that create the tables they name.
        Ok(PgConn {
            client: self.config.connect(NoTls)?,
            ingest: None,
        })
    }

    fn is_valid(&self, c: &mut PgConn) -> Result<(), postgres::Error> {
        c.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, c: &mut PgConn) -> bool {
        c.client.is_closed()
    }
}

/// Connections per store (per hub process). Handlers run the store on
/// tokio's blocking threads, so this bounds the database work a hub does at
/// once; PostgreSQL's default `max_connections` (100) fits ten hubs.
pub const DEFAULT_POOL_SIZE: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("not a PostgreSQL URL: {0}")]
    Url(postgres::Error),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[from] r2d2::Error),
    #[error("cannot connect to PostgreSQL: {0}")]
    Unreachable(String),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("the database's schema is version {found}, newer than this dps-hub knows ({known}): upgrade dps-hub")]
    SchemaTooNew { found: i32, known: i32 },
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// An error and its causes in one line ("error connecting to server:
/// Connection refused (os error 111)").
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Counts are u64 in the protocol and BIGINT in the database; a value over
/// i64::MAX cannot be a real count, so it is refused rather than wrapped.
fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} is too large to store")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(what, format!("negative value {v}")))
}

/// The hub's store on PostgreSQL, with a small connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connect with [`DEFAULT_POOL_SIZE`] connections and bring the schema up
    /// to date (see [`crate::migrations`]).
    pub fn connect(url: &str) -> Result<PgStore, PgError> {
        PgStore::connect_with(url, DEFAULT_POOL_SIZE)
    }

    pub fn connect_with(url: &str, pool_size: u32) -> Result<PgStore, PgError> {
        let config: postgres::Config = url.parse().map_err(PgError::Url)?;
        // Migrate over one direct connection first: a wrong URL, a refused
        // connection or a bad password is reported at once, in PostgreSQL's
        // own words, instead of as the pool's 15-second timeout.
        let mut first = config
            .connect(NoTls)
            .map_err(|e| PgError::Unreachable(with_sources(&e)))?;
        migrations::migrate(&mut first)?;
        drop(first);
        let manager = Manager { config };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            // No `SELECT ''` before handing out a connection: that was a
            // second round trip per push (each a wake-up of the server and of
            // the hub's thread). A connection that broke is noticed by
            // `has_broken`, or fails its statement, and the kiosk resends.
            .test_on_check_out(false)
            // Connections are opened on demand; only one is needed to migrate.
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(15))
            .build(manager)?;
        Ok(PgStore { pool })
    }

    fn conn(&self) -> Result<Conn, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Backend(format!("no PostgreSQL connection: {e}")))
    }

    /// A connection from the pool, for tools (the benchmark) that work on
    /// the same database.
    pub fn raw_connection(&self) -> Result<Conn, StoreError> {
        self.conn()
    }
}

fn device_of(row: &postgres::Row) -> Result<Device, StoreError> {
    let site: String = row.try_get("site").map_err(be)?;
    Ok(Device {
        id: row.try_get("id").map_err(be)?,
        site: Code::new(&site).map_err(|e| corrupt("device site", e))?,
        token_hash: row.try_get("token_hash").map_err(be)?,
        enrolled: row.try_get("enrolled").map_err(be)?,
        last_sync: row.try_get("last_sync").map_err(be)?,
        clock_skew_secs: row.try_get("clock_skew_secs").map_err(be)?,
        pending: row
            .try_get::<_, Option<i64>>("pending")
            .map_err(be)?
            .map(|p| to_u64(p, "pending"))
            .transpose()?,
        revoked: row.try_get("revoked").map_err(be)?,
    })
}

const DEVICE_COLS: &str =
    "id, site, token_hash, enrolled, last_sync, clock_skew_secs, pending, revoked";

/// A push's cells as column arrays for UNNEST, in the primary key's order
/// (text codes compare bytewise: the cluster has no locale, as in
/// `TempCluster`; the order only helps the index's locality either way),
/// with repeated keys merged by maximum: `dps_ingest` inserts cells it knows
/// are new without `ON CONFLICT`, and `ON CONFLICT DO UPDATE` may not touch
/// a row twice. The text columns borrow from the request.
struct Columns<'a> {
    day: Vec<NaiveDate>,
    site: Vec<&'a str>,
    procedure: Vec<&'a str>,
    outcome: Vec<&'a str>,
    language: Vec<&'static str>,
    channel: Vec<&'static str>,
    age_band: Vec<&'static str>,
    residence: Vec<&'static str>,
    inc: Vec<i64>,
    ret: Vec<i64>,
}

/// A cell's key as the table orders it.
type PgKey<'a> = (
    NaiveDate,
    &'a str,
    &'a str,
    &'a str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn pg_key(k: &CellKey) -> PgKey<'_> {
    (
        k.day,
        k.site.as_str(),
        k.procedure.as_str(),
        k.outcome.as_str(),
        k.language.code(),
        k.channel.code(),
        k.age_band.code(),
        k.residence.code(),
    )
}

fn columns(req: &PushRequest) -> Result<Columns<'_>, StoreError> {
    let mut cells: Vec<(PgKey<'_>, PnCount)> = req
        .cells
        .iter()
        .map(|c| (pg_key(&c.key), c.count()))
        .collect();
    cells.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    cells.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.merge(later.1);
        }
        same
    });
    let n = cells.len();
    let mut cols = Columns {
        day: Vec::with_capacity(n),
        site: Vec::with_capacity(n),
        procedure: Vec::with_capacity(n),
        outcome: Vec::with_capacity(n),
        language: Vec::with_capacity(n),
        channel: Vec::with_capacity(n),
        age_band: Vec::with_capacity(n),
        residence: Vec::with_capacity(n),
        inc: Vec::with_capacity(n),
        ret: Vec::with_capacity(n),
    };
    for ((day, site, procedure, outcome, language, channel, age_band, residence), c) in cells {
        cols.day.push(day);
        cols.site.push(site);
        cols.procedure.push(procedure);
        cols.outcome.push(outcome);
        cols.language.push(language);
        cols.channel.push(channel);
        cols.age_band.push(age_band);
        cols.residence.push(residence);
        cols.inc.push(to_i64(c.inc, "increment count")?);
        cols.ret.push(to_i64(c.ret, "retraction count")?);
    }
    Ok(cols)
}

/// A whole push in ONE round trip: the `dps_ingest` function (migration 4),
/// one implicit transaction. Earlier, six round trips per push (BEGIN, four
/// statements, COMMIT), then one statement of CTEs, were the gap to a raw
/// COPY; the function also lets cells of new days skip `ON CONFLICT`, which a
/// single statement cannot do safely (see the migration).
///
/// Lock order, as before: device, replica, cells (see module doc).
const INGEST: &str = "SELECT o_devices, o_watermark, o_stored FROM dps_ingest(\
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";

impl Store for PgStore {
    fn add_enrolment(&self, code_hash: &[u8; 32], e: &PendingEnrolment) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        c.execute(
            "INSERT INTO enrolments (code_hash, site, expires) VALUES ($1, $2, $3)
             ON CONFLICT (code_hash) DO UPDATE SET site = EXCLUDED.site, expires = EXCLUDED.expires",
            &[&&code_hash[..], &e.site.as_str(), &e.expires],
        )
        .map_err(be)?;
        Ok(())
    }

    fn redeem(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<Option<Device>, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(be)?;
        // Used or not, an expired code is gone (as in the sled store).
        let Some(row) = tx
            .query_opt(
                "DELETE FROM enrolments WHERE code_hash = $1 RETURNING site, expires",
                &[&&code_hash[..]],
            )
            .map_err(be)?
        else {
            return Ok(None);
        };
        let site: String = row.try_get(0).map_err(be)?;
        let expires: DateTime<Utc> = row.try_get(1).map_err(be)?;
        if expires <= now {
            tx.commit().map_err(be)?;
            return Ok(None);
        }
        // PostgreSQL keeps times to the microsecond: hand back exactly what
        // a later `device()` will read.
        let d = Device {
            site: Code::new(&site).map_err(|e| corrupt("enrolment site", e))?,
            enrolled: device.enrolled.trunc_subsecs(6),
            last_sync: device.last_sync.map(|t| t.trunc_subsecs(6)),
            revoked: device.revoked.map(|t| t.trunc_subsecs(6)),
            ..device
        };
        let pending = d.pending.map(|p| to_i64(p, "pending")).transpose()?;
        tx.execute(
            "INSERT INTO devices (id, site, token_hash, enrolled, last_sync, clock_skew_secs, pending, revoked)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET site = EXCLUDED.site, token_hash = EXCLUDED.token_hash,
               enrolled = EXCLUDED.enrolled, last_sync = EXCLUDED.last_sync,
               clock_skew_secs = EXCLUDED.clock_skew_secs, pending = EXCLUDED.pending, revoked = EXCLUDED.revoked",
            &[&d.id, &d.site.as_str(), &d.token_hash, &d.enrolled, &d.last_sync, &d.clock_skew_secs, &pending, &d.revoked],
        )
        .map_err(be)?;
        tx.commit().map_err(be)?;
        Ok(Some(d))
    }

    fn re_enrol(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<ReEnrolment, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(be)?;
        // The code's row is locked first: of two redeems of one code the
        // second waits, then finds it gone (as `redeem`'s DELETE does).
        let Some(row) = tx
            .query_opt(
                "SELECT site, expires FROM enrolments WHERE code_hash = $1 FOR UPDATE",
                &[&&code_hash[..]],
            )
            .map_err(be)?
        else {
            return Ok(ReEnrolment::BadCode);
        };
        let site: String = row.try_get(0).map_err(be)?;
        let expires: DateTime<Utc> = row.try_get(1).map_err(be)?;
        let forget_code = |tx: &mut postgres::Transaction| {
            tx.execute(
                "DELETE FROM enrolments WHERE code_hash = $1",
                &[&&code_hash[..]],
            )
            .map_err(be)
        };
        if expires <= now {
            forget_code(&mut tx)?;
            tx.commit().map_err(be)?;
            return Ok(ReEnrolment::BadCode);
        }
        let site = Code::new(&site).map_err(|e| corrupt("enrolment site", e))?;
        let enrolled = device.enrolled.trunc_subsecs(6);
        // Locks the device's row: a concurrent revoke or push of this device
        // waits for the re-keying (or sees it done).
        let old = tx
            .query_opt(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1 FOR UPDATE"),
                &[&device.id],
            )
            .map_err(be)?;
        let out = match old.as_ref().map(device_of).transpose()? {
            // Dropping the transaction rolls back: nothing changed, the code stays.
            Some(d) if d.revoked.is_none() => return Ok(ReEnrolment::Active),
            Some(_) => {
                let row = tx
                    .query_one(
                        &format!(
                            "UPDATE devices SET token_hash = $2, site = $3, enrolled = $4, revoked = NULL
                             WHERE id = $1 RETURNING {DEVICE_COLS}"
                        ),
                        &[&device.id, &device.token_hash, &site.as_str(), &enrolled],
                    )
                    .map_err(be)?;
                ReEnrolment::Rekeyed(device_of(&row)?)
            }
            None => {
                let row = tx
                    .query_opt(
                        &format!(
                            "INSERT INTO devices (id, site, token_hash, enrolled) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (id) DO NOTHING RETURNING {DEVICE_COLS}"
                        ),
                        &[&device.id, &site.as_str(), &device.token_hash, &enrolled],
                    )
                    .map_err(be)?;
                match row {
                    Some(row) => ReEnrolment::Restored(device_of(&row)?),
                    // Another code restored it a moment ago: it is active now.
                    None => return Ok(ReEnrolment::Active),
                }
            }
        };
        forget_code(&mut tx)?;
        tx.commit().map_err(be)?;
        Ok(out)
    }

    fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        let mut c = self.conn()?;
        let row = c
            .query_opt(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1"),
                &[&id],
            )
            .map_err(be)?;
        row.as_ref().map(device_of).transpose()
    }

    fn devices(&self) -> Result<Vec<Device>, StoreError> {
        let mut c = self.conn()?;
        let rows = c
            .query(
                &format!("SELECT {DEVICE_COLS} FROM devices ORDER BY id"),
                &[],
            )
            .map_err(be)?;
        rows.iter().map(device_of).collect()
    }

    fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        // The first revocation's time stays: revoking again changes nothing.
        let n = c
            .execute(
                "UPDATE devices SET revoked = COALESCE(revoked, $2) WHERE id = $1",
                &[&id, &now],
            )
            .map_err(be)?;
        Ok(n > 0)
    }

    fn ingest(
        &self,
        device: &str,
        req: &PushRequest,
        hub_time: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError> {
        // Everything that can fail without the database is done before the transaction.
        let cols = columns(req)?;
        let skew = (req.kiosk_time - hub_time).num_seconds();
        let pending = to_i64(req.pending, "pending")?;
        // Sequences are BIGINT in the database: refuse what cannot be stored.
        let after = to_i64(req.after, "after")?;
        let upto = to_i64(req.upto, "upto")?;
        // Sorted by day first: the least and greatest days are at the ends.
        let (dmin, dmax) = (cols.day.first(), cols.day.last());
        let mut c = self.conn()?;
        let st = c.ingest_statements().map_err(be)?;
        let row = c
            .query_one(
                &st.push,
                &[
                    &device,
                    &hub_time,
                    &skew,
                    &pending,
                    &req.replica.device,
                    &req.replica.incarnation,
                    &after,
                    &upto,
                    &dmin,
                    &dmax,
                    &cols.day,
                    &cols.site,
                    &cols.procedure,
                    &cols.outcome,
                    &cols.language,
                    &cols.channel,
                    &cols.age_band,
                    &cols.residence,
                    &cols.inc,
                    &cols.ret,
                ],
            )
            .map_err(be)?;
        let devices: i32 = row.try_get(0).map_err(be)?;
        let watermark: Option<i64> = row.try_get(1).map_err(be)?;
        let stored: i64 = row.try_get(2).map_err(be)?;
        let (1, Some(watermark)) = (devices, watermark) else {
            // The device is unknown or revoked: nothing was written. Say which.
            let revoked = c
                .query_opt(
                    "SELECT revoked IS NOT NULL FROM devices WHERE id = $1",
                    &[&device],
                )
                .map_err(be)?
                .map(|r| r.try_get::<_, bool>(0))
                .transpose()
                .map_err(be)?;
            return Err(match revoked {
                Some(true) => StoreError::Revoked(device.to_owned()),
                _ => StoreError::NoDevice(device.to_owned()),
            });
        };
        Ok(IngestOutcome {
            watermark: to_u64(watermark, "watermark")?,
            stored: to_u64(stored, "stored cells")?,
        })
    }

    fn cells(&self) -> Result<Vec<(ReplicaId, CellKey, PnCount)>, StoreError> {
        let mut c = self.conn()?;
        let rows = c
            .query(
                "SELECT r.device, r.incarnation, c.day, c.site, c.procedure, c.outcome, c.language, c.channel,
                        c.age_band, c.residence, c.inc, c.ret
                 FROM cells c JOIN replicas r ON r.id = c.replica
                 ORDER BY r.device, r.incarnation, c.day, c.site, c.procedure, c.outcome",
                &[],
            )
            .map_err(be)?;
        rows.iter().map(cell_of).collect()
    }

    fn watermark(&self, replica: &ReplicaId) -> Result<u64, StoreError> {
        let mut c = self.conn()?;
        let row = c
            .query_opt(
                "SELECT watermark FROM replicas WHERE device = $1 AND incarnation = $2",
                &[&replica.device, &replica.incarnation],
            )
            .map_err(be)?;
        match row {
            Some(r) => to_u64(r.try_get(0).map_err(be)?, "watermark"),
            None => Ok(0),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every method commits before it returns, and a commit is durable
        // (unless the server runs with synchronous_commit=off on purpose).
        Ok(())
    }
}

fn text(row: &postgres::Row, i: usize) -> Result<&str, StoreError> {
    row.try_get(i).map_err(be)
}

fn cell_of(row: &postgres::Row) -> Result<(ReplicaId, CellKey, PnCount), StoreError> {
    let code = |i: usize| -> Result<Code, StoreError> {
        Code::new(text(row, i)?).map_err(|e| corrupt("cell", e))
    };
    let replica = ReplicaId {
        device: text(row, 0)?.to_owned(),
        incarnation: text(row, 1)?.to_owned(),
    };
    let key = CellKey {
        day: row.try_get(2).map_err(be)?,
        site: code(3)?,
        procedure: code(4)?,
        outcome: code(5)?,
        language: text(row, 6)?.parse().map_err(|e| corrupt("cell", e))?,
        channel: text(row, 7)?.parse().map_err(|e| corrupt("cell", e))?,
        age_band: text(row, 8)?.parse().map_err(|e| corrupt("cell", e))?,
        residence: text(row, 9)?.parse().map_err(|e| corrupt("cell", e))?,
    };
    let count = PnCount {
        inc: to_u64(row.try_get(10).map_err(be)?, "inc")?,
        ret: to_u64(row.try_get(11).map_err(be)?, "ret")?,
    };
    Ok((replica, key, count))
}
