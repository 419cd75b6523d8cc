//! Every bad input the hub must refuse, through `app()` with `oneshot`: the
//! right status, a JSON `{code, message}` body, and nothing stored.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use dps_hub::api::{admin_enrol, AdminEnrolRequest};
use dps_hub::{app, AppState, SledStore, Store};
use dps_model::{Code, ReplicaId};
use dps_sync::wire::{
    ApiError, EnrolResponse, PushRequest, WireCell, MAX_BATCH_CELLS, MAX_BODY_BYTES,
};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::common::cell;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SledStore>,
    state: AppState,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut state = AppState::new(store.clone());
    state.clock = Arc::new(|| Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    Fixture {
        _dir: dir,
        store,
        state,
    }
}

async fn call(st: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

fn post(path: &str, token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(body.into()).unwrap()
}

async fn enrolled(f: &Fixture, site: &str) -> EnrolResponse {
    let now = (f.state.clock)();
    let code = admin_enrol(
        f.store.as_ref(),
        now,
        &AdminEnrolRequest {
            site: Code::new(site).unwrap(),
            ttl_secs: 60,
        },
    )
    .unwrap()
    .code;
    let (s, body) = call(
        &f.state,
        post(
            "/api/v1/enrol",
            None,
            format!(r#"{{"v":1,"code":"{code}"}}"#),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn push_body(device: &str, cells: usize) -> Vec<u8> {
    let req = PushRequest {
        v: 1,
        replica: ReplicaId {
            device: device.into(),
            incarnation: "inc1".into(),
        },
        after: 0,
        upto: cells as u64,
        cells: (0..cells)
            .map(|i| WireCell {
                key: cell(i),
                inc: 1,
                ret: 0,
            })
            .collect(),
        kiosk_time: Utc::now(),
        pending: 0,
    };
    serde_json::to_vec(&req).unwrap()
}

fn assert_error(status: StatusCode, body: &[u8], want: StatusCode, code: &str) {
    assert_eq!(status, want, "{}", String::from_utf8_lossy(body));
    let e: ApiError = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    assert_eq!(e.code, code);
    assert!(!e.message.is_empty());
}

#[tokio::test]
async fn every_bad_push_is_refused_with_json_and_stores_nothing() {
    let f = fixture();
    let a = enrolled(&f, "dps-a").await;
    let b = enrolled(&f, "dps-b").await;
    let wrong_secret = format!("{}.{}", a.device, "0".repeat(64));
    let too_many = push_body(&a.device, MAX_BATCH_CELLS + 1);
    let mut bad_version: serde_json::Value =
        serde_json::from_slice(&push_body(&a.device, 1)).unwrap();
    bad_version["v"] = 99.into();
    let mut backwards: serde_json::Value =
        serde_json::from_slice(&push_body(&a.device, 1)).unwrap();
    backwards["after"] = 5.into();
    backwards["upto"] = 2.into();
    let mut bad_inc: serde_json::Value = serde_json::from_slice(&push_body(&a.device, 1)).unwrap();
    bad_inc["replica"]["incarnation"] = "../x".into();

    // (name, bearer token, body, expected status, expected error code)
    type Case<'a> = (&'a str, Option<String>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "no token",
            None,
            push_body(&a.device, 1),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "wrong secret",
            Some(wrong_secret),
            push_body(&a.device, 1),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "unknown device",
            Some("dev-nobody.abc".into()),
            push_body("dev-nobody", 1),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "no dot",
            Some("garbage".into()),
            push_body(&a.device, 1),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "another device's replica",
            Some(a.token.clone()),
            push_body(&b.device, 1),
            StatusCode::FORBIDDEN,
            "forbidden_replica",
        ),
        (
            "malformed JSON",
            Some(a.token.clone()),
            b"{\"v\":1,".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "wrong shape",
            Some(a.token.clone()),
            b"[1,2,3]".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "bad version",
            Some(a.token.clone()),
            serde_json::to_vec(&bad_version).unwrap(),
            StatusCode::BAD_REQUEST,
            "unsupported_version",
        ),
        (
            "upto before after",
            Some(a.token.clone()),
            serde_json::to_vec(&backwards).unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "bad incarnation",
            Some(a.token.clone()),
            serde_json::to_vec(&bad_inc).unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "too many cells",
            Some(a.token.clone()),
            too_many,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "body over the limit",
            Some(a.token.clone()),
            vec![b' '; MAX_BODY_BYTES + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
    ];
    for (name, token, body, want, code) in cases {
        let (s, resp) = call(&f.state, post("/api/v1/push", token.as_deref(), body)).await;
        eprintln!("case {name}: {s}");
        assert_error(s, &resp, want, code);
    }
    assert!(
        f.store.cells().unwrap().is_empty(),
        "a refused push stored cells"
    );
    for d in f.store.devices().unwrap() {
        assert_eq!(d.last_sync, None, "a refused push touched device {}", d.id);
    }

    // The same push with the right token goes through, so the refusals above
    // were about the input, not a broken route.
    let (s, resp) = call(
        &f.state,
        post("/api/v1/push", Some(&a.token), push_body(&a.device, 3)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&resp));
    assert_eq!(f.store.cells().unwrap().len(), 3);

    // Revoked: refused at once, nothing more stored.
    assert!(f.store.revoke(&a.device, Utc::now()).unwrap());
    let (s, resp) = call(
        &f.state,
        post("/api/v1/push", Some(&a.token), push_body(&a.device, 5)),
    )
    .await;
    assert_error(s, &resp, StatusCode::UNAUTHORIZED, "revoked");
    assert_eq!(f.store.cells().unwrap().len(), 3);
}

#[tokio::test]
async fn enrolment_codes_are_one_time_and_expire() {
    let f = fixture();
    let now = (f.state.clock)();
    let mk = |ttl| {
        admin_enrol(
            f.store.as_ref(),
            now,
            &AdminEnrolRequest {
                site: Code::new("dps-a").unwrap(),
                ttl_secs: ttl,
            },
        )
        .unwrap()
    };
    let good = mk(3600);
    assert_eq!(good.expires, now + chrono::Duration::hours(1));
    let body = |c: &str| format!(r#"{{"v":1,"code":"{c}"}}"#);
    // Typed in lower case with a space instead of the dash: still the code.
    let typed = good.code.to_lowercase().replace('-', " ");
    let (s, resp) = call(&f.state, post("/api/v1/enrol", None, body(&typed))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&resp));
    let r: EnrolResponse = serde_json::from_slice(&resp).unwrap();
    assert_eq!(r.site.as_str(), "dps-a");
    let d = f.store.device(&r.device).unwrap().unwrap();
    assert!(
        !d.token_hash.contains(r.token.split_once('.').unwrap().1),
        "the hub stored the token"
    );

    let (s, resp) = call(&f.state, post("/api/v1/enrol", None, body(&good.code))).await;
    assert_error(s, &resp, StatusCode::UNAUTHORIZED, "bad_code");

    let mut later = f.state.clone();
    let expired = mk(60);
    later.clock = Arc::new(move || now + chrono::Duration::seconds(61));
    let (s, resp) = call(&later, post("/api/v1/enrol", None, body(&expired.code))).await;
    assert_error(s, &resp, StatusCode::UNAUTHORIZED, "bad_code");

    let (s, resp) = call(&f.state, post("/api/v1/enrol", None, body("ZZZZ-ZZZZ"))).await;
    assert_error(s, &resp, StatusCode::UNAUTHORIZED, "bad_code");
    let (s, resp) = call(&f.state, post("/api/v1/enrol", None, "not json")).await;
    assert_error(s, &resp, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(f.store.devices().unwrap().len(), 1);
}

#[tokio::test]
async fn health_and_unknown_routes_answer_json() {
    let f = fixture();
    let (s, body) = call(
        &f.state,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["time"], "2026-11-23T12:00:00Z");
    let (s, body) = call(&f.state, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_error(s, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn admin_routes_need_the_admin_token() {
    let f = fixture();
    let admin = dps_hub::api::admin_app(f.state.clone(), "s3cret".into());
    let req = |t: Option<&str>| {
        let mut b = Request::get("/admin/devices");
        if let Some(t) = t {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(
        admin.clone().oneshot(req(None)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin
            .clone()
            .oneshot(req(Some("s3cre")))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin.oneshot(req(Some("s3cret"))).await.unwrap().status(),
        StatusCode::OK
    );
}
