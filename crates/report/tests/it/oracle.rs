//! An independent auditor of published tables, for small tables: what a
//! reader can work out, found by exhaustive search (bounds propagation and
//! splitting, no linear programming), from the published tables alone.
//!
//! It shares nothing with the code under test but the `Table` type: its
//! equations are "every total is the sum of the cells under it" (derived
//! here from the rows' keys), not the line equations the library builds, and
//! its search is exact over the integers.

use std::collections::HashMap;
use std::sync::Arc;

use dps_report::{Count, Suppressed, Table};

/// The rule being checked (stated again here on purpose, not imported): a
/// `<10` count `v` must be able to be as low as `max(1, v − M)` and as high
/// as `min(9, v + M)`; an `x` must be able to take another value than its own.
pub const MARGIN: i64 = 2;

/// Σ coef·var + k ∈ [lo, hi].
#[derive(Debug, Clone)]
struct Lin {
    vars: Vec<(usize, i64)>,
    k: i64,
    lo: i64,
    hi: i64,
}

/// A reader's problem: integer unknowns in ranges and linear constraints.
#[derive(Debug, Clone, Default)]
struct Reader {
    doms: Vec<(i64, i64)>,
    cons: Vec<Lin>,
}

const NO_BOUND: i64 = i64::MAX / 4;

impl Reader {
    fn var(&mut self, lo: i64, hi: i64) -> usize {
        self.doms.push((lo, hi));
        self.doms.len() - 1
    }

    /// Whether some integer point meets every constraint and `extra`.
    fn feasible(&self, extra: &Lin) -> bool {
        let mut cons = self.cons.clone();
        cons.push(extra.clone());
        let mut doms = self.doms.clone();
        search(&mut doms, &cons)
    }
}

/// Bounds consistency to a fixpoint; false when a constraint cannot hold.
fn propagate(doms: &mut [(i64, i64)], cons: &[Lin]) -> bool {
    loop {
        let mut changed = false;
        for c in cons {
            let (mut min, mut max) = (c.k as i128, c.k as i128);
            for &(v, a) in &c.vars {
                let (lo, hi) = doms[v];
                let (x, y) = (a as i128 * lo as i128, a as i128 * hi as i128);
                min += x.min(y);
                max += x.max(y);
            }
            if max < c.lo as i128 || min > c.hi as i128 {
                return false;
            }
            for &(v, a) in &c.vars {
                let (lo, hi) = doms[v];
                let (x, y) = (a as i128 * lo as i128, a as i128 * hi as i128);
                // a·v ∈ [c.lo − (max − own max), c.hi − (min − own min)]
                let rest_min = min - x.min(y);
                let rest_max = max - x.max(y);
                let (alo, ahi) = (c.lo as i128 - rest_max, c.hi as i128 - rest_min);
                let (nlo, nhi) = if a > 0 {
                    (div_ceil(alo, a as i128), div_floor(ahi, a as i128))
                } else {
                    (div_ceil(ahi, a as i128), div_floor(alo, a as i128))
                };
                let nlo = nlo.max(lo as i128) as i64;
                let nhi = nhi.min(hi as i128) as i64;
                if nlo > nhi {
                    return false;
                }
                if (nlo, nhi) != (lo, hi) {
                    doms[v] = (nlo, nhi);
                    changed = true;
                }
            }
        }
        if !changed {
            return true;
        }
    }
}

fn div_floor(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    -div_floor(-a, b)
}

fn search(doms: &mut [(i64, i64)], cons: &[Lin]) -> bool {
    if !propagate(doms, cons) {
        return false;
    }
    let open = (0..doms.len())
        .filter(|&v| doms[v].0 < doms[v].1)
        .min_by_key(|&v| doms[v].1 - doms[v].0);
    let Some(v) = open else {
        // Every unknown fixed and every constraint propagated: a solution.
        return true;
    };
    let (lo, hi) = doms[v];
    let mid = lo + (hi - lo) / 2;
    for half in [(lo, mid), (mid + 1, hi)] {
        let mut d = doms.to_vec();
        d[v] = half;
        if search(&mut d, cons) {
            return true;
        }
    }
    false
}

type Keys = Vec<Option<Arc<str>>>;

/// One published suppressed count: how to write it over the unknowns.
struct Hidden {
    what: String,
    mark: Suppressed,
    value: i64,
    vars: Vec<(usize, i64)>,
    k: i64,
}

fn range(c: Count, cap: i64) -> (i64, i64) {
    match c {
        Count::Shown(n) => (n as i64, n as i64),
        Count::Suppressed(Suppressed::Primary) => (1, 9),
        Count::Suppressed(Suppressed::Secondary) => (10, cap),
    }
}

