use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use expect_test::expect;

use dps_report::{render, Format};

use crate::{grid, run};

fn table(public: bool) -> dps_report::Table {
    let cells = grid(
        &[
            ("evere", &[25]),
            ("ixelles", &[3]),
            ("saint-josse-ten-noode", &[40]),
        ],
        &["booked"],
    );
    run(&cells, &format!("group_by=municipality&public={public}"))
}

#[test]
fn csv_is_rfc4180_with_crlf_and_says_its_disclosure() {
    let exact = String::from_utf8(render(&table(false), Format::Csv).unwrap()).unwrap();
    assert_eq!(
        exact,
        "municipality,visits,row,disclosure\r\nevere,25,cell,exact\r\nixelles,3,cell,exact\r\n\
         saint-josse-ten-noode,40,cell,exact\r\n*,68,total,exact\r\n"
    );
    let public = String::from_utf8(render(&table(true), Format::Csv).unwrap()).unwrap();
    assert_eq!(
        public,
        "municipality,visits,row,disclosure\r\nevere,x,cell,public\r\nixelles,<10,cell,public\r\n\
         saint-josse-ten-noode,40,cell,public\r\n*,68,total,public\r\n"
    );
}

#[test]
fn json_has_rows_totals_and_disclosure() {
    let json = String::from_utf8(render(&table(true), Format::Json).unwrap()).unwrap();
    expect![[r#"{"disclosure":"public","columns":["municipality","visits"],"rows":[{"municipality":"evere","visits":"x"},{"municipality":"ixelles","visits":"<10"},{"municipality":"saint-josse-ten-noode","visits":40}],"totals":[{"municipality":null,"visits":68}],"total":68}"#]]
        .assert_eq(&json);
    let exact = String::from_utf8(render(&table(false), Format::Json).unwrap()).unwrap();
    assert!(exact.starts_with(r#"{"disclosure":"exact""#), "{exact}");
}

fn sheet(bytes: Vec<u8>, name: &str) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => format!("{i}"),
                    Data::String(s) => format!("{s:?}"),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect()
}

#[test]
fn xlsx_opens_back_with_numbers_as_numbers() {
    let rows = sheet(render(&table(true), Format::Xlsx).unwrap(), "tallies");
    let text: String = rows.iter().map(|r| r.join(" | ") + "\n").collect();
    expect![[r#"
        "municipality" | "visits" | "row" | "disclosure"
        "evere" | "x" | "cell" | "public"
        "ixelles" | "<10" | "cell" | "public"
        "saint-josse-ten-noode" | 40 | "cell" | "public"
        "*" | 68 | "total" | "public"
    "#]]
    .assert_eq(&text);
    let about = sheet(render(&table(false), Format::Xlsx).unwrap(), "about");
    assert_eq!(
        about[0],
        vec!["\"disclosure\"".to_owned(), "\"exact\"".to_owned()]
    );
    let exact = sheet(render(&table(false), Format::Xlsx).unwrap(), "tallies");
    assert_eq!(exact[2][1], "3");
}

#[test]
fn openapi_fragment_describes_the_tallies_endpoint() {
    let doc = dps_report::openapi::openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    let params = doc["paths"]["/api/v1/tallies"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    // Every URL parameter the parser accepts is documented, and no other.
    let mut url = String::new();
    for n in &names {
        url.push_str(&format!("{n}=&"));
    }
    assert!(
        dps_report::TalliesRequest::from_url_query(url.trim_end_matches('&')).is_ok(),
        "{url}"
    );
    assert_eq!(names.len(), 12);
    let dims = &params.iter().find(|p| p["name"] == "group_by").unwrap()["schema"]["items"]["enum"];
    assert_eq!(
        dims.as_array().unwrap().len(),
        dps_report::Dimension::ALL.len()
    );
}
