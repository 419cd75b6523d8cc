//! The coordination's web side, served by `dps-hub` next to the kiosk API:
//! login/logout, the dashboard, the annual report page and the tallies API.
//!
//! Server-rendered HTML with inline SVG charts and one stylesheet embedded
//! in the binary: no script at all, no build step, nothing fetched from
//! elsewhere (it works on an offline network), and a CSP that allows only
//! the hub's own stylesheet. Filters are a GET form, so a view is a URL.
//! Handlers stay thin: the figures come from [`crate::coord`] (dps-report),
//! accounts and sessions from [`crate::auth`].

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::{Query as QueryParams, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::Datelike;
use dps_model::{AgeBand, Channel, Code, Language, Municipality, Residence};
use dps_report::{Dimension, ExportError, Query, Table, TalliesRequest};
use serde::{Deserialize, Serialize};

use crate::api::{ApiErr, AppState};
use crate::auth::{self, Login};
use crate::coord;
use crate::i18n::Lang;
use crate::secret;
use crate::store::Session;

pub const SESSION_COOKIE: &str = "dps_session";
pub const LOGIN_CSRF_COOKIE: &str = "dps_login_csrf";

const CSS: &str = include_str!("web/hub.css");

/// No script, no frames, no remote anything; forms post only to the hub.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login_page).post(login_post))
        .route("/logout", post(logout_post))
        .route("/dashboard", get(dashboard))
        .route("/report", get(report_page))
        .route("/hub.css", get(css))
        .route("/api/v1/tallies", get(api_tallies))
        .route("/api/v1/openapi.json", get(openapi))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// dps-report's description of the tallies endpoint, completed with what
/// only the hub knows: how a caller logs in (the session cookie) and the
/// errors the hub itself answers.
pub fn openapi_document() -> serde_json::Value {
    use serde_json::json;
    let mut doc = dps_report::openapi::openapi();
    doc["components"]["securitySchemes"] = json!({
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "The coordination session: log in at /login (HTML form with CSRF protection); the cookie is HttpOnly, SameSite=Strict, and Secure when the hub is reached over HTTPS."
        }
    });
    doc["security"] = json!([{"session": []}]);
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let responses = &mut doc["paths"]["/api/v1/tallies"]["get"]["responses"];
    responses["422"] = json!({
        "description": format!("The table is too large for the format asked (an XLSX sheet holds at most {} rows): narrow the query or ask for CSV. `code` is `{TOO_MANY_ROWS}`.", dps_report::export::XLSX_MAX_ROWS),
        "content": error.clone()
    });
    responses["500"] = json!({"description": "The hub could not use its store.", "content": error});
    doc
}

// ---- plumbing ----

/// Runs store work off the async threads; its error becomes the JSON error
/// its type maps to, and a panicked task a 500.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiErr>
where
    ApiErr: From<E>,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiErr::from),
        Err(_) => Err(internal()),
    }
}

fn internal() -> ApiErr {
    ApiErr(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the hub failed".into(),
    )
}

