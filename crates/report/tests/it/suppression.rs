use expect_test::expect;
use proptest::prelude::*;

use dps_report::{Count, Suppressed, Table};

use crate::oracle::{leaks, leaks_joint};
use crate::{annual_exact, annual_tables, audit_lines, cell, csv, grid, public, run};

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

/// `exact` as a rule that only looks at each line would publish it: rows
/// then totals, in order, marked `<10`, `x` or (empty) shown.
fn remark(exact: &Table, marks: &[&str]) -> Table {
    let mut t = exact.clone();
    t.disclosure = dps_report::Disclosure::Public;
    let all = t.rows.iter_mut().chain(t.totals.iter_mut());
    for (r, m) in all.zip(marks) {
        r.visits = match *m {
            "<10" => Count::Suppressed(Suppressed::Primary),
            "x" => Count::Suppressed(Suppressed::Secondary),
            _ => r.visits,
        };
    }
    t
}

#[test]
fn two_by_two_totals_combined_give_the_whole_table_away() {
    //            booked waiting | total
    //  evere        1     20    |  21
    //  jette       20      9    |  29
    //  total       21     29    |  50
    let cells = grid(&[("evere", &[1, 20]), ("jette", &[20, 9])], &OUTCOMES);
    let exact = run(&cells, "group_by=municipality,outcome");
    // Line by line this looks safe: every line has two hidden terms whose
    // ranges fit its total. Together: a+b = 21, a+c = 21, b+d = 29 give
    // d = a + 8, and d ≤ 9 forces a = 1, d = 9, b = c = 20.
    let per_line = remark(&exact, &["<10", "x", "x", "<10"]);
    expect![[r#"
        table 0 [evere,booked] <10: 1..=1
        table 0 [evere,waiting] x: 20..=20
        table 0 [jette,booked] x: 20..=20
        table 0 [jette,waiting] <10: 9..=9
    "#]]
    .assert_eq(&audit_lines(&[&per_line]));
    assert_ne!(leaks(&per_line, &exact), Vec::<String>::new());

    let t = run(&cells, "group_by=municipality,outcome&public=true");
    expect![[r#"
        municipality,outcome,visits,row,disclosure
        evere,booked,<10,cell,public
        evere,waiting,x,cell,public
        jette,booked,x,cell,public
        jette,waiting,<10,cell,public
        evere,*,x,total,public
        jette,*,x,total,public
        *,booked,21,total,public
        *,waiting,29,total,public
        *,*,50,total,public
    "#]]
    .assert_eq(&csv(&t));
    expect![[r#"
        table 0 [evere,booked] <10: 1..=9
        table 0 [evere,waiting] x: 20..=28
        table 0 [jette,booked] x: 12..=20
        table 0 [jette,waiting] <10: 1..=9
        table 0 [evere,*] x: 21..=37
        table 0 [jette,*] x: 13..=29
    "#]]
    .assert_eq(&audit_lines(&[&t]));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

#[test]
fn a_count_known_to_one_or_two_values_is_not_protected_enough() {
    // 1 + 15 = 16 on one line: x ≥ 10 leaves the <10 at 1..=6, which
    // is enough; but 1 + 10 = 11 would leave it at exactly 1, and
    // 2 + 10 = 12 at 1..=2: both need more hidden.
    for (counts, want) in [
        (&[1u64, 15, 30][..], "evere,<10|ixelles,x|jette,30|*,46"),
        (&[1, 10, 30][..], "evere,<10|ixelles,x|jette,x|*,41"),
        (&[2, 10, 30][..], "evere,<10|ixelles,x|jette,x|*,42"),
    ] {
        let rows: Vec<(&str, &[u64])> = ["evere", "ixelles", "jette"]
            .iter()
            .zip(counts)
            .map(|(m, c)| (*m, std::slice::from_ref(c)))
            .collect();
        let cells = grid(&rows, &OUTCOMES);
        let exact = run(&cells, "group_by=municipality");
        let t = run(&cells, "group_by=municipality&public=true");
        let got: Vec<String> = csv(&t)
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
            .collect();
        assert_eq!(got.join("|"), want, "{counts:?}");
        assert_eq!(leaks(&t, &exact), Vec::<String>::new(), "{counts:?}");
    }
}

#[test]
fn three_dimensions_are_protected_through_every_margin() {
    // 2 municipalities × 2 outcomes × 2 languages, every cell 12 but
    // evere/booked/fr = 3. Every margin is published.
    let mut cells = Vec::new();
    for m in ["evere", "jette"] {
        for o in ["booked", "waiting"] {
            for l in ["fr", "nl"] {
                let n = if (m, o, l) == ("evere", "booked", "fr") {
                    3
                } else {
                    12
                };
                cells.push(cell(&format!(
                    "2021-05-03 site-a bruvax {o} {l} eid 65_74 {m} {n}"
                )));
            }
        }
    }
    let exact = run(&cells, "group_by=municipality,outcome,language");
    let t = run(&cells, "group_by=municipality,outcome,language&public=true");
    expect![[r#"
        municipality,outcome,language,visits,row,disclosure
        evere,booked,fr,<10,cell,public
        evere,booked,nl,x,cell,public
        evere,waiting,fr,x,cell,public
        evere,waiting,nl,x,cell,public
        jette,booked,fr,x,cell,public
        jette,booked,nl,x,cell,public
        jette,waiting,fr,x,cell,public
        jette,waiting,nl,x,cell,public
        evere,booked,*,15,total,public
        evere,waiting,*,24,total,public
        jette,booked,*,24,total,public
        jette,waiting,*,24,total,public
        evere,*,fr,15,total,public
        evere,*,nl,24,total,public
        jette,*,fr,24,total,public
        jette,*,nl,24,total,public
        *,booked,fr,15,total,public
        *,booked,nl,24,total,public
        *,waiting,fr,24,total,public
        *,waiting,nl,24,total,public
        evere,*,*,39,total,public
        jette,*,*,48,total,public
        *,booked,*,39,total,public
        *,waiting,*,48,total,public
        *,*,fr,39,total,public
        *,*,nl,48,total,public
        *,*,*,87,total,public
    "#]]
    .assert_eq(&csv(&t));
    expect![[r#"
        table 0 [evere,booked,fr] <10: 1..=5
        table 0 [evere,booked,nl] x: 10..=14
        table 0 [evere,waiting,fr] x: 10..=14
        table 0 [evere,waiting,nl] x: 10..=14
        table 0 [jette,booked,fr] x: 10..=14
        table 0 [jette,booked,nl] x: 10..=14
        table 0 [jette,waiting,fr] x: 10..=14
        table 0 [jette,waiting,nl] x: 10..=14
    "#]]
    .assert_eq(&audit_lines(&[&t]));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

#[test]
fn a_table_whose_shape_gives_every_count_away_is_withheld() {
    // Nine cells of 1 under a total of 9: "<10" everywhere still says
    // "nine cells, each at least 1, nine in all", so every cell is 1.
    let cells = grid(
        &[
            ("evere", &[1, 1, 1]),
            ("ixelles", &[1, 1, 1]),
            ("jette", &[1, 1, 1]),
        ],
        &OUTCOMES,
    );
    let exact = run(&cells, "group_by=municipality,outcome");
    let everything_hidden = remark(&exact, &["<10"; 16]);
    assert!(audit_lines(&[&everything_hidden]).contains("<10: 1..=1"));
    let t = run(&cells, "group_by=municipality,outcome&public=true");
    expect![[r#"
        municipality,outcome,visits,row,disclosure
        *,*,<10,total,public
    "#]]
    .assert_eq(&csv(&t));
    assert_eq!(leaks(&t, &exact), Vec::<String>::new());
}

const MUNIS: [&str; 5] = ["evere", "ixelles", "jette", "uccle", "forest"];
const LANGS: [&str; 3] = ["fr", "nl", "en"];

fn small_counts() -> impl Strategy<Value = u64> {
    // Mostly small counts and zeros: where suppression has work to do.
    prop_oneof![3 => Just(0u64), 4 => 1u64..10, 3 => 10u64..26]
}

/// Table shapes the oracle can search exhaustively: up to 5 rows, 3×3, 2×2×2.
fn shapes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        (1usize..=5).prop_map(|a| vec![a]),
        (1usize..=3, 1usize..=3).prop_map(|(a, b)| vec![a, b]),
        (1usize..=2, 1usize..=2, 1usize..=2).prop_map(|(a, b, c)| vec![a, b, c]),
    ]
}

/// Cells over the first `sizes` municipalities × outcomes × languages.
fn table_cells(sizes: &[usize], counts: &[u64]) -> Vec<(dps_model::CellKey, u64)> {
    let size = |i: usize| sizes.get(i).copied().unwrap_or(1);
    let mut cells = Vec::new();
    let mut i = 0;
    for m in MUNIS.iter().take(size(0)) {
        for o in OUTCOMES.iter().take(size(1)) {
            for l in LANGS.iter().take(size(2)) {
                if counts[i] > 0 {
                    cells.push(cell(&format!(
                        "2021-05-03 site-a bruvax {o} {l} eid 65_74 {m} {}",
                        counts[i]
                    )));
                }
                i += 1;
            }
        }
    }
    cells
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Every public table meets the rule against an exhaustive reader who
    /// combines every published total at once.
    #[test]
    fn no_public_table_leaks_a_hidden_count(
        counts in proptest::collection::vec(small_counts(), 9),
        sizes in shapes(),
    ) {
        let cells = table_cells(&sizes, &counts);
        let group_by = ["municipality", "outcome", "language"][..sizes.len()].join(",");
        let exact = run(&cells, &format!("group_by={group_by}"));
        let t = run(&cells, &format!("group_by={group_by}&public=true"));
        prop_assert_eq!(leaks(&t, &exact), Vec::<String>::new(), "{}", csv(&t));
    }

    /// The annual report's tables, read together, meet the rule.
    #[test]
    fn no_annual_report_leaks_through_its_shared_total(
        counts in proptest::collection::vec(small_counts(), 8),
    ) {
        // Two months × two procedures × two outcomes, each its own
        // language, age band, residence and channel mix.
        let mut cells = Vec::new();
        let mut i = 0;
        for (day, lang, age, res) in [("2021-01-05", "fr", "65_74", "evere"), ("2021-02-09", "nl", "75_plus", "jette")] {
            for (p, ch) in [("bruvax", "eid"), ("other-help", "none")] {
                for o in ["booked", "waiting"] {
                    if counts[i] > 0 {
                        cells.push(cell(&format!("{day} dps-nord {p} {o} {lang} {ch} {age} {res} {}", counts[i])));
                    }
                    i += 1;
                }
            }
        }
        let site = dps_model::Code::new("dps-nord").unwrap();
        let r = dps_report::annual_report(cells.iter().map(|(k, v)| (k, *v)), &site, 2021).unwrap();
        let public = annual_tables(&r);
        let exact = annual_exact(&cells);
        let exact: Vec<&Table> = exact.iter().collect();
        prop_assert_eq!(r.total, r.by_month.grand_total());
        prop_assert_eq!(leaks_joint(&public, &exact), Vec::<String>::new());
    }
}
