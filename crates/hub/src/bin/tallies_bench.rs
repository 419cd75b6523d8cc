//! `dps-tallies-bench`: the coordination's reads as the hub runs them, over
//! one year of 1,000 devices on PostgreSQL (and a smaller year on the
//! embedded sled store): tallies queries (store read + table), the whole
//! dashboard page and an annual report page (through the real router, login
//! cookie included). Prints figures, asserts nothing. Needs Debian's
//! `postgresql` (a throw-away cluster is started).
//!
//! `cargo run -p dps-hub --release --bin dps-tallies-bench [-- --devices 1000 --sled-devices 100]`

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::Request;
use chrono::{Datelike, NaiveDate, Utc};
use clap::Parser;
use dps_hub::store::{Device, PendingEnrolment, Store};
use dps_hub::{app, coord, AppState, SledStore};
use dps_hub_pg::testing::TempCluster;
use dps_hub_pg::PgStore;
use dps_model::{AgeBand, CellKey, Channel, Code, Language, PnCount, ReplicaId, Residence};
use dps_report::TalliesRequest;
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};
use tower::ServiceExt;

#[derive(Debug, Parser)]
struct Args {
    /// Devices (replicas) on PostgreSQL, 10 per site.
    #[arg(long, default_value_t = 1000)]
    devices: u32,
    /// Devices on the embedded sled store (it decodes every replica cell
    /// on every query, so it is measured at a size it can hold).
    #[arg(long, default_value_t = 100)]
    sled_devices: u32,
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    #[arg(long)]
    skip_pg: bool,
    #[arg(long)]
    skip_sled: bool,
}

const PROCEDURES: [&str; 6] = [
    "bruvax",
    "bruvax-second-dose",
    "covid-safe-ticket",
    "myminfin",
    "irisbox",
    "other-help",
];
const OUTCOMES: [&str; 5] = [
    "booked",
    "waiting-list",
    "not-eligible",
    "abandoned",
    "done",
];
const RESIDENCES: [&str; 8] = [
    "saint-josse-ten-noode",
    "molenbeek-saint-jean",
    "schaerbeek",
    "bruxelles",
    "anderlecht",
    "ixelles",
    "other_be",
    "unknown",
];

/// `devices` replicas (10 per site) × 365 days of 2021 × 9 cells a day,
/// made in the database itself so that filling it takes seconds, not an
/// hour of pushes. The same cells as [`sled_cell`].
fn fill_sql(devices: u32) -> String {
    format!(
        "
INSERT INTO replicas (device, incarnation) SELECT 'dev-' || g, 'i1' FROM generate_series(0, {last}) g;
INSERT INTO cells (replica, day, site, procedure, outcome, language, channel, age_band, residence, inc, ret)
SELECT r.id, d::date, 'dps-' || lpad(((r.id - 1) / 10)::text, 3, '0'),
       (ARRAY['bruvax','bruvax-second-dose','covid-safe-ticket','myminfin','irisbox','other-help'])[1 + k % 6],
       (ARRAY['booked','waiting-list','not-eligible','abandoned','done'])[1 + k % 5],
       (ARRAY['fr','nl','en','de'])[1 + (k + r.id::int) % 4],
       (ARRAY['eid','manual','none'])[1 + (k + d::date - '2021-01-01'::date) % 3],
       (ARRAY['under_18','18_29','30_44','45_64','65_74','75_plus','unknown'])[1 + (r.id::int + k) % 7],
       (ARRAY['saint-josse-ten-noode','molenbeek-saint-jean','schaerbeek','bruxelles','anderlecht','ixelles','other_be','unknown'])[1 + (k * 3 + r.id::int) % 8],
       1 + (k + r.id::int) % 3, 0
FROM replicas r, generate_series('2021-01-01'::date, '2021-12-31'::date, '1 day') d, generate_series(1, 9) k;
ANALYZE cells;
",
        last = devices - 1
    )
}

/// Cell `k` (1..=9) of replica id `rid` (1-based, as PostgreSQL numbers
/// them) on `day`: the same formulas as [`fill_sql`].
fn sled_cell(rid: usize, day: NaiveDate, k: usize) -> anyhow::Result<(CellKey, PnCount)> {
    let d = (day - NaiveDate::from_ymd_opt(2021, 1, 1).context("date")?).num_days() as usize;
    let key = CellKey {
        day,
        site: Code::new(&format!("dps-{:03}", (rid - 1) / 10))?,
        procedure: Code::new(PROCEDURES[k % 6])?,
        outcome: Code::new(OUTCOMES[k % 5])?,
        language: Language::ALL[(k + rid) % 4],
        channel: [Channel::Eid, Channel::Manual, Channel::None][(k + d) % 3],
        age_band: AgeBand::ALL[(rid + k) % 7],
        residence: RESIDENCES[(k * 3 + rid) % 8].parse::<Residence>()?,
    };
    Ok((
        key,
        PnCount {
            inc: 1 + ((k + rid) % 3) as u64,
            ret: 0,
        },
    ))
}

