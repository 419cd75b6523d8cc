use expect_test::{expect, Expect};

use dps_report::{Dimension, Disclosure, Format, QueryArgs, TalliesRequest};

use crate::{cells, csv, run};

const FIXTURE: &str = "
    # day        site    procedure  outcome  lang channel age   residence  visits
    2020-12-31 dps-nord bruvax     booked   fr   eid     65_74 schaerbeek 4
    2021-01-01 dps-nord bruvax     booked   fr   eid     65_74 schaerbeek 3
    2021-01-04 dps-nord bruvax     waiting  nl   manual  75_plus evere    2
    2021-05-31 dps-sud  bruvax     booked   fr   eid     45_64 saint-gilles 7
    2021-05-31 dps-sud  other-help done     en   none    unknown abroad  5
";

fn fixture() -> Vec<(dps_model::CellKey, u64)> {
    cells(FIXTURE)
}

fn check(url: &str, expect: Expect) {
    expect.assert_eq(&csv(&run(&fixture(), url)));
}

#[test]
fn no_grouping_is_the_grand_total() {
    check(
        "",
        expect![[r#"
        visits,row,disclosure
        21,cell,exact
    "#]],
    );
    check(
        "site=nowhere",
        expect![[r#"
        visits,row,disclosure
        0,cell,exact
    "#]],
    );
}

#[test]
fn iso_weeks_belong_to_the_iso_year() {
    // 2020-12-31 and 2021-01-01 are both in 2020-W53; 2021-01-04 starts 2021-W01.
    check(
        "group_by=week",
        expect![[r#"
        week,visits,row,disclosure
        2020-W53,7,cell,exact
        2021-W01,2,cell,exact
        2021-W22,12,cell,exact
        *,21,total,exact
    "#]],
    );
}

#[test]
fn months_years_and_days() {
    check(
        "group_by=year,month",
        expect![[r#"
        year,month,visits,row,disclosure
        2020,2020-12,4,cell,exact
        2021,2021-01,5,cell,exact
        2021,2021-05,12,cell,exact
        2020,*,4,total,exact
        2021,*,17,total,exact
        *,2020-12,4,total,exact
        *,2021-01,5,total,exact
        *,2021-05,12,total,exact
        *,*,21,total,exact
    "#]],
    );
    check(
        "group_by=day&from=2021-01-01&to=2021-01-04",
        expect![[r#"
        day,visits,row,disclosure
        2021-01-01,3,cell,exact
        2021-01-04,2,cell,exact
        *,5,total,exact
    "#]],
    );
}

#[test]
fn filters_combine_and_sets_are_or() {
    check(
        "group_by=municipality&site=dps-nord,dps-sud&procedure=bruvax",
        expect![[r#"
        municipality,visits,row,disclosure
        evere,2,cell,exact
        saint-gilles,7,cell,exact
        schaerbeek,7,cell,exact
        *,16,total,exact
    "#]],
    );
    check(
        "group_by=site,language&language=fr,en&channel=eid,none",
        expect![[r#"
        site,language,visits,row,disclosure
        dps-nord,fr,7,cell,exact
        dps-sud,fr,7,cell,exact
        dps-sud,en,5,cell,exact
        dps-nord,*,7,total,exact
        dps-sud,*,12,total,exact
        *,fr,14,total,exact
        *,en,5,total,exact
        *,*,19,total,exact
    "#]],
    );
    check(
        "group_by=age_band,outcome&age_band=75_plus,unknown&outcome=waiting,done",
        expect![[r#"
        age_band,outcome,visits,row,disclosure
        75_plus,waiting,2,cell,exact
        unknown,done,5,cell,exact
        75_plus,*,2,total,exact
        unknown,*,5,total,exact
        *,done,5,total,exact
        *,waiting,2,total,exact
        *,*,7,total,exact
    "#]],
    );
    check(
        "group_by=channel&municipality=abroad,evere",
        expect![[r#"
        channel,visits,row,disclosure
        manual,2,cell,exact
        none,5,cell,exact
        *,7,total,exact
    "#]],
    );
}

#[test]
fn rows_follow_the_order_of_the_group_by() {
    check(
        "group_by=language,site",
        expect![[r#"
        language,site,visits,row,disclosure
        fr,dps-nord,7,cell,exact
        fr,dps-sud,7,cell,exact
        nl,dps-nord,2,cell,exact
        en,dps-sud,5,cell,exact
        fr,*,14,total,exact
        nl,*,2,total,exact
        en,*,5,total,exact
        *,dps-nord,9,total,exact
        *,dps-sud,12,total,exact
        *,*,21,total,exact
    "#]],
    );
}

#[test]
fn wide_tables_carry_only_the_grand_total() {
    let t = run(&fixture(), "group_by=site,procedure,outcome,language");
    assert_eq!(
        t.rows.len(),
        4,
        "the two dps-nord fr bruvax booked days merge"
    );
    assert_eq!(t.totals.len(), 1);
    assert_eq!(t.grand_total().value(), Some(21));
}

#[test]
fn url_parameters_parse() {
    let r = TalliesRequest::from_url_query(
        "from=2021-05-01&to=2021-05-31&site=a,b&municipality=saint-josse-ten-noode,abroad\
         &age_band=75_plus&group_by=municipality,week&format=csv&public=true",
    )
    .unwrap();
    assert_eq!(r.format, Format::Csv);
    assert_eq!(r.disclosure, Disclosure::Public);
    assert_eq!(
        r.query.group_by,
        vec![Dimension::Municipality, Dimension::Week]
    );
    assert_eq!(r.query.sites.len(), 2);
    assert_eq!(r.query.municipalities.len(), 2);
    assert_eq!(
        r.query.from.map(|d| d.to_string()).as_deref(),
        Some("2021-05-01")
    );
    let plain = TalliesRequest::from_url_query("").unwrap();
    assert_eq!(
        (plain.format, plain.disclosure),
        (Format::Json, Disclosure::Exact)
    );
}

#[test]
fn cli_arguments_parse_like_the_url() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        q: QueryArgs,
    }
    let cli = Cli::try_parse_from([
        "export",
        "--from",
        "2021-05-01",
        "--group-by",
        "municipality,week",
        "--public",
        "--format",
        "xlsx",
    ])
    .unwrap();
    let from_cli = TalliesRequest::try_from(&cli.q).unwrap();
    let from_url = TalliesRequest::from_url_query(
        "from=2021-05-01&group_by=municipality,week&public=true&format=xlsx",
    )
    .unwrap();
    assert_eq!(from_cli, from_url);
}

#[test]
fn bad_queries_say_what_is_wrong() {
    let cases = [
        "from=2021-13-01",
        "from=2021-06-01&to=2021-05-01",
        "group_by=municipality,month,municipality",
        "group_by=postcode",
        "grup_by=week",
        "age_band=80_plus",
        "site=Not_A_Code",
        "municipality=paris",
        "format=pdf",
        "public=maybe",
        "group_by=site,procedure,outcome,language&public=true",
    ];
    let mut out = String::new();
    for q in cases {
        let msg = match TalliesRequest::from_url_query(q) {
            Err(e) => e.to_string(),
            Ok(r) => match dps_report::run(fixture().iter().map(|(k, v)| (k, *v)), &r) {
                Err(e) => e.to_string(),
                Ok(_) => "accepted".to_owned(),
            },
        };
        out.push_str(&format!("{q}\n  -> {msg}\n"));
    }
    expect![[r#"
        from=2021-13-01
          -> from: "2021-13-01" is not a date (expected YYYY-MM-DD)
        from=2021-06-01&to=2021-05-01
          -> from (2021-06-01) is after to (2021-05-01)
        group_by=municipality,month,municipality
          -> group_by: municipality is given twice
        group_by=postcode
          -> group_by: unknown value "postcode" (expected one of: site, municipality, procedure, outcome, age_band, language, channel, day, week, month, year)
        grup_by=week
          -> malformed query string: unknown field `grup_by`, expected one of `from`, `to`, `site`, `municipality`, `procedure`, `outcome`, `age_band`, `language`, `channel`, `group_by`, `format`, `public`
        age_band=80_plus
          -> age_band: "80_plus" is not valid: unknown age band code "80_plus"
        site=Not_A_Code
          -> site: "Not_A_Code" is not valid: unknown identifier code "Not_A_Code"
        municipality=paris
          -> municipality: "paris" is not valid: unknown residence code "paris"
        format=pdf
          -> format: unknown value "pdf" (expected one of: json, csv, xlsx)
        public=maybe
          -> public: unknown value "maybe" (expected one of: true, false)
        group_by=site,procedure,outcome,language&public=true
          -> public tables can be grouped by at most 3 dimensions (got 4): suppression cannot protect finer tables and their totals
    "#]]
    .assert_eq(&out);
}
