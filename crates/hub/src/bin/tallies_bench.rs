//! `dps-tallies-bench`: the tallies query as the hub runs it on PostgreSQL —
//! the store's `net_cells` (sum over replicas, date filter, in SQL) and then
//! dps-report — over one year of 1,000 devices. Prints figures, asserts
//! nothing. Needs Debian's `postgresql` (a throw-away cluster is started).
//!
//! `cargo run -p dps-hub --release --bin dps-tallies-bench`

use std::time::Instant;

use anyhow::Context;
use dps_hub::coord;
use dps_hub::store::Store;
use dps_hub_pg::testing::TempCluster;
use dps_hub_pg::PgStore;
use dps_report::TalliesRequest;

/// 1,000 replicas (10 per site) × 365 days × 9 cells a day, made in the
/// database itself so that filling it takes seconds, not an hour of pushes.
const FILL: &str = "
INSERT INTO replicas (device, incarnation) SELECT 'dev-' || g, 'i1' FROM generate_series(0, 999) g;
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
";

fn main() -> anyhow::Result<()> {
    let cluster = TempCluster::start().context("starting PostgreSQL")?;
    let url = cluster.create_database("tallies_bench")?;
    let store = PgStore::connect(&url)?;
    let t = Instant::now();
    store.raw_connection()?.batch_execute(FILL)?;
    let n: i64 = store
        .raw_connection()?
        .query_one("SELECT count(*) FROM cells", &[])?
        .try_get(0)?;
    println!(
        "filled {n} replica cells (1,000 devices, one year) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for url in [
        "from=2021-01-01&to=2021-12-31&group_by=site",
        "from=2021-01-01&to=2021-12-31&group_by=municipality,week",
        "from=2021-01-01&to=2021-12-31&group_by=site,month&public=true",
        "from=2021-01-01&to=2021-12-31&group_by=procedure,outcome&site=dps-007",
    ] {
        let req = TalliesRequest::from_url_query(url)?;
        for round in 1..=3 {
            let t = Instant::now();
            let cells = coord::cells_for(&store as &dyn Store, &req.query)?;
            let read = t.elapsed();
            let table = dps_report::run(cells.iter().map(|(k, v)| (k, *v)), &req)?;
            println!(
                "  [{url}] round {round}: {} cells read in {:.3} s, {} rows; total {:.3} s",
                cells.len(),
                read.as_secs_f64(),
                table.rows.len(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
