//! Summing tally cells into a query's groups.
//!
//! Every grouping value is turned into a `u32` while aggregating (codes are
//! interned once, dates become day/week/month numbers), so the hot loop
//! hashes a fixed-size array and allocates nothing per cell; strings are
//! made only for the (far fewer) output rows.

use std::borrow::Borrow;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use dps_model::{AgeBand, CellKey, Channel, Language, Municipality, Residence};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::QueryError;
use crate::query::{Dimension, Disclosure, Query};
use crate::suppress;
use crate::table::{Count, Row, Table};

/// Grouping columns a table can have (every dimension at most once).
pub(crate) const MAX_DIMS: usize = Dimension::ALL.len();
/// Tables up to this many columns carry every margin (row, column, … totals);
/// wider ones only the grand total. It is also the most a public table may
/// have: suppression protects a cell through the margins it publishes.
pub const MAX_MARGIN_DIMS: usize = 3;
/// In a key, "summed over this column".
pub(crate) const ALL: u32 = u32::MAX;

pub(crate) type Key = [u32; MAX_DIMS];

/// The residences in their display order: the 19 municipalities, then
/// elsewhere in Belgium, abroad, unknown.
fn residence_index(r: Residence) -> u32 {
    match r {
        Residence::Brussels(m) => m as u32,
        Residence::OtherBelgium => 19,
        Residence::Abroad => 20,
        Residence::Unknown => 21,
    }
}

fn residence_code(i: u32) -> &'static str {
    match i {
        19 => "other_be",
        20 => "abroad",
        21 => "unknown",
        _ => Municipality::ALL
            .get(i as usize)
            .map_or("unknown", |m| m.slug()),
    }
}

/// Maps a signed number to a `u32` with the same order (so dates before
/// year 1 would still sort right) that never collides with [`ALL`] in practice.
fn ordered(v: i32) -> u32 {
    (v as u32) ^ 0x8000_0000
}
fn unordered(v: u32) -> i32 {
    (v ^ 0x8000_0000) as i32
}

#[derive(Default)]
struct Interner {
    ids: FxHashMap<String, u32>,
    names: Vec<String>,
    last: Option<u32>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        // Cells arrive in store (key) order, so runs of one site or
        // procedure are common: a short compare beats hashing the string.
        if let Some(last) = self.last {
            if self.names[last as usize] == s {
                return last;
            }
        }
        if let Some(&id) = self.ids.get(s) {
            self.last = Some(id);
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), id);
        self.last = Some(id);
        id
    }
}

/// The exact sums of a query's groups, before any rendering or suppression.
pub struct Aggregate {
    dims: Vec<Dimension>,
    /// Keys in *ordinal* form: comparing keys compares rows in display order.
    cells: Vec<(Key, u64)>,
    /// Per column: ordinal -> name, for interned columns (site, procedure, outcome).
    names: Vec<Vec<String>>,
}

