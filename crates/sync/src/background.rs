//! The sync loop the kiosk window runs while a hub is configured.
//!
//! It sleeps until something happens — a wake-up ("sync now", a new visit
//! counted), the backoff timer after a failure, or a slow heartbeat so the
//! hub's device list stays fresh — and never syncs while a resident's journey
//! is on screen (a sync must not compete with the journey for the network):
//! it waits for the journey to end before an attempt, and a sync under way
//! stops after the batch in flight when a journey begins, then resumes from
//! the last acknowledged batch once the journey is over.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{watch, Notify};

use crate::{
    client_for, record, status, sync_pausable, Backoff, ReplicaSource, SyncError, SyncStatus,
};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How the window steers the loop.
pub struct Controls {
    /// Notify to sync now (the steward's button, or a visit was counted).
    pub wake: Arc<Notify>,
    /// `true` while a resident's journey is on screen.
    pub journey_active: watch::Receiver<bool>,
    /// Set to `true` to stop the loop.
    pub shutdown: watch::Receiver<bool>,
}

pub struct Options {
    pub backoff: Backoff,
    /// Sync this often even with nothing new, so the hub sees the kiosk alive.
    pub heartbeat: Duration,
    pub batch_limit: usize,
    pub rng_seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backoff: Backoff::default(),
            heartbeat: Duration::from_secs(15 * 60),
            batch_limit: crate::wire::MAX_BATCH_CELLS,
            rng_seed: rand::random(),
        }
    }
}

/// Runs until `shutdown` turns true, publishing every status change.
pub async fn run(
    src: Arc<dyn ReplicaSource>,
    clock: Clock,
    mut ctl: Controls,
    opts: Options,
    status_tx: watch::Sender<SyncStatus>,
) {
    let mut rng = StdRng::seed_from_u64(opts.rng_seed);
    let mut failures: u32 = 0;
    loop {
        while *ctl.journey_active.borrow() {
            tokio::select! {
                r = ctl.journey_active.changed() => if r.is_err() { return },
                _ = ctl.shutdown.changed() => return,
            }
        }
        if *ctl.shutdown.borrow() {
            return;
        }
        let journey = ctl.journey_active.clone();
        let in_journey = move || *journey.borrow();
        let result = attempt(src.as_ref(), clock.as_ref(), opts.batch_limit, &in_journey).await;
        let now = clock();
        if let Err(e) = record(src.as_ref(), now, &result) {
            tracing::warn!(error = %e, "could not record the sync status");
        }
        if matches!(&result, Ok(r) if r.paused) {
            // A journey began mid-sync: tell the window what is still
            // pending, then wait for the journey to end (top of the loop) and
            // resume from the last acknowledged batch.
            failures = 0;
            tracing::debug!("sync paused for a journey");
            status_tx.send_replace(status(src.as_ref()).unwrap_or_default());
            continue;
        }
        let delay = match &result {
            Ok(_) => {
                failures = 0;
                opts.heartbeat
            }
            // Not enrolled: nothing to retry until someone enrols (which wakes us).
            Err(SyncError::NotEnrolled) => opts.heartbeat,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::info!(error = %e, failures, "sync failed");
                opts.backoff.delay(failures, &mut rng)
            }
        };
        let mut st = status(src.as_ref()).unwrap_or_default();
        st.next_attempt = chrono::Duration::from_std(delay).ok().map(|d| now + d);
        status_tx.send_replace(st);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = ctl.wake.notified() => {}
            _ = ctl.shutdown.changed() => return,
        }
    }
}

async fn attempt(
    src: &dyn ReplicaSource,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
    batch_limit: usize,
    pause: &(dyn Fn() -> bool + Sync),
) -> Result<crate::SyncReport, SyncError> {
    let (client, enrolment) = client_for(src, None)?;
    sync_pausable(src, &client, &enrolment.token, clock, batch_limit, pause).await
}
