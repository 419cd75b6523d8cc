//! The coordination's queries over the store, shared by the HTTP API, the
//! admin channel and `dps-hub export` when no hub runs: thin glue between
//! [`Coordination::query_cells`](crate::store::Coordination::query_cells)
//! (grouped and filtered in the store) and `dps-report`.

use chrono::Datelike;
use dps_model::{CellKey, Code};
use dps_report::{
    aggregate, AnnualReport, Count, Dimension, Disclosure, ExportError, Format, Query, QueryError,
    Table, TalliesRequest,
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

/// Cells for `q`, summed over replicas and over every dimension and day
/// `q` does not look at; dps-report then makes the table.
pub fn cells_for(store: &dyn Store, q: &Query) -> Result<Vec<(CellKey, u64)>, StoreError> {
    store.query_cells(&CellQuery::of(q))
}

pub fn table(store: &dyn Store, req: &TalliesRequest) -> Result<Table, CoordError> {
    Ok(dps_report::run(cells_for(store, &req.query)?, req)?)
}

/// The request's table rendered in its format: a response body or a file.
pub fn export(store: &dyn Store, req: &TalliesRequest) -> Result<Vec<u8>, CoordError> {
    Ok(dps_report::render(&table(store, req)?, req.format)?)
}

/// The one-dimension charts of the dashboard, in the order it shows them.
pub const DASHBOARD_CHARTS: [Dimension; 8] = [
    Dimension::Week,
    Dimension::Municipality,
    Dimension::Site,
    Dimension::Procedure,
    Dimension::Outcome,
    Dimension::AgeBand,
    Dimension::Language,
    Dimension::Channel,
];

/// Everything the dashboard shows, exact (staff only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub total: Count,
    /// One table per [`DASHBOARD_CHARTS`] entry, in that order.
    pub charts: Vec<(Dimension, Table)>,
    /// Procedure × outcome.
    pub cross: Table,
    /// Values present in the date range (other filters ignored), for the
    /// filter menus.
    pub sites: Vec<String>,
    pub procedures: Vec<String>,
    pub outcomes: Vec<String>,
    /// (site, year) pairs present in the date range: the annual reports.
    pub reports: Vec<(String, i32)>,
}

/// The dashboard's figures from five grouped store queries (every chart
/// is a margin of one of them), never from every replica cell: the
/// filters and the grouping happen in the store.
pub fn dashboard(store: &dyn Store, q: &Query) -> Result<Dashboard, CoordError> {
    use Dimension as D;
    let with = |group_by: Vec<D>| Query {
        group_by,
        ..q.clone()
    };
    let weeks = with(vec![D::Week]);
    let places = with(vec![D::Site, D::Municipality]);
    let people = with(vec![
        D::Procedure,
        D::Outcome,
        D::AgeBand,
        D::Language,
        D::Channel,
    ]);
    // The menus list what the date range holds, whatever else is filtered;
    // so do the report links (sites and years on their own: with a time
    // column the PostgreSQL store answers per day).
    let in_range = |group_by: Vec<D>| Query {
        from: q.from,
        to: q.to,
        group_by,
        ..Query::default()
    };
    let menus = in_range(vec![D::Site, D::Procedure, D::Outcome]);
    let years = in_range(vec![D::Site, D::Year]);
    let sets = store.query_cells_many(&[
        CellQuery::of(&weeks),
        CellQuery::of(&places),
        CellQuery::of(&people),
        CellQuery::of(&menus),
        CellQuery::of(&years),
    ])?;
    let [weeks_c, places_c, people_c, menus_c, years_c]: [Vec<(CellKey, u64)>; 5] =
        sets.try_into().map_err(|_| {
            StoreError::Backend("the store answered the wrong number of queries".into())
        })?;
    let table = |cells: &[(CellKey, u64)], dims: &[D]| {
        aggregate(cells.iter().map(|(k, v)| (k, *v)), &with(dims.to_vec())).table(Disclosure::Exact)
    };
    let mut charts = Vec::with_capacity(DASHBOARD_CHARTS.len());
    for d in DASHBOARD_CHARTS {
        let cells = match d {
            D::Week => &weeks_c,
            D::Municipality | D::Site => &places_c,
            _ => &people_c,
        };
        charts.push((d, table(cells, &[d])?));
    }
    let distinct = |f: fn(&CellKey) -> &str| {
        let mut v: Vec<String> = menus_c.iter().map(|(k, _)| f(k).to_owned()).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut reports: Vec<(String, i32)> = years_c
        .iter()
        .map(|(k, _)| (k.site.as_str().to_owned(), k.day.year()))
        .collect();
    reports.sort();
    reports.dedup();
    Ok(Dashboard {
        total: table(&people_c, &[])?.grand_total(),
        cross: table(&people_c, &[D::Procedure, D::Outcome])?,
        charts,
        sites: distinct(|k| k.site.as_str()),
        procedures: distinct(|k| k.procedure.as_str()),
        outcomes: distinct(|k| k.outcome.as_str()),
        reports,
    })
}

/// The annual report of `site` for `year` from ONE store query: that
/// site's year, by month and every public dimension (what the report's
/// tables are margins of).
pub fn annual(store: &dyn Store, site: &Code, year: i32) -> Result<AnnualReport, CoordError> {
    use Dimension as D;
    let q = Query {
        from: chrono::NaiveDate::from_ymd_opt(year, 1, 1),
        to: chrono::NaiveDate::from_ymd_opt(year, 12, 31),
        sites: [site.clone()].into_iter().collect(),
        group_by: vec![
            D::Month,
            D::Procedure,
            D::Outcome,
            D::AgeBand,
            D::Language,
            D::Municipality,
            D::Channel,
        ],
        ..Query::default()
    };
    Ok(dps_report::annual_report(
        cells_for(store, &q)?,
        site,
        year,
    )?)
}
