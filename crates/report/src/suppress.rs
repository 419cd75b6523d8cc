//! Small-cell suppression for anything published.
//!
//! # What a reader sees
//!
//! A public table publishes its cells **and its totals** (for one grouping
//! column: the grand total; for two: every row total, every column total and
//! the grand total; for three: every margin). Each published total is the
//! sum of a *line* of published values (a row total of the row's cells, the
//! grand total of the row totals and also of the column totals), so every
//! line gives the reader an equation `total = Σ members`. A suppressed count
//! shows as `<10` (it is 1 to 9) or `x` (it is 10 or more); a zero is shown
//! (it describes nobody, and a table of a few sparse rows would otherwise be
//! unreadable), so every suppressed count is known to be at least 1. All of
//! that together is what the reader can combine: not one line at a time, but
//! every equation at once (linear programming; see [`crate::audit`]).
//!
//! # The protection rule
//!
//! Over every table consistent with everything published:
//! * every `<10` count `v` must be able to take a value as low as
//!   `max(1, v − 2)` and one as high as `min(9, v + 2)` — so a reader can
//!   never narrow a small count to fewer than three candidates, and the true
//!   count is never at an edge of what they can work out unless 1 or 9 is
//!   that edge (a margin of [`PROTECTION_MARGIN`] = 2). One or two candidates
//!   ("it is 1", "it is 1 or 2") is too close to naming a person; three is
//!   the least that hides the difference between one visitor and several,
//!   and wider margins would hide most of any table of a small site;
//! * every `x` count must be able to take at least two values (it is not
//!   itself sensitive, but "no suppressed value can be worked out");
//! * totals are counts like any other: a total from 1 to 9 is a `<10` too.
//!
//! # How it is reached
//!
//! 1. **Primary suppression**: every count (cell or total) from 1 to 9 is
//!    shown as `<10`.
//! 2. **A cheap first pass**, line by line: a line with exactly one
//!    suppressed term, or whose terms' ranges pin one, gets one more term
//!    suppressed (its smallest non-zero shown cell, else its total), until
//!    nothing changes. This is usually almost enough.
//! 3. **Audit and repair**: every suppressed term is checked against the
//!    rule by the joint audit; protection is only ever certified by an
//!    integer solution checked exactly. While a term is unprotected, one
//!    more count is suppressed as `x`. Candidates, best first: the non-zero
//!    shown cells of the lines through that term (smallest first), then
//!    their shown totals, then the same further out in the group of
//!    suppressed counts tied to it; the first of the first six that alone
//!    protects the term is taken, else simply the first. Then that term is
//!    audited again. Suppression only grows and a term once
//!    protected stays protected (hiding more only widens what a reader must
//!    allow), so this ends.
//! 4. **Withholding**: if a term is still unprotected when every non-zero
//!    count tied to it is suppressed — which happens only when the shape of
//!    the table gives it away (e.g. nine `<10` cells under a `<10` total must
//!    all be 1) — the table is withheld: only its grand total is published.
//!
//! **Zero stays 0** and is never chosen for suppression (see above).
//!
//! # Limits
//!
//! * The rule bounds the *interval* of values a reader can work out. In a
//!   3-D table the values inside it need not all be possible (its equations
//!   are not unimodular); the bounds themselves are exact.
//! * Differencing two *different* public queries (e.g. with and without a
//!   filter) is not prevented here; publishing fixed tables (the annual
//!   report, audited jointly) rather than arbitrary public queries is the
//!   mitigation.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap;

use crate::aggregate::{Key, ALL};
use crate::audit::{
    line_equations, AuditError, Component, Dir, Equation, Equations, Known, Lp, Optimum,
};
use crate::table::{Count, Suppressed};

/// Largest count that is primary-suppressed.
pub const THRESHOLD: u64 = 9;

/// How far, on each side, the values a reader can work out for a `<10`
/// count must reach beyond its true value (within 1..=9).
pub const PROTECTION_MARGIN: u64 = 2;