/// Leaks in tables published together over the same visits (their grand
/// totals are one number): wrong marks, and every suppressed count a reader
/// can narrow more than the rule allows. `exact` are the same tables exact.
pub fn leaks_joint(public: &[&Table], exact: &[&Table]) -> Vec<String> {
    let (r, hidden, mut out) = reader(public, exact);
    if !out.is_empty() {
        return out;
    }
    // What the table's shape allows: the same tables with every non-zero
    // count hidden. A side that even this cannot reach is asked only as
    // far as it can; a count this pins means the table must be withheld.
    let all_hidden: Vec<Table> = exact.iter().map(|t| hide_all(t)).collect();
    let all_hidden: Vec<&Table> = all_hidden.iter().collect();
    let (full, full_hidden, _) = reader(&all_hidden, exact);
    let full_of: HashMap<String, &Hidden> =
        full_hidden.iter().map(|h| (h.what.clone(), h)).collect();
    let can = |rd: &Reader, h: &Hidden, lo: i64, hi: i64| {
        rd.feasible(&Lin {
            vars: h.vars.clone(),
            k: h.k,
            lo,
            hi,
        })
    };
    for h in &hidden {
        let Some(f) = full_of.get(&h.what) else {
            out.push(format!("{}: not a count of the exact table", h.what));
            continue;
        };
        // The furthest the shape lets it go each way (within `limit`).
        let up = |limit: i64| {
            (h.value + 1..=limit)
                .rev()
                .find(|&k| can(&full, f, k, NO_BOUND))
        };
        let down = |limit: i64| (limit..h.value).find(|&k| can(&full, f, i64::MIN / 4, k));
        let reach_up = |t: i64| can(&r, h, t, NO_BOUND);
        let reach_down = |t: i64| can(&r, h, i64::MIN / 4, t);
        match h.mark {
            Suppressed::Primary => {
                let high = up((h.value + MARGIN).min(9));
                let low = down((h.value - MARGIN).max(1));
                if high.is_none() && low.is_none() {
                    // The shape gives it no room: published, it must at
                    // least not be one value (else the table is withheld).
                    if !reach_up(h.value + 1) && !reach_down(h.value - 1) {
                        out.push(format!("{} = {}: pinned", h.what, h.value));
                    }
                    continue;
                }
                if let Some(t) = high {
                    if !reach_up(t) {
                        out.push(format!("{} = {}: cannot be {t} or more", h.what, h.value));
                    }
                }
                if let Some(t) = low {
                    if !reach_down(t) {
                        out.push(format!("{} = {}: cannot be {t} or less", h.what, h.value));
                    }
                }
            }
            Suppressed::Secondary => {
                if !reach_down(h.value - 1) && !reach_up(h.value + 1) {
                    out.push(format!("{} = {}: pinned", h.what, h.value));
                }
            }
        }
    }
    out.sort();
    out
}

/// `t` with every non-zero count suppressed (`<10` or `x` by its value).
fn hide_all(t: &Table) -> Table {
    let mut t = t.clone();
    for r in t.rows.iter_mut().chain(t.totals.iter_mut()) {
        r.visits = match r.visits.value() {
            Some(0) | None => r.visits,
            Some(1..=9) => Count::Suppressed(Suppressed::Primary),
            Some(_) => Count::Suppressed(Suppressed::Secondary),
        };
    }
    t
}

