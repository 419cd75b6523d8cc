use chrono::NaiveDate;

use crate::query::Dimension;

/// A query the caller got wrong. The messages are meant to be shown as they
/// are (the hub returns them as `{code: "bad_query", message}` with a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("malformed query string: {0}")]
    Malformed(String),
    #[error("{param}: {value:?} is not a date (expected YYYY-MM-DD)")]
    BadDate { param: &'static str, value: String },
    #[error("from ({from}) is after to ({to})")]
    EmptyRange { from: NaiveDate, to: NaiveDate },
    #[error("{param}: unknown value {value:?} (expected one of: {expected})")]
    Unknown {
        param: &'static str,
        value: String,
        expected: String,
    },
    #[error("{param}: {value:?} is not valid: {reason}")]
    BadValue {
        param: &'static str,
        value: String,
        reason: String,
    },
    #[error("group_by: {0} is given twice")]
    Repeated(Dimension),
    #[error(
        "public tables can be grouped by at most {max} dimensions (got {got}): \
         suppression cannot protect finer tables and their totals"
    )]
    TooManyPublicDimensions { max: usize, got: usize },
    /// The suppression audit could not be completed: the public table is
    /// withheld rather than published unchecked. Not the caller's fault, but
    /// nothing the caller can get instead; the message says why.
    #[error("small-cell suppression could not be verified, so the public table is withheld: {0}")]
    Suppression(String),
}

impl From<crate::audit::AuditError> for QueryError {
    fn from(e: crate::audit::AuditError) -> Self {
        QueryError::Suppression(e.to_string())
    }
}

/// Writing an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("JSON export: {0}")]
    Json(#[from] serde_json::Error),
    #[error("XLSX export: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error(
        "the table has {rows} rows; a spreadsheet holds at most {max}: narrow the query or use CSV"
    )]
    TooManyRowsForXlsx { rows: usize, max: usize },
}
