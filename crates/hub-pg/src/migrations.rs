//! The schema, as numbered migrations the store applies itself on connect.
//!
//! Safe when several hubs start at once: everything happens in one
//! transaction that first takes a transaction-level advisory lock, so one
//! process migrates while the others wait and then find nothing left to do.
//! DDL is transactional in PostgreSQL, so a failed migration leaves nothing
//! half-done. Applied versions are recorded in `dps_schema_migrations`;
//! migrations are append-only (never edit one that has shipped).

use crate::store::PgError;

/// Arbitrary, fixed key of the advisory lock ("DPSHUB" in ASCII).
const LOCK_KEY: i64 = 0x4450_5348_5542;

/// `(version, SQL)`, in order. Versions start at 1 and have no gaps.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "
CREATE TABLE enrolments (
    -- SHA-256 of the one-time code: the code itself is never stored.
    code_hash bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    site text NOT NULL,
    expires timestamptz NOT NULL
);
CREATE TABLE devices (
    id text PRIMARY KEY,
    site text NOT NULL,
    -- Hex SHA-256 of the token's secret part: the token is never stored.
    token_hash text NOT NULL,
    enrolled timestamptz NOT NULL,
    last_sync timestamptz,
    clock_skew_secs bigint,
    pending bigint CHECK (pending >= 0),
    revoked timestamptz
);
CREATE TABLE replicas (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device text NOT NULL,
    incarnation text NOT NULL,
    watermark bigint NOT NULL DEFAULT 0 CHECK (watermark >= 0),
    UNIQUE (device, incarnation)
);
-- One row per (replica, cell): the anonymous cell key in columns, so the
-- coordination's tallies can group and filter in SQL.
CREATE TABLE cells (
    replica bigint NOT NULL REFERENCES replicas (id),
    day date NOT NULL,
    site text NOT NULL,
    procedure text NOT NULL,
    outcome text NOT NULL,
    language text NOT NULL,
    channel text NOT NULL,
    age_band text NOT NULL,
    residence text NOT NULL,
    inc bigint NOT NULL CHECK (inc >= 0),
    ret bigint NOT NULL CHECK (ret >= 0),
    PRIMARY KEY (replica, day, site, procedure, outcome, language, channel, age_band, residence)
);
CREATE INDEX cells_day ON cells (day);
",
    ),
    (
        2,
        "
-- Coordination staff (issue 7). Residents never have accounts.
CREATE TABLE accounts (
    name text PRIMARY KEY,
    -- argon2id PHC string: the password itself is never stored.
    password_hash text NOT NULL,
    created timestamptz NOT NULL
);
CREATE TABLE login_failures (
    account text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX login_failures_account_at ON login_failures (account, at);
CREATE TABLE sessions (
    -- SHA-256 of the cookie's value: a copy of the database holds no live cookie.
    id_hash bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    account text NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    csrf text NOT NULL,
    created timestamptz NOT NULL,
    expires timestamptz NOT NULL
);
",
    ),
    (
        3,
        "
-- Ingest speed (issue 7): the foreign key from cells to replicas runs one
-- lookup per inserted cell. Measured on 200,000 new cells in one statement:
-- the merge took 4.7 s with it and 2.3 s without (a raw COPY: 2.2 s). Ingest
-- takes the replica's id from the row it has just created-or-locked in the
-- same statement, and no code deletes replicas, so the key never caught
-- anything the ingest path could produce.
ALTER TABLE cells DROP CONSTRAINT IF EXISTS cells_replica_fkey;
",
    ),
    (
        4,
        "
-- Ingest speed (issue 7): a whole push as one function call (one round
-- trip), whose statements each see what was committed before they start,
-- which one statement cannot: its snapshot is taken before it waits for the
-- replica's row lock. Holding that lock, the function knows the latest day
-- stored for the replica; cells of later days cannot exist, so they are
-- inserted plainly (no ON CONFLICT: no speculative insertion and its extra
-- index probe per cell), and only cells of earlier days go through the
-- merge by maximum. A kiosk's backlog is in change order, so nearly all of
-- it is later days; today's cells, sent again as they grow, take the merge.
--
-- Rules the function relies on (kept by PgStore::ingest, its only caller,
-- and by nothing else writing cells): the keys of one call are distinct,
-- p_dmin/p_dmax are the least and greatest of p_day, and every writer of a
-- replica's cells locks its replica row first.
--
-- The arrays are unnested in the select list (they have one length, so they
-- advance in lockstep): a multi-array unnest() in FROM first copies each
-- array into a tuple store, which cost about a tenth of a plain insert.
--
-- Returns (1, watermark, stored) or, for an unknown or revoked device,
-- (0, NULL, 0) with nothing written. `stored` counts cells inserted or grown.
CREATE FUNCTION dps_ingest(
    p_device text, p_time timestamptz, p_skew bigint, p_pending bigint,
    p_rep_device text, p_incarnation text, p_after bigint, p_upto bigint,
    p_dmin date, p_dmax date,
    p_day date[], p_site text[], p_procedure text[], p_outcome text[], p_language text[],
    p_channel text[], p_age_band text[], p_residence text[], p_inc bigint[], p_ret bigint[],
    OUT o_devices integer, OUT o_watermark bigint, OUT o_stored bigint)
LANGUAGE plpgsql
AS $fn$
DECLARE
    rid bigint;
    known date;
    n bigint;
BEGIN
    o_stored := 0;
    -- Locks the device's row; READ COMMITTED re-checks `revoked` on the
    -- version a concurrent revocation committed, so none lands after it.
    UPDATE devices SET last_sync = p_time, clock_skew_secs = p_skew, pending = p_pending
     WHERE id = p_device AND revoked IS NULL;
    IF NOT FOUND THEN
        o_devices := 0;
        RETURN;
    END IF;
    o_devices := 1;
    -- Creates or locks the replica's row (serialising its pushes) and moves
    -- the watermark only over a contiguous push (advance_watermark).
    INSERT INTO replicas AS r (device, incarnation, watermark)
    VALUES (p_rep_device, p_incarnation, CASE WHEN 0 >= p_after THEN p_upto ELSE 0 END)
    ON CONFLICT (device, incarnation) DO UPDATE SET watermark =
        CASE WHEN r.watermark >= p_after THEN GREATEST(r.watermark, p_upto) ELSE r.watermark END
    RETURNING r.id, r.watermark INTO rid, o_watermark;
    IF p_dmin IS NULL THEN
        RETURN;
    END IF;
    -- The primary key starts (replica, day): one probe from the right.
    SELECT max(c.day) INTO known FROM cells c WHERE c.replica = rid;
    IF known IS NULL OR p_dmax > known THEN
        INSERT INTO cells (replica, day, site, procedure, outcome, language, channel, age_band, residence, inc, ret)
        SELECT rid, u.* FROM (
            SELECT unnest(p_day) AS day, unnest(p_site), unnest(p_procedure), unnest(p_outcome),
                   unnest(p_language), unnest(p_channel), unnest(p_age_band), unnest(p_residence),
                   unnest(p_inc) AS inc, unnest(p_ret) AS ret) AS u
        WHERE known IS NULL OR u.day > known;
        GET DIAGNOSTICS n = ROW_COUNT;
        o_stored := n;
    END IF;
    IF known IS NOT NULL AND p_dmin <= known THEN
        INSERT INTO cells AS c (replica, day, site, procedure, outcome, language, channel, age_band, residence, inc, ret)
        SELECT rid, u.* FROM (
            SELECT unnest(p_day) AS day, unnest(p_site), unnest(p_procedure), unnest(p_outcome),
                   unnest(p_language), unnest(p_channel), unnest(p_age_band), unnest(p_residence),
                   unnest(p_inc) AS inc, unnest(p_ret) AS ret) AS u
        WHERE u.day <= known
        ON CONFLICT (replica, day, site, procedure, outcome, language, channel, age_band, residence)
        DO UPDATE SET inc = GREATEST(c.inc, EXCLUDED.inc), ret = GREATEST(c.ret, EXCLUDED.ret)
        WHERE c.inc < EXCLUDED.inc OR c.ret < EXCLUDED.ret;
        GET DIAGNOSTICS n = ROW_COUNT;
        o_stored := o_stored + n;
    END IF;
END
$fn$;
",
    ),
];

/// The newest schema version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Bring the database up to [`latest`]; returns the versions applied now.
pub fn migrate(c: &mut postgres::Client) -> Result<Vec<i32>, PgError> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS dps_schema_migrations (
             version integer PRIMARY KEY,
             applied timestamptz NOT NULL DEFAULT now()
         )",
    )?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM dps_schema_migrations",
            &[],
        )?
        .try_get(0)?;
    if current > latest() {
        return Err(PgError::SchemaTooNew {
            found: current,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO dps_schema_migrations (version) VALUES ($1)",
            &[v],
        )?;
        applied.push(*v);
    }
    tx.commit()?;
    Ok(applied)
}
