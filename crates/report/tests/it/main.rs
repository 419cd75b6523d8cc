//! dps-report's integration tests: one binary, a module per area.

mod annual;
mod export;
mod oracle;
mod query;
mod suppression;

use std::str::FromStr;

use chrono::NaiveDate;
use dps_model::{CellKey, Code};
use dps_report::{AnnualReport, Disclosure, Table, TalliesRequest};

/// A cell from one line: `day site procedure outcome language channel age_band residence visits`.
pub fn cell(line: &str) -> (CellKey, u64) {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 9, "{line}");
    let key = CellKey {
        day: NaiveDate::from_str(f[0]).unwrap(),
        site: Code::new(f[1]).unwrap(),
        procedure: Code::new(f[2]).unwrap(),
        outcome: Code::new(f[3]).unwrap(),
        language: f[4].parse().unwrap(),
        channel: f[5].parse().unwrap(),
        age_band: f[6].parse().unwrap(),
        residence: f[7].parse().unwrap(),
    };
    (key, f[8].parse().unwrap())
}

pub fn cells(text: &str) -> Vec<(CellKey, u64)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(cell)
        .collect()
}

/// Runs a URL query over the cells.
pub fn run(cells: &[(CellKey, u64)], url: &str) -> Table {
    let req = TalliesRequest::from_url_query(url).unwrap();
    dps_report::run(cells.iter().map(|(k, v)| (k, *v)), &req).unwrap()
}

/// The annual report's tables, in the order of its fields.
pub fn annual_tables(r: &AnnualReport) -> [&Table; 7] {
    [
        &r.by_month,
        &r.by_procedure,
        &r.by_outcome,
        &r.by_age_band,
        &r.by_language,
        &r.by_residence,
        &r.by_channel,
    ]
}

/// The exact (unsuppressed) table of each of [`annual_tables`]' dimensions
/// over `cells`, in the same order: what an auditor compares them with.
pub fn annual_exact(cells: &[(CellKey, u64)]) -> Vec<Table> {
    [
        "month",
        "procedure",
        "outcome",
        "age_band",
        "language",
        "municipality",
        "channel",
    ]
    .iter()
    .map(|d| run(cells, &format!("group_by={d}")))
    .collect()
}

/// What the joint audit says a reader can work out, one line per hidden count.
pub fn audit_lines(tables: &[&Table]) -> String {
    dps_report::audit(tables)
        .unwrap()
        .iter()
        .map(|r| format!("{r}\n"))
        .collect()
}

/// The CSV with `\n` line ends, for readable expectations.
pub fn csv(t: &Table) -> String {
    dps_report::to_csv(t).unwrap().replace("\r\n", "\n")
}

/// Cells for a 2-D table given as a grid: rows are municipalities, columns
/// outcomes; zeros make no cell.
pub fn grid(rows: &[(&str, &[u64])], outcomes: &[&str]) -> Vec<(CellKey, u64)> {
    let mut out = Vec::new();
    for (m, counts) in rows {
        for (o, n) in outcomes.iter().zip(counts.iter()) {
            if *n > 0 {
                out.push(cell(&format!(
                    "2021-05-03 site-a bruvax {o} fr eid 65_74 {m} {n}"
                )));
            }
        }
    }
    out
}

pub fn public(t: &Table) -> bool {
    t.disclosure == Disclosure::Public
}
