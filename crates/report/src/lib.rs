//! Tallies for the coordination: queries over the synced cells, small-cell
//! suppression, exports and annual DPS reports.
//!
//! Pure and I/O-free: the hub hands in cells (summed over replicas) and gets
//! tables and bytes back.
//!
//! ```text
//! TalliesRequest::from_url_query("from=2021-05-01&group_by=municipality,week&public=true")
//!   -> run(cells, &request)            // aggregate + (public) suppress
//!   -> Table                           // rows + totals, each Count shown or suppressed
//!   -> render(&table, request.format)  // CSV / JSON / XLSX bytes
//! ```
//!
//! The suppression rule is documented in [`suppress`], the audit behind it
//! in [`audit`].

use std::borrow::Borrow;

use dps_model::CellKey;

mod aggregate;
pub mod annual;
pub mod audit;
mod error;
pub mod export;
pub mod openapi;
mod query;
pub mod suppress;
mod table;

pub use aggregate::{aggregate, Aggregate, MAX_MARGIN_DIMS};
pub use annual::{annual_report, AnnualReport};
pub use audit::{audit, AuditError, TermRange};
pub use error::{ExportError, QueryError};
pub use export::{to_csv, to_xlsx, write_csv, write_json, write_xlsx};
pub use query::{Dimension, Disclosure, Format, Query, QueryArgs, TalliesParams, TalliesRequest};
pub use table::{Count, Row, Suppressed, Table, ALL_MARK, PRIMARY_MARK, SECONDARY_MARK};

/// Runs a request's query over `cells`: exact, or suppressed when public.
pub fn run<I, K>(cells: I, request: &TalliesRequest) -> Result<Table, QueryError>
where
    I: IntoIterator<Item = (K, u64)>,
    K: Borrow<CellKey>,
{
    aggregate(cells, &request.query).table(request.disclosure)
}

/// The table in `format`, as the bytes of a response body or file.
pub fn render(table: &Table, format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Csv => {
            let mut buf = Vec::new();
            write_csv(table, &mut buf)?;
            Ok(buf)
        }
        Format::Json => {
            let mut buf = Vec::new();
            write_json(table, &mut buf)?;
            Ok(buf)
        }
        Format::Xlsx => to_xlsx(table),
    }
}
