//! Every condition of a computed branch, including the age edge cases
//! (birthday today, 29 February, partial birth dates), as one table:
//! condition, visit date, card -> which way the branch went.
use expect_test::expect;

use crate::harness::{inline, run};

const T: &str = r#"{ fr = "x", nl = "x", en = "x", de = "x" }"#;

fn flow(condition: &str) -> dps_flow::Flow {
    inline(&format!(
        r#"
id = "cond"
version = 1
languages = ["fr", "nl", "en", "de"]
title = {T}
summary = {T}
pictogram = "help"

[[step]]
id = "who"
kind = "identify"
ask = ["postcode"]
pictogram = "id-card"
title = {T}
next = "decide"

[[step]]
id = "decide"
kind = "branch"
otherwise = "no"
unknown = "unknown"
[[step.rule]]
when = {condition}
goto = "yes"

[[step]]
id = "yes"
kind = "end"
outcome = "yes"
pictogram = "check"
title = {T}

[[step]]
id = "no"
kind = "end"
outcome = "no"
pictogram = "stop"
title = {T}

[[step]]
id = "unknown"
kind = "end"
outcome = "unknown"
pictogram = "question"
title = {T}
"#
    ))
}

#[test]
fn every_condition() {
    let table: &[(&str, &str, &str)] = &[
        // born_on_or_before: full, partial (year, year-month) and missing dates.
        (
            "{ born_on_or_before = 1986-12-31 }",
            "2021-06-01",
            "card - 1986-12-31 1000",
        ),
        (
            "{ born_on_or_before = 1986-12-31 }",
            "2021-06-01",
            "card - 1987-01-01 1000",
        ),
        (
            "{ born_on_or_before = 1986-12-31 }",
            "2021-06-01",
            "card - 1986 1000",
        ),
        (
            "{ born_on_or_before = 1986-12-31 }",
            "2021-06-01",
            "card - 1987 1000",
        ),
        (
            "{ born_on_or_before = 1986-06-15 }",
            "2021-06-01",
            "card - 1986 1000",
        ),
        (
            "{ born_on_or_before = 1986-06-15 }",
            "2021-06-01",
            "card - 1986-05 1000",
        ),
        (
            "{ born_on_or_before = 1986-06-15 }",
            "2021-06-01",
            "card - 1986-06 1000",
        ),
        (
            "{ born_on_or_before = 1986-06-15 }",
            "2021-06-01",
            "card - 1986-07 1000",
        ),
        (
            "{ born_on_or_before = \"1986-06-15\" }",
            "2021-06-01",
            "card - - 1000",
        ),
        // age_at_least on the day of the visit: birthday today, the day before.
        (
            "{ age_at_least = 18 }",
            "2021-06-01",
            "card - 2003-06-01 1000",
        ),
        (
            "{ age_at_least = 18 }",
            "2021-06-01",
            "card - 2003-06-02 1000",
        ),
        // Born 29 February: 18 on 1 March in a common year, not on 28 February.
        (
            "{ age_at_least = 18 }",
            "2022-02-28",
            "card - 2004-02-29 1000",
        ),
        (
            "{ age_at_least = 18 }",
            "2022-03-01",
            "card - 2004-02-29 1000",
        ),
        (
            "{ age_at_least = 20 }",
            "2024-02-29",
            "card - 2004-02-29 1000",
        ),
        // Partial dates: decided only when every possible date agrees.
        ("{ age_at_least = 18 }", "2021-06-01", "card - 2003 1000"),
        ("{ age_at_least = 18 }", "2021-06-01", "card - 2002 1000"),
        ("{ age_at_least = 18 }", "2021-06-01", "card - 2004 1000"),
        ("{ age_at_least = 18 }", "2021-06-01", "card - 2003-05 1000"),
        ("{ age_at_least = 18 }", "2021-06-01", "card - 2003-06 1000"),
        ("{ age_at_least = 18 }", "2021-06-01", "card - - 1000"),
        // A reference date other than today.
        (
            "{ age_at_least = 18, on = 2021-12-31 }",
            "2021-06-01",
            "card - 2003-12-31 1000",
        ),
        (
            "{ age_at_least = 18, on = 2021-12-31 }",
            "2021-06-01",
            "card - 2004-01-01 1000",
        ),
        // from_date: the day a phase applies from.
        ("{ from_date = 2021-05-28 }", "2021-05-27", "card - - 1000"),
        ("{ from_date = 2021-05-28 }", "2021-05-28", "card - - 1000"),
        // Residence and postcode.
        (
            "{ residence_in = [\"schaerbeek\", \"evere\"] }",
            "2021-06-01",
            "card - - 1030",
        ),
        (
            "{ residence_in = [\"schaerbeek\", \"evere\"] }",
            "2021-06-01",
            "card - - 1000",
        ),
        (
            "{ residence_in = [\"other_be\"] }",
            "2021-06-01",
            "manual - 9000",
        ),
        (
            "{ residence_in = [\"abroad\"] }",
            "2021-06-01",
            "card - - 75001",
        ),
        (
            "{ postcode_in = [\"1020\", \"1120\"] }",
            "2021-06-01",
            "card - - 1020",
        ),
        (
            "{ postcode_in = [\"1020\", \"1120\"] }",
            "2021-06-01",
            "card - - 1000",
        ),
        // Identification channel.
        ("{ channel = \"eid\" }", "2021-06-01", "card - - 1000"),
        ("{ channel = \"eid\" }", "2021-06-01", "manual - 1000"),
        ("{ channel = \"manual\" }", "2021-06-01", "manual - 1000"),
        // Three-valued combinations: unknown only when it matters.
        (
            "{ all = [{ channel = \"eid\" }, { age_at_least = 18 }] }",
            "2021-06-01",
            "card - 2003 1000",
        ),
        (
            "{ all = [{ channel = \"manual\" }, { age_at_least = 18 }] }",
            "2021-06-01",
            "card - 2003 1000",
        ),
        (
            "{ any = [{ channel = \"eid\" }, { age_at_least = 18 }] }",
            "2021-06-01",
            "card - 2003 1000",
        ),
        (
            "{ any = [{ channel = \"manual\" }, { age_at_least = 18 }] }",
            "2021-06-01",
            "card - 2003 1000",
        ),
        (
            "{ not = { age_at_least = 18 } }",
            "2021-06-01",
            "card - 2003 1000",
        ),
        (
            "{ not = { age_at_least = 18 } }",
            "2021-06-01",
            "card - 2010 1000",
        ),
    ];
    let mut out = String::new();
    for (cond, today, card) in table {
        let t = run(&flow(cond), "fr", today, card);
        let went = t
            .lines()
            .nth(2)
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("?");
        out += &format!("{cond} | {today} | {card} -> {went}\n");
    }
    expect![[r#"
        { born_on_or_before = 1986-12-31 } | 2021-06-01 | card - 1986-12-31 1000 -> yes
        { born_on_or_before = 1986-12-31 } | 2021-06-01 | card - 1987-01-01 1000 -> no
        { born_on_or_before = 1986-12-31 } | 2021-06-01 | card - 1986 1000 -> yes
        { born_on_or_before = 1986-12-31 } | 2021-06-01 | card - 1987 1000 -> no
        { born_on_or_before = 1986-06-15 } | 2021-06-01 | card - 1986 1000 -> unknown
        { born_on_or_before = 1986-06-15 } | 2021-06-01 | card - 1986-05 1000 -> yes
        { born_on_or_before = 1986-06-15 } | 2021-06-01 | card - 1986-06 1000 -> unknown
        { born_on_or_before = 1986-06-15 } | 2021-06-01 | card - 1986-07 1000 -> no
        { born_on_or_before = "1986-06-15" } | 2021-06-01 | card - - 1000 -> unknown
        { age_at_least = 18 } | 2021-06-01 | card - 2003-06-01 1000 -> yes
        { age_at_least = 18 } | 2021-06-01 | card - 2003-06-02 1000 -> no
        { age_at_least = 18 } | 2022-02-28 | card - 2004-02-29 1000 -> no
        { age_at_least = 18 } | 2022-03-01 | card - 2004-02-29 1000 -> yes
        { age_at_least = 20 } | 2024-02-29 | card - 2004-02-29 1000 -> yes
        { age_at_least = 18 } | 2021-06-01 | card - 2003 1000 -> unknown
        { age_at_least = 18 } | 2021-06-01 | card - 2002 1000 -> yes
        { age_at_least = 18 } | 2021-06-01 | card - 2004 1000 -> no
        { age_at_least = 18 } | 2021-06-01 | card - 2003-05 1000 -> yes
        { age_at_least = 18 } | 2021-06-01 | card - 2003-06 1000 -> unknown
        { age_at_least = 18 } | 2021-06-01 | card - - 1000 -> unknown
        { age_at_least = 18, on = 2021-12-31 } | 2021-06-01 | card - 2003-12-31 1000 -> yes
        { age_at_least = 18, on = 2021-12-31 } | 2021-06-01 | card - 2004-01-01 1000 -> no
        { from_date = 2021-05-28 } | 2021-05-27 | card - - 1000 -> no
        { from_date = 2021-05-28 } | 2021-05-28 | card - - 1000 -> yes
        { residence_in = ["schaerbeek", "evere"] } | 2021-06-01 | card - - 1030 -> yes
        { residence_in = ["schaerbeek", "evere"] } | 2021-06-01 | card - - 1000 -> no
        { residence_in = ["other_be"] } | 2021-06-01 | manual - 9000 -> yes
        { residence_in = ["abroad"] } | 2021-06-01 | card - - 75001 -> yes
        { postcode_in = ["1020", "1120"] } | 2021-06-01 | card - - 1020 -> yes
        { postcode_in = ["1020", "1120"] } | 2021-06-01 | card - - 1000 -> no
        { channel = "eid" } | 2021-06-01 | card - - 1000 -> yes
        { channel = "eid" } | 2021-06-01 | manual - 1000 -> no
        { channel = "manual" } | 2021-06-01 | manual - 1000 -> yes
        { all = [{ channel = "eid" }, { age_at_least = 18 }] } | 2021-06-01 | card - 2003 1000 -> unknown
        { all = [{ channel = "manual" }, { age_at_least = 18 }] } | 2021-06-01 | card - 2003 1000 -> no
        { any = [{ channel = "eid" }, { age_at_least = 18 }] } | 2021-06-01 | card - 2003 1000 -> yes
        { any = [{ channel = "manual" }, { age_at_least = 18 }] } | 2021-06-01 | card - 2003 1000 -> unknown
        { not = { age_at_least = 18 } } | 2021-06-01 | card - 2003 1000 -> unknown
        { not = { age_at_least = 18 } } | 2021-06-01 | card - 2010 1000 -> yes
    "#]].assert_eq(&out);
}

#[test]
fn the_visit_record_has_bands_never_dates() {
    // Age band from a partial date: a band only when the whole range fits.
    let mut out = String::new();
    for (card, today) in [
        ("card - 1985-07-30 1000", "2021-06-01"),
        ("card - 1985 1000", "2021-06-01"),
        ("card - 1991 1000", "2021-06-01"),
        ("card - 1956-06-01 1000", "2021-06-01"),
        ("card - 1956-06-02 1000", "2021-06-01"),
        ("card - - 1000", "2021-06-01"),
    ] {
        let t = run(
            &flow("{ channel = \"eid\" }"),
            "fr",
            today,
            &format!("{card}\nfinish"),
        );
        out += &format!("{card} on {today} -> {}\n", t.lines().last().unwrap_or(""));
    }
    expect![[r#"
        card - 1985-07-30 1000 on 2021-06-01 -> = visit cond yes fr eid 30_44 bruxelles
        card - 1985 1000 on 2021-06-01 -> = visit cond yes fr eid 30_44 bruxelles
        card - 1991 1000 on 2021-06-01 -> = visit cond yes fr eid unknown bruxelles
        card - 1956-06-01 1000 on 2021-06-01 -> = visit cond yes fr eid 65_74 bruxelles
        card - 1956-06-02 1000 on 2021-06-01 -> = visit cond yes fr eid 45_64 bruxelles
        card - - 1000 on 2021-06-01 -> = visit cond yes fr eid unknown bruxelles
    "#]]
    .assert_eq(&out);
}