/// Known range of a term in the first pass: shown counts exactly, `<10`
/// 1..=9, `x` 10 and up.
const INF: i128 = 1 << 100;

fn range(value: u64, mark: Count) -> (i128, i128) {
    match mark {
        Count::Shown(_) => (value as i128, value as i128),
        Count::Suppressed(Suppressed::Primary) => (1, THRESHOLD as i128),
        Count::Suppressed(Suppressed::Secondary) => (THRESHOLD as i128 + 1, INF),
    }
}

/// The counts of one publication and its equations.
#[derive(Debug, Clone)]
pub(crate) struct System {
    pub values: Vec<u64>,
    /// Whether a term is a finest cell (preferred for secondary suppression)
    /// rather than a total.
    pub cell: Vec<bool>,
    pub eqs: Equations,
}

impl System {
    /// The cells of an `n`-column table followed by its margins (keys with
    /// [`ALL`] in summed-out columns), as built by [`crate::aggregate`].
    /// Equations are found from the keys: an item is a member of the line
    /// whose total has one more column summed out.
    pub fn table(n: usize, items: &[(Key, u64)]) -> System {
        let index: FxHashMap<&Key, usize> =
            items.iter().enumerate().map(|(i, (k, _))| (k, i)).collect();
        let mut eqs: Vec<Equation> = Vec::new();
        line_equations(
            &mut eqs,
            n,
            items.iter().enumerate().map(|(i, (k, _))| (k, i)),
            |k, axis| {
                if k[axis] == ALL {
                    return None;
                }
                let mut t = **k;
                t[axis] = ALL;
                // A total the table does not publish (wide tables) gives no equation.
                index.get(&t).copied()
            },
        );
        System {
            values: items.iter().map(|c| c.1).collect(),
            cell: items
                .iter()
                .map(|(k, _)| n > 0 && k[..n].iter().all(|&v| v != ALL))
                .collect(),
            // 1-D and 2-D tables with margins are unimodular; 3-D are not.
            eqs: Equations::new(items.len(), eqs, n <= 2),
        }
    }

    /// Several one-column tables over the same visits (the annual report):
    /// term 0 is their one grand total `grand`, then each table's cells in
    /// order. Each non-empty table gives the equation `grand = Σ its cells`.
    pub fn joint(tables: &[Vec<u64>], grand: u64) -> System {
        let mut values = vec![grand];
        let mut cell = vec![false];
        let mut eqs = Vec::new();
        for t in tables {
            let start = values.len();
            values.extend(t);
            cell.extend(t.iter().map(|_| true));
            if !t.is_empty() {
                eqs.push(Equation {
                    total: 0,
                    members: (start..values.len()).collect(),
                });
            }
        }
        // Every term but the shared total is in one equation: unimodular.
        let eqs = Equations::new(values.len(), eqs, true);
        System { values, cell, eqs }
    }
}

/// What the rule makes of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every count's mark.
    Marks(Vec<Count>),
    /// A count cannot be protected even with everything around it hidden:
    /// the equations (indices) of its group, for the caller to withhold.
    Withhold(Vec<usize>),
}