/// `serve --public-url`: whether the address browsers use is HTTPS (then
/// session cookies are `Secure`). Anything but an http(s) URL with a host
/// is refused, so a typo cannot silently drop the flag.
pub fn public_url_is_https(url: &str) -> Result<bool, String> {
    let lower = url.trim().to_ascii_lowercase();
    let (https, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!(
            "{url:?} is not an http:// or https:// URL (e.g. https://hub.example.org)"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{url:?} has no host name"));
    }
    Ok(https)
}

impl From<coord::CoordError> for ApiErr {
    fn from(e: coord::CoordError) -> ApiErr {
        coord_err(e)
    }
}

/// The JSON error a failed tallies computation answers with: the caller's
/// mistakes are 4xx with a code a script can act on, never a bare 500.
pub fn coord_err(e: coord::CoordError) -> ApiErr {
    match e {
        coord::CoordError::Query(e) => ApiErr(StatusCode::BAD_REQUEST, "bad_query", e.to_string()),
        // The table is fine, the format cannot hold it: the request must
        // change (narrower query, or CSV), so 422, listed in the OpenAPI.
        coord::CoordError::Export(e @ ExportError::TooManyRowsForXlsx { .. }) => ApiErr(
            StatusCode::UNPROCESSABLE_ENTITY,
            TOO_MANY_ROWS,
            e.to_string(),
        ),
        coord::CoordError::Export(e) => {
            tracing::error!(error = %e, "export failed");
            internal()
        }
        coord::CoordError::Store(e) => e.into(),
    }
}

/// The error code of a table too large for its format (XLSX).
pub const TOO_MANY_ROWS: &str = "too_many_rows";

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(st: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if st.tls { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The logged-in session, if the request carries a live one.
async fn current(st: &AppState, headers: &HeaderMap) -> Result<Option<Session>, ApiErr> {
    let Some(c) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let store = st.store.clone();
    let now = (st.clock)();
    blocking(move || auth::session(store.as_ref(), &c, now)).await
}

/// An HTML page with the security headers every page gets.
fn page(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Exact figures must not linger in shared caches or the back button of
    // a shared computer.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn head(l: Lang, title: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/hub.css\"></head><body>",
        l.code(),
        esc(title)
    )
}

fn to_login(lang: Lang) -> Response {
    Redirect::to(&format!("/login?lang={}", lang.code())).into_response()
}

// ---- login / logout ----

#[derive(Debug, Default, Deserialize)]
pub struct LangParam {
    pub lang: Option<String>,
}

fn login_form(l: Lang, csrf: &str, message: Option<&str>) -> String {
    let mut h = head(l, l.t("login-title"));
    let _ = write!(
        h,
        "<header class=\"top\"><p class=\"brand\">{hub}</p>{switch}</header><main class=\"narrow\">\
         <h1>{title}</h1>",
        hub = esc(l.t("hub")),
        switch = lang_switch(l, "/login", &[]),
        title = esc(l.t("login-title")),
    );
    if let Some(m) = message {
        let _ = write!(h, "<p class=\"error\" role=\"alert\">{}</p>", esc(m));
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/login\" class=\"login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
         <label for=\"name\">{name}</label>\
         <input id=\"name\" name=\"name\" autocomplete=\"username\" required>\
         <label for=\"password\">{pw}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{login}</button></form></main></body></html>",
        csrf = esc(csrf),
        lang = l.code(),
        name = esc(l.t("name")),
        pw = esc(l.t("password")),
        login = esc(l.t("login")),
    );
    h
}

/// The login form, with a fresh double-submit CSRF cookie.
async fn login_page(
    State(st): State<AppState>,
    QueryParams(p): QueryParams<LangParam>,
) -> Response {
    let l = Lang::parse(p.lang.as_deref());
    let csrf = secret::new_secret();
    let mut r = page(StatusCode::OK, login_form(l, &csrf, None));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&st, LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    r
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub name: String,
    pub password: String,
    pub csrf: String,
    pub lang: Option<String>,
}

async fn login_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiErr> {
    let l = Lang::parse(f.lang.as_deref());
    let retry = |status: StatusCode, key: &'static str| {
        let csrf = secret::new_secret();
        let mut r = page(status, login_form(l, &csrf, Some(l.t(key))));
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&st, LOGIN_CSRF_COOKIE, &csrf, 3600),
        );
        r
    };
    let csrf_ok = cookie(&headers, LOGIN_CSRF_COOKIE)
        .is_some_and(|c| !c.is_empty() && secret::eq_const(&c, &f.csrf));
    if !csrf_ok {
        return Ok(retry(StatusCode::FORBIDDEN, "login-expired"));
    }
    let store = st.store.clone();
    let now = (st.clock)();
    let name = f.name.trim().to_owned();
    let outcome = blocking(move || auth::login(store.as_ref(), &name, &f.password, now)).await?;
    match outcome {
        Login::Ok { cookie, session } => {
            tracing::info!(account = %session.account, "coordination login");
            let mut r = Redirect::to(&format!("/dashboard?lang={}", l.code())).into_response();
            let age = (session.expires - now).num_seconds();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&st, SESSION_COOKIE, &cookie, age),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(&st, LOGIN_CSRF_COOKIE, "", 0),
            );
            Ok(r)
        }
        Login::Wrong => Ok(retry(StatusCode::UNAUTHORIZED, "login-wrong")),
        Login::Locked => Ok(retry(StatusCode::TOO_MANY_REQUESTS, "login-locked")),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
    pub lang: Option<String>,
}

