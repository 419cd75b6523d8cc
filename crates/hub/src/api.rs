//! The hub's HTTP API: kiosk-facing routes ([`app`]) and the loopback-only
//! admin routes ([`admin_app`]) the `dps-hub` admin commands use while
//! `serve` holds the store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use dps_model::Code;
use dps_sync::wire::{
    codes, ApiError, EnrolRequest, EnrolResponse, PushRequest, PushResponse, MAX_BATCH_CELLS,
    MAX_BODY_BYTES, PATH_ENROL, PATH_HEALTH, PATH_PUSH, PROTOCOL_VERSION,
};
use serde::{Deserialize, Serialize};
use tower_http::trace::TraceLayer;

use crate::secret;
use crate::store::{Device, PendingEnrolment, ReEnrolment, Store, StoreError};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Everything a handler needs. `clock` is injected so tests control time.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    /// Flush to disk before acknowledging a push (on in production; the
    /// protocol heals without it, but an ack should mean "durable").
    pub durable_acks: bool,
    /// Served over TLS: session cookies are then marked `Secure`.
    pub tls: bool,
    /// How long one request may take, body included, before the hub answers
    /// `408 {"code":"timeout",…}` ([`REQUEST_TIMEOUT`]; shorter in tests).
    pub request_timeout: Duration,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> AppState {
        AppState {
            store,
            clock: Arc::new(Utc::now),
            durable_acks: true,
            tls: false,
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    pub fn with_tls(mut self, tls: bool) -> AppState {
        self.tls = tls;
        self
    }
}

/// How long one request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An error answer: status plus the JSON `{code, message}` body.
#[derive(Debug)]
pub struct ApiErr(pub StatusCode, pub &'static str, pub String);

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(ApiError {
                code: self.1.to_owned(),
                message: self.2,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiErr {
    fn from(e: StoreError) -> Self {
        if let StoreError::Revoked(_) = e {
            // Revoked between authentication and the ingest's transaction.
            return revoked();
        }
        tracing::error!(error = %e, "store failure");
        ApiErr(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the hub could not use its store".into(),
        )
    }
}

fn bad(msg: impl Into<String>) -> ApiErr {
    ApiErr(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, msg.into())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiErr> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiErr::from),
        Err(_) => Err(ApiErr(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the hub failed".into(),
        )),
    }
}

/// A JSON body within the size limit, or the right `{code, message}` error.
fn parse_body<T: for<'a> Deserialize<'a>>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiErr> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiErr(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::TOO_LARGE,
                format!("request body over {MAX_BODY_BYTES} bytes"),
            )
        } else {
            bad(format!("unreadable request body: {r}"))
        }
    })?;
    serde_json::from_slice(&body).map_err(|e| bad(format!("malformed JSON: {e}")))
}

fn check_version(v: u32) -> Result<(), ApiErr> {
    if v == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(ApiErr(
            StatusCode::BAD_REQUEST,
            codes::UNSUPPORTED_VERSION,
            format!("protocol version {v} is not supported; this hub speaks {PROTOCOL_VERSION}"),
        ))
    }
}

fn json_error_layer_fallback() -> ApiErr {
    ApiErr(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint".into(),
    )
}