/// Applies the rule (see the module doc) to a publication.
pub(crate) fn protect(sys: &System) -> Result<Outcome, AuditError> {
    let mut marks = first_pass(sys);
    let cap = sys
        .values
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .saturating_mul(2)
        .saturating_add(20);
    let mut known: Vec<Known> = marks.iter().map(|&m| Known::of(m, Some(cap))).collect();
    let mut pending: BTreeMap<usize, Need> = BTreeMap::new();
    for (t, m) in marks.iter().enumerate() {
        if let Count::Suppressed(s) = m {
            if let Some(need) = Need::of(sys.values[t], *s) {
                pending.insert(t, need);
            }
        }
    }
    sweep(sys, &known, &mut pending)?;
    // What every count could be with every non-zero count hidden: the most
    // any suppression can achieve (made on first need).
    let mut full: Option<Vec<Known>> = None;
    let mut clipped: Vec<bool> = vec![false; sys.values.len()];
    while let Some((&u, &need)) = pending.iter().next() {
        let lp = Lp {
            eqs: &sys.eqs,
            known: &known,
        };
        let comp = lp.component([u]);
        let mut need = need;
        if check(&lp, &comp, u, &mut need, &mut pending)? {
            pending.remove(&u);
            continue;
        }
        if !clipped[u] {
            // The margin holds "where the table allows": a side that even
            // hiding everything cannot reach is asked only as far as it can.
            clipped[u] = true;
            let full = full.get_or_insert_with(|| {
                sys.values
                    .iter()
                    .map(|&v| match v {
                        0 => Known::Exact(0),
                        1..=THRESHOLD => Known::Between(1, Some(THRESHOLD)),
                        _ => Known::Between(THRESHOLD + 1, Some(cap)),
                    })
                    .collect()
            });
            let before = need;
            need = clip(sys, full, u, need)?;
            if need != before {
                if need.met() {
                    pending.remove(&u);
                } else {
                    pending.insert(u, need);
                }
                continue;
            }
        }
        pending.insert(u, need);
        match choose(sys, &marks, &known, &comp, u, need, cap)? {
            Some(c) => {
                marks[c] = Count::Suppressed(Suppressed::Secondary);
                known[c] = Known::of(marks[c], Some(cap));
                if let Some(need) = Need::of(sys.values[c], Suppressed::Secondary) {
                    pending.insert(c, need);
                }
            }
            None => {
                // Nothing non-zero tied to `u` is left to hide: its range is
                // as wide as this table can make it. Enough if it is not
                // one value (a bound from the LP can be a little optimistic
                // in 3-D, so this is where the clipping above can end).
                let v = sys.values[u];
                let other = reach(&lp, &comp, u, Dir::Max, v + 1)?.is_some()
                    || (v > 1 && reach(&lp, &comp, u, Dir::Min, v - 1)?.is_some());
                if other {
                    pending.remove(&u);
                } else {
                    return Ok(Outcome::Withhold(comp.eqs));
                }
            }
        }
    }
    Ok(Outcome::Marks(marks))
}

/// `need` of term `u`, each side asked no further than the LP bound of the
/// table with every non-zero count hidden (`full`); a side that cannot move
/// at all is dropped. Both sides gone: the table's shape alone pins `u`.
fn clip(sys: &System, full: &[Known], u: usize, mut need: Need) -> Result<Need, AuditError> {
    let v = sys.values[u];
    let lp = Lp {
        eqs: &sys.eqs,
        known: full,
    };
    let comp = lp.component([u]);
    let bound = |dir: Dir| -> Result<f64, AuditError> {
        let sign = if dir == Dir::Min { 1.0 } else { -1.0 };
        match lp.optimise(&comp, &[(u, sign)], false)? {
            Optimum::Found { value, .. } => Ok(sign * value),
            Optimum::Unbounded => Err(AuditError::Unverified("unbounded with capped terms".into())),
        }
    };
    let up = (bound(Dir::Max)? + 1e-6).floor().max(0.0) as u64;
    let down = (bound(Dir::Min)? - 1e-6).ceil().max(0.0) as u64;
    if up <= v && down >= v {
        // Pinned by the shape alone: an impossible target keeps it
        // unprotected, so that the table ends withheld.
        return Ok(Need {
            low: None,
            high: Some(v + 1),
            either: false,
        });
    }
    let (had_low, had_high) = (need.low.is_some(), need.high.is_some());
    need.high = need.high.map(|h| h.min(up)).filter(|&h| h > v);
    need.low = need.low.map(|l| l.max(down)).filter(|&l| l < v);
    if need.either && (had_low != need.low.is_some() || had_high != need.high.is_some()) {
        // "Another value on either side": a side that cannot move does not
        // count; the other (which can, as `u` is not pinned) is required.
        need.either = false;
    }
    Ok(need)
}