/// Sums `cells` (each a cell key and its net visits, already summed over
/// replicas) into the groups of `query`.
pub fn aggregate<I, K>(cells: I, query: &Query) -> Aggregate
where
    I: IntoIterator<Item = (K, u64)>,
    K: Borrow<CellKey>,
{
    let dims = query.group_by.clone();
    let sites: FxHashSet<&str> = query.sites.iter().map(|c| c.as_str()).collect();
    let procedures: FxHashSet<&str> = query.procedures.iter().map(|c| c.as_str()).collect();
    let outcomes: FxHashSet<&str> = query.outcomes.iter().map(|c| c.as_str()).collect();
    let residences: u32 = query
        .municipalities
        .iter()
        .fold(0, |m, r| m | 1 << residence_index(*r));
    let ages: u32 = query.age_bands.iter().fold(0, |m, a| m | 1 << (*a as u32));
    let languages: u32 = query.languages.iter().fold(0, |m, l| m | 1 << (*l as u32));
    let channels: u32 = query.channels.iter().fold(0, |m, c| m | 1 << (*c as u32));
    let passes = |mask: u32, bit: u32| mask == 0 || mask & (1 << bit) != 0;

    let mut interners: Vec<Interner> = dims.iter().map(|_| Interner::default()).collect();
    let mut sums: FxHashMap<Key, u64> = FxHashMap::default();
    for (cell, visits) in cells {
        let c: &CellKey = cell.borrow();
        if visits == 0
            || query.from.is_some_and(|f| c.day < f)
            || query.to.is_some_and(|t| c.day > t)
            || !(sites.is_empty() || sites.contains(c.site.as_str()))
            || !(procedures.is_empty() || procedures.contains(c.procedure.as_str()))
            || !(outcomes.is_empty() || outcomes.contains(c.outcome.as_str()))
            || !passes(residences, residence_index(c.residence))
            || !passes(ages, c.age_band as u32)
            || !passes(languages, c.language as u32)
            || !passes(channels, c.channel as u32)
        {
            continue;
        }
        let mut key: Key = [0; MAX_DIMS];
        for (i, d) in dims.iter().enumerate() {
            key[i] = match d {
                Dimension::Site => interners[i].id(c.site.as_str()),
                Dimension::Procedure => interners[i].id(c.procedure.as_str()),
                Dimension::Outcome => interners[i].id(c.outcome.as_str()),
                Dimension::Municipality => residence_index(c.residence),
                Dimension::AgeBand => c.age_band as u32,
                Dimension::Language => c.language as u32,
                Dimension::Channel => c.channel as u32,
                Dimension::Day => ordered(c.day.num_days_from_ce()),
                Dimension::Week => {
                    let w = c.day.iso_week();
                    ordered(w.year() * 100 + w.week() as i32)
                }
                Dimension::Month => ordered(c.day.year() * 100 + c.day.month() as i32),
                Dimension::Year => ordered(c.day.year()),
            };
        }
        // Saturating: a corrupt replica must not wrap a count around.
        let e = sums.entry(key).or_insert(0);
        *e = e.saturating_add(visits);
    }

    // Interned ids are in order of first appearance; make them ranks in
    // alphabetical order so that keys compare in display order.
    let mut names = Vec::with_capacity(dims.len());
    let mut remaps = Vec::with_capacity(dims.len());
    for it in interners {
        let mut order: Vec<u32> = (0..it.names.len() as u32).collect();
        order.sort_unstable_by(|a, b| it.names[*a as usize].cmp(&it.names[*b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, id) in order.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        let mut sorted = it.names;
        sorted.sort_unstable();
        names.push(sorted);
        remaps.push(rank);
    }
    let mut cells: Vec<(Key, u64)> = sums
        .into_iter()
        .map(|(mut k, v)| {
            for (i, d) in dims.iter().enumerate() {
                if matches!(
                    d,
                    Dimension::Site | Dimension::Procedure | Dimension::Outcome
                ) {
                    k[i] = remaps[i][k[i] as usize];
                }
            }
            (k, v)
        })
        .collect();
    cells.sort_unstable_by_key(|a| a.0);
    Aggregate { dims, cells, names }
}

impl Aggregate {
    /// The number of non-empty groups.
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The table, exact or with small-cell suppression.
    pub fn table(&self, disclosure: Disclosure) -> Result<Table, QueryError> {
        let n = self.dims.len();
        if disclosure == Disclosure::Public && n > MAX_MARGIN_DIMS {
            return Err(QueryError::TooManyPublicDimensions {
                max: MAX_MARGIN_DIMS,
                got: n,
            });
        }
        let margins = margins(n, &self.cells);
        match disclosure {
            Disclosure::Exact => Ok(self.assemble(
                disclosure,
                &self.cells,
                self.cells.iter().map(|c| Count::Shown(c.1)).collect(),
                &margins,
                margins.iter().map(|c| Count::Shown(c.1)).collect(),
            )),
            Disclosure::Public => {
                let mut all = self.cells.clone();
                all.extend(margins.iter().copied());
                let sys = suppress::System::table(n, &all);
                match suppress::protect(&sys).map_err(QueryError::from)? {
                    suppress::Outcome::Marks(mut marks) => {
                        let rest = marks.split_off(self.cells.len());
                        Ok(self.assemble(disclosure, &self.cells, marks, &margins, rest))
                    }
                    suppress::Outcome::Withhold(_) => Ok(self.withheld()),
                }
            }
        }
    }

    /// The grand total, exact.
    pub(crate) fn grand_total(&self) -> u64 {
        self.cells.iter().fold(0u64, |a, c| a.saturating_add(c.1))
    }

    /// The exact counts of the cells, in row order.
    pub(crate) fn cell_values(&self) -> Vec<u64> {
        self.cells.iter().map(|c| c.1).collect()
    }

    /// A public table that cannot be protected: no rows, only its grand
    /// total (on its own a `<10` or a number: nothing to combine it with).
    pub(crate) fn withheld(&self) -> Table {
        let grand = self.grand_total();
        let mark = if (1..=suppress::THRESHOLD).contains(&grand) {
            Count::Suppressed(crate::table::Suppressed::Primary)
        } else {
            Count::Shown(grand)
        };
        self.public_one_column(vec![], mark, true)
    }

    /// A public table with the given marks for its cells and grand total
    /// (tables whose only margin is the grand total: one column, or none).
    pub(crate) fn public_one_column(
        &self,
        cell_marks: Vec<Count>,
        grand: Count,
        withheld: bool,
    ) -> Table {
        let n = self.dims.len();
        let mut g: Key = [0; MAX_DIMS];
        g[..n].fill(ALL);
        let cells: &[(Key, u64)] = if withheld { &[] } else { &self.cells };
        self.assemble(
            Disclosure::Public,
            cells,
            cell_marks,
            &[(g, self.grand_total())],
            vec![grand],
        )
    }

    /// The table of `cells` (this aggregate's, or none for a withheld
    /// table) with their counts and margins.
    fn assemble(
        &self,
        disclosure: Disclosure,
        cells: &[(Key, u64)],
        cell_counts: Vec<Count>,
        margins: &[(Key, u64)],
        margin_counts: Vec<Count>,
    ) -> Table {
        let n = self.dims.len();
        let mut labels: Vec<FxHashMap<u32, Arc<str>>> = vec![FxHashMap::default(); n];
        let rows = if n == 0 {
            // No grouping: the single row is the grand total (0 when nothing matched).
            let total = cells.first().map_or(0, |c| c.1);
            vec![Row {
                keys: vec![],
                visits: cell_counts.first().copied().unwrap_or(Count::Shown(total)),
            }]
        } else {
            cells
                .iter()
                .zip(cell_counts)
                .map(|(c, v)| self.row(&mut labels, &c.0, v))
                .collect()
        };
        let totals = if n == 0 {
            vec![]
        } else {
            margins
                .iter()
                .zip(margin_counts)
                .map(|(c, v)| self.row(&mut labels, &c.0, v))
                .collect()
        };
        Table {
            dimensions: self.dims.clone(),
            disclosure,
            rows,
            totals,
        }
    }

    /// A row; labels are made once per distinct value and shared, so a
    /// million rows cost a million small vectors, not millions of strings.
    fn row(&self, labels: &mut [FxHashMap<u32, Arc<str>>], key: &Key, visits: Count) -> Row {
        let keys = self
            .dims
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (key[i] != ALL).then(|| {
                    labels[i]
                        .entry(key[i])
                        .or_insert_with(|| self.render(i, *d, key[i]).into())
                        .clone()
                })
            })
            .collect();
        Row { keys, visits }
    }

    fn render(&self, i: usize, d: Dimension, v: u32) -> String {
        match d {
            Dimension::Site | Dimension::Procedure | Dimension::Outcome => {
                self.names[i].get(v as usize).cloned().unwrap_or_default()
            }
            Dimension::Municipality => residence_code(v).to_owned(),
            Dimension::AgeBand => AgeBand::ALL
                .get(v as usize)
                .map_or("unknown", |a| a.code())
                .to_owned(),
            Dimension::Language => Language::ALL
                .get(v as usize)
                .map_or("", |l| l.code())
                .to_owned(),
            Dimension::Channel => Channel::ALL
                .get(v as usize)
                .map_or("", |c| c.code())
                .to_owned(),
            Dimension::Day => {
                let days = unordered(v);
                NaiveDate::from_num_days_from_ce_opt(days)
                    .map_or_else(|| days.to_string(), |d| d.to_string())
            }
            Dimension::Week => {
                let w = unordered(v);
                format!("{:04}-W{:02}", w.div_euclid(100), w.rem_euclid(100))
            }
            Dimension::Month => {
                let m = unordered(v);
                format!("{:04}-{:02}", m.div_euclid(100), m.rem_euclid(100))
            }
            Dimension::Year => unordered(v).to_string(),
        }
    }
}

