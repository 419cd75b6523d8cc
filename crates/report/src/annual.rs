//! The yearly statistics a certified DPS owes the Region: one site, one
//! year, visits by month, procedure, outcome and public (age band,
//! language, residence, channel), every table suppressed for publication.

use std::borrow::Borrow;

use chrono::Datelike;
use dps_model::{CellKey, Code};
use serde::Serialize;

use crate::aggregate::aggregate;
use crate::error::QueryError;
use crate::query::{Dimension, Disclosure, Query};
use crate::table::{Count, Table};

/// An annual report, as data: the hub renders it (printable HTML page).
/// Each table is one-dimensional and public, so each is protected on its own
/// against its grand total; all of them share the same grand total.
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

/// Builds the report of `site` for `year` from cells summed over replicas.
pub fn annual_report<I, K>(cells: I, site: &Code, year: i32) -> Result<AnnualReport, QueryError>
where
    I: IntoIterator<Item = (K, u64)>,
    K: Borrow<CellKey>,
{
    // One pass over the (possibly huge) input; the six tables then re-read
    // only this site's year.
    let mine: Vec<(K, u64)> = cells
        .into_iter()
        .filter(|(k, _)| {
            let c: &CellKey = k.borrow();
            c.site == *site && c.day.year() == year
        })
        .collect();
    let table = |d: Dimension| -> Result<Table, QueryError> {
        let q = Query {
            group_by: vec![d],
            ..Query::default()
        };
        aggregate(mine.iter().map(|(k, v)| (k.borrow(), *v)), &q).table(Disclosure::Public)
    };
    let by_month = table(Dimension::Month)?;
    Ok(AnnualReport {
        site: site.clone(),
        year,
        total: by_month.grand_total(),
        by_procedure: table(Dimension::Procedure)?,
        by_outcome: table(Dimension::Outcome)?,
        by_age_band: table(Dimension::AgeBand)?,
        by_language: table(Dimension::Language)?,
        by_residence: table(Dimension::Municipality)?,
        by_channel: table(Dimension::Channel)?,
        by_month,
    })
}