/// What is still to be shown for one suppressed term: a solution with the
/// term at or below `low`, one at or above `high` (both, or either one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Need {
    low: Option<u64>,
    high: Option<u64>,
    either: bool,
}

impl Need {
    /// `None` when the true table itself already shows everything needed.
    fn of(v: u64, mark: Suppressed) -> Option<Need> {
        let need = match mark {
            Suppressed::Primary => Need {
                low: Some(v.saturating_sub(PROTECTION_MARGIN).max(1)).filter(|&l| l < v),
                high: Some((v + PROTECTION_MARGIN).min(THRESHOLD)).filter(|&h| h > v),
                either: false,
            },
            Suppressed::Secondary => Need {
                low: v.checked_sub(1),
                high: v.checked_add(1),
                either: true,
            },
        };
        (!need.met()).then_some(need)
    }
    fn met(&self) -> bool {
        if self.either {
            self.low.is_none() || self.high.is_none()
        } else {
            self.low.is_none() && self.high.is_none()
        }
    }
    /// Crosses off what a solution giving the term `x` shows.
    fn saw(&mut self, x: u64) {
        if self.low.is_some_and(|l| x <= l) {
            self.low = None;
        }
        if self.high.is_some_and(|h| x >= h) {
            self.high = None;
        }
    }
}

/// Crosses off, for every pending term of `comp`, what `point` shows.
fn record(comp: &Component, point: &[u64], pending: &mut BTreeMap<usize, Need>) {
    for (&t, &x) in comp.vars.iter().zip(point) {
        if let Some(n) = pending.get_mut(&t) {
            n.saw(x);
            if n.met() {
                pending.remove(&t);
            }
        }
    }
}

/// A few solves that push every pending term its needed way at once: most
/// terms are certified by these shared solutions, leaving few to solve one
/// by one. Only exactly checked points count; a point that does not check
/// just ends the sweep.
fn sweep(
    sys: &System,
    known: &[Known],
    pending: &mut BTreeMap<usize, Need>,
) -> Result<(), AuditError> {
    let lp = Lp {
        eqs: &sys.eqs,
        known,
    };
    // Terms in no equation: their own range is all a reader has.
    pending.retain(|&t, _| !sys.eqs.eqs_of[t].is_empty());
    // Until a round certifies nothing more (each round is one solve).
    loop {
        if pending.is_empty() {
            return Ok(());
        }
        let before = pending.len();
        let comp = lp.component(pending.keys().copied());
        let objective: Vec<(usize, f64)> = pending
            .iter()
            .map(|(&t, n)| (t, if n.high.is_some() { -1.0 } else { 1.0 }))
            .collect();
        // A 3-D table's LP vertex can be fractional: then the same with
        // integer variables (branch and bound; quick on these problems).
        let mut found = None;
        for integer in [false, true] {
            if integer && sys.eqs.unimodular {
                break;
            }
            if let Optimum::Found {
                point: Some(point), ..
            } = lp.optimise(&comp, &objective, integer)?
            {
                found = Some(point);
                break;
            }
        }
        let Some(point) = found else {
            return Ok(());
        };
        record(&comp, &point, pending);
        if pending.len() == before {
            return Ok(());
        }
    }
}

