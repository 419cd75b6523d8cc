//! The yearly statistics a certified DPS owes the Region: one site, one
//! year, visits by month, procedure, outcome and public (age band,
//! language, residence, channel), the tables suppressed for publication
//! together (see [`AnnualReport`]).

use std::borrow::Borrow;

use chrono::Datelike;
use dps_model::{CellKey, Code};
use serde::Serialize;

use crate::aggregate::{aggregate, Aggregate};
use crate::error::QueryError;
use crate::query::{Dimension, Query};
use crate::suppress::{protect, Outcome, System};
use crate::table::{Count, Table};

/// An annual report, as data: the hub renders it (printable HTML page).
///
/// Its seven one-column tables are counts of the same visits, so they share
/// one grand total, and a reader can combine them: with 9 visits in January
/// and 9 in February, a month table `<10, <10, x` is safe on its own, but a
/// procedure table `bruvax 18, total 18` next to it gives both months away.
/// So the tables are protected *jointly*: one system of equations (each
/// table's cells sum to the one shared total) audited as a whole, with one
/// disclosure decision for the total, which every table and [`Self::total`]
/// show alike. A table that cannot be protected at all is withheld (no
/// rows, only the total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnnualReport {
    pub site: Code,
    pub year: i32,
    pub total: Count,
    pub by_month: Table,
    pub by_procedure: Table,
    pub by_outcome: Table,
    pub by_age_band: Table,
    pub by_language: Table,
    pub by_residence: Table,
    pub by_channel: Table,
}

/// The report's tables, in the order of [`AnnualReport`]'s fields.
const TABLES: [Dimension; 7] = [
    Dimension::Month,
    Dimension::Procedure,
    Dimension::Outcome,
    Dimension::AgeBand,
    Dimension::Language,
    Dimension::Municipality,
    Dimension::Channel,
];

/// Builds the report of `site` for `year` from cells summed over replicas.
pub fn annual_report<I, K>(cells: I, site: &Code, year: i32) -> Result<AnnualReport, QueryError>
where
    I: IntoIterator<Item = (K, u64)>,
    K: Borrow<CellKey>,
{
    // One pass over the (possibly huge) input; the tables then re-read
    // only this site's year.
    let mine: Vec<(K, u64)> = cells
        .into_iter()
        .filter(|(k, _)| {
            let c: &CellKey = k.borrow();
            c.site == *site && c.day.year() == year
        })
        .collect();
    let aggs: Vec<Aggregate> = TABLES
        .iter()
        .map(|&d| {
            let q = Query {
                group_by: vec![d],
                ..Query::default()
            };
            aggregate(mine.iter().map(|(k, v)| (k.borrow(), *v)), &q)
        })
        .collect();
    let grand = aggs.first().map_or(0, Aggregate::grand_total);
    let mut withheld = [false; TABLES.len()];
    // Each round either protects everything or withholds at least one more
    // table, so this ends.
    let (marks, offsets) = loop {
        let cells: Vec<Vec<u64>> = aggs
            .iter()
            .zip(&withheld)
            .map(|(a, &w)| if w { vec![] } else { a.cell_values() })
            .collect();
        let sys = System::joint(&cells, grand);
        match protect(&sys).map_err(QueryError::from)? {
            Outcome::Marks(m) => {
                let mut offsets = Vec::with_capacity(cells.len());
                let mut at = 1;
                for c in &cells {
                    offsets.push(at..at + c.len());
                    at += c.len();
                }
                break (m, offsets);
            }
            Outcome::Withhold(eqs) => {
                // Equations are the non-empty tables, in order.
                let tables: Vec<usize> =
                    (0..cells.len()).filter(|&t| !cells[t].is_empty()).collect();
                let mut progress = false;
                for e in eqs {
                    if let Some(&t) = tables.get(e) {
                        progress |= !withheld[t];
                        withheld[t] = true;
                    }
                }
                if !progress {
                    return Err(QueryError::Suppression(
                        "the annual report's tables could not be protected".into(),
                    ));
                }
            }
        }
    };
    let total = marks.first().copied().unwrap_or(Count::Shown(grand));
    let mut tables = aggs
        .iter()
        .zip(offsets)
        .zip(withheld)
        .map(|((a, range), w)| a.public_one_column(marks[range].to_vec(), total, w));
    let mut next = || {
        tables
            .next()
            .ok_or_else(|| QueryError::Suppression("missing table".into()))
    };
    Ok(AnnualReport {
        site: site.clone(),
        year,
        total,
        by_month: next()?,
        by_procedure: next()?,
        by_outcome: next()?,
        by_age_band: next()?,
        by_language: next()?,
        by_residence: next()?,
        by_channel: next()?,
    })
}
