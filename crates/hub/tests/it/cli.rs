//! `dps-kiosk enrol` and `dps-kiosk sync` (in-process, `dps_cli::sync`)
//! against a real hub, on a real tally store, reading what they print.

use std::process::ExitCode;

use chrono::Utc;
use dps_cli::sync::{EnrolArgs, SyncArgs};
use dps_cli::Global;
use dps_hub::Store;
use dps_model::{AgeBand, Channel, Code, Language, Residence, VisitRecord};
use dps_tally::{Site, TallyStore};
use expect_test::expect;

use crate::common::TestHub;

/// What a command printed, and how it ended.
struct Ran {
    code: ExitCode,
    out: String,
    err: String,
}

enum Cmd {
    Enrol(EnrolArgs),
    Sync(SyncArgs),
}

async fn run(dir: &std::path::Path, cmd: Cmd) -> Ran {
    let g = Global {
        data_dir: Some(dir.to_owned()),
    };
    // The CLI makes its own runtime: run it off this one.
    tokio::task::spawn_blocking(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = match cmd {
            Cmd::Enrol(a) => dps_cli::sync::enrol_to(a, &g, &mut out, &mut err),
            Cmd::Sync(a) => dps_cli::sync::sync_to(a, &g, &mut out, &mut err),
        };
        Ran {
            code,
            out: String::from_utf8(out).unwrap(),
            err: String::from_utf8(err).unwrap(),
        }
    })
    .await
    .unwrap()
}

fn sync_args(once: bool, json: bool, hub: Option<String>) -> SyncArgs {
    SyncArgs {
        once,
        json,
        hub,
        status: false,
    }
}

fn record_visits(store: &TallyStore) {
    let opened = store.start_session(
        Site::Certified {
            id: Code::new("dps-molenbeek").unwrap(),
        },
        Utc::now(),
    );
    match opened {
        Ok(_) | Err(dps_tally::TallyError::SessionAlreadyOpen) => {}
        Err(e) => panic!("{e}"),
    }
    for (i, lang) in Language::ALL.into_iter().enumerate() {
        for _ in 0..=i {
            let v = VisitRecord {
                procedure: Code::new("bruvax-registration").unwrap(),
                outcome: Code::new("done").unwrap(),
                language: lang,
                channel: Channel::Eid,
                age_band: AgeBand::From65To74,
                residence: Residence::from_postcode("1080"),
            };
            store.record(v, Utc::now()).unwrap();
        }
    }
    store.undo_last().unwrap();
}

fn kiosk_totals(store: &TallyStore) -> std::collections::BTreeMap<dps_model::CellKey, u64> {
    store
        .cells()
        .unwrap()
        .into_iter()
        .map(|c| (c.cell, c.net))
        .collect()
}

/// A JSON value's shape: keys and value kinds, recursively.
fn shape(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            out.push_str("{\n");
            for (k, v) in m {
                out.push_str(&format!("{}{k}: ", "  ".repeat(indent + 1)));
                shape(v, indent + 1, out);
            }
            out.push_str(&format!("{}}}\n", "  ".repeat(indent)));
        }
        Value::Null => out.push_str("null\n"),
        Value::Bool(_) => out.push_str("bool\n"),
        Value::Number(_) => out.push_str("number\n"),
        Value::String(_) => out.push_str("string\n"),
        Value::Array(_) => out.push_str("array\n"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_then_sync_a_real_tally_store() {
    let hub_dir = tempfile::tempdir().unwrap();
    let kiosk_dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(hub_dir.path()).await;
    let kd = kiosk_dir.path();

    // Not enrolled: a plain refusal, not a retry loop.
    let r = run(kd, Cmd::Sync(sync_args(false, false, None))).await;
    assert_eq!(r.code, ExitCode::FAILURE);
    assert!(r.err.contains("not enrolled with a hub yet"), "{}", r.err);
    let enrol = |code: String| EnrolArgs {
        hub: hub.url(),
        code,
        hub_ca: None,
        json: false,
    };
    let r = run(kd, Cmd::Enrol(enrol("ZZZZ-ZZZZ".into()))).await;
    assert_eq!(r.code, ExitCode::FAILURE);
    assert!(
        r.err.contains("wrong, already used or expired"),
        "{}",
        r.err
    );
    let r = run(kd, Cmd::Enrol(enrol(hub.code("dps-molenbeek")))).await;
    assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    assert!(r.out.starts_with("Enrolled as dev-"), "{}", r.out);

    {
        let store = TallyStore::open(kd, Utc::now()).unwrap().store;
        record_visits(&store);
        // The window holds the store: the CLI says so, in those words, and stops.
        let r = run(kd, Cmd::Sync(sync_args(true, false, None))).await;
        assert_eq!(r.code, ExitCode::FAILURE);
        assert_eq!(
            r.err.trim_end(),
            format!(
                "dps-kiosk: the visit counts in {} are already open in another program \
                 (probably the kiosk window); close it and try again",
                kd.display()
            )
        );
        assert!(r.out.is_empty());
    }
    let r = run(kd, Cmd::Sync(sync_args(true, false, None))).await;
    assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    assert!(
        r.out
            .starts_with("Synced: 4 cells in 1 batch(es), 0 still pending."),
        "{}",
        r.out
    );

    let store = TallyStore::open(kd, Utc::now()).unwrap().store;
    assert_eq!(store.pending_count().unwrap(), 0);
    let kiosk = kiosk_totals(&store);
    assert_eq!(hub.totals(), kiosk);
    assert_eq!(kiosk.values().sum::<u64>(), 1 + 2 + 3 + 4 - 1);
    let st = dps_sync::status(&store).unwrap();
    assert!(st.enrolled && st.last_success.is_some() && st.last_error.is_none());
    assert_eq!(st.site.as_deref(), Some("dps-molenbeek"));
    let device = store.replica().device;
    drop(store);

    // Enrolling again while the hub has the device active: refused, unchanged.
    let r = run(kd, Cmd::Enrol(enrol(hub.code("dps-molenbeek")))).await;
    assert_eq!(r.code, ExitCode::FAILURE);
    assert!(
        r.err.contains("still enrolled and active on the hub"),
        "{}",
        r.err
    );

    // Revoked: a new code re-enrols the same device, and the counts made
    // meanwhile arrive once.
    assert!(hub.store.revoke(&device, Utc::now()).unwrap());
    {
        let store = TallyStore::open(kd, Utc::now()).unwrap().store;
        record_visits(&store);
    }
    let r = run(kd, Cmd::Sync(sync_args(true, false, None))).await;
    assert_eq!(r.code, ExitCode::FAILURE);
    assert!(r.err.contains("the hub refused this device"), "{}", r.err);
    let mut again = enrol(hub.code("dps-saint-josse"));
    again.json = true;
    let r = run(kd, Cmd::Enrol(again)).await;
    assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["device"], device.as_str());
    assert_eq!(v["re_enrolled"], true);
    assert_eq!(v["site"], "dps-saint-josse");
    let r = run(kd, Cmd::Sync(sync_args(true, false, None))).await;
    assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    let store = TallyStore::open(kd, Utc::now()).unwrap().store;
    assert_eq!(hub.totals(), kiosk_totals(&store));
    assert_eq!(hub.store.devices().unwrap().len(), 1);
    hub.stop().await;
}