/// Whether `u` is protected; solves for each side still needed and records
/// every checked solution found on the way (which can certify other terms).
fn check(
    lp: &Lp,
    comp: &Component,
    u: usize,
    need: &mut Need,
    pending: &mut BTreeMap<usize, Need>,
) -> Result<bool, AuditError> {
    if lp.eqs.eqs_of[u].is_empty() {
        // Nothing published constrains it beyond its own range, which always
        // holds the margin (1..=9 around a `<10`, 10.. around an `x`).
        return Ok(true);
    }
    for dir in [Dir::Max, Dir::Min] {
        if need.met() {
            break;
        }
        let target = match dir {
            Dir::Min => need.low,
            Dir::Max => need.high,
        };
        let Some(target) = target else { continue };
        if let Some(point) = reach(lp, comp, u, dir, target)? {
            record(comp, &point, pending);
            if let Some(i) = comp.vars.iter().position(|&v| v == u) {
                need.saw(point[i]);
            }
        }
    }
    Ok(need.met())
}

/// A checked integer solution with term `u` at or beyond `target` in
/// direction `dir`, or `None` when there is none.
fn reach(
    lp: &Lp,
    comp: &Component,
    u: usize,
    dir: Dir,
    target: u64,
) -> Result<Option<Vec<u64>>, AuditError> {
    let sign = match dir {
        Dir::Min => 1.0,
        Dir::Max => -1.0,
    };
    let Some(i) = comp.vars.iter().position(|&v| v == u) else {
        return Err(AuditError::Unverified("term not in its component".into()));
    };
    let t = target as f64;
    for integer in [false, true] {
        if integer && lp.eqs.unimodular {
            return Err(AuditError::Unverified(
                "fractional optimum of a unimodular problem".into(),
            ));
        }
        match lp.optimise(comp, &[(u, sign)], integer)? {
            // Every `x` is capped here, so the problem is bounded.
            Optimum::Unbounded => {
                return Err(AuditError::Unverified("unbounded with capped terms".into()))
            }
            Optimum::Found { value, point } => {
                let best = sign * value;
                let short = match dir {
                    Dir::Min => best > t + 1e-6 * t.max(1.0),
                    Dir::Max => best < t - 1e-6 * t.max(1.0),
                };
                // An LP (or integer) optimum short of the target: no integer
                // solution reaches it (the LP relaxes the integer problem).
                if short {
                    return Ok(None);
                }
                if let Some(p) = point {
                    let ok = match dir {
                        Dir::Min => p[i] <= target,
                        Dir::Max => p[i] >= target,
                    };
                    if ok {
                        return Ok(Some(p));
                    }
                }
                // A fractional (3-D) or unchecked optimum: try integers.
            }
        }
    }
    Err(AuditError::Unverified(
        "the integer optimum does not check".into(),
    ))
}