/// Answers `408` with the JSON error body every other error has, when the
/// request (body included) takes longer than `limit`. (tower-http's timeout
/// layer answers 408 with an empty body, which a kiosk cannot read.) The
/// handler is dropped; a store operation already running on a blocking
/// thread still finishes, which is harmless: the kiosk resends and the merge
/// is idempotent.
async fn time_limit(
    State(limit): State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiErr(
            StatusCode::REQUEST_TIMEOUT,
            codes::TIMEOUT,
            format!(
                "the request took longer than {} s; send it again",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// The kiosk-facing router.
pub fn app(state: AppState) -> Router {
    let limit = state.request_timeout;
    Router::new()
        .route(PATH_HEALTH, get(healthz))
        .route(PATH_ENROL, post(enrol))
        .route(PATH_PUSH, post(push))
        .merge(crate::web::routes())
        .fallback(|| async { json_error_layer_fallback() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(limit, time_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    time: DateTime<Utc>,
}

async fn healthz(State(st): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        time: (st.clock)(),
    })
}

async fn enrol(
    State(st): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EnrolResponse>, ApiErr> {
    let req: EnrolRequest = parse_body(body)?;
    check_version(req.v)?;
    if let Some(id) = &req.device {
        if !valid_device_id(id) {
            return Err(bad(
                "the device id must be 1-64 lowercase letters, digits, '-' or '_'",
            ));
        }
    }
    let code_hash = secret::code_hash(&req.code);
    let now = (st.clock)();
    let device_id = req.device.clone().unwrap_or_else(secret::new_device_id);
    let secret_part = secret::new_secret();
    let device = Device {
        id: device_id.clone(),
        // Replaced by the code's site inside the store's transaction.
        site: Code::new("unknown").map_err(|e| bad(e.to_string()))?,
        token_hash: secret::hash_hex(&secret_part),
        enrolled: now,
        last_sync: None,
        clock_skew_secs: None,
        pending: None,
        revoked: None,
    };
    let store = st.store.clone();
    let bad_code = || {
        ApiErr(
            StatusCode::UNAUTHORIZED,
            codes::BAD_CODE,
            "this enrolment code is wrong, already used or expired".into(),
        )
    };
    let d = if req.device.is_some() {
        // Re-enrolment: the kiosk keeps its device id, hence its replica.
        match blocking(move || store.re_enrol(&code_hash, now, device)).await? {
            ReEnrolment::BadCode => return Err(bad_code()),
            ReEnrolment::Active => {
                return Err(ApiErr(
                    StatusCode::CONFLICT,
                    codes::DEVICE_ACTIVE,
                    format!(
                        "device {device_id} is enrolled and active; the code was not used. \
                         Revoke the device first (dps-hub revoke {device_id}) if this kiosk \
                         must take a new code"
                    ),
                ))
            }
            ReEnrolment::Rekeyed(d) => {
                tracing::info!(device = %d.id, site = %d.site, "revoked device re-enrolled");
                d
            }
            ReEnrolment::Restored(d) => {
                tracing::info!(device = %d.id, site = %d.site, "device unknown to this store re-enrolled");
                d
            }
        }
    } else {
        let Some(d) = blocking(move || store.redeem(&code_hash, now, device)).await? else {
            return Err(bad_code());
        };
        tracing::info!(device = %d.id, site = %d.site, "device enrolled");
        d
    };
    Ok(Json(EnrolResponse {
        v: PROTOCOL_VERSION,
        token: format!("{}.{}", d.id, secret_part),
        device: d.id,
        site: d.site,
        hub_time: now,
    }))
}

/// A device id a kiosk may bring to a re-enrolment: what
/// `secret::new_device_id` makes, and nothing a token could not carry
/// (the token is `id.secret`, split at the first dot).
fn valid_device_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn revoked() -> ApiErr {
    ApiErr(
        StatusCode::UNAUTHORIZED,
        codes::REVOKED,
        "this device has been revoked".into(),
    )
}

fn unauthorized(msg: &str) -> ApiErr {
    ApiErr(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, msg.into())
}

/// The device a bearer token belongs to, or 401.
async fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Device, ApiErr> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("a device token is required"))?;
    let (id, secret_part) = token
        .split_once('.')
        .ok_or_else(|| unauthorized("malformed device token"))?;
    if id.len() > 64 || secret_part.len() > 128 {
        return Err(unauthorized("malformed device token"));
    }
    let store = st.store.clone();
    let id_owned = id.to_owned();
    let device = blocking(move || store.device(&id_owned)).await?;
    // Same answer for an unknown device and a wrong secret: no probing for ids.
    let Some(d) =
        device.filter(|d| secret::eq_const(&d.token_hash, &secret::hash_hex(secret_part)))
    else {
        return Err(unauthorized("unknown device or wrong token"));
    };
    if d.revoked.is_some() {
        return Err(revoked());
    }
    Ok(d)
}

fn valid_incarnation(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn push(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PushResponse>, ApiErr> {
    let device = authenticate(&st, &headers).await?;
    let req: PushRequest = parse_body(body)?;
    check_version(req.v)?;
    if req.cells.len() > MAX_BATCH_CELLS {
        return Err(ApiErr(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::TOO_LARGE,
            format!(
                "{} cells in one batch; at most {MAX_BATCH_CELLS}",
                req.cells.len()
            ),
        ));
    }
    if req.upto < req.after {
        return Err(bad("upto is before after"));
    }
    if req.replica.device != device.id {
        return Err(ApiErr(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN_REPLICA,
            "a replica may only be written by the device that owns it".into(),
        ));
    }
    if !valid_incarnation(&req.replica.incarnation) {
        return Err(bad(
            "the replica's incarnation must be 1-64 letters, digits, '-' or '_'",
        ));
    }
    let hub_time = (st.clock)();
    let store = st.store.clone();
    let durable = st.durable_acks;
    let id = device.id.clone();
    let n = req.cells.len();
    let out = blocking(move || {
        let out = store.ingest(&id, &req, hub_time)?;
        if durable {
            store.flush()?;
        }
        Ok(out)
    })
    .await?;
    tracing::debug!(device = %device.id, cells = n, stored = out.stored, watermark = out.watermark, "push merged");
    Ok(Json(PushResponse {
        v: PROTOCOL_VERSION,
        watermark: out.watermark,
        stored: out.stored,
        hub_time,
    }))
}

// ---- admin (loopback only, admin token) ----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminEnrolRequest {
    pub site: Code,
    pub ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminEnrolResponse {
    pub code: String,
    pub expires: DateTime<Utc>,
}

/// A device as the admin commands list it (no token hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceView {
    pub id: String,
    pub site: Code,
    pub enrolled: DateTime<Utc>,
    pub last_sync: Option<DateTime<Utc>>,
    pub clock_skew_secs: Option<i64>,
    pub pending: Option<u64>,
    pub revoked: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        DeviceView {
            id: d.id,
            site: d.site,
            enrolled: d.enrolled,
            last_sync: d.last_sync,
            clock_skew_secs: d.clock_skew_secs,
            pending: d.pending,
            revoked: d.revoked,
        }
    }
}

/// The admin operations, shared by the admin HTTP routes and by the CLI when
/// no hub is running (then it opens the store itself).
pub fn admin_enrol(
    store: &dyn Store,
    now: DateTime<Utc>,
    req: &AdminEnrolRequest,
) -> Result<AdminEnrolResponse, StoreError> {
    let code = secret::new_code();
    let expires = now + chrono::Duration::seconds(req.ttl_secs.min(90 * 24 * 3600) as i64);
    store.add_enrolment(
        &secret::code_hash(&code),
        &PendingEnrolment {
            site: req.site.clone(),
            expires,
        },
    )?;
    Ok(AdminEnrolResponse { code, expires })
}

/// `POST /admin/accounts`: a new coordination account, already hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminAccountRequest {
    pub name: String,
    /// argon2id PHC string made by the CLI: the password never crosses the channel.
    pub password_hash: String,
}

pub fn admin_devices(store: &dyn Store) -> Result<Vec<DeviceView>, StoreError> {
    Ok(store.devices()?.into_iter().map(DeviceView::from).collect())
}

pub fn admin_app(state: AppState, admin_token: String) -> Router {
    let token = Arc::new(admin_token);
    Router::new()
        .route("/admin/enrol", post(admin_enrol_h))
        .route("/admin/devices", get(admin_devices_h))
        .route("/admin/devices/{id}/revoke", post(admin_revoke_h))
        .route("/admin/totals", get(admin_totals_h))
        .route("/admin/accounts", post(admin_account_h))
        .route("/admin/export", post(admin_export_h))
        .layer(axum::middleware::from_fn(
            move |headers: HeaderMap, req, next: axum::middleware::Next| {
                let token = token.clone();
                async move {
                    let ok = headers
                        .get(axum::http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .is_some_and(|t| secret::eq_const(t, &token));
                    if ok {
                        next.run(req).await
                    } else {
                        unauthorized("admin token required").into_response()
                    }
                }
            },
        ))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.request_timeout,
            time_limit,
        ))
        .with_state(state)
}

async fn admin_enrol_h(
    State(st): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<AdminEnrolResponse>, ApiErr> {
    let req: AdminEnrolRequest = parse_body(body)?;
    let now = (st.clock)();
    let store = st.store.clone();
    Ok(Json(
        blocking(move || admin_enrol(store.as_ref(), now, &req)).await?,
    ))
}

async fn admin_devices_h(State(st): State<AppState>) -> Result<Json<Vec<DeviceView>>, ApiErr> {
    let store = st.store.clone();
    Ok(Json(blocking(move || admin_devices(store.as_ref())).await?))
}

async fn admin_revoke_h(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiErr> {
    let store = st.store.clone();
    let now = (st.clock)();
    if blocking(move || store.revoke(&id, now)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiErr(
            StatusCode::NOT_FOUND,
            "no_device",
            "no such device".into(),
        ))
    }
}

/// Net totals per cell (JSON list), for tests and scripts until the tallies API (issue 7).
async fn admin_totals_h(
    State(st): State<AppState>,
) -> Result<Json<Vec<(dps_model::CellKey, u64)>>, ApiErr> {
    let store = st.store.clone();
    Ok(Json(
        blocking(move || crate::store::totals(store.as_ref()))
            .await?
            .into_iter()
            .collect(),
    ))
}

async fn admin_account_h(
    State(st): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiErr> {
    let req: AdminAccountRequest = parse_body(body)?;
    let store = st.store.clone();
    let now = (st.clock)();
    let r = tokio::task::spawn_blocking(move || {
        crate::auth::add_account(store.as_ref(), &req.name, &req.password_hash, now)
    })
    .await
    .map_err(|_| {
        ApiErr(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the hub failed".into(),
        )
    })?;
    match r {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(crate::auth::AuthError::Store(e)) => Err(e.into()),
        Err(e @ crate::auth::AuthError::Exists(_)) => {
            Err(ApiErr(StatusCode::CONFLICT, "exists", e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// `POST /admin/export`: `dps-hub export` while the hub holds the store.
async fn admin_export_h(
    State(st): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiErr> {
    let req: crate::coord::ExportRequest = parse_body(body)?;
    let store = st.store.clone();
    let r = tokio::task::spawn_blocking(move || crate::coord::export(store.as_ref(), &req.into()))
        .await
        .map_err(|_| {
            ApiErr(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL,
                "the hub failed".into(),
            )
        })?;
    match r {
        Ok(bytes) => Ok(bytes.into_response()),
        Err(crate::coord::CoordError::Store(e)) => Err(e.into()),
        Err(e) => Err(bad(e.to_string())),
    }
}