async fn logout_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiErr> {
    let l = Lang::parse(f.lang.as_deref());
    let Some(s) = current(&st, &headers).await? else {
        return Ok(to_login(l));
    };
    if !secret::eq_const(&s.csrf, &f.csrf) {
        return Err(ApiErr(
            StatusCode::FORBIDDEN,
            "csrf",
            "this form is not from your session".into(),
        ));
    }
    if let Some(c) = cookie(&headers, SESSION_COOKIE) {
        let store = st.store.clone();
        blocking(move || auth::logout(store.as_ref(), &c)).await?;
    }
    let mut r = to_login(l);
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&st, SESSION_COOKIE, "", 0));
    Ok(r)
}

// ---- tallies API ----

async fn api_tallies(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiErr> {
    if current(&st, &headers).await?.is_none() {
        return Err(ApiErr(
            StatusCode::UNAUTHORIZED,
            "login_required",
            "log in as coordination staff first".into(),
        ));
    }
    let req = TalliesRequest::from_url_query(q.as_deref().unwrap_or(""))
        .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))?;
    let store = st.store.clone();
    let fmt = req.format;
    let disclosure = req.disclosure;
    let body = blocking(move || coord::export(store.as_ref(), &req)).await?;
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(fmt.content_type()),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if fmt != dps_report::Format::Json {
        let name = format!(
            "attachment; filename=\"tallies-{}.{}\"",
            disclosure.code(),
            fmt.code()
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(r)
}

// ---- dashboard ----

/// The dashboard's filters, as they appear in its URL.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct DashParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing)]
    pub lang: Option<String>,
}