/// Every margin of the cells (each non-empty subset of columns summed out),
/// fewest columns summed out first, grand total last; only the grand total
/// for tables wider than [`MAX_MARGIN_DIMS`]. Sorted within each level.
fn margins(n: usize, cells: &[(Key, u64)]) -> Vec<(Key, u64)> {
    if n == 0 {
        return vec![];
    }
    let full: u32 = (1 << n) - 1;
    // `kept` = bit set for the columns a margin keeps.
    let mut levels: Vec<u32> = if n <= MAX_MARGIN_DIMS {
        (0..full).collect()
    } else {
        vec![0]
    };
    // More columns kept first; among equals, the earlier columns kept first
    // (for two columns: per-row totals, then per-column totals).
    levels.sort_by_key(|k| {
        (
            std::cmp::Reverse(k.count_ones()),
            std::cmp::Reverse(k.reverse_bits()),
        )
    });
    let mut out = Vec::new();
    for kept in levels {
        let mut sums: FxHashMap<Key, u64> = FxHashMap::default();
        for (k, v) in cells {
            let mut m = *k;
            for (i, slot) in m.iter_mut().enumerate().take(n) {
                if kept & (1 << i) == 0 {
                    *slot = ALL;
                }
            }
            let e = sums.entry(m).or_insert(0);
            *e = e.saturating_add(*v);
        }
        if kept == 0 && sums.is_empty() {
            let mut m = [0; MAX_DIMS];
            m[..n].fill(ALL);
            sums.insert(m, 0);
        }
        let mut level: Vec<(Key, u64)> = sums.into_iter().collect();
        level.sort_unstable_by_key(|a| a.0);
        out.extend(level);
    }
    out
}
