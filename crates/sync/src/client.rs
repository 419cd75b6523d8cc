//! The HTTP side of the kiosk: one `reqwest` client with explicit timeouts and,
//! for hubs with a private CA, that CA pinned instead of the public roots.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::wire::{
    codes, ApiError, EnrolRequest, EnrolResponse, PushRequest, PushResponse, PATH_ENROL, PATH_PUSH,
    PROTOCOL_VERSION,
};
use crate::SyncError;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The hub's base URL, e.g. `https://hub.example.brussels`.
    pub hub: String,
    pub connect_timeout: Duration,
    /// Longest silence while reading an answer.
    pub read_timeout: Duration,
    /// A PEM CA to trust *instead of* the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Reuse connections between batches. Off only in fault tests, where each
    /// request must get its own connection for a TCP-level fault to hit it.
    pub keep_alive: bool,
}

impl ClientConfig {
    /// Timeouts sized for a phone hotspot: connect fast or give up, allow a
    /// large batch a while to be merged.
    pub fn new(hub: &str) -> ClientConfig {
        ClientConfig {
            hub: hub.trim_end_matches('/').to_owned(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            ca_pem: None,
            keep_alive: true,
        }
    }
}

/// Bytes a request put on the wire (body plus an estimate of the headers),
/// for the "bytes per visit" figure.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireBytes {
    pub request_body: u64,
    pub response_body: u64,
}

#[derive(Debug, Clone)]
pub struct HubClient {
    http: reqwest::Client,
    base: String,
}

impl HubClient {
    pub fn new(cfg: &ClientConfig) -> Result<HubClient, SyncError> {
        if !(cfg.hub.starts_with("http://") || cfg.hub.starts_with("https://")) {
            return Err(SyncError::Config(format!(
                "the hub address {:?} must start with https:// (or http:// on a trusted network)",
                cfg.hub
            )));
        }
        let mut b = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            // A whole request may not take longer than this either, so a hub
            // trickling bytes cannot hold the kiosk forever.
            .timeout(cfg.read_timeout * 2)
            .user_agent(concat!("dps-kiosk/", env!("CARGO_PKG_VERSION")));
        if !cfg.keep_alive {
            b = b.pool_max_idle_per_host(0);
        }
        if let Some(pem) = &cfg.ca_pem {
            let ca = reqwest::Certificate::from_pem(pem).map_err(|e| {
                SyncError::Config(format!("the pinned hub CA is not a PEM certificate: {e}"))
            })?;
            b = b.tls_built_in_root_certs(false).add_root_certificate(ca);
        }
        let http = b
            .build()
            .map_err(|e| SyncError::Config(format!("cannot set up HTTPS: {e}")))?;
        Ok(HubClient {
            http,
            base: cfg.hub.trim_end_matches('/').to_owned(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Redeem `code`; `device` is the kiosk's existing device id, if it has
    /// one (see [`EnrolRequest::device`]).
    pub async fn enrol(
        &self,
        code: &str,
        device: Option<&str>,
    ) -> Result<EnrolResponse, SyncError> {
        let req = EnrolRequest {
            v: PROTOCOL_VERSION,
            code: code.trim().to_owned(),
            device: device.map(str::to_owned),
        };
        let (r, _) = self.post(PATH_ENROL, None, &req).await?;
        Ok(r)
    }

    pub async fn push(
        &self,
        token: &str,
        req: &PushRequest,
    ) -> Result<(PushResponse, WireBytes), SyncError> {
        self.post(PATH_PUSH, Some(token), req).await
    }

    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Q,
    ) -> Result<(A, WireBytes), SyncError> {
        let body = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        let mut bytes = WireBytes {
            request_body: body.len() as u64,
            response_body: 0,
        };
        let mut rq = self
            .http
            .post(format!("{}{}", self.base, path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        let resp = rq.send().await.map_err(net_error)?;
        let status = resp.status();
        let raw = resp.bytes().await.map_err(net_error)?;
        bytes.response_body = raw.len() as u64;
        if status.is_success() {
            let a = serde_json::from_slice(&raw)
                .map_err(|e| SyncError::Protocol(format!("unreadable answer from the hub: {e}")))?;
            return Ok((a, bytes));
        }
        let err: ApiError = serde_json::from_slice(&raw).unwrap_or_else(|_| ApiError {
            code: if status.is_server_error() {
                codes::INTERNAL.into()
            } else {
                codes::BAD_REQUEST.into()
            },
            message: String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned(),
        });
        Err(SyncError::from_api(status.as_u16(), err))
    }
}

fn net_error(e: reqwest::Error) -> SyncError {
    if e.is_timeout() {
        SyncError::Timeout
    } else {
        // The chain says e.g. "connection refused" or "dns error": worth keeping
        // for the log, not for the steward.
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(c) = src {
            s.push_str(": ");
            s.push_str(&c.to_string());
            src = c.source();
        }
        SyncError::Unreachable(s)
    }
}
