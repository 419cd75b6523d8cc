//! `pg-ingest URL DEVICE INCARNATION BATCHES PER_BATCH`: push a synthetic
//! replica (see `dps_hub_pg::testing::synth`) into a hub database through
//! `PgStore`: every batch in reverse order, then all again in order. The contract suite runs
//! several of these at once to prove that several hub processes can serve one
//! database; the device must already be enrolled.
use anyhow::Context;
use dps_hub_pg::testing::synth;
use dps_hub_pg::PgStore;
use dps_hub_store::Store;
use dps_model::ReplicaId;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, device, incarnation, batches, per] = args.as_slice() else {
        anyhow::bail!("usage: pg-ingest URL DEVICE INCARNATION BATCHES PER_BATCH");
    };
    let batches: usize = batches.parse().context("BATCHES")?;
    let per: usize = per.parse().context("PER_BATCH")?;
    let store = PgStore::connect_with(url, 2)?;
    let replica = ReplicaId {
        device: device.clone(),
        incarnation: incarnation.clone(),
    };
    let now = chrono::Utc::now();
    // Reversed first (the watermark stays put: gaps), then the kiosk's
    // resend in order, which completes it.
    for b in (0..batches).rev().chain(0..batches) {
        store.ingest(device, &synth::push(&replica, b, per, now), now)?;
    }
    println!("pg-ingest: {device}/{incarnation}: {batches} batches of {per} cells, reversed then resent in order");
    Ok(())
}
