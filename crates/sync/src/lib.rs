//! Offline-first sync between a kiosk and the coordination hub.
//!
//! - [`wire`]: the versioned protocol types both sides use.
//! - [`source`]: what the client needs from the kiosk's tally store
//!   ([`ReplicaSource`]) and an in-memory one ([`MemSource`]).
//! - [`client`]: HTTP with explicit timeouts and an optional pinned CA.
//! - [`sync_once`]: one complete sync (several bounded batches, resuming
//!   from the last acknowledged sequence number, healing a hub that lost data).
//! - [`background`]: the loop the window runs: backoff with jitter, "sync now",
//!   never while a resident's journey is on screen.
//!
//! Duplicates are impossible by construction: a push carries *absolute* PN
//! counts and the hub merges by maximum, so a resend changes nothing.

use std::future::Future;
use std::task::Poll;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod background;
pub mod backoff;
pub mod client;
pub mod source;
pub mod wire;

pub use backoff::Backoff;
pub use client::{ClientConfig, HubClient, WireBytes};
pub use source::{keys, MemSource, ReplicaSource, SourceError};
use wire::{codes, ApiError, PushRequest, WireCell, MAX_BATCH_CELLS, PROTOCOL_VERSION};

/// Clock skew beyond which the steward is told the kiosk's clock is wrong.
pub const SKEW_WARNING_SECS: i64 = 5 * 60;

/// Why a sync or an enrolment did not go through. [`SyncError::plain`] is
/// what a steward reads.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("not enrolled with a hub")]
    NotEnrolled,
    #[error("configuration: {0}")]
    Config(String),
    #[error("hub unreachable: {0}")]
    Unreachable(String),
    #[error("the hub did not answer in time")]
    Timeout,
    #[error("the hub refused this device ({}): {}", .0.code, .0.message)]
    Refused(ApiError),
    #[error("enrolment code refused: {}", .0.message)]
    BadCode(ApiError),
    #[error("re-enrolment refused, the device is still active on the hub: {}", .0.message)]
    DeviceActive(ApiError),
    #[error("the hub rejected the request (HTTP {status}, {}): {}", .error.code, .error.message)]
    Rejected { status: u16, error: ApiError },
    #[error("the hub failed (HTTP {status}): {}", .error.message)]
    Hub { status: u16, error: ApiError },
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("kiosk store: {0}")]
    Store(#[from] SourceError),
}

impl SyncError {
    pub fn from_api(status: u16, error: ApiError) -> SyncError {
        match (status, error.code.as_str()) {
            (401 | 403, codes::BAD_CODE) => SyncError::BadCode(error),
            (409, codes::DEVICE_ACTIVE) => SyncError::DeviceActive(error),
            (401, _) | (403, codes::REVOKED) => SyncError::Refused(error),
            (500..=599, _) => SyncError::Hub { status, error },
            _ => SyncError::Rejected { status, error },
        }
    }

    /// A stable code for the window, which says [`SyncError::plain`] in the
    /// steward's language (`sync-error-<code>` in the Fluent catalogs).
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotEnrolled => "not_enrolled",
            SyncError::Config(_) => "config",
            SyncError::Unreachable(_) => "unreachable",
            SyncError::Timeout => "timeout",
            SyncError::Refused(_) => "refused",
            SyncError::BadCode(_) => "bad_code",
            SyncError::DeviceActive(_) => "device_active",
            SyncError::Rejected { error, .. } if error.code == codes::FORBIDDEN_REPLICA => {
                "forbidden_replica"
            }
            SyncError::Rejected { error, .. } if error.code == codes::UNSUPPORTED_VERSION => {
                "unsupported_version"
            }
            SyncError::Rejected { .. } => "rejected",
            SyncError::Hub { .. } => "hub_failed",
            SyncError::Protocol(_) => "protocol",
            SyncError::Store(_) => "store",
        }
    }

    /// One sentence for the steward: what happened and what to do.
    pub fn plain(&self) -> String {
        match self {
            SyncError::NotEnrolled => {
                "this kiosk is not enrolled with a hub yet: enrol it with a code from the coordination".into()
            }
            SyncError::Config(m) => format!("the sync settings are wrong: {m}"),
            SyncError::Unreachable(_) => {
                "the hub could not be reached (no connection?): the kiosk will retry by itself".into()
            }
            SyncError::Timeout => "the hub did not answer in time: the kiosk will retry by itself".into(),
            SyncError::Refused(_) => "the hub refused this device: ask the coordination for a new code".into(),
            SyncError::BadCode(_) => {
                "this enrolment code is wrong, already used or expired: ask the coordination for a new one".into()
            }
            SyncError::DeviceActive(_) => {
                "this kiosk is still enrolled and active on the hub, so the code was not used: it keeps \
                 syncing as before (to move it to a new code, the coordination revokes this device first)"
                    .into()
            }
            SyncError::Rejected { error, .. } if error.code == codes::FORBIDDEN_REPLICA => {
                "the hub says these counts belong to another device: ask the coordination for a new code".into()
            }
            SyncError::Rejected { error, .. } if error.code == codes::UNSUPPORTED_VERSION => {
                "the hub speaks another version of the sync protocol: this kiosk needs an update".into()
            }
            SyncError::Rejected { error, .. } => {
                format!("the hub rejected the counts ({}): tell the coordination", error.message)
            }
            SyncError::Hub { status, .. } => {
                format!("the hub had a problem (error {status}): the kiosk will retry by itself")
            }
            SyncError::Protocol(_) => {
                "the hub answered something this kiosk does not understand: tell the coordination".into()
            }
            SyncError::Store(e) => format!("the kiosk could not read its own counts: {e}"),
        }
    }

    /// Worth retrying by itself: the network or the hub may recover. A refused
    /// device or a wrong code will not get better without a person.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable(_) | SyncError::Timeout | SyncError::Hub { .. }
        )
    }
}

