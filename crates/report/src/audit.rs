//! What a reader can work out from a published table: for every suppressed
//! count, the least and the greatest value it can take given *everything*
//! published together (shown counts, `<10` as 1–9, `x` as 10 or more, and
//! every total, suppressed or not, with all the equations between them).
//!
//! # The model
//!
//! Every published count is a *term*. Each published total gives one
//! equation `total = Σ members` (a row total over its row, the grand total
//! over the row totals and again over the column totals, …); tables
//! published together over the same visits (the annual report) share one
//! grand total term. A term is either known exactly (shown) or known to lie
//! in a range (`<10`: 1..=9; `x`: 10 and up). The values a reader cannot
//! rule out are the integer solutions of those equations within those
//! ranges; the audit finds, per suppressed term, the minimum and maximum
//! over them by linear programming (`microlp`), one connected group of
//! suppressed terms at a time.
//!
//! # Why linear programming gives exact integer bounds here, and when not
//!
//! * A 1-D table (one equation), a 2-D table with its margins (a network:
//!   source → row totals → cells → column totals → sink, the grand total as
//!   the return arc) and the annual report's 1-D tables sharing one grand
//!   total (every term but the shared total is in exactly one equation) all
//!   have totally unimodular equations. With integer bounds, every vertex of
//!   the LP is integral, so the LP minimum and maximum *are* the integer
//!   ones, and every value between them is reachable.
//! * A 3-D table with all its margins is not totally unimodular: its LP can
//!   have fractional vertices. The LP bounds are then an over-approximation
//!   of the integer range, which is safe in one direction only: an LP bound
//!   that does not reach a value proves no integer solution does either
//!   (so "pinned" and "not protected" are always right), but an LP bound
//!   that does reach a value proves nothing. So the audit never takes an LP
//!   value as evidence of protection: see the next point.
//!
//! # Soundness against the solver
//!
//! The solver computes in floating point and can fail. So:
//! * a term is called protected up to a value only when a solution reaching
//!   that value has been *rounded to integers and checked exactly* (every
//!   equation in 128-bit integers, every range). Where the LP optimum is
//!   fractional (3-D) or does not check, the same problem is solved with
//!   integer variables (branch and bound) and checked the same way; if that
//!   does not check either, the audit fails with an error;
//! * an LP optimum short of a value (by more than a 10⁻⁶ tolerance) means
//!   "not reachable"; if that is the solver being wrong, the error only costs
//!   more suppression, never a leak;
//! * solver errors, time-outs (10 s per solve) and even panics inside the
//!   solver become [`AuditError`]s; nothing here is ever assumed safe.
//!
//! # Unbounded `x`
//!
//! A reader knows no upper bound for `x`. When the publisher audits its own
//! table it caps `x` at twice the largest true count plus 20: a cap only
//! *removes* solutions from what the reader could consider, so anything
//! found reachable under the cap is reachable without it (the audit stays
//! sound), and no protection target ever lies near the cap.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use microlp::{ComparisonOp, OptimizationDirection, Problem, SolutionStatus, Variable};
use rustc_hash::FxHashMap;

use crate::suppress::THRESHOLD;
use crate::table::{Count, Suppressed, Table};

/// The audit could not be completed; nothing is to be published unchecked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the linear-programming solver failed: {0}")]
    Solver(String),
    #[error("the linear-programming solver did not finish in time")]
    TimedOut,
    #[error("the linear-programming solver panicked")]
    Panicked,
    #[error("the solver's answer does not check exactly ({0})")]
    Unverified(String),
    #[error("the published figures contradict each other: no table fits them")]
    Inconsistent,
    #[error("a count is too large to audit ({0})")]
    TooLarge(u64),
    #[error("the tables given to a joint audit do not fit together: {0}")]
    Shape(String),
}

/// One equation: `total = Σ members` (term indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Equation {
    pub total: usize,
    pub members: Vec<usize>,
}

