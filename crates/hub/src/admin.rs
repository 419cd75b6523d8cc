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
use crate::store::{SledStore, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "a dps-hub is using {dir} but its admin channel does not answer ({detail}); \
         wait for it to finish starting or stop it, then try again"
    )]
    HubNotAnswering { dir: String, detail: String },
    #[error("the running hub refused the command: {0}")]
    Refused(String),
    #[error("no device {0:?}")]
    NoDevice(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an admin command runs.
pub enum Target {
    Running {
        client: reqwest::Client,
        file: AdminFile,
    },
    Direct(Arc<SledStore>),
}

/// Prefer the running hub; open the store only if none answers.
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
        let text = resp.text().await.unwrap_or_default();
        return Err(AdminError::Refused(format!("HTTP {status}: {text}")));
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

pub async fn enrol(
    data_dir: &Path,
    req: AdminEnrolRequest,
) -> Result<AdminEnrolResponse, AdminError> {
    match locate(data_dir).await? {
        Target::Running { client, file } => call(
            &client,
            &file,
            reqwest::Method::POST,
            "/admin/enrol",
            Some(&req),
        )
        .await?
        .ok_or_else(|| AdminError::Refused("no enrol endpoint".into())),
        Target::Direct(store) => Ok(admin_enrol(store.as_ref(), Utc::now(), &req)?),
    }
}

pub async fn devices(data_dir: &Path) -> Result<Vec<DeviceView>, AdminError> {
    match locate(data_dir).await? {
        Target::Running { client, file } => {
            Ok(
                call::<(), _>(&client, &file, reqwest::Method::GET, "/admin/devices", None)
                    .await?
                    .unwrap_or_default(),
            )
        }
        Target::Direct(store) => Ok(admin_devices(store.as_ref())?),
    }
}

pub async fn revoke(data_dir: &Path, id: &str) -> Result<(), AdminError> {
    let found = match locate(data_dir).await? {
        Target::Running { client, file } => call::<(), ()>(
            &client,
            &file,
            reqwest::Method::POST,
            &format!("/admin/devices/{id}/revoke"),
            None,
        )
        .await?
        .is_some(),
        Target::Direct(store) => store.revoke(id, Utc::now())?,
    };
    if found {
        Ok(())
    } else {
        Err(AdminError::NoDevice(id.to_owned()))
    }
}
