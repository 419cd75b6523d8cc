//! Benchmarks for the tallies core; prints figures, asserts nothing.
//!
//! `cargo run -p dps-report --release --bin report-bench`
//!
//! Synthesises one year of 1,000 kiosks (10 per site, 100 sites, about 15
//! visits a working day each, realistic skews over procedures, outcomes,
//! languages, ages and residences), sums visits into cells as the hub
//! holds them (summed over replicas), then times the queries and exports.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Datelike, NaiveDate, Weekday};
use dps_model::{AgeBand, CellKey, Channel, Code, Language, Municipality, Residence};
use dps_report::{aggregate, render, Disclosure, Format, TalliesRequest};

/// xorshift64*: deterministic, dependency-free; quality is irrelevant here.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// An index drawn with the given weights.
    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = (self.next() % u64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

fn code(s: &str) -> Code {
    match Code::new(s) {
        Ok(c) => c,
        Err(e) => panic!("bench code {s}: {e}"),
    }
}

fn synthesise(devices: usize) -> Vec<(CellKey, u64)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let sites: Vec<Code> = (0..devices.div_ceil(10))
        .map(|i| code(&format!("dps-{i:03}")))
        .collect();
    let procedures: Vec<Code> = [
        "bruvax",
        "bruvax-second-dose",
        "covid-safe-ticket",
        "myminfin",
        "irisbox",
        "other-help",
    ]
    .map(code)
    .to_vec();
    let outcomes: Vec<Code> = [
        "booked",
        "waiting-list",
        "not-eligible",
        "abandoned",
        "done",
    ]
    .map(code)
    .to_vec();
    let mut residences: Vec<Residence> = Municipality::ALL
        .into_iter()
        .map(Residence::Brussels)
        .collect();
    residences.extend([
        Residence::OtherBelgium,
        Residence::Abroad,
        Residence::Unknown,
    ]);
    let res_w: Vec<u32> = residences
        .iter()
        .map(|r| match r {
            Residence::Brussels(m) if m.is_priority_2021() => 12,
            Residence::Brussels(_) => 4,
            Residence::Unknown => 3,
            _ => 1,
        })
        .collect();
    let mut sums: HashMap<CellKey, u64> = HashMap::new();
    let Some(start) = NaiveDate::from_ymd_opt(2021, 1, 1) else {
        return vec![];
    };
    for device in 0..devices {
        let site = &sites[device / 10];
        for day in start.iter_days().take_while(|d| d.year() == 2021) {
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) || rng.next().is_multiple_of(10)
            {
                continue;
            }
            let visits = 5 + rng.next() % 20;
            for _ in 0..visits {
                let procedure = rng.pick(&[40, 15, 15, 10, 10, 10]);
                let key = CellKey {
                    day,
                    site: site.clone(),
                    procedure: procedures[procedure].clone(),
                    outcome: outcomes[if procedure == 5 {
                        4
                    } else {
                        rng.pick(&[50, 20, 10, 10, 0])
                    }]
                    .clone(),
                    language: Language::ALL[rng.pick(&[55, 25, 15, 5])],
                    channel: Channel::ALL[if procedure == 5 {
                        2
                    } else {
                        rng.pick(&[80, 20, 0])
                    }],
                    age_band: AgeBand::ALL[rng.pick(&[2, 10, 15, 25, 25, 18, 5])],
                    residence: residences[rng.pick(&res_w)],
                };
                *sums.entry(key).or_insert(0) += 1;
            }
        }
    }
    // The hub reads cells from its store in key order, each decoded into
    // fresh allocations; do the same, so that memory layout is like the
    // hub's and not a hash map's scattered leftovers.
    let mut cells: Vec<(CellKey, u64)> = sums.into_iter().collect();
    cells.sort_unstable();
    cells.into_iter().map(|(k, v)| (k.clone(), v)).collect()
}

/// Cells for a public table of the given shape (sites or residences ×
/// weeks, months, age bands, languages), with many small counts.
fn sparse(shape: &[usize]) -> Vec<(CellKey, u64)> {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let Some(monday) = NaiveDate::from_ymd_opt(2021, 1, 4) else {
        return vec![];
    };
    let mut out = Vec::new();
    let total: usize = shape.iter().product();
    for i in 0..total {
        let visits = match rng.pick(&[30, 40, 30]) {
            0 => continue,
            1 => 1 + rng.next() % 9,
            _ => 10 + rng.next() % 51,
        };
        let (a, rest) = (i / (total / shape[0]), i % (total / shape[0]));
        let b = rest / shape.get(2).copied().unwrap_or(1);
        let c = rest % shape.get(2).copied().unwrap_or(1);
        let three = shape.len() == 3;
        let day = match shape.get(1) {
            Some(53) => monday + chrono::Days::new(7 * b as u64),
            Some(12) => NaiveDate::from_ymd_opt(2021, b as u32 + 1, 1).unwrap_or(monday),
            _ => monday,
        };
        let key = CellKey {
            day,
            site: code(&format!("dps-{:03}", if three { 0 } else { a })),
            procedure: code("bruvax"),
            outcome: code("booked"),
            language: if three {
                Language::ALL[c % Language::ALL.len()]
            } else {
                Language::ALL[0]
            },
            channel: Channel::ALL[0],
            age_band: if three {
                AgeBand::ALL[b % AgeBand::ALL.len()]
            } else {
                AgeBand::ALL[0]
            },
            residence: if three {
                match Municipality::ALL.get(a) {
                    Some(m) => Residence::Brussels(*m),
                    None if a == 19 => Residence::OtherBelgium,
                    None if a == 20 => Residence::Abroad,
                    None => Residence::Unknown,
                }
            } else {
                Residence::Unknown
            },
        };
        out.push((key, visits));
    }
    out
}