impl DashParams {
    /// Empty form fields mean "no filter".
    fn cleaned(mut self) -> DashParams {
        for f in self.fields_mut() {
            if f.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *f = None;
            }
        }
        self
    }

    fn fields_mut(&mut self) -> [&mut Option<String>; 9] {
        [
            &mut self.from,
            &mut self.to,
            &mut self.site,
            &mut self.municipality,
            &mut self.procedure,
            &mut self.outcome,
            &mut self.age_band,
            &mut self.language,
            &mut self.channel,
        ]
    }

    /// The filters set, as `(URL parameter, value)`, in URL order.
    fn filters(&self) -> Vec<(&'static str, &str)> {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("site", &self.site),
            ("municipality", &self.municipality),
            ("procedure", &self.procedure),
            ("outcome", &self.outcome),
            ("age_band", &self.age_band),
            ("language", &self.language),
            ("channel", &self.channel),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// The filters as a tallies query string (no `group_by`/`format`).
    fn query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

async fn dashboard(
    State(st): State<AppState>,
    headers: HeaderMap,
    QueryParams(p): QueryParams<DashParams>,
) -> Result<Response, ApiErr> {
    let p = p.cleaned();
    let l = Lang::parse(p.lang.as_deref());
    let Some(session) = current(&st, &headers).await? else {
        return Ok(to_login(l));
    };
    let req = match TalliesRequest::from_url_query(&p.query_string()) {
        Ok(r) => r,
        Err(e) => {
            let mut h = head(l, l.t("dashboard"));
            let _ = write!(
                h,
                "<main><h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/dashboard?lang={}\">{}</a></p></main></body></html>",
                esc(l.t("dashboard")),
                esc(&e.to_string()),
                l.code(),
                esc(l.t("back"))
            );
            return Ok(page(StatusCode::BAD_REQUEST, h));
        }
    };
    let store = st.store.clone();
    let query = req.query.clone();
    let (figures, devices) = blocking(move || {
        let figures = coord::dashboard(store.as_ref(), &query)?;
        let devices = store.devices()?;
        Ok::<_, coord::CoordError>((figures, devices))
    })
    .await?;
    let html = render_dashboard(l, &p, &req.query, &session, &figures, &devices);
    Ok(page(StatusCode::OK, html))
}

fn lang_switch(current: Lang, path: &str, params: &[(&str, &str)]) -> String {
    let mut h = format!(
        "<nav class=\"langs\" aria-label=\"{}\"><ul>",
        esc(current.t("language-switch"))
    );
    for l in Lang::ALL {
        let mut q: Vec<(&str, &str)> = params.to_vec();
        q.push(("lang", l.code()));
        let href = format!(
            "{path}?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        );
        if l == current {
            let _ = write!(
                h,
                "<li><a href=\"{}\" aria-current=\"true\" lang=\"{}\">{}</a></li>",
                esc(&href),
                l.code(),
                l.own_name()
            );
        } else {
            let _ = write!(
                h,
                "<li><a href=\"{}\" lang=\"{}\">{}</a></li>",
                esc(&href),
                l.code(),
                l.own_name()
            );
        }
    }
    h.push_str("</ul></nav>");
    h
}

fn select(
    l: Lang,
    id: &'static str,
    current: Option<&str>,
    options: &[(String, String)],
) -> String {
    let mut h = format!(
        "<div class=\"field\"><label for=\"f-{id}\">{}</label><select id=\"f-{id}\" name=\"{id}\"><option value=\"\">{}</option>",
        esc(l.t(id)),
        esc(l.t("all"))
    );
    for (v, label) in options {
        let sel = if current == Some(v.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            h,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(v),
            esc(label)
        );
    }
    h.push_str("</select></div>");
    h
}

/// One bar of a chart: label, value, highlighted.
struct Bar {
    label: String,
    value: u64,
    mark: bool,
}

/// Horizontal bars, readable at a glance: label, bar, number.
fn hbar_svg(id: &str, title: &str, bars: &[Bar]) -> String {
    let row = 40.0;
    let (w, label_w, bar_w) = (900.0, 330.0, 470.0);
    let h = row * bars.len() as f64 + 10.0;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"xMinYMin meet\">\
         <title id=\"{id}\">{}</title>",
        esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i as f64 * row + 5.0;
        let len = (b.value as f64 / max * bar_w).max(2.0);
        let class = if b.mark { "bar mark" } else { "bar" };
        let _ = write!(
            s,
            "<text x=\"{tx}\" y=\"{ty}\" class=\"lbl\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{len:.1}\" height=\"{bh}\" class=\"{class}\"></rect>\
             <text x=\"{vx:.1}\" y=\"{ty}\" class=\"val\">{v}</text>",
            tx = label_w - 10.0,
            ty = y + 24.0,
            label = esc(&b.label),
            bh = row - 10.0,
            vx = label_w + len + 8.0,
            v = b.value,
        );
    }
    s.push_str("</svg>");
    s
}

/// Columns over time (weeks), labels thinned so they stay readable.
fn columns_svg(id: &str, title: &str, bars: &[Bar]) -> String {
    let (w, h, left, bottom, top) = (900.0, 300.0, 60.0, 40.0, 20.0);
    let n = bars.len().max(1) as f64;
    let slot = (w - left - 10.0) / n;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let plot_h = h - bottom - top;
    let every = ((bars.len() as f64 / 8.0).ceil() as usize).max(1);
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"xMinYMin meet\">\
         <title id=\"{id}\">{}</title>\
         <line x1=\"{left}\" y1=\"{base}\" x2=\"{w}\" y2=\"{base}\" class=\"axis\"></line>\
         <text x=\"{lx}\" y=\"{ty}\" class=\"val\" text-anchor=\"end\">{max}</text>",
        esc(title),
        base = h - bottom,
        lx = left - 6.0,
        ty = top + 6.0,
        max = max as u64,
    );
    for (i, b) in bars.iter().enumerate() {
        let bh = (b.value as f64 / max * plot_h).max(1.0);
        let x = left + i as f64 * slot + slot * 0.1;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" class=\"bar\"><title>{label}: {v}</title></rect>",
            y = h - bottom - bh,
            bw = slot * 0.8,
            label = esc(&b.label),
            v = b.value,
        );
        if i % every == 0 {
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{ly}\" class=\"tick\">{}</text>",
                esc(&b.label),
                ly = h - bottom + 26.0,
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A count as HTML text ("<10" escaped).
fn count_text(c: dps_report::Count) -> String {
    esc(&c.to_string())
}

/// A one-dimension table (as the chart shows it) plus its total.
fn table_html(l: Lang, caption: &str, dim: Dimension, t: &Table) -> String {
    let mut h = format!(
        "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
        esc(caption),
        esc(l.t(dim_key(dim))),
        esc(l.t("visits"))
    );
    for r in &t.rows {
        let code = r.keys.first().and_then(|k| k.as_deref()).unwrap_or("");
        let _ = write!(
            h,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td></tr>",
            esc(&label_of(l, dim, code)),
            count_text(r.visits)
        );
    }
    let _ = write!(
        h,
        "</tbody><tfoot><tr><th scope=\"row\">{}</th><td class=\"num\">{}</td></tr></tfoot></table>",
        esc(l.t("total")),
        count_text(t.grand_total())
    );
    h
}

/// A one-dimension table from already labelled rows (the week chart's,
/// zeros included) plus its total.
fn rows_table_html(
    l: Lang,
    caption: &str,
    dim: Dimension,
    rows: &[(String, dps_report::Count)],
    total: dps_report::Count,
) -> String {
    let mut h = format!(
        "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
        esc(caption),
        esc(l.t(dim_key(dim))),
        esc(l.t("visits"))
    );
    for (label, c) in rows {
        let _ = write!(
            h,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td></tr>",
            esc(label),
            count_text(*c)
        );
    }
    let _ = write!(
        h,
        "</tbody><tfoot><tr><th scope=\"row\">{}</th><td class=\"num\">{}</td></tr></tfoot></table>",
        esc(l.t("total")),
        count_text(total)
    );
    h
}

fn dim_key(d: Dimension) -> &'static str {
    match d {
        Dimension::Site => "site",
        Dimension::Municipality => "municipality",
        Dimension::Procedure => "procedure",
        Dimension::Outcome => "outcome",
        Dimension::AgeBand => "age_band",
        Dimension::Language => "language",
        Dimension::Channel => "channel",
        Dimension::Week => "week",
        Dimension::Month => "month",
        Dimension::Day | Dimension::Year => "year",
    }
}

fn is_priority(code: &str) -> bool {
    matches!(code.parse::<Residence>(), Ok(Residence::Brussels(m)) if m.is_priority_2021())
}

fn label_of(l: Lang, dim: Dimension, code: &str) -> String {
    let s = l.label(dim, code);
    if dim == Dimension::Municipality && is_priority(code) {
        format!("{s} ★")
    } else {
        s
    }
}

fn bars(l: Lang, dim: Dimension, t: &Table) -> Vec<Bar> {
    t.rows
        .iter()
        .map(|r| {
            let code = r.keys.first().and_then(|k| k.as_deref()).unwrap_or("");
            Bar {
                label: label_of(l, dim, code),
                value: r.visits.value().unwrap_or(0),
                mark: dim == Dimension::Municipality && is_priority(code),
            }
        })
        .collect()
}

/// Every ISO week from the first to the last of the range (the query's
/// dates where given, else the data's), each with its visits, zero where
/// none: a time axis with no gaps. A range over ten years falls back to
/// the data's own first and last week, so a typo cannot draw 5,000 bars.
fn continuous_weeks(q: &Query, t: &Table) -> Vec<(String, dps_report::Count)> {
    use chrono::{Duration, NaiveDate, Weekday};
    let week_of = |label: &str| -> Option<NaiveDate> {
        let (y, w) = label.split_once("-W")?;
        NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, Weekday::Mon)
    };
    let monday = |d| crate::store::TimeGrain::Week.start(d);
    let counts: std::collections::BTreeMap<NaiveDate, dps_report::Count> = t
        .rows
        .iter()
        .filter_map(|r| {
            let label = r.keys.first()?.as_deref()?;
            Some((week_of(label)?, r.visits))
        })
        .collect();
    let data = counts
        .keys()
        .next()
        .copied()
        .zip(counts.keys().last().copied());
    let start = q.from.map(monday).or(data.map(|d| d.0));
    let end = q.to.map(monday).or(data.map(|d| d.1));
    let (Some(mut start), Some(mut end)) = (start, end) else {
        return vec![];
    };
    if (end - start).num_weeks() > 10 * 53 {
        let Some((a, b)) = data else { return vec![] };
        (start, end) = (a, b);
    }
    let mut out = Vec::new();
    let mut w = start;
    while w <= end {
        let iso = w.iso_week();
        out.push((
            format!("{:04}-W{:02}", iso.year(), iso.week()),
            counts
                .get(&w)
                .copied()
                .unwrap_or(dps_report::Count::Shown(0)),
        ));
        w += Duration::weeks(1);
    }
    out
}

