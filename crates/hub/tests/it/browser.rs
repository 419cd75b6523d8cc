//! The dashboard and the annual report in a real headless Chromium (Debian's
//! `chromium`, driven by playwright-core from `crates/hub/web-tests`): login,
//! a filter, a visible chart, screenshots in docs/screenshots, the report
//! printed to PDF, axe-core 0 violations. Needs `DPS_TEST_BROWSER=1` and
//! `npm ci` in crates/hub/web-tests.

use std::path::PathBuf;
use std::process::Command;

use dps_hub::store::Store;
use dps_hub_pg::testing::synth;
use dps_model::{AgeBand, Channel, Language, Municipality, PnCount, ReplicaId, Residence};
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};

use crate::coord::{Coord, PASSWORD};

fn enabled() -> bool {
    if std::env::var_os("DPS_TEST_BROWSER").is_some_and(|v| v == "1") {
        true
    } else {
        println!("skipped the hub's browser test: set DPS_TEST_BROWSER=1 (needs chromium and npm ci in crates/hub/web-tests)");
        false
    }
}

/// A year of varied visits on top of the hand-computed seed, so every chart
/// has something to show (each dimension cycles with a different period).
fn year_of_visits(store: &dyn Store) {
    let now = chrono::Utc::now();
    let r = ReplicaId {
        device: "dev-one".into(),
        incarnation: "busy".into(),
    };
    let cells: Vec<WireCell> = (0..4_000usize)
        .map(|i| {
            let mut k = synth::cell(i);
            k.residence = Residence::Brussels(Municipality::ALL[(i * 7 + i / 97) % 19]);
            k.age_band = AgeBand::ALL[(i / 3) % 7];
            k.language = Language::ALL[(i / 5) % 4];
            k.channel = Channel::ALL[(i / 11) % 3];
            WireCell::new(
                k,
                PnCount {
                    inc: 1 + (i % 5) as u64,
                    ret: 0,
                },
            )
        })
        .collect();
    let req = PushRequest {
        v: PROTOCOL_VERSION,
        replica: r,
        after: 0,
        upto: 1,
        cells,
        kiosk_time: now,
        pending: 0,
    };
    store.ingest("dev-one", &req, now).unwrap();
}

/// `node run.mjs` against the hub at `base`; its output (it must succeed).
async fn run_in_chromium(base: String, shots: PathBuf) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("web-tests/run.mjs");
    assert!(
        root.join("web-tests/node_modules/playwright-core").exists(),
        "run `npm ci` in crates/hub/web-tests first"
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args([base.as_str(), "marie", PASSWORD])
            .arg(&shots)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "dashboard",
        "dashboard with its data tables open",
        "fr dashboard",
        "nl dashboard",
        "annual report",
    ] {
        assert!(
            stdout.contains(&format!("ok: axe-core: 0 violations on the {page} (")),
            "axe-core on the {page}"
        );
    }
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_report_in_chromium() {
    if !enabled() {
        return;
    }
    let c = Coord::start().await;
    year_of_visits(c.store.as_ref());
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    run_in_chromium(c.url(""), shots).await;
}

/// The same pages once on PostgreSQL (a real `dps-hub serve
/// --database-url`), screenshots kept out of docs/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_report_in_chromium_on_postgres() {
    if !enabled() || !crate::pg::pg_enabled("the hub's browser test on PostgreSQL") {
        return;
    }
    let h = crate::coord_pg::PgHub::start(year_of_visits).await;
    let shots = tempfile::tempdir().unwrap();
    run_in_chromium(h.url.clone(), shots.path().to_owned()).await;
    h.stop();
}