/// Appends the line equations of one table with margins to `eqs`: an item
/// is a member of the line, one per (total, axis), whose total is the item
/// with one more column summed out. `total_of(item's key, axis)` is that
/// total's term, or `None` when `axis` is summed out in the key already or
/// the table does not publish that total. Equations come in the order their
/// first member is met. The one rule both the audit and the suppression read
/// a table's equations by.
pub(crate) fn line_equations<K>(
    eqs: &mut Vec<Equation>,
    n: usize,
    items: impl IntoIterator<Item = (K, usize)>,
    total_of: impl Fn(&K, usize) -> Option<usize>,
) {
    let mut eq_of: FxHashMap<(usize, usize), usize> = FxHashMap::default();
    for (k, i) in items {
        for axis in 0..n {
            let Some(total) = total_of(&k, axis) else {
                continue;
            };
            let e = *eq_of.entry((total, axis)).or_insert_with(|| {
                eqs.push(Equation {
                    total,
                    members: Vec::new(),
                });
                eqs.len() - 1
            });
            eqs[e].members.push(i);
        }
    }
}

/// The terms and equations of one publication.
#[derive(Debug, Clone, Default)]
pub(crate) struct Equations {
    pub eqs: Vec<Equation>,
    /// Per term: the equations it is in (as member or total).
    pub eqs_of: Vec<Vec<usize>>,
    /// Whether the equations are totally unimodular (see the module doc):
    /// then LP vertices are integral and integer variables are never needed.
    pub unimodular: bool,
}

impl Equations {
    pub fn new(terms: usize, eqs: Vec<Equation>, unimodular: bool) -> Self {
        let mut eqs_of = vec![Vec::new(); terms];
        for (e, eq) in eqs.iter().enumerate() {
            eqs_of[eq.total].push(e);
            for &m in &eq.members {
                eqs_of[m].push(e);
            }
        }
        Equations {
            eqs,
            eqs_of,
            unimodular,
        }
    }

    pub fn terms(&self) -> usize {
        self.eqs_of.len()
    }
}

/// What a reader knows of one term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    Exact(u64),
    /// Inclusive; `None`: no upper bound.
    Between(u64, Option<u64>),
}

impl Known {
    /// What a published count tells; `cap` bounds `x` (see the module doc).
    pub fn of(c: Count, cap: Option<u64>) -> Known {
        match c {
            Count::Shown(v) => Known::Exact(v),
            Count::Suppressed(Suppressed::Primary) => Known::Between(1, Some(THRESHOLD)),
            Count::Suppressed(Suppressed::Secondary) => Known::Between(THRESHOLD + 1, cap),
        }
    }
    fn hidden(self) -> bool {
        matches!(self, Known::Between(..))
    }
}

/// Which way to push a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Min,
    Max,
}

/// A connected group of hidden terms and the equations that tie them:
/// groups are independent of each other, so each is solved on its own.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub vars: Vec<usize>,
    pub eqs: Vec<usize>,
}

/// The optimum of one solve over a component.
pub(crate) enum Optimum {
    /// The objective has no finite bound (only without a cap).
    Unbounded,
    /// The optimum's objective value, and the solver's point rounded to
    /// integers and checked exactly (None when it does not check).
    Found { value: f64, point: Option<Vec<u64>> },
}

/// Relative tolerance when comparing the solver's numbers with integers.
const TOL: f64 = 1e-6;
/// Wall-clock budget of one solve: microlp can cycle on hard problems.
const SOLVE_BUDGET: Duration = Duration::from_secs(10);

fn tol(x: f64) -> f64 {
    TOL * x.abs().max(1.0)
}

/// The solver over one publication as a reader knows it.
pub(crate) struct Lp<'a> {
    pub eqs: &'a Equations,
    pub known: &'a [Known],
}