fn render_dashboard(
    l: Lang,
    p: &DashParams,
    q: &Query,
    session: &Session,
    f: &coord::Dashboard,
    devices: &[crate::store::Device],
) -> String {
    let filters = p.filters();
    let mut h = head(l, l.t("dashboard"));
    let _ = write!(
        h,
        "<header class=\"top\"><p class=\"brand\">{hub}</p>{switch}\
         <form method=\"post\" action=\"/logout\" class=\"logout\">\
         <span>{signed} {who}</span>\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
         <button type=\"submit\">{logout}</button></form></header><main>\
         <h1>{title}</h1>",
        hub = esc(l.t("hub")),
        switch = lang_switch(l, "/dashboard", &filters),
        signed = esc(l.t("signed-in-as")),
        who = esc(&session.account),
        csrf = esc(&session.csrf),
        lang = l.code(),
        logout = esc(l.t("logout")),
        title = esc(l.t("dashboard")),
    );
    // Filters: a GET form, so the view is its URL.
    let opt = |v: &[String], dim: Dimension| -> Vec<(String, String)> {
        v.iter().map(|c| (c.clone(), l.label(dim, c))).collect()
    };
    let fixed = |codes: Vec<&'static str>, dim: Dimension| -> Vec<(String, String)> {
        codes
            .into_iter()
            .map(|c| (c.to_owned(), l.label(dim, c)))
            .collect()
    };
    let municipalities: Vec<(String, String)> = Municipality::ALL
        .iter()
        .map(|m| Residence::Brussels(*m))
        .chain([
            Residence::OtherBelgium,
            Residence::Abroad,
            Residence::Unknown,
        ])
        .map(|r| {
            (
                r.code().to_owned(),
                label_of(l, Dimension::Municipality, r.code()),
            )
        })
        .collect();
    let _ = write!(
        h,
        "<section aria-labelledby=\"h-filters\"><h2 id=\"h-filters\">{filters}</h2>\
         <form method=\"get\" action=\"/dashboard\" class=\"filters\">\
         <input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
         <div class=\"field\"><label for=\"f-from\">{from}</label><input id=\"f-from\" type=\"date\" name=\"from\" value=\"{fromv}\"></div>\
         <div class=\"field\"><label for=\"f-to\">{to}</label><input id=\"f-to\" type=\"date\" name=\"to\" value=\"{tov}\"></div>\
         {site}{muni}{proc}{outc}{age}{language}{channel}\
         <button type=\"submit\">{apply}</button></form></section>",
        filters = esc(l.t("filters")),
        lang = l.code(),
        from = esc(l.t("from")),
        to = esc(l.t("to")),
        fromv = esc(p.from.as_deref().unwrap_or("")),
        tov = esc(p.to.as_deref().unwrap_or("")),
        site = select(l, "site", p.site.as_deref(), &opt(&f.sites, Dimension::Site)),
        muni = select(l, "municipality", p.municipality.as_deref(), &municipalities),
        proc = select(l, "procedure", p.procedure.as_deref(), &opt(&f.procedures, Dimension::Procedure)),
        outc = select(l, "outcome", p.outcome.as_deref(), &opt(&f.outcomes, Dimension::Outcome)),
        age = select(l, "age_band", p.age_band.as_deref(), &fixed(AgeBand::ALL.iter().map(|a| a.code()).collect(), Dimension::AgeBand)),
        language = select(l, "language", p.language.as_deref(), &fixed(Language::ALL.iter().map(|x| x.code()).collect(), Dimension::Language)),
        channel = select(l, "channel", p.channel.as_deref(), &fixed(Channel::ALL.iter().map(|c| c.code()).collect(), Dimension::Channel)),
        apply = esc(l.t("apply")),
    );
    let total = f.total;
    let qs = p.query_string();
    let sep = if qs.is_empty() { "" } else { "&amp;" };
    let _ = write!(
        h,
        "<p class=\"total\">{}: <strong>{}</strong></p><p class=\"note\">{}</p>\
         <nav aria-label=\"{exports}\" class=\"exports\"><ul>\
         <li><a href=\"/api/v1/tallies?{qs}{sep}group_by=site,municipality,procedure&amp;format=csv\">{csv}</a></li>\
         <li><a href=\"/api/v1/tallies?{qs}{sep}group_by=site,municipality,procedure&amp;format=xlsx\">{xlsx}</a></li>\
         <li><a href=\"/api/v1/tallies?{qs}{sep}group_by=site,procedure,outcome&amp;format=csv&amp;public=true\">{pcsv}</a></li>\
         </ul></nav>",
        esc(l.t("total")),
        count_text(total),
        esc(l.t("exact-note")),
        exports = esc(l.t("exports")),
        qs = esc(&qs),
        csv = esc(l.t("csv-exact")),
        xlsx = esc(l.t("xlsx-exact")),
        pcsv = esc(l.t("csv-public")),
    );
    if total.value() == Some(0) {
        let _ = write!(h, "<p class=\"empty\">{}</p>", esc(l.t("no-data")));
    }
    h.push_str("<div class=\"charts\">");
    for (dim, t) in &f.charts {
        let dim = *dim;
        let (id, key) = match dim {
            Dimension::Week => ("c-week", "per-week"),
            Dimension::Municipality => ("c-muni", "by-municipality"),
            Dimension::Site => ("c-site", "by-site"),
            Dimension::Procedure => ("c-proc", "by-procedure"),
            Dimension::Outcome => ("c-outc", "by-outcome"),
            Dimension::AgeBand => ("c-age", "by-age"),
            Dimension::Language => ("c-lang", "by-language"),
            _ => ("c-chan", "by-channel"),
        };
        let title = l.t(key);
        let (chart, table) = if dim == Dimension::Week {
            let weeks = continuous_weeks(q, t);
            let bars: Vec<Bar> = weeks
                .iter()
                .map(|(label, c)| Bar {
                    label: label.clone(),
                    value: c.value().unwrap_or(0),
                    mark: false,
                })
                .collect();
            (
                columns_svg(&format!("{id}-t"), title, &bars),
                rows_table_html(l, title, dim, &weeks, t.grand_total()),
            )
        } else {
            (
                hbar_svg(&format!("{id}-t"), title, &bars(l, dim, t)),
                table_html(l, title, dim, t),
            )
        };
        let _ = write!(
            h,
            "<section class=\"chart-box\" aria-labelledby=\"{id}\"><h2 id=\"{id}\">{}</h2>",
            esc(title)
        );
        if dim == Dimension::Municipality {
            let _ = write!(h, "<p class=\"note\">{}</p>", esc(l.t("priority-note")));
        }
        let _ = write!(
            h,
            "{chart}<details><summary>{} — {}</summary>{table}</details></section>",
            esc(l.t("table")),
            esc(title),
        );
    }
    // Procedure × outcome: the cross table behind the two charts above.
    let _ = write!(
        h,
        "</div><section aria-labelledby=\"h-cross\"><h2 id=\"h-cross\">{} × {}</h2><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
        esc(l.t("procedure")), esc(l.t("outcome")), esc(l.t("procedure")), esc(l.t("outcome")), esc(l.t("visits"))
    );
    for r in &f.cross.rows {
        let k = |i: usize| r.keys.get(i).and_then(|k| k.as_deref()).unwrap_or("");
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&l.label(Dimension::Procedure, k(0))),
            esc(&l.label(Dimension::Outcome, k(1))),
            count_text(r.visits)
        );
    }
    h.push_str("</tbody></table></section>");
    render_devices(&mut h, l, devices);
    // Annual reports: one link per site and year present.
    let _ = write!(
        h,
        "<section aria-labelledby=\"h-reports\"><h2 id=\"h-reports\">{}</h2><ul class=\"reports\">",
        esc(l.t("reports"))
    );
    if f.reports.is_empty() {
        let _ = write!(h, "<li>{}</li>", esc(l.t("no-data")));
    }
    for (site, y) in &f.reports {
        let _ = write!(
            h,
            "<li><a href=\"/report?site={s}&amp;year={y}&amp;lang={lang}\">{} {s} — {y}</a></li>",
            esc(l.t("report-title")),
            s = esc(site),
            lang = l.code()
        );
    }
    h.push_str("</ul></section></main></body></html>");
    h
}