/// The counts that may be suppressed for unprotected `u`, best first: the
/// non-zero shown terms of the lines through `u` (cells before totals,
/// smallest first), then those of the other lines of its group of
/// suppressed terms.
fn candidates(sys: &System, marks: &[Count], comp: &Component, u: usize) -> Vec<usize> {
    let ranked = |eqs: &[usize]| -> Vec<usize> {
        let mut ts: Vec<usize> = eqs
            .iter()
            .flat_map(|&e| {
                let eq = &sys.eqs.eqs[e];
                eq.members.iter().copied().chain(std::iter::once(eq.total))
            })
            .filter(|&t| sys.values[t] > 0 && matches!(marks[t], Count::Shown(_)))
            .collect();
        ts.sort_unstable_by_key(|&t| (!sys.cell[t], sys.values[t], t));
        ts.dedup();
        ts
    };
    let mut out = ranked(&sys.eqs.eqs_of[u]);
    for t in ranked(&comp.eqs) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// How many candidates are tried, each with an audit of `u`, before
/// settling for the first: a few LP solves that often save hiding a
/// whole extra line of totals.
const LOOKAHEAD: usize = 6;

/// The count to suppress next for unprotected `u`: the first candidate
/// that alone makes `u` protected, else the first candidate.
fn choose(
    sys: &System,
    marks: &[Count],
    known: &[Known],
    comp: &Component,
    u: usize,
    need: Need,
    cap: u64,
) -> Result<Option<usize>, AuditError> {
    let cands = candidates(sys, marks, comp, u);
    let mut trial = known.to_vec();
    // In 3-D each try is an LP over hundreds of terms: fewer tries there.
    let tries = if sys.eqs.unimodular { LOOKAHEAD } else { 2 };
    for &c in cands.iter().take(tries) {
        trial[c] = Known::of(Count::Suppressed(Suppressed::Secondary), Some(cap));
        let lp = Lp {
            eqs: &sys.eqs,
            known: &trial,
        };
        let comp = lp.component([u]);
        let mut need = need;
        if check(&lp, &comp, u, &mut need, &mut BTreeMap::new())? {
            return Ok(Some(c));
        }
        trial[c] = known[c];
    }
    Ok(cands.first().copied())
}

/// The first pass: primary suppression, then line by line until no line
/// has a single suppressed term or pins one by the terms' ranges.
fn first_pass(sys: &System) -> Vec<Count> {
    let values = &sys.values;
    let mut marks: Vec<Count> = values
        .iter()
        .map(|&v| {
            if (1..=THRESHOLD).contains(&v) {
                Count::Suppressed(Suppressed::Primary)
            } else {
                Count::Shown(v)
            }
        })
        .collect();
    let eqs = &sys.eqs.eqs;
    let mut queued = vec![true; eqs.len()];
    let mut queue: VecDeque<usize> = (0..eqs.len()).collect();
    while let Some(e) = queue.pop_front() {
        queued[e] = false;
        let eq = &eqs[e];
        if !needs_more(eq, values, &marks) {
            continue;
        }
        let candidate = eq
            .members
            .iter()
            .copied()
            .filter(|&m| values[m] > 0 && matches!(marks[m], Count::Shown(_)))
            .min_by_key(|&m| (values[m], m))
            .or_else(|| {
                let t = eq.total;
                (values[t] > 0 && matches!(marks[t], Count::Shown(_))).then_some(t)
            });
        // No candidate: everything non-zero in the line is already hidden.
        let Some(c) = candidate else { continue };
        marks[c] = Count::Suppressed(Suppressed::Secondary);
        for &other in &sys.eqs.eqs_of[c] {
            if !queued[other] {
                queued[other] = true;
                queue.push_back(other);
            }
        }
    }
    marks
}

/// Whether the equation gives away a suppressed term on its own: exactly
/// one hidden, or the known ranges pin one of several.
fn needs_more(eq: &Equation, values: &[u64], marks: &[Count]) -> bool {
    // Write the line as Σ coef·value = 0 (members +1, total −1).
    let terms = || {
        eq.members
            .iter()
            .map(|&m| (m, 1i128))
            .chain(std::iter::once((eq.total, -1i128)))
    };
    let hidden = terms()
        .filter(|(i, _)| matches!(marks[*i], Count::Suppressed(_)))
        .count();
    match hidden {
        0 => return false,
        1 => return true,
        _ => {}
    }
    // Interval of Σ coef·value over all terms, then remove each hidden term
    // in turn to get the range the others force on it.
    let (mut lo, mut hi) = (0i128, 0i128);
    for (i, c) in terms() {
        let (a, b) = range(values[i], marks[i]);
        let (a, b) = if c > 0 { (a, b) } else { (-b, -a) };
        lo += a;
        hi += b;
    }
    for (i, c) in terms() {
        if !matches!(marks[i], Count::Suppressed(_)) {
            continue;
        }
        let (a, b) = range(values[i], marks[i]);
        let (ca, cb) = if c > 0 { (a, b) } else { (-b, -a) };
        // Σ of the others lies in [lo − ca, hi − cb]; this term's coef·value
        // equals minus that sum.
        let (olo, ohi) = (lo - ca, hi - cb);
        let (vlo, vhi) = if c > 0 { (-ohi, -olo) } else { (olo, ohi) };
        let (l, h) = (vlo.max(a), vhi.min(b));
        if l >= h {
            return true;
        }
    }
    false
}