impl Lp<'_> {
    /// The hidden terms connected to `starts` through equations.
    pub fn component(&self, starts: impl IntoIterator<Item = usize>) -> Component {
        let n = self.eqs.terms();
        let mut seen = vec![false; n];
        let mut eq_seen = vec![false; self.eqs.eqs.len()];
        let mut vars = Vec::new();
        let mut eqs = Vec::new();
        let mut queue: VecDeque<usize> = VecDeque::new();
        for s in starts {
            if self.known[s].hidden() && !seen[s] {
                seen[s] = true;
                queue.push_back(s);
            }
        }
        while let Some(t) = queue.pop_front() {
            vars.push(t);
            for &e in &self.eqs.eqs_of[t] {
                if eq_seen[e] {
                    continue;
                }
                eq_seen[e] = true;
                eqs.push(e);
                let eq = &self.eqs.eqs[e];
                for &m in eq.members.iter().chain(std::iter::once(&eq.total)) {
                    if self.known[m].hidden() && !seen[m] {
                        seen[m] = true;
                        queue.push_back(m);
                    }
                }
            }
        }
        vars.sort_unstable();
        eqs.sort_unstable();
        Component { vars, eqs }
    }

    /// Minimises `Σ coef·x` over the component (with integer variables
    /// when `integer`), and checks the solver's point exactly.
    pub fn optimise(
        &self,
        comp: &Component,
        objective: &[(usize, f64)],
        integer: bool,
    ) -> Result<Optimum, AuditError> {
        let pos: FxHashMap<usize, usize> =
            comp.vars.iter().enumerate().map(|(i, &t)| (t, i)).collect();
        let mut coef = vec![0.0; comp.vars.len()];
        for &(t, c) in objective {
            if let Some(&i) = pos.get(&t) {
                coef[i] += c;
            }
        }
        let mut p = Problem::new(OptimizationDirection::Minimize);
        p.set_time_limit(SOLVE_BUDGET);
        let mut vars: Vec<Variable> = Vec::with_capacity(comp.vars.len());
        for (i, &t) in comp.vars.iter().enumerate() {
            let Known::Between(lo, hi) = self.known[t] else {
                return Err(AuditError::Unverified(
                    "a shown count in a component".into(),
                ));
            };
            let v = if integer {
                let lo = i32::try_from(lo).map_err(|_| AuditError::TooLarge(lo))?;
                let hi = match hi {
                    Some(h) => i32::try_from(h).map_err(|_| AuditError::TooLarge(h))?,
                    None => i32::MAX,
                };
                p.add_integer_var(coef[i], (lo, hi))
            } else {
                let hi = hi.map_or(f64::INFINITY, |h| h as f64);
                p.add_var(coef[i], (lo as f64, hi))
            };
            vars.push(v);
        }
        for &e in &comp.eqs {
            let eq = &self.eqs.eqs[e];
            // Σ members − total = 0, shown terms moved to the right.
            let mut expr: Vec<(Variable, f64)> = Vec::new();
            let mut rhs: f64 = 0.0;
            let terms = eq
                .members
                .iter()
                .map(|&m| (m, 1.0))
                .chain(std::iter::once((eq.total, -1.0)));
            for (t, c) in terms {
                match self.known[t] {
                    Known::Exact(v) => rhs -= c * v as f64,
                    Known::Between(..) => match pos.get(&t) {
                        Some(&i) => expr.push((vars[i], c)),
                        None => {
                            return Err(AuditError::Unverified(
                                "a hidden term outside its component".into(),
                            ))
                        }
                    },
                }
            }
            p.add_constraint(expr, ComparisonOp::Eq, rhs);
        }
        // microlp panics rather than answer wrongly in a few corners: a
        // panic is a failed audit, never a crash of the hub.
        let solved =
            catch_unwind(AssertUnwindSafe(|| p.solve())).map_err(|_| AuditError::Panicked)?;
        let outcome = match solved {
            Ok(o) => o,
            Err(microlp::Error::Unbounded) => return Ok(Optimum::Unbounded),
            // The true table is a solution, so "infeasible" is the solver
            // being wrong or the figures being contradictory.
            Err(microlp::Error::Infeasible) => return Err(AuditError::Inconsistent),
            Err(e) => return Err(AuditError::Solver(e.to_string())),
        };
        let sol = outcome.into_solution().map_err(|_| AuditError::TimedOut)?;
        if sol.status() != SolutionStatus::Optimal {
            return Err(AuditError::TimedOut);
        }
        let raw: Vec<f64> = vars.iter().map(|&v| sol.var_value(v)).collect();
        Ok(Optimum::Found {
            value: sol.objective(),
            point: self.check(comp, &raw),
        })
    }

    /// The solver's point rounded to integers, if it meets every range and
    /// every equation exactly.
    fn check(&self, comp: &Component, raw: &[f64]) -> Option<Vec<u64>> {
        let mut value: FxHashMap<usize, u64> = FxHashMap::default();
        let mut point = Vec::with_capacity(raw.len());
        for (&t, &x) in comp.vars.iter().zip(raw) {
            let r = x.round();
            if !r.is_finite() || (x - r).abs() > tol(x) || r < 0.0 || r >= 2f64.powi(62) {
                return None;
            }
            let r = r as u64;
            let Known::Between(lo, hi) = self.known[t] else {
                return None;
            };
            if r < lo || hi.is_some_and(|h| r > h) {
                return None;
            }
            value.insert(t, r);
            point.push(r);
        }
        let of = |t: usize| -> Option<i128> {
            match self.known[t] {
                Known::Exact(v) => Some(v as i128),
                Known::Between(..) => value.get(&t).map(|&v| v as i128),
            }
        };
        for &e in &comp.eqs {
            let eq = &self.eqs.eqs[e];
            let mut sum: i128 = 0;
            for &m in &eq.members {
                sum += of(m)?;
            }
            if sum != of(eq.total)? {
                return None;
            }
        }
        Some(point)
    }

    /// The exact least (`Min`) or greatest (`Max`) integer value of term
    /// `t` over all solutions; `None` for a maximum without bound.
    pub fn extreme(&self, t: usize, dir: Dir) -> Result<Option<u64>, AuditError> {
        match self.known[t] {
            Known::Exact(v) => return Ok(Some(v)),
            Known::Between(..) => {}
        }
        let comp = self.component([t]);
        let sign = match dir {
            Dir::Min => 1.0,
            Dir::Max => -1.0,
        };
        let at = |point: &[u64]| -> Option<u64> {
            comp.vars.iter().position(|&v| v == t).map(|i| point[i])
        };
        for integer in [false, true] {
            if integer && self.eqs.unimodular {
                // A unimodular LP whose optimum does not check is a solver
                // failure, not a fractional vertex.
                return Err(AuditError::Unverified(
                    "fractional optimum of a unimodular problem".into(),
                ));
            }
            match self.optimise(&comp, &[(t, sign)], integer)? {
                Optimum::Unbounded => return Ok(None),
                Optimum::Found { value, point } => {
                    let Some(p) = point else { continue };
                    let Some(x) = at(&p) else {
                        return Err(AuditError::Unverified("term not in its component".into()));
                    };
                    // The checked point must be the optimum the solver claims.
                    if (sign * x as f64 - value).abs() > tol(value) {
                        continue;
                    }
                    return Ok(Some(x));
                }
            }
        }
        Err(AuditError::Unverified(
            "the integer optimum does not check".into(),
        ))
    }
}