/// The sync state the window's status bar and steward area show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SyncStatus {
    /// A hub is configured (the kiosk is enrolled).
    pub enrolled: bool,
    pub hub: Option<String>,
    pub site: Option<String>,
    /// RFC 3339.
    #[ts(type = "string | null")]
    pub last_success: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub last_attempt: Option<DateTime<Utc>>,
    /// Cells changed since the hub last acknowledged them.
    #[ts(type = "number")]
    pub pending_cells: u64,
    /// The last failure in plain words; `None` once a sync succeeds.
    pub last_error: Option<String>,
    /// The same failure as a stable code ([`SyncError::code`]) the window translates.
    pub last_error_code: Option<String>,
    /// Kiosk clock minus hub clock, in seconds, at the last contact.
    #[ts(type = "number | null")]
    pub clock_skew_secs: Option<i64>,
    /// `|clock_skew_secs|` is over five minutes: the steward should fix the clock.
    pub clock_skew_warning: bool,
    #[ts(type = "string | null")]
    pub next_attempt: Option<DateTime<Utc>>,
}

const LAST_SUCCESS: &str = "sync_last_success";
const LAST_ATTEMPT: &str = "sync_last_attempt";
const LAST_ERROR: &str = "sync_last_error";
const LAST_ERROR_CODE: &str = "sync_last_error_code";
const CLOCK_SKEW: &str = "sync_clock_skew_secs";

/// The status as last recorded in the store.
pub fn status(src: &dyn ReplicaSource) -> Result<SyncStatus, SourceError> {
    let time = |k: &str| -> Result<Option<DateTime<Utc>>, SourceError> {
        Ok(src
            .get_setting(k)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc)))
    };
    let skew = src
        .get_setting(CLOCK_SKEW)?
        .and_then(|s| s.parse::<i64>().ok());
    let hub = src.get_setting(keys::HUB_URL)?;
    Ok(SyncStatus {
        enrolled: hub.is_some() && src.get_setting(keys::TOKEN)?.is_some(),
        hub,
        site: src.get_setting(keys::SITE)?,
        last_success: time(LAST_SUCCESS)?,
        last_attempt: time(LAST_ATTEMPT)?,
        pending_cells: src.pending_count()?,
        last_error: src.get_setting(LAST_ERROR)?.filter(|s| !s.is_empty()),
        last_error_code: src.get_setting(LAST_ERROR_CODE)?.filter(|s| !s.is_empty()),
        clock_skew_secs: skew,
        clock_skew_warning: skew.is_some_and(|s| s.abs() > SKEW_WARNING_SECS),
        next_attempt: None,
    })
}

/// Record the result of an attempt so the status survives a restart.
pub fn record(
    src: &dyn ReplicaSource,
    now: DateTime<Utc>,
    result: &Result<SyncReport, SyncError>,
) -> Result<(), SourceError> {
    // One write of the settings file per attempt (a visit wakes the sync).
    let now = now.to_rfc3339();
    match result {
        Ok(r) => src.put_settings(&[
            (LAST_ATTEMPT, &now),
            (LAST_SUCCESS, &now),
            (LAST_ERROR, ""),
            (LAST_ERROR_CODE, ""),
            (CLOCK_SKEW, &r.clock_skew_secs.to_string()),
        ]),
        Err(e) => src.put_settings(&[
            (LAST_ATTEMPT, &now),
            (LAST_ERROR, &e.plain()),
            (LAST_ERROR_CODE, e.code()),
        ]),
    }
}