/// `--hub URL` sends through another address for this run only (here a
/// proxy that counts connections); `--json` prints one object of a fixed shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_hub_override_and_json_output() {
    let hub_dir = tempfile::tempdir().unwrap();
    let kiosk_dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(hub_dir.path()).await;
    let proxy = dps_faultproxy::FaultProxy::start(hub.addr).await.unwrap();
    let kd = kiosk_dir.path();
    let r = run(
        kd,
        Cmd::Enrol(EnrolArgs {
            hub: hub.url(),
            code: hub.code("dps-molenbeek"),
            hub_ca: None,
            json: false,
        }),
    )
    .await;
    assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    record_visits(&TallyStore::open(kd, Utc::now()).unwrap().store);

    let r = run(kd, Cmd::Sync(sync_args(true, true, Some(proxy.url())))).await;
    assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    use std::sync::atomic::Ordering;
    assert!(
        proxy.stats.connections.load(Ordering::Relaxed) > 0,
        "--hub was not used"
    );
    let v: serde_json::Value = serde_json::from_str(r.out.trim()).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["report"]["cells_sent"].clone()),
        (true.into(), 4.into())
    );
    assert_eq!(v["status"]["hub"], hub.url(), "the enrolled hub is kept");
    let mut s = String::new();
    shape(&v, 0, &mut s);
    expect![[r#"
        {
          error: null
          error_code: null
          ok: bool
          report: {
            acked: number
            batches: number
            cells_sent: number
            clock_skew_secs: number
            hub_time: string
            paused: bool
            request_bytes: number
            resent_from: null
            response_bytes: number
          }
          status: {
            clock_skew_secs: number
            clock_skew_warning: bool
            enrolled: bool
            hub: string
            last_attempt: string
            last_error: null
            last_error_code: null
            last_success: string
            next_attempt: null
            pending_cells: number
            site: string
          }
        }
    "#]]
    .assert_eq(&s);
    let store = TallyStore::open(kd, Utc::now()).unwrap().store;
    assert_eq!(hub.totals(), kiosk_totals(&store));
    drop(store);

    // A failure in JSON: the plain sentence and its stable code.
    drop(proxy);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let r = run(kd, Cmd::Sync(sync_args(true, true, Some(dead)))).await;
    assert_eq!(r.code, ExitCode::FAILURE);
    let v: serde_json::Value = serde_json::from_str(r.out.trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error_code"], "unreachable");
    assert_eq!(
        v["error"],
        "the hub could not be reached (no connection?): the kiosk will retry by itself"
    );
    assert_eq!(v["report"], serde_json::Value::Null);
    hub.stop().await;
}

#[test]
fn enrolment_lifetimes_parse() {
    use std::time::Duration;
    let ok = |s: &str| dps_hub::parse_ttl(s).unwrap();
    assert_eq!(ok("24h"), Duration::from_secs(86_400));
    assert_eq!(ok("90m"), Duration::from_secs(5_400));
    assert_eq!(ok("7d"), Duration::from_secs(604_800));
    assert_eq!(ok("3600s"), Duration::from_secs(3_600));
    assert_eq!(ok("45"), Duration::from_secs(45));
    assert_eq!(ok(" 2h "), Duration::from_secs(7_200));
    for bad in ["", "h", "0h", "0", "-1h", "1.5h", "24 h", "1w", "tomorrow"] {
        let e = dps_hub::parse_ttl(bad).unwrap_err();
        assert!(
            e.contains("is not a duration like 24h") || e.contains("more than zero"),
            "{bad:?}: {e}"
        );
    }
    // Absurd lengths saturate instead of wrapping around to a short one.
    assert_eq!(ok("18446744073709551615d"), Duration::from_secs(u64::MAX));
}
