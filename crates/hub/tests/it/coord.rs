//! The coordination's side through the real HTTP server on loopback (and
//! `oneshot` for the router alone): accounts, sessions, CSRF, lockout, the
//! tallies API against hand-computed tables, the dashboard and the report.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use dps_hub::api::{app, AppState};
use dps_hub::store::{Coordination, PendingEnrolment, SledStore, Store};
use dps_model::{AgeBand, CellKey, Channel, Code, Language, PnCount, ReplicaId, Residence};
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};
use http_body_util::BodyExt;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn ck(day: &str, site: &str, muni: &str, procedure: &str, outcome: &str) -> CellKey {
    CellKey {
        day: day.parse::<NaiveDate>().unwrap(),
        site: Code::new(site).unwrap(),
        procedure: Code::new(procedure).unwrap(),
        outcome: Code::new(outcome).unwrap(),
        language: Language::Fr,
        channel: Channel::Eid,
        age_band: AgeBand::ALL[4],
        residence: muni.parse::<Residence>().unwrap(),
    }
}

/// The hand-computed data set: net visits per cell (one has retractions,
/// one is outside 2026, and a second device adds to a cell of the first).
pub fn seed(store: &dyn Store) {
    let dev = |id: &str| {
        let h = [id.len() as u8; 32];
        store
            .add_enrolment(
                &h,
                &PendingEnrolment {
                    site: Code::new("dps-a").unwrap(),
                    expires: t("2030-01-01T00:00:00Z"),
                },
            )
            .unwrap();
        store
            .redeem(
                &h,
                t("2026-01-01T00:00:00Z"),
                dps_hub::store::Device {
                    id: id.into(),
                    site: Code::new("x").unwrap(),
                    token_hash: "h".into(),
                    enrolled: t("2026-01-01T00:00:00Z"),
                    last_sync: None,
                    clock_skew_secs: None,
                    pending: None,
                    revoked: None,
                },
            )
            .unwrap()
            .unwrap();
    };
    dev("dev-one");
    dev("dev-two22");
    let push = |device: &str, cells: Vec<(CellKey, PnCount)>| {
        let req = PushRequest {
            v: PROTOCOL_VERSION,
            replica: ReplicaId {
                device: device.into(),
                incarnation: "i1".into(),
            },
            after: 0,
            upto: 1,
            cells: cells
                .into_iter()
                .map(|(k, c)| WireCell::new(k, c))
                .collect(),
            kiosk_time: t("2026-06-01T10:00:00Z"),
            pending: 0,
        };
        store
            .ingest(device, &req, t("2026-06-01T10:00:00Z"))
            .unwrap();
    };
    let pn = |inc, ret| PnCount { inc, ret };
    push(
        "dev-one",
        vec![
            (
                ck(
                    "2026-03-02",
                    "dps-a",
                    "molenbeek-saint-jean",
                    "bruvax",
                    "done",
                ),
                pn(20, 2),
            ),
            (
                ck(
                    "2026-03-03",
                    "dps-a",
                    "saint-josse-ten-noode",
                    "bruvax",
                    "waiting_list",
                ),
                pn(3, 0),
            ),
            (
                ck("2026-03-10", "dps-a", "schaerbeek", "help", "done"),
                pn(12, 0),
            ),
            (
                ck(
                    "2025-12-31",
                    "dps-a",
                    "molenbeek-saint-jean",
                    "bruvax",
                    "done",
                ),
                pn(7, 0),
            ),
        ],
    );
    push(
        "dev-two22",
        vec![(
            ck(
                "2026-03-02",
                "dps-a",
                "molenbeek-saint-jean",
                "bruvax",
                "done",
            ),
            pn(7, 0),
        )],
    );
}

