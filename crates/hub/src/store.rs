//! The storage trait and the embedded sled store now live in `dps-hub-store`
//! (so `dps-hub-pg` can implement the trait without depending on the HTTP
//! hub); re-exported here so `dps_hub::store::…` keeps working.

pub use dps_hub_store::*;

use std::path::PathBuf;
use std::sync::Arc;

/// Which store a hub (or an admin command) uses.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded store in this data directory (one process at a time).
    Sled(PathBuf),
    /// PostgreSQL at this URL; the store brings the schema up to date.
    Postgres(String),
}

/// Open the store. Blocking: call it off the async threads (see [`open_async`]).
pub fn open(backend: Backend) -> Result<Arc<dyn Store>, StoreError> {
    match backend {
        Backend::Sled(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
            Ok(Arc::new(SledStore::open(&dir)?))
        }
        Backend::Postgres(url) => Ok(Arc::new(dps_hub_pg::PgStore::connect(&url)?)),
    }
}

/// [`open`] on a blocking thread: the PostgreSQL client may not start its
/// own runtime on one of tokio's async threads.
pub async fn open_async(backend: Backend) -> Result<Arc<dyn Store>, StoreError> {
    tokio::task::spawn_blocking(move || open(backend))
        .await
        .map_err(|e| StoreError::Backend(format!("opening the store failed: {e}")))?
}
