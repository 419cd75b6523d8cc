use std::collections::HashMap;

use expect_test::expect;
use proptest::prelude::*;

use dps_report::{Count, Suppressed, Table};

use crate::{cell, csv, grid, public, run};

const OUTCOMES: [&str; 3] = ["booked", "waiting", "refused"];

/// What a naive rule publishes: the exact table with 1–9 masked, nothing else.
fn naive(exact: &Table) -> String {
    csv(exact)
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            let v = f.len() - 3;
            if matches!(f[v].parse::<u64>(), Ok(1..=9)) {
                f[v] = "<10";
            }
            f.join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

type Keys = Vec<Option<std::sync::Arc<str>>>;
type Published = HashMap<Keys, (Count, u64)>;

/// Everything a public table publishes, next to the exact value.
fn published(public: &Table, exact: &Table) -> Published {
    let exact: HashMap<_, _> = exact
        .rows
        .iter()
        .chain(&exact.totals)
        .map(|r| (r.keys.clone(), r.visits.value().unwrap()))
        .collect();
    let p: Published = public
        .rows
        .iter()
        .chain(&public.totals)
        .map(|r| (r.keys.clone(), (r.visits, exact[&r.keys])))
        .collect();
    assert_eq!(
        p.len(),
        exact.len(),
        "public and exact tables have the same rows"
    );
    p
}

/// What a reader knows of a published count (never the secret itself).
fn range(c: Count) -> (i64, i64) {
    match c {
        Count::Shown(n) => (n as i64, n as i64),
        Count::Suppressed(Suppressed::Primary) => (1, 9),
        Count::Suppressed(Suppressed::Secondary) => (10, 1 << 40),
    }
}

/// An independent audit of a public table: every shown value is exact,
/// every 1–9 is hidden, and no line `total = Σ members` lets a reader narrow
/// a hidden value down to one number. Returns the leaks found.
fn leaks(public: &Table, exact: &Table) -> Vec<String> {
    let p = published(public, exact);
    let mut out = Vec::new();
    for (k, (c, v)) in &p {
        match c {
            Count::Shown(n) if n != v => out.push(format!("{k:?} shows {n}, is {v}")),
            Count::Shown(n) if (1..=9).contains(n) => out.push(format!("{k:?} shows small {n}")),
            Count::Suppressed(_) if *v == 0 => out.push(format!("{k:?} hides a zero")),
            Count::Suppressed(Suppressed::Primary) if *v > 9 => {
                out.push(format!("{k:?} says <10, is {v}"))
            }
            Count::Suppressed(Suppressed::Secondary) if *v < 10 => {
                out.push(format!("{k:?} says x, is {v}"))
            }
            _ => {}
        }
    }
    // Lines: (total key, axis) -> members.
    let mut lines: HashMap<(Keys, usize), Vec<Keys>> = HashMap::new();
    for k in p.keys() {
        for axis in 0..k.len() {
            if k[axis].is_some() {
                let mut t = k.clone();
                t[axis] = None;
                if p.contains_key(&t) {
                    lines.entry((t, axis)).or_default().push(k.clone());
                }
            }
        }
    }
    for ((total, _), members) in &lines {
        // Σ members − total = 0; for each hidden term, the others' ranges bound it.
        let terms: Vec<(i64, &Keys)> = members
            .iter()
            .map(|m| (1, m))
            .chain([(-1, total)])
            .collect();
        for (i, (ci, ki)) in terms.iter().enumerate() {
            let (c, _) = p[*ki];
            if c.value().is_some() {
                continue;
            }
            let (mut lo, mut hi) = (0i64, 0i64);
            for (j, (cj, kj)) in terms.iter().enumerate() {
                if i != j {
                    let (a, b) = range(p[*kj].0);
                    let (a, b) = if *cj > 0 { (a, b) } else { (-b, -a) };
                    lo += a;
                    hi += b;
                }
            }
            let (mut l, mut h) = if *ci > 0 { (-hi, -lo) } else { (lo, hi) };
            let own = range(c);
            l = l.max(own.0);
            h = h.min(own.1);
            if l == h {
                out.push(format!("{ki:?} = {l} from the line of {total:?}"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn one_dimension_naive_masking_leaks_through_the_total() {
    let cells = grid(
        &[("evere", &[25]), ("ixelles", &[3]), ("jette", &[40])],
        &OUTCOMES,
    );
    let exact = run(&cells, "group_by=municipality");
    expect![[r#"
        municipality,visits,row,disclosure
        evere,25,cell,exact
        ixelles,<10,cell,exact
        jette,40,cell,exact
        *,68,total,exact"#]]
    .assert_eq(&naive(&exact));
    // The reader of the naive table: 68 − 25 − 40 = 3, ixelles' exact count.
    let ixelles = exact
        .rows
        .iter()
        .find(|r| r.keys[0].as_deref() == Some("ixelles"))
        .unwrap();
    assert_eq!(ixelles.visits.value(), Some(68 - 25 - 40));

    let t = run(&cells, "group_by=municipality&public=true");
    assert!(public(&t));
    // Ours hides the smallest other cell too: the total no longer gives 3 away.
    expect![[r#"
        municipality,visits,row,disclosure
        evere,x,cell,public
        ixelles,<10,cell,public
        jette,40,cell,public
        *,68,total,public
    "#]]
    .assert_eq(&csv(&t));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

#[test]
fn two_dimensions_naive_masking_leaks_through_row_and_column_totals() {
    //            booked waiting | total
    //  evere       30      4    |  34
    //  jette       20     25    |  45
    //  total       50     29    |  79
    let cells = grid(&[("evere", &[30, 4]), ("jette", &[20, 25])], &OUTCOMES);
    let exact = run(&cells, "group_by=municipality,outcome");
    // Naive: evere/waiting = 34 − 30 = 4 (row) = 29 − 25 = 4 (column).
    expect![[r#"
        municipality,outcome,visits,row,disclosure
        evere,booked,30,cell,exact
        evere,waiting,<10,cell,exact
        jette,booked,20,cell,exact
        jette,waiting,25,cell,exact
        evere,*,34,total,exact
        jette,*,45,total,exact
        *,booked,50,total,exact
        *,waiting,29,total,exact
        *,*,79,total,exact"#]]
    .assert_eq(&naive(&exact));
    // Hiding one more cell in evere's row alone is not enough: the columns
    // then give both away; the rule iterates until every row and column has
    // 0 or 2+ hidden cells, here all four.
    let t = run(&cells, "group_by=municipality,outcome&public=true");
    expect![[r#"
        municipality,outcome,visits,row,disclosure
        evere,booked,x,cell,public
        evere,waiting,<10,cell,public
        jette,booked,x,cell,public
        jette,waiting,x,cell,public
        evere,*,34,total,public
        jette,*,45,total,public
        *,booked,50,total,public
        *,waiting,29,total,public
        *,*,79,total,public
    "#]]
    .assert_eq(&csv(&t));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

#[test]
fn two_hidden_cells_can_still_pin_each_other() {
    // 20, 1, 1 with total 22: "at least two hidden per line" shows
    // 20, <10, <10, 22, and a reader gets 1 + 1 = 2, so both are 1.
    let cells = grid(
        &[("evere", &[20]), ("ixelles", &[1]), ("jette", &[1])],
        &OUTCOMES,
    );
    let exact = run(&cells, "group_by=municipality");
    let two_per_line = naive(&exact);
    assert!(two_per_line.contains("ixelles,<10") && two_per_line.contains("jette,<10"));
    let t = run(&cells, "group_by=municipality&public=true");
    expect![[r#"
        municipality,visits,row,disclosure
        evere,x,cell,public
        ixelles,<10,cell,public
        jette,<10,cell,public
        *,22,total,public
    "#]]
    .assert_eq(&csv(&t));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

#[test]
fn a_line_with_nothing_else_to_hide_hides_its_total() {
    //            booked waiting | total
    //  evere        5      0    |   5
    //  jette       30     40    |  70
    //  total       35     40    |  75
    let cells = grid(&[("evere", &[5, 0]), ("jette", &[30, 40])], &OUTCOMES);
    let exact = run(&cells, "group_by=municipality,outcome");
    let t = run(&cells, "group_by=municipality,outcome&public=true");
    // Column booked hides jette/booked, row jette then hides jette/waiting;
    // column waiting has no other non-zero cell (evere/waiting is 0 and stays
    // 0), so its total is hidden, and then so are the totals that would
    // give that one away.
    expect![[r#"
        municipality,outcome,visits,row,disclosure
        evere,booked,<10,cell,public
        jette,booked,x,cell,public
        jette,waiting,x,cell,public
        evere,*,<10,total,public
        jette,*,x,total,public
        *,booked,x,total,public
        *,waiting,x,total,public
        *,*,75,total,public
    "#]]
    .assert_eq(&csv(&t));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

#[test]
fn small_grand_totals_are_hidden_and_zero_stays_zero() {
    let cells = grid(&[("evere", &[4])], &OUTCOMES);
    let t = run(&cells, "public=true");
    assert_eq!(t.grand_total(), Count::Suppressed(Suppressed::Primary));
    let none = run(&cells, "public=true&site=elsewhere");
    assert_eq!(none.grand_total(), Count::Shown(0));
    expect![[r#"
        visits,row,disclosure
        0,cell,public
    "#]]
    .assert_eq(&csv(&none));
}

#[test]
fn exact_tables_hide_nothing() {
    let cells = grid(&[("evere", &[30, 4]), ("jette", &[20, 25])], &OUTCOMES);
    let t = run(&cells, "group_by=municipality,outcome");
    assert!(t
        .rows
        .iter()
        .chain(&t.totals)
        .all(|r| r.visits.value().is_some()));
}

const MUNIS: [&str; 5] = ["evere", "ixelles", "jette", "uccle", "forest"];
const LANGS: [&str; 3] = ["fr", "nl", "en"];

fn small_counts() -> impl Strategy<Value = u64> {
    // Mostly small counts and zeros: where suppression has work to do.
    prop_oneof![3 => Just(0u64), 4 => 1u64..10, 3 => 10u64..40]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_public_table_leaks_a_hidden_count(
        counts in proptest::collection::vec(small_counts(), 45),
        dims in 1usize..=3,
        munis in 1usize..=5,
    ) {
        let mut cells = Vec::new();
        let mut i = 0;
        for m in MUNIS.iter().take(munis) {
            for o in OUTCOMES {
                for l in LANGS {
                    if counts[i] > 0 {
                        cells.push(cell(&format!("2021-05-03 site-a bruvax {o} {l} eid 65_74 {m} {}", counts[i])));
                    }
                    i += 1;
                }
            }
        }
        let group_by = ["municipality", "outcome", "language"][..dims].join(",");
        let exact = run(&cells, &format!("group_by={group_by}"));
        let t = run(&cells, &format!("group_by={group_by}&public=true"));
        prop_assert_eq!(leaks(&t, &exact), Vec::<String>::new());
    }
}
