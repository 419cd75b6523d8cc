//! The OpenAPI document the hub serves, checked against the hub's real
//! answers: every `/api/v1/tallies` JSON response (exact, public, errors)
//! must validate against the schema the document gives for it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::coord::{get, login, Coord};

/// Where the test registers the served document, so `$ref`s inside it
/// resolve (nothing is fetched: the document is added as a resource).
const DOC: &str = "http://hub.test/api/v1/openapi.json";

/// `#/components/schemas/{name}` of the served document, compiled.
struct Schema(boon::Schemas, boon::SchemaIndex);

impl Schema {
    fn of(doc: &Value, name: &str) -> Schema {
        let mut schemas = boon::Schemas::new();
        let mut c = boon::Compiler::new();
        // OpenAPI 3.1 schemas are JSON Schema 2020-12.
        c.set_default_draft(boon::Draft::V2020_12);
        c.add_resource(DOC, doc.clone()).unwrap();
        let i = c
            .compile(&format!("{DOC}#/components/schemas/{name}"), &mut schemas)
            .unwrap();
        Schema(schemas, i)
    }

    fn is_valid(&self, v: &Value) -> bool {
        self.0.validate(v, self.1).is_ok()
    }
}

fn assert_valid(s: &Schema, instance: &Value, what: &str) {
    if let Err(e) = s.0.validate(instance, s.1) {
        panic!("{what}: {e:#}\n{instance}");
    }
}

#[tokio::test]
async fn served_openapi_describes_the_real_tallies_responses() {
    let c = Coord::start().await;
    let r = c
        .http
        .get(c.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // How to authenticate: the session cookie, required by default.
    assert_eq!(
        doc["components"]["securitySchemes"]["session"],
        json!({
            "type": "apiKey",
            "in": "cookie",
            "name": "dps_session",
            "description": doc["components"]["securitySchemes"]["session"]["description"],
        })
    );
    assert_eq!(doc["security"], json!([{"session": []}]));
    let op = &doc["paths"]["/api/v1/tallies"]["get"];
    for code in ["200", "400", "401", "422"] {
        assert!(op["responses"][code].is_object(), "response {code} listed");
    }

    let table = Schema::of(&doc, "Table");
    let error = Schema::of(&doc, "Error");
    // The schema is not vacuous: a wrong shape is refused.
    assert!(!table.is_valid(&json!({"rows": [], "columns": []})));
    assert!(!table.is_valid(&json!({
        "disclosure": "public", "columns": ["visits"], "rows": [],
        "totals": [], "total": "<5"
    })));

    let s = login(&c.http, &c.url(""), "marie").await;
    let q = |query: &str| c.url(&format!("/api/v1/tallies?{query}"));
    let mut public_marks = 0;
    for query in [
        "",
        "group_by=municipality",
        "group_by=municipality&public=true&from=2026-01-01",
        "group_by=site,procedure,outcome&public=true",
        "group_by=year,outcome&municipality=molenbeek-saint-jean",
        "group_by=week,language,channel,age_band",
        "group_by=day&site=nowhere",
    ] {
        let r = get(&c.http, &q(query), &s).await;
        assert_eq!(r.status(), StatusCode::OK, "{query}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert_valid(&table, &body, query);
        public_marks += body.to_string().matches("\"<10\"").count();
    }
    assert!(
        public_marks > 0,
        "a public answer with suppressed counts was checked"
    );

    // Errors: JSON {code, message}, as documented.
    let r = get(&c.http, &q("grup_by=site"), &s).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_valid(&error, &r.json().await.unwrap(), "400");
    let r = c.http.get(q("group_by=site")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_valid(&error, &r.json().await.unwrap(), "401");
}