/// What one complete sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub batches: u32,
    pub cells_sent: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// The hub had lost acknowledged data and the kiosk resent from here.
    pub resent_from: Option<u64>,
    pub acked: u64,
    pub clock_skew_secs: i64,
    pub hub_time: Option<DateTime<Utc>>,
    /// Stopped between two batches because a resident's journey began
    /// (see [`sync_pausable`]); the rest is still pending.
    pub paused: bool,
}

/// Credentials the client pushes with, read from the store's settings.
#[derive(Clone)]
pub struct Enrolment {
    pub hub: String,
    pub token: String,
}

impl std::fmt::Debug for Enrolment {
    // The token is a secret: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl Enrolment {
    pub fn load(src: &dyn ReplicaSource) -> Result<Enrolment, SyncError> {
        match (
            src.get_setting(keys::HUB_URL)?,
            src.get_setting(keys::TOKEN)?,
        ) {
            (Some(hub), Some(token)) => Ok(Enrolment { hub, token }),
            _ => Err(SyncError::NotEnrolled),
        }
    }
}

/// Redeem a one-time code and keep the device's credentials in the store.
///
/// A kiosk that already has a device id (it was enrolled before) sends it:
/// the hub then re-keys that same device (revoked, or unknown to a hub
/// restored from an older copy) and its replica stays the same, so nothing it
/// sent before can be counted twice. A kiosk is never given a new device id
/// once it has one; a hub that answers with another id is refused and nothing
/// is stored. A hub whose device is still active refuses the code
/// ([`SyncError::DeviceActive`]).
///
/// `ca_pem`: a CA to pin for this hub. `None` keeps the CA pinned at the
/// previous enrolment when the hub's address is the same (so a re-enrolment
/// from the steward area, which has no CA field, still trusts the private CA);
/// enrolling with another hub without a CA drops the old pin.
pub async fn enrol(
    src: &dyn ReplicaSource,
    hub: &str,
    code: &str,
    ca_pem: Option<Vec<u8>>,
) -> Result<wire::EnrolResponse, SyncError> {
    let hub = normalise_hub(hub);
    let existing = src.get_setting(keys::DEVICE)?.filter(|d| !d.is_empty());
    let same_hub = src
        .get_setting(keys::HUB_URL)?
        .is_some_and(|h| normalise_hub(&h) == hub);
    let ca_pem = match ca_pem {
        Some(pem) => Some(pem),
        None if same_hub => pinned_ca(src)?,
        None => None,
    };
    let mut cfg = ClientConfig::new(&hub);
    cfg.ca_pem = ca_pem.clone();
    let client = HubClient::new(&cfg)?;
    let r = client.enrol(code, existing.as_deref()).await?;
    if let Some(mine) = &existing {
        if &r.device != mine {
            // An old hub ignores the device id and makes a new device: taking
            // that id would send every count again under a new replica.
            return Err(SyncError::Protocol(format!(
                "the hub gave this kiosk a new device id ({}) instead of re-enrolling {mine}; \
                 the hub needs an update",
                r.device
            )));
        }
    }
    src.put_setting(keys::HUB_URL, client.base())?;
    src.put_setting(keys::TOKEN, &r.token)?;
    src.put_setting(keys::SITE, r.site.as_str())?;
    let pem = ca_pem.map(|p| String::from_utf8_lossy(&p).into_owned());
    // An empty value is "no pin" (the store has no delete in this trait).
    src.put_setting(keys::HUB_CA_PEM, pem.as_deref().unwrap_or(""))?;
    // Last: a crash before this leaves a token whose pushes the hub refuses
    // (403, another device's replica) and no device id, so the next
    // enrolment is a first one; written earlier, a crash would leave a device
    // id with no token, which only a revocation could release.
    src.put_setting(keys::DEVICE, &r.device)?;
    Ok(r)
}

fn normalise_hub(hub: &str) -> String {
    hub.trim().trim_end_matches('/').to_owned()
}

/// The pinned hub CA, if any (an empty setting means none).
fn pinned_ca(src: &dyn ReplicaSource) -> Result<Option<Vec<u8>>, SyncError> {
    Ok(src
        .get_setting(keys::HUB_CA_PEM)?
        .filter(|p| !p.trim().is_empty())
        .map(String::into_bytes))
}

/// A client for the enrolled hub, or for `hub_override` (e.g. through a proxy).
pub fn client_for(
    src: &dyn ReplicaSource,
    hub_override: Option<&str>,
) -> Result<(HubClient, Enrolment), SyncError> {
    let mut e = Enrolment::load(src)?;
    if let Some(h) = hub_override {
        e.hub = h.to_owned();
    }
    let mut cfg = ClientConfig::new(&e.hub);
    cfg.ca_pem = pinned_ca(src)?;
    Ok((HubClient::new(&cfg)?, e))
}

