//! Protocol property, end to end: several kiosks run the real client
//! (`dps_sync::sync_once` over `HubClient`, real HTTP on loopback) against
//! the real hub (`app()` on the sled store), through a transport that drops
//! requests, loses answers after the hub merged, holds requests back and
//! delivers them later (out of order, and again and again), and delivers
//! requests twice. Whatever happens, the hub never holds more than a kiosk
//! counted, cell by cell; after one clean sync per kiosk, the hub's totals
//! equal the sum of the kiosks' exactly and every replica's watermark is its
//! kiosk's last change.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;
use dps_hub::api::{admin_enrol, AdminEnrolRequest};
use dps_hub::store::totals;
use dps_hub::{app, AppState, SledStore, Store};
use dps_model::{CellKey, Code, PnCount};
use dps_sync::{MemSource, ReplicaSource};
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::ServiceExt;

use crate::common::{cell, client, sum, sync};

/// What the transport does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// Delivered, answer returned.
    Pass,
    /// Never delivered; the kiosk sees a failure.
    Drop,
    /// Delivered and merged, but the answer is lost.
    LoseAnswer,
    /// Kept back (the kiosk sees a failure), for [`Op::Deliver`] later.
    Hold,
    /// Delivered twice (a duplicating proxy); the second answer returned.
    Twice,
}

#[derive(Debug, Clone)]
enum Op {
    /// Kiosk `k` counts (or retracts) a visit in cell `n`.
    Visit { k: usize, n: usize, retract: bool },
    /// Kiosk `k` runs one `sync_once` in batches of `limit`; its requests
    /// meet `acts` in order (then pass).
    Sync {
        k: usize,
        limit: usize,
        acts: Vec<Act>,
    },
    /// A held request reaches the hub now (it stays held: it may come again).
    Deliver(usize),
}

const KIOSKS: usize = 3;

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => Just(Act::Pass),
        1 => Just(Act::Drop),
        1 => Just(Act::LoseAnswer),
        1 => Just(Act::Hold),
        1 => Just(Act::Twice),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KIOSKS, 0usize..12, prop::bool::weighted(0.15))
            .prop_map(|(k, n, retract)| Op::Visit { k, n, retract }),
        3 => (0..KIOSKS, 1usize..5, prop::collection::vec(act(), 0..4))
            .prop_map(|(k, limit, acts)| Op::Sync { k, limit, acts }),
        1 => any::<usize>().prop_map(Op::Deliver),
    ]
}

/// The misbehaving transport: an HTTP server in front of the hub's router.
struct Chaos {
    hub: Router,
    plan: Mutex<VecDeque<Act>>,
    held: Mutex<Vec<Held>>,
}

/// A request as it came: enough to deliver it again.
#[derive(Clone)]
struct Held {
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn failure() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({"code": "internal", "message": "the transport failed"})),
    )
        .into_response()
}

impl Chaos {
    async fn deliver(&self, h: &Held) -> Response {
        let mut req = Request::builder()
            .method(h.method.clone())
            .uri(h.uri.clone());
        for (k, v) in &h.headers {
            req = req.header(k, v);
        }
        let req = req.body(Body::from(h.body.clone())).unwrap();
        self.hub.clone().oneshot(req).await.unwrap()
    }

    async fn handle(self: Arc<Self>, req: Request<Body>) -> Response {
        let (parts, body) = req.into_parts();
        let h = Held {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        };
        let act = lock(&self.plan).pop_front().unwrap_or(Act::Pass);
        match act {
            Act::Pass => self.deliver(&h).await,
            Act::Drop => failure(),
            Act::LoseAnswer => {
                let _ = self.deliver(&h).await;
                failure()
            }
            Act::Hold => {
                lock(&self.held).push(h);
                failure()
            }
            Act::Twice => {
                let _ = self.deliver(&h).await;
                self.deliver(&h).await
            }
        }
    }
}

async fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut state = AppState::new(store.clone());
    // The protocol does not rely on flushing; the property runs many cases.
    state.durable_acks = false;
    let chaos = Arc::new(Chaos {
        hub: app(state),
        plan: Mutex::new(VecDeque::new()),
        held: Mutex::new(Vec::new()),
    });
    let front = {
        let chaos = chaos.clone();
        Router::new().fallback(move |req: Request<Body>| chaos.clone().handle(req))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, front).await });
    let c = client(&url, true, 5_000);

    let mut kiosks = Vec::new();
    for i in 0..KIOSKS {
        let code = admin_enrol(
            store.as_ref(),
            Utc::now(),
            &AdminEnrolRequest {
                site: Code::new("dps-a").unwrap(),
                ttl_secs: 600,
            },
        )
        .unwrap()
        .code;
        let k = Arc::new(MemSource::new(&format!("inc{i}")));
        dps_sync::enrol(k.as_ref(), &url, &code, None)
            .await
            .unwrap();
        kiosks.push(k);
    }
    let owner: BTreeMap<String, usize> = kiosks
        .iter()
        .enumerate()
        .map(|(i, k)| (k.replica().device, i))
        .collect();

    for op in ops {
        match op {
            Op::Visit { k, n, retract } => kiosks[k].record(cell(n), retract),
            Op::Sync { k, limit, acts } => {
                *lock(&chaos.plan) = acts.into();
                // Fails on the first request the transport breaks; the next
                // sync resends from what was acknowledged.
                let r = sync(&kiosks[k], &c, limit).await;
                if let Err(e) = &r {
                    prop_assert!(e.is_transient(), "{e:?}");
                }
                lock(&chaos.plan).clear();
            }
            Op::Deliver(i) => {
                let held = {
                    let all = lock(&chaos.held);
                    (!all.is_empty()).then(|| all[i % all.len()].clone())
                };
                if let Some(h) = held {
                    chaos.deliver(&h).await;
                }
            }
        }
        // Never more on the hub than on the kiosk, cell by cell.
        let counts: Vec<BTreeMap<CellKey, PnCount>> = kiosks.iter().map(|k| k.counts()).collect();
        for (r, key, hub) in store.cells().unwrap() {
            let k = owner[&r.device];
            let kc = counts[k].get(&key).copied().unwrap_or_default();
            prop_assert!(
                hub.inc <= kc.inc && hub.ret <= kc.ret,
                "kiosk {k} {key:?}: hub {hub:?} > kiosk {kc:?}"
            );
        }
    }

    // One clean sync each completes the hub.
    for k in &kiosks {
        let r = sync(k, &c, 3).await;
        prop_assert!(r.is_ok(), "{r:?}");
        prop_assert_eq!(k.pending_count().unwrap(), 0);
        prop_assert_eq!(store.watermark(&k.replica()).unwrap(), k.last_seq());
    }
    let mut hub = totals(store.as_ref()).unwrap();
    hub.retain(|_, v| *v > 0);
    let mut want = sum(&kiosks);
    want.retain(|_, v| *v > 0);
    prop_assert_eq!(hub, want);
    server.abort();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn drops_lost_answers_reorders_and_duplicates_never_change_the_totals(
        ops in prop::collection::vec(op(), 1..50)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_case(ops))?;
    }
}