type Origin = (usize, Vec<Option<Arc<str>>>, bool, Count);

/// The range a reader can work out for one suppressed count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermRange {
    /// Which table (index in the slice given to [`audit`]).
    pub table: usize,
    /// The row's grouping values (`None` = summed out), as in the table.
    pub keys: Vec<Option<Arc<str>>>,
    /// Whether the count is a total (margin) rather than a cell.
    pub total: bool,
    pub mark: Suppressed,
    pub min: u64,
    /// `None`: no upper bound can be worked out.
    pub max: Option<u64>,
}

/// Audits tables published together over the *same* visits (one table, or
/// the annual report's tables, whose grand totals are one number): the
/// least and greatest value every suppressed count can take given all of
/// them. Exact: integer bounds (see the module doc for how).
pub fn audit(tables: &[&Table]) -> Result<Vec<TermRange>, AuditError> {
    // Terms: every row and total of every table; the grand totals of all
    // tables are one term (index 0).
    let mut known: Vec<Known> = Vec::new();
    // Per term: its table, keys, whether a total, and its published count.
    let mut origin: Vec<Origin> = Vec::new();
    let mut eqs: Vec<Equation> = Vec::new();
    let mut unimodular = true;
    let mut grand: Option<Count> = None;
    // Term 0 is the shared grand total; filled in below.
    known.push(Known::Exact(0));
    origin.push((0, vec![], true, Count::Shown(0)));
    for (ti, t) in tables.iter().enumerate() {
        let n = t.dimensions.len();
        let dims_ok = n <= crate::MAX_MARGIN_DIMS;
        if !dims_ok {
            return Err(AuditError::Shape(format!(
                "{n} grouping columns (at most {} carry margins)",
                crate::MAX_MARGIN_DIMS
            )));
        }
        if n > 2 || (tables.len() > 1 && n > 1) {
            unimodular = false;
        }
        let g = t.grand_total();
        match grand {
            None => grand = Some(g),
            Some(prev) if prev != g => {
                return Err(AuditError::Shape(format!(
                    "grand totals differ: {prev} and {g}"
                )))
            }
            Some(_) => {}
        }
        let mut index: FxHashMap<&[Option<Arc<str>>], usize> = FxHashMap::default();
        let rows = t.rows.iter().map(|r| (r, false));
        let totals = t.totals.iter().map(|r| (r, true));
        for (r, is_total) in rows.chain(totals) {
            let is_grand = r.keys.iter().all(Option::is_none);
            let i = if is_grand {
                0
            } else {
                known.push(Known::of(r.visits, None));
                origin.push((ti, r.keys.clone(), is_total, r.visits));
                known.len() - 1
            };
            index.insert(r.keys.as_slice(), i);
        }
        // Lines: the item with one more column summed out is the total.
        line_equations(
            &mut eqs,
            n,
            index.iter().map(|(keys, &i)| (*keys, i)),
            |keys, axis| {
                // A column summed out already gives no line.
                keys[axis].as_ref()?;
                let mut k = keys.to_vec();
                k[axis] = None;
                index.get(k.as_slice()).copied()
            },
        );
    }
    let Some(g) = grand else {
        return Ok(vec![]);
    };
    known[0] = Known::of(g, None);
    origin[0].3 = g;
    for eq in &mut eqs {
        eq.members.sort_unstable();
    }
    let equations = Equations::new(known.len(), eqs, unimodular);
    let lp = Lp {
        eqs: &equations,
        known: &known,
    };
    let mut out = Vec::new();
    for (t, (table, keys, total, count)) in origin.into_iter().enumerate() {
        let Count::Suppressed(mark) = count else {
            continue;
        };
        let min = lp.extreme(t, Dir::Min)?.unwrap_or(0);
        let max = lp.extreme(t, Dir::Max)?;
        // The integer cap of the branch-and-bound stands for "no bound".
        let max = max.filter(|&m| m < i32::MAX as u64);
        out.push(TermRange {
            table,
            keys,
            total,
            mark,
            min,
            max,
        });
    }
    Ok(out)
}

/// Human-readable line of a [`TermRange`], for tests and reports.
impl std::fmt::Display for TermRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.as_deref().unwrap_or(crate::ALL_MARK))
            .collect();
        let mark = match self.mark {
            Suppressed::Primary => crate::PRIMARY_MARK,
            Suppressed::Secondary => crate::SECONDARY_MARK,
        };
        let max = self.max.map_or("∞".to_owned(), |m| m.to_string());
        if self.keys.is_empty() {
            return write!(f, "grand total {mark}: {}..={max}", self.min);
        }
        write!(
            f,
            "table {} [{}] {mark}: {}..={max}",
            self.table,
            keys.join(","),
            self.min
        )
    }
}