pub struct Coord {
    pub addr: SocketAddr,
    pub store: Arc<SledStore>,
    pub now: Arc<Mutex<DateTime<Utc>>>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Coord {
    pub async fn start() -> Coord {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        seed(store.as_ref());
        let hash = dps_hub::auth::hash_password(PASSWORD).unwrap();
        dps_hub::auth::add_account(store.as_ref(), "marie", &hash, Utc::now()).unwrap();
        let now = Arc::new(Mutex::new(t("2026-06-01T12:00:00Z")));
        let mut state = AppState::new(store.clone());
        let clock = now.clone();
        state.clock = Arc::new(move || *clock.lock().unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
        Coord {
            addr,
            store,
            now,
            http: no_redirects(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the Set-Cookie for `name`, and the whole header.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let pair = v.split(';').next()?.trim();
        pair.starts_with(&format!("{name}="))
            .then(|| (pair.to_owned(), v.to_owned()))
    })
}

/// The value of the hidden `csrf` field of a page.
pub fn csrf_field(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..i + 64].to_owned()
}

/// A fresh login form: its CSRF cookie and field.
pub async fn login_form(http: &reqwest::Client, base: &str) -> (String, String) {
    let r = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (cookie, _) = set_cookie(&r, "dps_login_csrf").unwrap();
    let html = r.text().await.unwrap();
    (cookie, csrf_field(&html))
}

pub async fn try_login(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    pw: &str,
) -> reqwest::Response {
    let (cookie, csrf) = login_form(http, base).await;
    http.post(format!("{base}/login"))
        .header(COOKIE, cookie)
        .form(&[
            ("name", name),
            ("password", pw),
            ("csrf", &csrf),
            ("lang", "en"),
        ])
        .send()
        .await
        .unwrap()
}

/// Log in; the session cookie `dps_session=…`.
pub async fn login(http: &reqwest::Client, base: &str, name: &str) -> String {
    let r = try_login(http, base, name, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    set_cookie(&r, "dps_session").unwrap().0
}

pub async fn get(http: &reqwest::Client, url: &str, cookie: &str) -> reqwest::Response {
    http.get(url).header(COOKIE, cookie).send().await.unwrap()
}

#[tokio::test]
async fn login_session_cookie_csrf_and_logout() {
    let c = Coord::start().await;
    let base = c.url("");
    // Nothing without a session: the API answers JSON, pages send to the login.
    let r = c.http.get(c.url("/api/v1/tallies")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["code"], "login_required");
    let r = c
        .http
        .get(c.url("/dashboard?lang=nl"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login?lang=nl");

    // The login form's CSRF cookie is HttpOnly and SameSite=Strict.
    let r = c.http.get(c.url("/login")).send().await.unwrap();
    let (_, header) = set_cookie(&r, "dps_login_csrf").unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    // A login post without the form's cookie (a cross-site post) is refused
    // even with the right password.
    let (_, csrf) = login_form(&c.http, &base).await;
    let r = c
        .http
        .post(c.url("/login"))
        .form(&[
            ("name", "marie"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "dps_session").is_none());

    let r = try_login(&c.http, &base, "marie", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/dashboard?lang=en");
    let (session, header) = set_cookie(&r, "dps_session").unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    assert!(
        !header.contains("Secure"),
        "plain HTTP: no Secure flag: {header}"
    );
    // The store keeps only a hash of the cookie.
    let value = session.trim_start_matches("dps_session=");
    assert!(c
        .store
        .session(&dps_hub::auth::session_key(value))
        .unwrap()
        .is_some());

    let r = get(&c.http, &c.url("/dashboard?lang=en"), &session).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<svg") && html.contains("Visits per week"),
        "{html}"
    );
    let csrf = csrf_field(&html);

    // Logout with a wrong token: refused, the session lives on.
    let r = c
        .http
        .post(c.url("/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", "0".repeat(64).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "csrf");
    assert_eq!(
        get(&c.http, &c.url("/dashboard"), &session).await.status(),
        StatusCode::OK
    );

    let r = c
        .http
        .post(c.url("/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (cleared, _) = set_cookie(&r, "dps_session").unwrap();
    assert_eq!(cleared, "dps_session=");
    // The old cookie is dead in the store, not just forgotten by the browser.
    assert_eq!(
        get(&c.http, &c.url("/dashboard"), &session).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        get(&c.http, &c.url("/api/v1/tallies"), &session)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Sessions end after 8 hours.
    let session = login(&c.http, &base, "marie").await;
    c.advance(Duration::hours(8));
    assert_eq!(
        get(&c.http, &c.url("/dashboard"), &session).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn five_failures_in_fifteen_minutes_lock_the_account() {
    let c = Coord::start().await;
    let base = c.url("");
    for _ in 0..5 {
        let r = try_login(&c.http, &base, "marie", "wrong password!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("Wrong name or password."));
        c.advance(Duration::minutes(2));
    }
    // Locked: even the right password is refused, and says so.
    let r = try_login(&c.http, &base, "marie", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&r, "dps_session").is_none());
    assert!(r.text().await.unwrap().contains("locked for 15 minutes"));
    // An unknown name looks like a wrong password, and is never "locked".
    for _ in 0..6 {
        let r = try_login(&c.http, &base, "nobody", "whatever it is").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // 15 minutes after the first failure only 4 are in the window: open again.
    c.advance(Duration::minutes(6));
    let r = try_login(&c.http, &base, "marie", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A success clears the count.
    assert_eq!(
        c.store
            .login_failures_since("marie", t("2000-01-01T00:00:00Z"))
            .unwrap(),
        0
    );
}

/// 20 wrong passwords at once, against the real server: the attempts are
/// reserved in the store before argon2 runs, so exactly 5 are judged (401)
/// and the other 15 are locked out (429); the right password is then
/// refused too. `base` is a hub whose account `marie` has no failures.
pub async fn check_parallel_guesses_hit_the_lockout(http: &reqwest::Client, base: &str) {
    let mut forms = Vec::new();
    for _ in 0..20 {
        forms.push(login_form(http, base).await);
    }
    let guesses: Vec<_> = forms
        .into_iter()
        .enumerate()
        .map(|(i, (cookie, csrf))| {
            let (http, url) = (http.clone(), format!("{base}/login"));
            tokio::spawn(async move {
                let pw = format!("wrong password {i}");
                http.post(url)
                    .header(COOKIE, cookie)
                    .form(&[
                        ("name", "marie"),
                        ("password", pw.as_str()),
                        ("csrf", csrf.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let judged = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let locked = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((judged, locked), (5, 15), "{statuses:?}");
    let r = try_login(http, base, "marie", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&r, "dps_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_logins_cannot_outrun_the_lockout() {
    let c = Coord::start().await;
    check_parallel_guesses_hit_the_lockout(&c.http, &c.url("")).await;
    // Still locked just before the window ends, open after it.
    c.advance(Duration::minutes(15) - Duration::seconds(1));
    let r = try_login(&c.http, &c.url(""), "marie", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    c.advance(Duration::seconds(2));
    let r = try_login(&c.http, &c.url(""), "marie", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

pub const EXACT_BY_MUNICIPALITY: &str = "municipality,visits,row,disclosure\r\n\
    molenbeek-saint-jean,25,cell,exact\r\n\
    saint-josse-ten-noode,3,cell,exact\r\n\
    schaerbeek,12,cell,exact\r\n\
    *,40,total,exact\r\n";

/// 3 is shown as <10; alone hidden in its line it would be 40 − 25 − 12, so
/// the smallest other cell (12) is hidden too (x): then 3 and 12 are known
/// only to sum to 15 with the first 1–9 and the second ≥ 10.
pub const PUBLIC_BY_MUNICIPALITY: &str = "municipality,visits,row,disclosure\r\n\
    molenbeek-saint-jean,25,cell,public\r\n\
    saint-josse-ten-noode,<10,cell,public\r\n\
    schaerbeek,x,cell,public\r\n\
    *,40,total,public\r\n";

#[tokio::test]
async fn tallies_api_matches_hand_computed_tables() {
    let c = Coord::start().await;
    let s = login(&c.http, &c.url(""), "marie").await;
    check_tallies_api(&c.http, &c.url(""), &s).await;
}

/// The tallies API against the hand-computed [`seed`], on any store.
pub async fn check_tallies_api(http: &reqwest::Client, base: &str, s: &str) {
    let q = |query: &str| format!("{base}/api/v1/tallies?{query}");
    let r = get(
        http,
        &q("from=2026-01-01&to=2026-12-31&group_by=municipality&format=csv"),
        s,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"tallies-exact.csv\""
    );
    assert_eq!(r.text().await.unwrap(), EXACT_BY_MUNICIPALITY);
    let r = get(
        http,
        &q("from=2026-01-01&group_by=municipality&format=csv&public=true"),
        s,
    )
    .await;
    assert_eq!(r.text().await.unwrap(), PUBLIC_BY_MUNICIPALITY);

    // Without dates the 2025 cell counts; filters and two columns.
    let r = get(http, &q("group_by=year,outcome&format=csv&municipality=molenbeek-saint-jean,saint-josse-ten-noode"), s).await;
    assert_eq!(
        r.text().await.unwrap(),
        "year,outcome,visits,row,disclosure\r\n\
         2025,done,7,cell,exact\r\n\
         2026,done,25,cell,exact\r\n\
         2026,waiting_list,3,cell,exact\r\n\
         2025,*,7,total,exact\r\n\
         2026,*,28,total,exact\r\n\
         *,done,32,total,exact\r\n\
         *,waiting_list,3,total,exact\r\n\
         *,*,35,total,exact\r\n"
    );
    // JSON (the default) says its disclosure.
    let r = get(http, &q("group_by=procedure&from=2026-01-01"), s).await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["disclosure"], "exact");
    assert_eq!(v["total"], 40);
    assert_eq!(
        v["rows"][0],
        serde_json::json!({"procedure": "bruvax", "visits": 28})
    );
    // XLSX is a zip.
    let r = get(http, &q("group_by=site&format=xlsx&public=1"), s).await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"tallies-public.xlsx\""
    );
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    // Mistakes are JSON {code, message}.
    let r = get(http, &q("grup_by=site"), s).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["code"], "bad_query");
    assert!(e["message"].as_str().unwrap().contains("grup_by"), "{e}");
}

#[tokio::test]
async fn dashboard_and_report_show_the_figures() {
    let c = Coord::start().await;
    let s = login(&c.http, &c.url(""), "marie").await;
    check_dashboard_and_report(&c.http, &c.url(""), &s).await;
}

/// The dashboard and the annual report of the hand-computed [`seed`], on any store.
pub async fn check_dashboard_and_report(http: &reqwest::Client, base: &str, s: &str) {
    let url = |path: &str| format!("{base}{path}");
    let html = get(
        http,
        &url("/dashboard?from=2026-01-01&to=2026-12-31&lang=fr"),
        s,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"fr\">"));
    assert!(
        html.contains("Total des visites: <strong>40</strong>"),
        "{html}"
    );
    // Priority municipalities are marked (★ and the red bar class), others not.
    assert!(html.contains("Molenbeek-Saint-Jean ★") && html.contains("Saint-Josse-ten-Noode ★"));
    assert!(html.contains("class=\"bar mark\""));
    // Filters are kept in the language links and the form.
    assert!(
        html.contains("href=\"/dashboard?from=2026-01-01&amp;to=2026-12-31&amp;lang=nl\""),
        "{html}"
    );
    assert!(html.contains("name=\"from\" value=\"2026-01-01\""));
    // Every ISO week of the range is on the time axis, empty ones as 0:
    // 2026-W01 (from Monday 2025-12-29) to 2026-W53.
    let weeks = html
        .split("<th scope=\"row\">2026-W")
        .skip(1)
        .map(|rest| rest.split_once("</th><td class=\"num\">").unwrap())
        .map(|(w, rest)| (w.to_owned(), rest.split('<').next().unwrap().to_owned()))
        .collect::<Vec<_>>();
    assert_eq!(weeks.len(), 53, "{weeks:?}");
    assert_eq!(weeks[0], ("01".into(), "0".into()));
    assert_eq!(weeks[1], ("02".into(), "0".into()));
    assert_eq!(weeks[9], ("10".into(), "28".into()));
    assert_eq!(weeks[10], ("11".into(), "12".into()));
    assert_eq!(weeks[52], ("53".into(), "0".into()));
    assert_eq!(html.matches("class=\"bar\"><title>2026-W").count(), 53);
    // The device list.
    assert!(html.contains("dev-one") && html.contains("2026-06-01 10:00 UTC"));
    // A filter changes the figures; Dutch names.
    let html = get(
        http,
        &url("/dashboard?from=2026-01-01&outcome=done&lang=nl"),
        s,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("Totaal bezoeken: <strong>37</strong>"),
        "{html}"
    );
    assert!(html.contains("Sint-Jans-Molenbeek ★"));
    // Age band, language and channel filter too, and stay in the URL of
    // the language switch, the form and the exports.
    let filtered = "/dashboard?from=2026-01-01&age_band=65_74&language=fr&channel=eid&lang=en";
    let html = get(http, &url(filtered), s).await.text().await.unwrap();
    assert!(html.contains("Total visits: <strong>40</strong>"), "{html}");
    for sel in [
        "<option value=\"65_74\" selected>",
        "<option value=\"fr\" selected>",
        "<option value=\"eid\" selected>",
    ] {
        assert!(html.contains(sel), "{sel}");
    }
    assert!(
        html.contains("href=\"/dashboard?from=2026-01-01&amp;age_band=65_74&amp;language=fr&amp;channel=eid&amp;lang=fr\""),
        "{html}"
    );
    assert!(html.contains(
        "/api/v1/tallies?from=2026-01-01&amp;age_band=65_74&amp;language=fr&amp;channel=eid&amp;group_by="
    ));
    for (filter, total) in [
        ("age_band=18_29", "0"),
        ("language=nl", "0"),
        ("channel=manual", "0"),
        ("channel=eid,manual", "40"),
    ] {
        let html = get(
            http,
            &url(&format!("/dashboard?from=2026-01-01&{filter}&lang=en")),
            s,
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(
            html.contains(&format!("Total visits: <strong>{total}</strong>")),
            "{filter}: {html}"
        );
    }
    let r = get(http, &url("/dashboard?age_band=teen&lang=en"), s).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("teen"));

    // The annual report is public: suppression applied.
    let r = get(http, &url("/report?site=dps-a&year=2026&lang=en"), s).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Annual report dps-a — 2026"));
    // Escaped: "<10" is text, not the start of a tag.
    for (row, shown) in [
        ("Molenbeek-Saint-Jean ★", "25"),
        ("Saint-Josse-ten-Noode ★", "&lt;10"),
        ("Schaerbeek ★", "x"),
    ] {
        let cell = format!("<th scope=\"row\">{row}</th><td class=\"num\">{shown}</td>");
        assert!(html.contains(&cell), "{cell} in {html}");
    }
    assert!(html.contains("Total visits: <strong>40</strong>"));
}

/// The router alone (`oneshot`): no session, a forged one, the OpenAPI document.
#[tokio::test]
async fn router_refuses_forged_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let router = app(AppState::new(store));
    let call = |uri: &str, cookie: Option<&str>| {
        let mut b = axum::http::Request::builder().uri(uri);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        router.clone().oneshot(b.body(Body::empty()).unwrap())
    };
    let r = call("/api/v1/tallies", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let forged = format!("dps_session={}", "a".repeat(64));
    let r = call("/api/v1/tallies?format=csv", Some(&forged))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = call("/report?site=dps-a&year=2026", Some(&forged))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = call("/api/v1/openapi.json", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(doc["paths"]["/api/v1/tallies"].is_object(), "{doc}");

    // Behind TLS the cookies are also `Secure`.
    let store = Arc::new(SledStore::open(&dir.path().join("tls")).unwrap());
    let tls = app(AppState::new(store).with_tls(true));
    let r = tls
        .oneshot(
            axum::http::Request::builder()
                .uri("/login")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let c = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        c.starts_with("dps_login_csrf=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.ends_with("; Secure"),
        "{c}"
    );
}

/// A table too large for a spreadsheet is the caller's to fix (narrower
/// query or CSV): a JSON 422 with its own code, listed in the OpenAPI
/// document, never a 500. (A real 1,048,576-row table is too slow to build
/// in a test; this is the mapping the tallies handler uses.)
#[tokio::test]
async fn a_table_too_large_for_xlsx_is_a_clear_422() {
    use axum::response::IntoResponse;
    let e = dps_hub::coord::CoordError::Export(dps_report::ExportError::TooManyRowsForXlsx {
        rows: 2_000_000,
        max: dps_report::export::XLSX_MAX_ROWS,
    });
    let r = dps_hub::web::coord_err(e).into_response();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], "too_many_rows");
    assert!(v["message"].as_str().unwrap().contains("use CSV"), "{v}");
    let doc = dps_hub::web::openapi_document();
    let listed = &doc["paths"]["/api/v1/tallies"]["get"]["responses"]["422"];
    assert!(listed["description"]
        .as_str()
        .unwrap()
        .contains("too_many_rows"));
    // A bad query stays a 400.
    let e = dps_hub::coord::CoordError::Query(dps_report::QueryError::Malformed("x".into()));
    assert_eq!(
        dps_hub::web::coord_err(e).into_response().status(),
        StatusCode::BAD_REQUEST
    );
}
