use expect_test::expect;

use dps_model::Code;
use dps_report::annual_report;

use crate::{cells, csv};

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
    let all = [
        &r.by_month,
        &r.by_procedure,
        &r.by_outcome,
        &r.by_age_band,
        &r.by_language,
        &r.by_residence,
        &r.by_channel,
    ]
    .map(csv)
    .join("\n");
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
