//! Sync benchmarks, printed as figures (not a test): run with
//! `cargo run --release -p dps-hub --bin dps-sync-bench [-- VISITS]`.
//!
//! 1. A year of one busy kiosk (a simulated tally store) synced on loopback.
//! 2. Bytes on the wire (TCP payload, both ways) for one new visit.
//! 3. Hub ingest rate with 50 kiosks syncing at once.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, Utc};
use dps_faultproxy::FaultProxy;
use dps_hub::api::{admin_enrol, AdminEnrolRequest};
use dps_hub::{app, AppState, SledStore};
use dps_model::{AgeBand, CellKey, Channel, Code, Language, Municipality, Residence};
use dps_sync::{ClientConfig, HubClient, MemSource, ReplicaSource};
use dps_tally::simulate::{simulate, SimParams, VisitGen};
use dps_tally::{Site, TallyStore};

async fn start_hub(
    dir: &std::path::Path,
) -> anyhow::Result<(std::net::SocketAddr, Arc<SledStore>)> {
    let store = Arc::new(SledStore::open(dir)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(store.clone());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    Ok((addr, store))
}

fn code(store: &SledStore) -> anyhow::Result<String> {
    Ok(admin_enrol(
        store,
        Utc::now(),
        &AdminEnrolRequest {
            site: Code::new("dps-bench")?,
            ttl_secs: 3600,
        },
    )?
    .code)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let visits: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(86_000);
    let dir = tempfile::tempdir()?;
    let (addr, hub) = start_hub(&dir.path().join("hub")).await?;
    let url = format!("http://{addr}");
    println!(
        "dps-sync-bench on {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Utc::now().format("%Y-%m-%d")
    );

    // 1. A year of one busy kiosk.
    let kiosk_dir = dir.path().join("kiosk");
    let store = TallyStore::open(&kiosk_dir, Utc::now())?.store;
    let t = Instant::now();
    let sim = simulate(
        &store,
        &SimParams {
            visits,
            days: 365,
            seed: 1,
            last_day: Utc::now().date_naive(),
            undo_rate: 0.02,
        },
    )?;
    let cells = store.pending_count()?;
    println!(
        "simulated {} visits in {} cells over 365 days ({:.1} s)",
        sim.visits,
        cells,
        t.elapsed().as_secs_f64()
    );
    dps_sync::enrol(&store, &url, &code(&hub)?, None).await?;
    let proxy = FaultProxy::start(addr).await?;
    let (client, e) = dps_sync::client_for(&store, Some(&proxy.url()))?;
    let t = Instant::now();
    let r = dps_sync::sync_once(
        &store,
        &client,
        &e.token,
        &Utc::now,
        dps_sync::wire::MAX_BATCH_CELLS,
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "year of one kiosk: {} cells in {} batches synced in {:.2} s ({:.0} cells/s), {:.1} MB request bodies",
        r.cells_sent,
        r.batches,
        secs,
        r.cells_sent as f64 / secs,
        r.request_bytes as f64 / 1e6
    );

    // 2. Bytes on the wire for one new visit (fresh connection, plain HTTP).
    store.start_session(
        Site::Certified {
            id: Code::new("dps-bench")?,
        },
        Utc::now(),
    )?;
    let mut gen = VisitGen::new(7)?;
    store.record(gen.visit()?, Utc::now())?;
    drop(client);
    // A proxy of its own, so no other connection's bytes are counted.
    let proxy = FaultProxy::start(addr).await?;
    let mut cfg = ClientConfig::new(&proxy.url());
    cfg.keep_alive = false;
    let one = HubClient::new(&cfg)?;
    let before = (
        proxy
            .stats
            .bytes_up
            .load(std::sync::atomic::Ordering::SeqCst),
        proxy
            .stats
            .bytes_down
            .load(std::sync::atomic::Ordering::SeqCst),
    );
    let r = dps_sync::sync_once(&store, &one, &e.token, &Utc::now, 100).await?;
    // The proxy counts when the connection closes; the client closed it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let up = proxy
        .stats
        .bytes_up
        .load(std::sync::atomic::Ordering::SeqCst)
        - before.0;
    let down = proxy
        .stats
        .bytes_down
        .load(std::sync::atomic::Ordering::SeqCst)
        - before.1;
    println!(
        "one new visit: {} cell, request body {} B, on the wire {} B up + {} B down = {} B (HTTP/1.1, no TLS)",
        r.cells_sent,
        r.request_bytes,
        up,
        down,
        up + down
    );

    // 3. 50 kiosks at once.
    let per = 2_000usize;
    let mut kiosks = Vec::new();
    for i in 0..50 {
        let k = Arc::new(MemSource::new(&format!("bench{i}")));
        dps_sync::enrol(k.as_ref(), &url, &code(&hub)?, None).await?;
        for c in 0..per {
            k.record(cell(c, i), false);
        }
        kiosks.push(k);
    }
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for k in &kiosks {
        let k = k.clone();
        set.spawn(async move {
            let (c, e) = dps_sync::client_for(k.as_ref(), None)?;
            dps_sync::sync_once(k.as_ref(), &c, &e.token, &Utc::now, 500)
                .await
                .map_err(anyhow::Error::from)
        });
    }
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        total += r.context("kiosk task")??.cells_sent;
    }
    let secs = t.elapsed().as_secs_f64();
    println!("50 concurrent kiosks: {total} cells in {secs:.2} s = {:.0} cells/s ingested (batches of 500, durable acks)", total as f64 / secs);
    let ok = kiosks
        .iter()
        .all(|k| k.pending_count().map(|n| n == 0).unwrap_or(false));
    println!("all kiosks fully acknowledged: {ok}");
    Ok(())
}

fn cell(i: usize, kiosk: usize) -> CellKey {
    CellKey {
        day: Utc::now().date_naive() - Duration::days((i % 365) as i64),
        site: Code::new(&format!("dps-{}", kiosk % 10)).unwrap_or_else(|_| unreachable!()),
        procedure: Code::new(["bruvax-registration", "other-digital-help"][(i / 365) % 2])
            .unwrap_or_else(|_| unreachable!()),
        outcome: Code::new("done").unwrap_or_else(|_| unreachable!()),
        language: Language::ALL[(i / 730) % 4],
        channel: Channel::Eid,
        age_band: AgeBand::ALL[(i / 2920) % 7],
        residence: Residence::Brussels(Municipality::ALL[kiosk % 19]),
    }
}
