//! The admin commands' side: talk to the running hub over its loopback admin
//! listener, or open the store directly when no hub runs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{admin_devices, admin_enrol, AdminEnrolRequest, AdminEnrolResponse, DeviceView};
use crate::serve::{admin_file_path, AdminFile};
use crate::store::{Backend, SledStore, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "a dps-hub is using {dir} but its admin channel does not answer ({detail}); \
         wait for it to finish starting or stop it, then try again"
    )]
    HubNotAnswering { dir: String, detail: String },
    #[error(
        "there is no hub store in {dir} and no dps-hub is running there: nothing was done \
         (and nothing created). Pass the --data-dir the hub serves from, or start \
         `dps-hub --data-dir {dir} serve` once to create the store"
    )]
    NoStore { dir: String },
    #[error("the running hub refused the command: {0}")]
    Refused(String),
    #[error("no device {0:?}")]
    NoDevice(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Coord(#[from] crate::coord::CoordError),
}

/// Where an admin command runs.
pub enum Target {
    Running {
        client: reqwest::Client,
        file: AdminFile,
    },
    Direct(Arc<dyn Store>),
}

/// Where the hub's data is: the embedded store's directory, or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Location {
    pub data_dir: std::path::PathBuf,
    pub database_url: Option<String>,
}

impl Location {
    pub fn sled(data_dir: &Path) -> Location {
        Location {
            data_dir: data_dir.to_owned(),
            database_url: None,
        }
    }
}

/// On PostgreSQL, open the database (any number of processes may); on the
/// embedded store, prefer the running hub and open the store only if none
/// answers.
pub async fn locate_at(loc: &Location) -> Result<Target, AdminError> {
    match &loc.database_url {
        Some(url) => Ok(Target::Direct(
            crate::store::open_async(Backend::Postgres(url.clone())).await?,
        )),
        None => locate(&loc.data_dir).await,
    }
}

/// Run a store operation off the async threads (the PostgreSQL client
/// blocks), and let the store go there too.
pub async fn direct<T: Send + 'static>(
    store: Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| AdminError::Store(StoreError::Backend(e.to_string())))?
        .map_err(AdminError::from)
}

/// The hub's data directory when `--data-dir` is not given:
/// `$XDG_DATA_HOME/dps-hub`, else `~/.local/share/dps-hub` (absolute, so an
/// admin command finds the store whatever directory it is run from).
/// `None` when neither variable is set.
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(std::path::PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/share"))
        })?;
    Some(base.join("dps-hub"))
}

/// Prefer the running hub; open the embedded store only if none answers,
/// and only if there is one: an admin command pointed at the wrong directory
/// must not create an empty store there and, say, print a code no hub knows.
pub async fn locate(data_dir: &Path) -> Result<Target, AdminError> {
    let dir = data_dir.display().to_string();
    let running = match std::fs::read(admin_file_path(data_dir)) {
        Ok(raw) => serde_json::from_slice::<AdminFile>(&raw).ok(),
        Err(_) => None,
    };
    let mut detail = "no admin file".to_owned();
    if let Some(file) = running {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| AdminError::HubNotAnswering {
                dir: dir.clone(),
                detail: e.to_string(),
            })?;
        // A stale file from a killed hub points at a closed port: then fall
        // through to opening the store ourselves.
        match client
            .get(format!("{}/admin/devices", file.url))
            .bearer_auth(&file.token)
            .send()
            .await
        {
            Ok(_) => return Ok(Target::Running { client, file }),
            Err(e) => detail = e.to_string(),
        }
    }
    if !SledStore::exists(data_dir) {
        return Err(AdminError::NoStore { dir });
    }
    match SledStore::open(data_dir) {
        Ok(s) => Ok(Target::Direct(Arc::new(s))),
        Err(StoreError::Locked { .. }) => Err(AdminError::HubNotAnswering { dir, detail }),
        Err(e) => Err(e.into()),
    }
}

