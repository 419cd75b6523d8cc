use expect_test::expect;

use dps_model::Code;
use dps_report::annual_report;

use crate::{annual_exact, annual_tables, audit_lines, cells, csv, run};

#[test]
fn annual_report_covers_one_site_and_year_with_suppression() {
    let cells = cells(
        "
        2021-03-02 dps-nord bruvax booked fr eid 65_74 schaerbeek 30
        2021-03-09 dps-nord bruvax waiting fr eid 75_plus schaerbeek 12
        2021-04-13 dps-nord bruvax booked nl manual 75_plus evere 4
        2021-04-20 dps-nord other-help done fr none unknown abroad 15
        2020-12-01 dps-nord bruvax booked fr eid 65_74 schaerbeek 99
        2021-03-02 dps-sud bruvax booked fr eid 65_74 schaerbeek 99
        ",
    );
    let r = annual_report(
        cells.iter().map(|(k, v)| (k, *v)),
        &Code::new("dps-nord").unwrap(),
        2021,
    )
    .unwrap();
    assert_eq!(r.total.value(), Some(61));
    let all = annual_tables(&r).map(csv).join("\n");
    expect![[r#"
        month,visits,row,disclosure
        2021-03,42,cell,public
        2021-04,19,cell,public
        *,61,total,public

        procedure,visits,row,disclosure
        bruvax,46,cell,public
        other-help,15,cell,public
        *,61,total,public

        outcome,visits,row,disclosure
        booked,34,cell,public
        done,15,cell,public
        waiting,12,cell,public
        *,61,total,public

        age_band,visits,row,disclosure
        65_74,30,cell,public
        75_plus,16,cell,public
        unknown,15,cell,public
        *,61,total,public

        language,visits,row,disclosure
        fr,x,cell,public
        nl,<10,cell,public
        *,61,total,public

        municipality,visits,row,disclosure
        evere,<10,cell,public
        schaerbeek,42,cell,public
        abroad,x,cell,public
        *,61,total,public

        channel,visits,row,disclosure
        eid,42,cell,public
        manual,<10,cell,public
        none,x,cell,public
        *,61,total,public
    "#]]
    .assert_eq(&all);
}

#[test]
fn the_annual_tables_are_protected_together() {
    // 18 visits: 9 in January, 9 in February, all bruvax, all booked.
    let cells = cells(
        "
        2021-01-05 dps-nord bruvax booked fr eid 65_74 evere 9
        2021-02-09 dps-nord bruvax booked fr eid 65_74 evere 9
        ",
    );
    let site = Code::new("dps-nord").unwrap();
    let r = annual_report(cells.iter().map(|(k, v)| (k, *v)), &site, 2021).unwrap();
    // On its own the month table is safe (<10, <10 and its total x); the
    // old per-table rule printed the procedure table as "bruvax 18, total
    // 18", and 18 = Jan + Feb with both ≤ 9 makes both 9.
    let month_alone = {
        let mut t = run(&cells, "group_by=month&public=true");
        t.totals[0].visits = dps_report::Count::Shown(18);
        t
    };
    expect![[r#"
        table 0 [2021-01] <10: 9..=9
        table 0 [2021-02] <10: 9..=9
    "#]]
    .assert_eq(&audit_lines(&[&month_alone]));
    let all = annual_tables(&r);
    expect![[r#"
        month,visits,row,disclosure
        2021-01,<10,cell,public
        2021-02,<10,cell,public
        *,x,total,public

        procedure,visits,row,disclosure
        bruvax,x,cell,public
        *,x,total,public

        outcome,visits,row,disclosure
        booked,x,cell,public
        *,x,total,public

        age_band,visits,row,disclosure
        65_74,x,cell,public
        *,x,total,public

        language,visits,row,disclosure
        fr,x,cell,public
        *,x,total,public

        municipality,visits,row,disclosure
        evere,x,cell,public
        *,x,total,public

        channel,visits,row,disclosure
        eid,x,cell,public
        *,x,total,public
    "#]]
    .assert_eq(&all.map(csv).join("\n"));
    expect![[r#"
        grand total x: 10..=18
        table 0 [2021-01] <10: 1..=9
        table 0 [2021-02] <10: 1..=9
        table 1 [bruvax] x: 10..=18
        table 2 [booked] x: 10..=18
        table 3 [65_74] x: 10..=18
        table 4 [fr] x: 10..=18
        table 5 [evere] x: 10..=18
        table 6 [eid] x: 10..=18
    "#]]
    .assert_eq(&audit_lines(&all));
    let exact = annual_exact(&cells);
    let exact: Vec<&dps_report::Table> = exact.iter().collect();
    assert_eq!(
        crate::oracle::leaks_joint(&all, &exact),
        Vec::<String>::new()
    );
    assert_eq!(r.total, r.by_procedure.grand_total());
}
