use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use dps_hub::api::{admin_enrol, AdminEnrolRequest};
use dps_hub::store::totals;
use dps_hub::{app, AppState, SledStore, Store};
use dps_model::{AgeBand, CellKey, Channel, Code, Language, Municipality, Residence};
use dps_sync::{ClientConfig, HubClient, MemSource, ReplicaSource, SyncError, SyncReport};
use tokio::sync::oneshot;

pub struct TestHub {
    pub addr: SocketAddr,
    pub store: Arc<SledStore>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestHub {
    pub async fn start(dir: &Path) -> TestHub {
        TestHub::start_on(dir, "127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(dir: &Path, bind: SocketAddr) -> TestHub {
        let store = Arc::new(SledStore::open(dir).unwrap());
        let state = AppState::new(store.clone());
        let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app(state))
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        TestHub {
            addr,
            store,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop; the store is flushed and closed when this returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        self.store.flush().unwrap();
        // Wait for the last handle on sled (inside blocking tasks) to go.
        let store = self.store.clone();
        drop(self);
        let mut s = store;
        loop {
            match Arc::try_unwrap(s) {
                Ok(inner) => {
                    drop(inner);
                    break;
                }
                Err(back) => {
                    s = back;
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    pub fn code(&self, site: &str) -> String {
        admin_enrol(
            self.store.as_ref(),
            Utc::now(),
            &AdminEnrolRequest {
                site: Code::new(site).unwrap(),
                ttl_secs: 3600,
            },
        )
        .unwrap()
        .code
    }

    pub fn totals(&self) -> BTreeMap<CellKey, u64> {
        totals(self.store.as_ref()).unwrap()
    }
}

/// A varied, deterministic cell for index `i`.
pub fn cell(i: usize) -> CellKey {
    let day =
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days((i % 365) as i64);
    let j = i / 365;
    CellKey {
        day,
        site: Code::new("dps-test").unwrap(),
        procedure: Code::new(["bruvax-registration", "other-digital-help"][j % 2]).unwrap(),
        outcome: Code::new(["done", "waiting_list", "abandoned"][(j / 2) % 3]).unwrap(),
        language: Language::ALL[(j / 6) % 4],
        channel: Channel::ALL[(j / 24) % 3],
        age_band: AgeBand::ALL[(j / 72) % 7],
        residence: Residence::Brussels(Municipality::ALL[(j / 504) % 19]),
    }
}

/// A new kiosk enrolled with `hub` (through the real enrolment endpoint).
pub async fn kiosk(hub_url: &str, code: &str, incarnation: &str) -> Arc<MemSource> {
    let src = Arc::new(MemSource::new(incarnation));
    dps_sync::enrol(src.as_ref(), hub_url, code, None)
        .await
        .unwrap();
    src
}

pub fn client(url: &str, keep_alive: bool, read_timeout_ms: u64) -> HubClient {
    let mut cfg = ClientConfig::new(url);
    cfg.keep_alive = keep_alive;
    cfg.read_timeout = std::time::Duration::from_millis(read_timeout_ms);
    cfg.connect_timeout = std::time::Duration::from_millis(500);
    HubClient::new(&cfg).unwrap()
}

pub fn token(src: &MemSource) -> String {
    src.get_setting(dps_sync::keys::TOKEN).unwrap().unwrap()
}

pub async fn sync(src: &MemSource, c: &HubClient, batch: usize) -> Result<SyncReport, SyncError> {
    dps_sync::sync_once(src, c, &token(src), &Utc::now, batch).await
}

/// Retry (without sleeping: the faults are scripted) until a sync succeeds.
pub async fn sync_until_ok(
    src: &MemSource,
    c: &HubClient,
    batch: usize,
    max: usize,
) -> (SyncReport, usize) {
    let mut failures = 0;
    loop {
        match sync(src, c, batch).await {
            Ok(r) => return (r, failures),
            Err(e) => {
                assert!(e.is_transient(), "unexpected non-transient error: {e}");
                failures += 1;
                assert!(failures <= max, "still failing after {max} attempts: {e}");
            }
        }
    }
}

pub fn sum(kiosks: &[Arc<MemSource>]) -> BTreeMap<CellKey, u64> {
    let mut t = BTreeMap::new();
    for k in kiosks {
        for (c, n) in k.totals() {
            *t.entry(c).or_insert(0) += n;
        }
    }
    t
}

/// Record `n` visits over `distinct` cells, with a retraction every 7th.
pub fn visits(src: &MemSource, n: usize, distinct: usize, seed: usize) {
    for i in 0..n {
        let c = cell((i * 7919 + seed) % distinct.max(1));
        src.record(c.clone(), false);
        if i % 7 == 3 {
            src.record(c, true);
        }
    }
}