fn render_devices(h: &mut String, l: Lang, devices: &[crate::store::Device]) {
    let _ = write!(
        h,
        "<section aria-labelledby=\"h-devices\"><h2 id=\"h-devices\">{}</h2><table><thead><tr>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(l.t("devices")), esc(l.t("device")), esc(l.t("site")), esc(l.t("last-sync")),
        esc(l.t("skew")), esc(l.t("pending")), esc(l.t("state"))
    );
    for d in devices {
        let skew = match d.clock_skew_secs {
            Some(s) if s.abs() > 300 => format!("{s} ({})", l.t("skew-warn")),
            Some(s) => s.to_string(),
            None => "–".into(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&d.id),
            esc(d.site.as_str()),
            d.last_sync.map_or_else(|| l.t("never").to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            esc(&skew),
            d.pending.map_or("–".into(), |p| p.to_string()),
            if d.revoked.is_some() { l.t("revoked") } else { l.t("active") },
        );
    }
    h.push_str("</tbody></table></section>");
}

// ---- annual report ----

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    pub site: String,
    pub year: i32,
    pub lang: Option<String>,
}

async fn report_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    QueryParams(p): QueryParams<ReportParams>,
) -> Result<Response, ApiErr> {
    let l = Lang::parse(p.lang.as_deref());
    if current(&st, &headers).await?.is_none() {
        return Ok(to_login(l));
    }
    let site = Code::new(&p.site)
        .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))?;
    if !(2000..=2100).contains(&p.year) {
        return Err(ApiErr(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "year out of range".into(),
        ));
    }
    let store = st.store.clone();
    let year = p.year;
    let s2 = site.clone();
    let report = blocking(move || coord::annual(store.as_ref(), &s2, year)).await?;
    let title = format!("{} {} — {}", l.t("report-title"), site.as_str(), year);
    let mut h = head(l, &title);
    let _ = write!(
        h,
        "<header class=\"top noprint\"><p class=\"brand\">{hub}</p>{switch}<p><a href=\"/dashboard?lang={lang}\">{back}</a></p></header>\
         <main class=\"report\"><h1>{title}</h1><p class=\"note\">{public}</p><p class=\"note noprint\">{print}</p>\
         <p class=\"total\">{total}: <strong>{n}</strong></p><div class=\"report-tables\">",
        hub = esc(l.t("hub")),
        switch = lang_switch(l, "/report", &[("site", site.as_str()), ("year", &year.to_string())]),
        lang = l.code(),
        back = esc(l.t("back")),
        title = esc(&title),
        public = esc(l.t("report-public-note")),
        print = esc(l.t("print-hint")),
        total = esc(l.t("total")),
        n = count_text(report.total),
    );
    for (key, dim, t) in [
        ("by-month", Dimension::Month, &report.by_month),
        ("by-procedure", Dimension::Procedure, &report.by_procedure),
        ("by-outcome", Dimension::Outcome, &report.by_outcome),
        ("by-age", Dimension::AgeBand, &report.by_age_band),
        ("by-language", Dimension::Language, &report.by_language),
        (
            "by-municipality",
            Dimension::Municipality,
            &report.by_residence,
        ),
        ("by-channel", Dimension::Channel, &report.by_channel),
    ] {
        let _ = write!(h, "<section>{}</section>", table_html(l, l.t(key), dim, t));
    }
    h.push_str("</div></main></body></html>");
    Ok(page(StatusCode::OK, h))
}