/// A batch read from the store: the cells changed after `after`, and up to where.
struct Batch {
    after: u64,
    read: (Vec<(dps_model::CellKey, dps_model::PnCount)>, u64),
}

/// One complete sync: push every pending cell in batches of at most
/// `batch_limit`, advancing the acknowledged sequence number after each
/// acknowledged batch, so an interrupted sync resumes where it stopped.
///
/// Always sends at least one (possibly empty) push: that is how the hub
/// learns the kiosk is alive and how a hub that lost data is noticed.
pub async fn sync_once(
    src: &dyn ReplicaSource,
    client: &HubClient,
    token: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
    batch_limit: usize,
) -> Result<SyncReport, SyncError> {
    sync_pausable(src, client, token, now, batch_limit, &|| false).await
}

/// [`sync_once`] that asks `pause` before each push and, when it says yes,
/// stops there with `report.paused` set: the batches already acknowledged
/// stay acknowledged and the rest waits for the next sync, which resumes
/// from the acknowledged sequence number as after any interruption. The
/// window's loop pauses while a resident's journey is on screen, so a long
/// backlog never competes with the journey for a weak connection.
pub async fn sync_pausable(
    src: &dyn ReplicaSource,
    client: &HubClient,
    token: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
    batch_limit: usize,
    pause: &(dyn Fn() -> bool + Sync),
) -> Result<SyncReport, SyncError> {
    let limit = batch_limit.clamp(1, MAX_BATCH_CELLS);
    let replica = src.replica();
    let mut report = SyncReport::default();
    let mut after = src.acked()?;
    let mut rewinds = 0;
    // Counting what is pending scans the store's change index, so it is done
    // once per sync (and after a rewind), then decremented batch by batch:
    // counting before every batch made a large backlog quadratic. Visits
    // recorded during the sync are not in the figure; the next sync counts them.
    let mut remaining = src.pending_count()?;
    // The next batch, read from the store while the previous push was in flight.
    let mut prefetched: Option<Batch> = None;
    loop {
        if pause() {
            report.paused = true;
            return Ok(report);
        }
        let (cells, upto) = match prefetched.take() {
            Some(b) if b.after == after => b.read,
            _ => src.pending(after, limit)?,
        };
        if upto < after {
            return Err(SyncError::Store(SourceError(format!(
                "store went backwards ({upto} < {after})"
            ))));
        }
        let n = cells.len();
        remaining = remaining.saturating_sub(n as u64);
        let pending = remaining;
        let sent_at = now();
        let req = PushRequest {
            v: PROTOCOL_VERSION,
            replica: replica.clone(),
            after,
            upto,
            cells: cells
                .into_iter()
                .map(|(k, c)| WireCell::new(k, c))
                .collect(),
            kiosk_time: sent_at,
            pending,
        };
        let mut push = std::pin::pin!(client.push(token, &req));
        // Poll the push once so the request is on its way, then read the next
        // batch from the store while the hub merges this one: on a large
        // backlog the store reads were a quarter of the time. Reading the
        // store is what this task did between pushes anyway; if the hub
        // rewinds (below), the read is simply dropped.
        let first = std::future::poll_fn(|cx| Poll::Ready(push.as_mut().poll(cx))).await;
        let answer = match first {
            Poll::Ready(answer) => answer,
            Poll::Pending => {
                if n == limit {
                    prefetched = Some(Batch {
                        after: upto,
                        read: src.pending(upto, limit)?,
                    });
                }
                push.await
            }
        };
        let (resp, bytes) = answer?;
        let received_at = now();
        report.batches += 1;
        report.cells_sent += n as u64;
        report.request_bytes += bytes.request_body;
        report.response_bytes += bytes.response_body;
        // Compare the hub's time with the middle of the round trip: half the
        // latency either way is the best estimate without more exchanges.
        let mid = sent_at + (received_at - sent_at) / 2;
        report.clock_skew_secs = (mid - resp.hub_time).num_seconds();
        report.hub_time = Some(resp.hub_time);
        if resp.watermark < after {
            // The hub no longer holds what it acknowledged (restored from an
            // older copy): resend everything changed since what it still has.
            rewinds += 1;
            if rewinds > 3 {
                return Err(SyncError::Protocol(
                    "the hub keeps losing acknowledged counts".into(),
                ));
            }
            tracing::warn!(
                hub_watermark = resp.watermark,
                kiosk_acked = after,
                "hub lost data; resending"
            );
            report.resent_from = Some(resp.watermark);
            after = resp.watermark;
            src.set_acked(after)?;
            remaining = src.pending_count()?;
            continue;
        }
        src.set_acked(upto)?;
        after = upto;
        report.acked = upto;
        if n < limit {
            return Ok(report);
        }
    }
}