fn fill_sled(store: &SledStore, devices: u32) -> anyhow::Result<()> {
    let now = Utc::now();
    for rid in 1..=devices as usize {
        let id = format!("dev-{}", rid - 1);
        let hash = [rid as u8; 32];
        store.add_enrolment(
            &hash,
            &PendingEnrolment {
                site: Code::new("dps-bench")?,
                expires: now + chrono::Duration::hours(1),
            },
        )?;
        store
            .redeem(
                &hash,
                now,
                Device {
                    id: id.clone(),
                    site: Code::new("dps-bench")?,
                    token_hash: "-".into(),
                    enrolled: now,
                    last_sync: None,
                    clock_skew_secs: None,
                    pending: None,
                    revoked: None,
                },
            )?
            .context("enrolment")?;
        let mut cells = Vec::with_capacity(365 * 9);
        let mut day = NaiveDate::from_ymd_opt(2021, 1, 1).context("date")?;
        while day.year() == 2021 {
            for k in 1..=9 {
                let (key, c) = sled_cell(rid, day, k)?;
                cells.push(WireCell::new(key, c));
            }
            day = day.succ_opt().context("date")?;
        }
        let req = PushRequest {
            v: PROTOCOL_VERSION,
            replica: ReplicaId {
                device: id.clone(),
                incarnation: "i1".into(),
            },
            after: 0,
            upto: 1,
            cells,
            kiosk_time: now,
            pending: 0,
        };
        store.ingest(&id, &req, now)?;
    }
    store.flush()?;
    Ok(())
}

const QUERIES: [&str; 5] = [
    "from=2021-01-01&to=2021-12-31&group_by=site",
    "from=2021-01-01&to=2021-12-31&group_by=municipality,week",
    "from=2021-01-01&to=2021-12-31&group_by=site,month&public=true",
    "from=2021-01-01&to=2021-12-31&group_by=procedure,outcome&site=dps-007",
    "from=2021-01-15&to=2021-12-31&group_by=month,age_band&public=true",
];

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// The tallies queries (store read + table) and the two pages through the
/// real router, `rounds` times each.
fn measure(store: Arc<dyn Store>, label: &str, rounds: u32) -> anyhow::Result<()> {
    for url in QUERIES {
        let req = TalliesRequest::from_url_query(url)?;
        for round in 1..=rounds {
            let t = Instant::now();
            let cells = coord::cells_for(store.as_ref(), &req.query)?;
            let read = secs(t);
            let table = dps_report::run(cells.iter().map(|(k, v)| (k, *v)), &req)?;
            println!(
                "  {label} [{url}] round {round}: {} cells read in {read:.3} s, {} rows; total {:.3} s",
                cells.len(),
                table.rows.len(),
                secs(t)
            );
        }
    }
    // The pages: a real session cookie, the router in-process (no socket).
    let hash = dps_hub::auth::hash_password("bench password 1")?;
    let _ = dps_hub::auth::add_account(store.as_ref(), "bench", &hash, Utc::now());
    let cookie =
        match dps_hub::auth::login(store.as_ref(), "bench", "bench password 1", Utc::now())? {
            dps_hub::auth::Login::Ok { cookie, .. } => cookie,
            other => anyhow::bail!("bench login failed: {other:?}"),
        };
    let rt = tokio::runtime::Runtime::new()?;
    let router = app(AppState::new(store.clone()));
    for (what, uri) in [
        (
            "dashboard, one year",
            "/dashboard?from=2021-01-01&to=2021-12-31&lang=en",
        ),
        ("dashboard, no filter", "/dashboard?lang=en"),
        (
            "dashboard, one site and age band",
            "/dashboard?from=2021-01-01&to=2021-12-31&site=dps-007&age_band=65_74&lang=en",
        ),
        (
            "annual report page",
            "/report?site=dps-007&year=2021&lang=en",
        ),
    ] {
        for round in 1..=rounds {
            let req = Request::get(uri)
                .header("cookie", format!("dps_session={cookie}"))
                .body(Body::empty())?;
            let t = Instant::now();
            let (status, bytes) = rt.block_on(async {
                let r = router.clone().oneshot(req).await?;
                let status = r.status();
                let body = axum::body::to_bytes(r.into_body(), usize::MAX).await?;
                Ok::<_, anyhow::Error>((status, body.len()))
            })?;
            println!(
                "  {label} {what} [{uri}] round {round}: {status}, {bytes} bytes of HTML in {:.3} s",
                secs(t)
            );
        }
    }
    // The router's clones of the store go before the store itself (the
    // blocking PostgreSQL client may not be dropped on the async threads).
    drop(router);
    drop(rt);
    Ok(())
}