fn secs(t: Instant) -> String {
    format!("{:.3} s", t.elapsed().as_secs_f64())
}

fn request(url: &str) -> TalliesRequest {
    match TalliesRequest::from_url_query(url) {
        Ok(r) => r,
        Err(e) => panic!("bench query {url}: {e}"),
    }
}

fn suppression() {
    println!("-- small-cell suppression of sparse public tables --");
    println!("  (30% empty, 40% 1-9, 30% 10-60: far more small cells than real data)");
    for (label, url, shape) in [
        (
            "26 sites x 53 weeks",
            "group_by=site,week&public=true",
            &[26usize, 53][..],
        ),
        (
            "100 sites x 12 months",
            "group_by=site,month&public=true",
            &[100, 12][..],
        ),
        (
            "22 residences x 7 age bands x 4 languages",
            "group_by=municipality,age_band,language&public=true",
            &[22, 7, 4][..],
        ),
    ] {
        let cells = sparse(shape);
        let req = request(url);
        let t = Instant::now();
        match dps_report::run(cells.iter().map(|(k, v)| (k, *v)), &req) {
            Ok(table) => {
                let all = table.rows.iter().chain(&table.totals);
                let (mut primary, mut secondary) = (0, 0);
                for r in all {
                    match r.visits.mark() {
                        Some(m) if m == dps_report::PRIMARY_MARK => primary += 1,
                        Some(_) => secondary += 1,
                        None => {}
                    }
                }
                println!(
                    "  {label}: {} cells + {} totals, {primary} <10 and {secondary} x, in {}",
                    table.rows.len(),
                    table.totals.len(),
                    secs(t)
                );
            }
            Err(e) => println!("  {label} failed: {e}"),
        }
    }
}

fn main() {
    // `report-bench suppression`: only the suppression figures (no year of
    // data to synthesise first).
    suppression();
    if std::env::args().nth(1).as_deref() == Some("suppression") {
        return;
    }
    println!();
    let t = Instant::now();
    let year = synthesise(1000);
    let visits: u64 = year.iter().map(|c| c.1).sum();
    println!(
        "synthesised one year of 1,000 devices: {} cells, {} visits in {}",
        year.len(),
        visits,
        secs(t)
    );

    let million: Vec<&(CellKey, u64)> = year.iter().take(1_000_000).collect();
    println!("\n-- aggregation of {} cells --", million.len());
    for url in [
        "",
        "group_by=municipality,week",
        "group_by=site,procedure,outcome&from=2021-03-01&age_band=65_74,75_plus",
    ] {
        let req = request(url);
        let t = Instant::now();
        let agg = aggregate(million.iter().map(|(k, v)| (k, *v)), &req.query);
        println!("  [{url}] -> {} groups in {}", agg.len(), secs(t));
    }

    println!(
        "\n-- query over one year of 1,000 devices ({} cells) --",
        year.len()
    );
    for url in [
        "group_by=municipality,week",
        "group_by=municipality,week&public=true",
        "group_by=site,month&public=true",
        "group_by=site,month",
        "group_by=site",
        "group_by=month",
        "group_by=procedure,outcome&site=dps-007",
    ] {
        let req = request(url);
        let t = Instant::now();
        match dps_report::run(year.iter().map(|(k, v)| (k, *v)), &req) {
            Ok(table) => println!("  [{url}] -> {} rows in {}", table.rows.len(), secs(t)),
            Err(e) => println!("  [{url}] failed: {e}"),
        }
    }

    println!("\n-- exports of a 1 M-row table --");
    let req = request("group_by=day,site,procedure,outcome,language,age_band,municipality,channel");
    let t = Instant::now();
    let agg = aggregate(million.iter().map(|(k, v)| (k, *v)), &req.query);
    let table = match agg.table(Disclosure::Exact) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    println!("  table of {} rows built in {}", table.rows.len(), secs(t));
    for format in [Format::Csv, Format::Json, Format::Xlsx] {
        let t = Instant::now();
        match render(&table, format) {
            Ok(bytes) => println!("  {}: {} bytes in {}", format.code(), bytes.len(), secs(t)),
            Err(e) => println!("  {} failed: {e}", format.code()),
        }
    }
}
