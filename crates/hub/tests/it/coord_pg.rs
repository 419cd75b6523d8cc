//! The coordination's pages and API on PostgreSQL: the real `dps-hub serve
//! --database-url` process on a throw-away cluster, seeded with the same
//! hand-computed data as the embedded-store tests, and the same checks
//! (tallies API, dashboard, annual report, XLSX, the lockout under parallel
//! guesses). Needs `DPS_TEST_PG=1`.

use std::sync::Arc;

use dps_hub::store::Store;
use dps_hub_pg::testing::TempCluster;
use dps_hub_pg::PgStore;

use crate::coord::{
    check_dashboard_and_report, check_parallel_guesses_hit_the_lockout, check_tallies_api, get,
    login, no_redirects, seed, PASSWORD,
};
use crate::pg::pg_enabled;
use crate::process::{serve_with, terminate, Hub};

/// A `dps-hub` process serving a fresh database of a throw-away cluster,
/// seeded with [`seed`], the account `marie`, and whatever `more` adds.
pub struct PgHub {
    // Declared first: the hub stops before its database does.
    pub hub: Option<Hub>,
    pub url: String,
    _dir: tempfile::TempDir,
    _cluster: TempCluster,
}

impl PgHub {
    pub async fn start(more: impl FnOnce(&dyn Store) + Send + 'static) -> PgHub {
        // The blocking PostgreSQL client runs (and drops) a runtime of its
        // own: everything on the store happens off the async threads.
        let (cluster, database_url) = tokio::task::spawn_blocking(move || {
            let cluster = TempCluster::start().unwrap();
            let url = cluster.create_database("coord").unwrap();
            let store: Arc<dyn Store> = Arc::new(PgStore::connect_with(&url, 2).unwrap());
            seed(store.as_ref());
            let hash = dps_hub::auth::hash_password(PASSWORD).unwrap();
            dps_hub::auth::add_account(store.as_ref(), "marie", &hash, chrono::Utc::now()).unwrap();
            more(store.as_ref());
            (cluster, url)
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (hub, url) = serve_with(
            dir.path(),
            "127.0.0.1:0",
            &["--database-url", &database_url],
        );
        PgHub {
            hub: Some(hub),
            url,
            _dir: dir,
            _cluster: cluster,
        }
    }

    /// Graceful stop (SIGTERM), checked.
    pub fn stop(mut self) {
        if let Some(h) = self.hub.take() {
            terminate(h);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_pages_and_api_on_postgres() {
    if !pg_enabled("coordination_pages_and_api_on_postgres") {
        return;
    }
    let h = PgHub::start(|_| {}).await;
    let http = no_redirects();
    let s = login(&http, &h.url, "marie").await;
    check_tallies_api(&http, &h.url, &s).await;
    check_dashboard_and_report(&http, &h.url, &s).await;
    // The exact XLSX export is a workbook with the hand-computed figures.
    let r = get(
        &http,
        &format!(
            "{}/api/v1/tallies?from=2026-01-01&group_by=municipality&format=xlsx",
            h.url
        ),
        &s,
    )
    .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"tallies-exact.xlsx\""
    );
    let xlsx = r.bytes().await.unwrap();
    assert!(xlsx.starts_with(b"PK"));
    // The lockout holds under parallel guesses on the shared database too.
    check_parallel_guesses_hit_the_lockout(&http, &h.url).await;
    h.stop();
}
