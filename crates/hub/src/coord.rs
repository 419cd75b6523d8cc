//! The coordination's queries over the store, shared by the HTTP API, the
//! admin channel and `dps-hub export` when no hub runs: thin glue between
//! [`Coordination::net_cells`](crate::store::Coordination::net_cells) and
//! `dps-report`.

use dps_model::{CellKey, Code};
use dps_report::{
    AnnualReport, Dimension, ExportError, Format, Query, QueryError, Table, TalliesRequest,
};
use serde::{Deserialize, Serialize};

use crate::store::{CellQuery, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tallies request as it crosses the admin channel (already validated by
/// the CLI, which parsed it with `dps-report`'s own rules).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportRequest {
    pub query: Query,
    pub format: Format,
    pub public: bool,
}

impl From<&TalliesRequest> for ExportRequest {
    fn from(r: &TalliesRequest) -> Self {
        ExportRequest {
            query: r.query.clone(),
            format: r.format,
            public: r.disclosure == dps_report::Disclosure::Public,
        }
    }
}

impl From<ExportRequest> for TalliesRequest {
    fn from(r: ExportRequest) -> Self {
        TalliesRequest {
            query: r.query,
            format: r.format,
            disclosure: if r.public {
                dps_report::Disclosure::Public
            } else {
                dps_report::Disclosure::Exact
            },
        }
    }
}

/// What the store must keep for `q`: its days, filters and the dimensions
/// it groups by (see [`CellQuery`]).
pub fn cell_query(q: &Query) -> CellQuery {
    let has = |d: Dimension| q.group_by.contains(&d);
    let codes = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    CellQuery {
        from: q.from,
        to: q.to,
        sites: codes(q.sites.iter().map(|c| c.as_str()).collect()),
        residences: codes(q.municipalities.iter().map(|r| r.code()).collect()),
        procedures: codes(q.procedures.iter().map(|c| c.as_str()).collect()),
        outcomes: codes(q.outcomes.iter().map(|c| c.as_str()).collect()),
        age_bands: codes(q.age_bands.iter().map(|a| a.code()).collect()),
        languages: codes(q.languages.iter().map(|l| l.code()).collect()),
        channels: codes(q.channels.iter().map(|c| c.code()).collect()),
        keep_site: has(Dimension::Site),
        keep_residence: has(Dimension::Municipality),
        keep_procedure: has(Dimension::Procedure),
        keep_outcome: has(Dimension::Outcome),
        keep_age_band: has(Dimension::AgeBand),
        keep_language: has(Dimension::Language),
        keep_channel: has(Dimension::Channel),
        keep_day: [
            Dimension::Day,
            Dimension::Week,
            Dimension::Month,
            Dimension::Year,
        ]
        .into_iter()
        .any(has),
    }
}

/// Cells for `q`, summed over replicas (and, on PostgreSQL, over every
/// dimension `q` does not look at); dps-report then makes the table.
pub fn cells_for(store: &dyn Store, q: &Query) -> Result<Vec<(CellKey, u64)>, StoreError> {
    store.query_cells(&cell_query(q))
}

/// Every dimension kept: for the dashboard, which makes many tables from
/// one read.
pub fn all_cells(store: &dyn Store, q: &Query) -> Result<Vec<(CellKey, u64)>, StoreError> {
    store.net_cells(q.from, q.to)
}

pub fn table(store: &dyn Store, req: &TalliesRequest) -> Result<Table, CoordError> {
    Ok(dps_report::run(cells_for(store, &req.query)?, req)?)
}

/// The request's table rendered in its format: a response body or a file.
pub fn export(store: &dyn Store, req: &TalliesRequest) -> Result<Vec<u8>, CoordError> {
    Ok(dps_report::render(&table(store, req)?, req.format)?)
}

pub fn annual(store: &dyn Store, site: &Code, year: i32) -> Result<AnnualReport, CoordError> {
    let from = chrono::NaiveDate::from_ymd_opt(year, 1, 1);
    let to = chrono::NaiveDate::from_ymd_opt(year, 12, 31);
    Ok(dps_report::annual_report(
        store.net_cells(from, to)?,
        site,
        year,
    )?)
}
