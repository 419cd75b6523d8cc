//! The result of a query: rows of grouping values and a visit count, plus
//! totals, each count either exact or suppressed.

use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::query::{Dimension, Disclosure};

/// What a primary-suppressed count (1–9) shows.
pub const PRIMARY_MARK: &str = "<10";
/// What a secondary-suppressed count (10 or more, withheld so that a `<10`
/// cannot be worked out from totals) shows.
pub const SECONDARY_MARK: &str = "x";
/// What a summed-out grouping column shows in a total row.
pub const ALL_MARK: &str = "*";

/// Why a count is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suppressed {
    /// The count is 1–9.
    Primary,
    /// The count is 10 or more but would let a primary one be worked out.
    Secondary,
}

/// A count as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    Shown(u64),
    Suppressed(Suppressed),
}

impl Count {
    /// The number, or `None` when suppressed.
    pub fn value(self) -> Option<u64> {
        match self {
            Count::Shown(n) => Some(n),
            Count::Suppressed(_) => None,
        }
    }
    /// The text a CSV cell or a report shows.
    pub fn mark(self) -> Option<&'static str> {
        match self {
            Count::Shown(_) => None,
            Count::Suppressed(Suppressed::Primary) => Some(PRIMARY_MARK),
            Count::Suppressed(Suppressed::Secondary) => Some(SECONDARY_MARK),
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self, self.mark()) {
            (Count::Shown(n), _) => write!(f, "{n}"),
            (_, Some(m)) => f.write_str(m),
            (_, None) => Ok(()),
        }
    }
}

/// JSON: a number when shown, the mark (`"<10"`, `"x"`) when suppressed.
impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self, self.mark()) {
            (Count::Shown(n), _) => s.serialize_u64(*n),
            (_, Some(m)) => s.serialize_str(m),
            (_, None) => s.serialize_none(),
        }
    }
}

/// One row: a label per grouping column (shared between rows) (`None` in a total row for the
/// columns summed out) and the visits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub keys: Vec<Option<Arc<str>>>,
    pub visits: Count,
}

/// A query's result.
///
/// `rows` hold the finest cells (every grouping column filled), sorted by
/// the columns in order (dates chronologically, bands youngest first, codes
/// alphabetically). Cells with no visits are absent (they are 0).
///
/// `totals` hold the margins: for one column, the grand total; for two,
/// the total of each value of the first column (second summed out), then of
/// each value of the second, then the grand total; in general every
/// combination of summed-out columns, fewest summed out first, grand total
/// last. Tables with more than [`crate::MAX_MARGIN_DIMS`] columns carry only
/// the grand total. With no grouping column, `rows` is the single grand total
/// and `totals` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub dimensions: Vec<Dimension>,
    pub disclosure: Disclosure,
    pub rows: Vec<Row>,
    pub totals: Vec<Row>,
}

impl Table {
    /// The count over the whole query.
    pub fn grand_total(&self) -> Count {
        let last = if self.dimensions.is_empty() {
            self.rows.last()
        } else {
            self.totals.last()
        };
        last.map_or(Count::Shown(0), |r| r.visits)
    }

    /// Column headers: the grouping dimensions, then `visits`.
    pub fn header(&self) -> Vec<&'static str> {
        self.dimensions
            .iter()
            .map(|d| d.code())
            .chain(["visits"])
            .collect()
    }
}

struct RowJson<'a>(&'a [Dimension], &'a Row);

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len() + 1))?;
        for (d, k) in self.0.iter().zip(&self.1.keys) {
            m.serialize_entry(d.code(), &k.as_deref())?;
        }
        m.serialize_entry("visits", &self.1.visits)?;
        m.end()
    }
}

struct RowsJson<'a>(&'a [Dimension], &'a [Row]);

impl Serialize for RowsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.1.iter().map(|r| RowJson(self.0, r)))
    }
}

/// JSON shape (documented in the OpenAPI fragment):
/// `{"disclosure": "exact"|"public", "columns": [...,"visits"],
///   "rows": [{"municipality": "evere", "visits": 12}, ...],
///   "totals": [{"municipality": null, "visits": 40}], "total": 40}`;
/// suppressed counts are the strings `"<10"` / `"x"`.
impl Serialize for Table {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Table", 5)?;
        st.serialize_field("disclosure", &self.disclosure)?;
        st.serialize_field("columns", &self.header())?;
        st.serialize_field("rows", &RowsJson(&self.dimensions, &self.rows))?;
        st.serialize_field("totals", &RowsJson(&self.dimensions, &self.totals))?;
        st.serialize_field("total", &self.grand_total())?;
        st.end()
    }
}
