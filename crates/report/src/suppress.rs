//! Small-cell suppression for anything published.
//!
//! # The rule
//!
//! A public table publishes its cells **and its totals** (for one grouping
//! column: the grand total; for two: every row total, every column total and
//! the grand total; for three: every margin). Each published total is the
//! sum of a *line* of published values: a row total is the sum of the row's
//! cells, the grand total the sum of the row totals and also of the column
//! totals. So every line gives a reader one equation `total = Σ members`.
//!
//! 1. **Primary suppression.** Every count (cell or total) from 1 to 9 is
//!    shown as `<10`.
//! 2. **Secondary suppression.** An equation with exactly one suppressed
//!    term would give that term away (`row total − the shown cells`), so
//!    another term of it is suppressed: the smallest non-zero shown *cell*
//!    of the line (ties: the first in table order), or, when the line has
//!    none left, its total. Secondary-suppressed counts (always 10 or more)
//!    are shown as `x`.
//! 3. **No pinning.** Two suppressed terms can still give each other away
//!    when the ranges a reader knows (`<10` = 1..9, `x` = 10 or more) leave
//!    one value only: e.g. a row `20, <10, <10` with total 22 means both are
//!    1; a row `<10, x` with total 11 means 1 and 10. When the ranges pin
//!    any suppressed term of an equation, one more term is suppressed, as in 2.
//! 4. Steps 2 and 3 repeat, over every equation touched by a new
//!    suppression, until nothing changes. Suppressing only ever grows, so
//!    this ends.
//!
//! **Zero stays 0.** A zero is not suppressed and never chosen for secondary
//! suppression: it describes nobody, so it cannot identify anybody, and
//! hiding it would make a table unreadable (most cells of a fine table are
//! empty) while a reader could recover it anyway whenever the rest of its
//! line is known. Because zeros are shown, every suppressed count is known
//! to be at least 1, which step 3 takes into account.
//!
//! **Limits.** The guarantee is per equation: no single line's total lets a
//! reader narrow a suppressed count down to one value. Combining several
//! equations (linear programming over a 2-D table) can in rare layouts
//! narrow a range further, and differencing two *different* public queries
//! (e.g. with and without a filter) is not prevented here; publishing fixed
//! tables (the annual report) rather than arbitrary public queries is the
//! mitigation.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::aggregate::{Key, ALL};
use crate::table::{Count, Suppressed};

/// Largest count that is primary-suppressed.
pub const THRESHOLD: u64 = 9;

/// Known range of a term: shown counts exactly, `<10` 1..=9, `x` 10 and up.
const INF: i128 = 1 << 100;

fn range(value: u64, mark: Count) -> (i128, i128) {
    match mark {
        Count::Shown(_) => (value as i128, value as i128),
        Count::Suppressed(Suppressed::Primary) => (1, THRESHOLD as i128),
        Count::Suppressed(Suppressed::Secondary) => (THRESHOLD as i128 + 1, INF),
    }
}

struct Equation {
    total: usize,
    members: Vec<usize>,
}

/// Marks for `items`: the cells of an `n`-column table followed by its
/// margins (keys with [`ALL`] in summed-out columns), as built by
/// [`crate::aggregate`]. Equations are found from the keys: an item is a
/// member of the line whose total has one more column summed out.
pub(crate) fn suppress(n: usize, items: &[(Key, u64)]) -> Vec<Count> {
    let mut marks: Vec<Count> = items
        .iter()
        .map(|&(_, v)| {
            if (1..=THRESHOLD).contains(&v) {
                Count::Suppressed(Suppressed::Primary)
            } else {
                Count::Shown(v)
            }
        })
        .collect();

    let index: FxHashMap<&Key, usize> =
        items.iter().enumerate().map(|(i, (k, _))| (k, i)).collect();
    let mut eq_of: FxHashMap<(usize, usize), usize> = FxHashMap::default();
    let mut eqs: Vec<Equation> = Vec::new();
    let mut eqs_of_item: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for (i, (k, _)) in items.iter().enumerate() {
        for axis in 0..n {
            if k[axis] == ALL {
                continue;
            }
            let mut t = *k;
            t[axis] = ALL;
            // A total the table does not publish (wide tables) gives no equation.
            let Some(&total) = index.get(&t) else {
                continue;
            };
            let e = *eq_of.entry((total, axis)).or_insert_with(|| {
                eqs.push(Equation {
                    total,
                    members: Vec::new(),
                });
                eqs_of_item[total].push(eqs.len() - 1);
                eqs.len() - 1
            });
            eqs[e].members.push(i);
            eqs_of_item[i].push(e);
        }
    }

    let mut queued = vec![true; eqs.len()];
    let mut queue: VecDeque<usize> = (0..eqs.len()).collect();
    while let Some(e) = queue.pop_front() {
        queued[e] = false;
        let eq = &eqs[e];
        if !needs_more(eq, items, &marks) {
            continue;
        }
        let candidate = eq
            .members
            .iter()
            .copied()
            .filter(|&m| items[m].1 > 0 && matches!(marks[m], Count::Shown(_)))
            .min_by_key(|&m| (items[m].1, m))
            .or_else(|| {
                let t = eq.total;
                (items[t].1 > 0 && matches!(marks[t], Count::Shown(_))).then_some(t)
            });
        // No candidate: everything non-zero in the line is already hidden.
        let Some(c) = candidate else { continue };
        marks[c] = Count::Suppressed(Suppressed::Secondary);
        for &other in &eqs_of_item[c] {
            if !queued[other] {
                queued[other] = true;
                queue.push_back(other);
            }
        }
    }
    marks
}

/// Whether the equation gives away a suppressed term: exactly one hidden,
/// or the known ranges pin one of several.
fn needs_more(eq: &Equation, items: &[(Key, u64)], marks: &[Count]) -> bool {
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
        let (a, b) = range(items[i].1, marks[i]);
        let (a, b) = if c > 0 { (a, b) } else { (-b, -a) };
        lo += a;
        hi += b;
    }
    for (i, c) in terms() {
        if !matches!(marks[i], Count::Suppressed(_)) {
            continue;
        }
        let (a, b) = range(items[i].1, marks[i]);
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