/// EXPLAIN ANALYZE of the site × month query's SQL in the forms tried:
/// as it ran before (per day, no clamp, default JIT settings), with JIT
/// forced on, grouped per month by `date_trunc` (on the `date`, then on a
/// `timestamp`), and as it runs now (per day, clamped, JIT off). Prints each plan's JIT lines (if any) and execution time,
/// three times each, interleaved so load changes hit all forms alike.
fn explain(store: &PgStore) -> anyhow::Result<()> {
    let range = "WHERE day >= '2021-01-01' AND day <= '2021-12-31'";
    let forms = [
        (
            "before: per day, sum(inc - ret), default JIT settings",
            "RESET jit; RESET jit_above_cost; RESET jit_inline_above_cost; RESET jit_optimize_above_cost",
            format!("SELECT day, site, sum(inc - ret)::bigint FROM cells {range} GROUP BY site, day HAVING sum(inc - ret) > 0"),
        ),
        (
            "per day, clamped, JIT forced on",
            "SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0",
            format!("SELECT day, site, sum(GREATEST(inc - ret, 0))::bigint FROM cells {range} GROUP BY site, day HAVING sum(GREATEST(inc - ret, 0)) > 0"),
        ),
        (
            "per month, date_trunc on the date, min(day), JIT off",
            "RESET jit_above_cost; RESET jit_inline_above_cost; RESET jit_optimize_above_cost; SET jit = off",
            format!("SELECT min(day), site, sum(GREATEST(inc - ret, 0))::bigint FROM cells {range} GROUP BY site, date_trunc('month', day) HAVING sum(GREATEST(inc - ret, 0)) > 0"),
        ),
        (
            "per month, date_trunc on a timestamp, JIT off",
            "SET jit = off",
            format!("SELECT GREATEST(date_trunc('month', day::timestamp)::date, '2021-01-01'::date), site, sum(GREATEST(inc - ret, 0))::bigint FROM cells {range} GROUP BY site, date_trunc('month', day::timestamp) HAVING sum(GREATEST(inc - ret, 0)) > 0"),
        ),
        (
            "now: per day, clamped, JIT off",
            "SET jit = off",
            format!("SELECT day, site, sum(GREATEST(inc - ret, 0))::bigint FROM cells {range} GROUP BY site, day HAVING sum(GREATEST(inc - ret, 0)) > 0"),
        ),
    ];
    let mut c = store.raw_connection()?;
    let mut seen: Vec<Vec<String>> = vec![Vec::new(); forms.len()];
    for _ in 0..3 {
        for (i, (_, set, sql)) in forms.iter().enumerate() {
            c.batch_execute(set)?;
            let mut jit = Vec::new();
            let mut time = String::new();
            for row in c.query(&format!("EXPLAIN (ANALYZE, COSTS OFF) {sql}"), &[])? {
                let line: String = row.try_get(0)?;
                let l = line.trim();
                if l.starts_with("Functions") || l.starts_with("Timing") {
                    jit.push(l.to_owned());
                }
                if let Some(t) = l.strip_prefix("Execution Time: ") {
                    time = t.to_owned();
                }
            }
            let jit = if jit.is_empty() {
                "no JIT".to_owned()
            } else {
                format!("JIT {}", jit.join(", "))
            };
            seen[i].push(format!("{time} ({jit})"));
        }
    }
    for ((what, ..), times) in forms.iter().zip(seen) {
        println!(
            "  EXPLAIN ANALYZE site,month [{what}]: {}",
            times.join(" / ")
        );
    }
    c.batch_execute("RESET ALL")?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "dps-tallies-bench on {} cores, {} UTC",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Utc::now().format("%Y-%m-%d %H:%M")
    );
    if !args.skip_pg {
        let cluster = TempCluster::start().context("starting PostgreSQL")?;
        let url = cluster.create_database("tallies_bench")?;
        let store = PgStore::connect(&url)?;
        let t = Instant::now();
        store
            .raw_connection()?
            .batch_execute(&fill_sql(args.devices))?;
        let n: i64 = store
            .raw_connection()?
            .query_one("SELECT count(*) FROM cells", &[])?
            .try_get(0)?;
        println!(
            "PostgreSQL: filled {n} replica cells ({} devices, one year) in {:.1} s",
            args.devices,
            secs(t)
        );
        explain(&store)?;
        measure(Arc::new(store), "pg", args.rounds)?;
    }
    if !args.skip_sled {
        let dir = tempfile::tempdir()?;
        let store = SledStore::open(dir.path())?;
        let t = Instant::now();
        fill_sled(&store, args.sled_devices)?;
        println!(
            "sled: filled {} replica cells ({} devices, one year) in {:.1} s",
            store.cells()?.len(),
            args.sled_devices,
            secs(t)
        );
        // What any sled query costs before it sums anything: reading and
        // decoding every replica cell.
        for round in 1..=args.rounds {
            let t = Instant::now();
            let n = store.cells()?.len();
            println!(
                "  sled every replica cell read and decoded (Store::cells), round {round}: {n} in {:.3} s",
                secs(t)
            );
        }
        measure(Arc::new(store), "sled", args.rounds)?;
    }
    Ok(())
}