/// The reader's problem for `public`, its suppressed counts, and the
/// marks that do not fit the exact counts.
fn reader(public: &[&Table], exact: &[&Table]) -> (Reader, Vec<Hidden>, Vec<String>) {
    let mut out = Vec::new();
    assert_eq!(public.len(), exact.len());
    let grand_exact = exact[0].grand_total().value().unwrap() as i64;
    // What an unbounded `x` cell may reach in the search: the library's own
    // audit allows its `x` terms up to twice the largest count plus 20, and
    // the reader here must allow at least as much.
    let cap = 2 * grand_exact + 20;
    let grand_pub = public[0].grand_total();
    let mut r = Reader::default();
    let mut hidden: Vec<Hidden> = Vec::new();
    // The shared grand total: an unknown when suppressed.
    let (g_vars, g_k) = match grand_pub {
        Count::Shown(n) => (vec![], n as i64),
        c => {
            let (lo, hi) = range(c, NO_BOUND);
            let g = r.var(lo, hi.min(cap));
            (vec![(g, 1)], 0)
        }
    };
    if let Count::Suppressed(mark) = grand_pub {
        hidden.push(Hidden {
            what: "grand total".into(),
            mark,
            value: grand_exact,
            vars: g_vars.clone(),
            k: g_k,
        });
    }
    for (ti, (p, e)) in public.iter().zip(exact).enumerate() {
        if p.grand_total() != grand_pub {
            out.push(format!(
                "table {ti}: grand total {} differs",
                p.grand_total()
            ));
        }
        let exact_of: HashMap<Keys, i64> = e
            .rows
            .iter()
            .chain(&e.totals)
            .map(|r| (r.keys.clone(), r.visits.value().unwrap() as i64))
            .collect();
        let n = p.dimensions.len();
        // Every published count has its exact twin and a mark that fits it.
        for row in p.rows.iter().chain(&p.totals) {
            let Some(&v) = exact_of.get(&row.keys) else {
                out.push(format!("table {ti}: {:?} not in the exact table", row.keys));
                continue;
            };
            match row.visits {
                Count::Shown(s) if s as i64 != v => {
                    out.push(format!("table {ti}: {:?} shows {s}, is {v}", row.keys))
                }
                Count::Shown(s) if (1..=9).contains(&s) => {
                    out.push(format!("table {ti}: {:?} shows small {s}", row.keys))
                }
                Count::Suppressed(_) if v == 0 => {
                    out.push(format!("table {ti}: {:?} hides a zero", row.keys))
                }
                Count::Suppressed(Suppressed::Primary) if v > 9 => {
                    out.push(format!("table {ti}: {:?} says <10, is {v}", row.keys))
                }
                Count::Suppressed(Suppressed::Secondary) if v < 10 => {
                    out.push(format!("table {ti}: {:?} says x, is {v}", row.keys))
                }
                _ => {}
            }
        }
        if n == 0 {
            continue;
        }
        if p.rows.is_empty() {
            // Withheld: only the grand total may be published.
            if p.totals.len() != 1 || p.totals[0].keys.iter().any(Option::is_some) {
                out.push(format!("table {ti}: withheld but publishes margins"));
            }
            continue;
        }
        if p.rows.len() != e.rows.len() {
            out.push(format!("table {ti}: rows differ from the exact table"));
        }
        // Unknowns: the suppressed cells; shown cells are constants.
        let mut cells: Vec<(Keys, Option<usize>, i64)> = Vec::new();
        for row in &p.rows {
            let v = exact_of.get(&row.keys).copied().unwrap_or(0);
            match row.visits {
                Count::Shown(s) => cells.push((row.keys.clone(), None, s as i64)),
                c => {
                    let (lo, hi) = range(c, cap);
                    let x = r.var(lo, hi);
                    cells.push((row.keys.clone(), Some(x), 0));
                    if let Count::Suppressed(mark) = c {
                        hidden.push(Hidden {
                            what: format!("table {ti} cell {:?}", row.keys),
                            mark,
                            value: v,
                            vars: vec![(x, 1)],
                            k: 0,
                        });
                    }
                }
            }
        }
        // Every total is the sum of the cells under it.
        for t in &p.totals {
            let under = cells.iter().filter(|(k, _, _)| {
                k.iter()
                    .zip(&t.keys)
                    .all(|(c, m)| m.is_none() || c.as_deref() == m.as_deref())
            });
            let mut vars = Vec::new();
            let mut k = 0;
            for (_, x, s) in under {
                match x {
                    Some(x) => vars.push((*x, 1)),
                    None => k += s,
                }
            }
            let is_grand = t.keys.iter().all(Option::is_none);
            if is_grand {
                // Σ cells − G = 0, G shared by every table.
                let mut vars = vars.clone();
                vars.extend(g_vars.iter().map(|&(g, c)| (g, -c)));
                r.cons.push(Lin {
                    vars,
                    k: k - g_k,
                    lo: 0,
                    hi: 0,
                });
                continue;
            }
            let (lo, hi) = range(t.visits, NO_BOUND);
            r.cons.push(Lin {
                vars: vars.clone(),
                k,
                lo,
                hi,
            });
            if let Count::Suppressed(mark) = t.visits {
                hidden.push(Hidden {
                    what: format!("table {ti} total {:?}", t.keys),
                    mark,
                    value: exact_of.get(&t.keys).copied().unwrap_or(0),
                    vars,
                    k,
                });
            }
        }
    }
    (r, hidden, out)
}

/// [`leaks_joint`] for one table.
pub fn leaks(public: &Table, exact: &Table) -> Vec<String> {
    leaks_joint(&[public], &[exact])
}