async fn call<Q: Serialize, A: DeserializeOwned>(
    client: &reqwest::Client,
    file: &AdminFile,
    method: reqwest::Method,
    path: &str,
    body: Option<&Q>,
) -> Result<Option<A>, AdminError> {
    let mut rq = client
        .request(method, format!("{}{}", file.url, path))
        .bearer_auth(&file.token);
    if let Some(b) = body {
        rq = rq.json(b);
    }
    let resp = rq
        .send()
        .await
        .map_err(|e| AdminError::Refused(e.to_string()))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(refused(status, resp).await);
    }
    if status == reqwest::StatusCode::NO_CONTENT {
        return serde_json::from_str::<A>("null")
            .map(Some)
            .map_err(|e| AdminError::Refused(e.to_string()));
    }
    resp.json()
        .await
        .map(Some)
        .map_err(|e| AdminError::Refused(e.to_string()))
}

/// The hub's `{code, message}` answer as a plain sentence.
async fn refused(status: reqwest::StatusCode, resp: reqwest::Response) -> AdminError {
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<dps_sync::wire::ApiError>(&text) {
        Ok(e) => AdminError::Refused(e.message),
        Err(_) => AdminError::Refused(format!("HTTP {status}: {text}")),
    }
}

/// `dps-hub admin add`: the CLI hashed the password; only the hash travels.
pub async fn add_account(
    loc: &Location,
    req: crate::api::AdminAccountRequest,
) -> Result<(), AdminError> {
    match locate_at(loc).await? {
        Target::Running { client, file } => call::<_, ()>(
            &client,
            &file,
            reqwest::Method::POST,
            "/admin/accounts",
            Some(&req),
        )
        .await?
        .ok_or_else(|| AdminError::Refused("no accounts endpoint".into())),
        Target::Direct(store) => {
            let r = tokio::task::spawn_blocking(move || {
                crate::auth::add_account(store.as_ref(), &req.name, &req.password_hash, Utc::now())
            })
            .await
            .map_err(|e| AdminError::Store(StoreError::Backend(e.to_string())))?;
            Ok(r?)
        }
    }
}

/// `dps-hub export`: the table's bytes, from the running hub or the store.
pub async fn export(
    loc: &Location,
    req: crate::coord::ExportRequest,
) -> Result<Vec<u8>, AdminError> {
    match locate_at(loc).await? {
        Target::Running { client, file } => {
            let resp = client
                .post(format!("{}/admin/export", file.url))
                .bearer_auth(&file.token)
                .json(&req)
                .send()
                .await
                .map_err(|e| AdminError::Refused(e.to_string()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(refused(status, resp).await);
            }
            Ok(resp
                .bytes()
                .await
                .map_err(|e| AdminError::Refused(e.to_string()))?
                .to_vec())
        }
        Target::Direct(store) => {
            let r = tokio::task::spawn_blocking(move || {
                crate::coord::export(store.as_ref(), &req.into())
            })
            .await
            .map_err(|e| AdminError::Store(StoreError::Backend(e.to_string())))?;
            Ok(r?)
        }
    }
}

pub async fn enrol(
    loc: &Location,
    req: AdminEnrolRequest,
) -> Result<AdminEnrolResponse, AdminError> {
    match locate_at(loc).await? {
        Target::Running { client, file } => call(
            &client,
            &file,
            reqwest::Method::POST,
            "/admin/enrol",
            Some(&req),
        )
        .await?
        .ok_or_else(|| AdminError::Refused("no enrol endpoint".into())),
        Target::Direct(store) => direct(store, move |s| admin_enrol(s, Utc::now(), &req)).await,
    }
}

pub async fn devices(loc: &Location) -> Result<Vec<DeviceView>, AdminError> {
    match locate_at(loc).await? {
        Target::Running { client, file } => {
            Ok(
                call::<(), _>(&client, &file, reqwest::Method::GET, "/admin/devices", None)
                    .await?
                    .unwrap_or_default(),
            )
        }
        Target::Direct(store) => direct(store, admin_devices).await,
    }
}

pub async fn revoke(loc: &Location, id: &str) -> Result<(), AdminError> {
    let found = match locate_at(loc).await? {
        Target::Running { client, file } => call::<(), ()>(
            &client,
            &file,
            reqwest::Method::POST,
            &format!("/admin/devices/{id}/revoke"),
            None,
        )
        .await?
        .is_some(),
        Target::Direct(store) => {
            let id = id.to_owned();
            direct(store, move |s| s.revoke(&id, Utc::now())).await?
        }
    };
    if found {
        Ok(())
    } else {
        Err(AdminError::NoDevice(id.to_owned()))
    }
}
