//! `dps-kiosk enrol` and `dps-kiosk sync` (in-process `dps_cli::run`) against
//! a real hub, on a real tally store.

use std::process::ExitCode;

use chrono::Utc;
use dps_cli::sync::{EnrolArgs, SyncArgs};
use dps_cli::{Command, Global};
use dps_model::{AgeBand, Channel, Code, Language, Residence, VisitRecord};
use dps_tally::{Site, TallyStore};

use crate::common::TestHub;

async fn run(dir: &std::path::Path, cmd: Command) -> ExitCode {
    let g = Global {
        data_dir: Some(dir.to_owned()),
    };
    // The CLI makes its own runtime: run it off this one.
    tokio::task::spawn_blocking(move || dps_cli::run(&g, cmd))
        .await
        .unwrap()
}

fn sync_args(once: bool) -> SyncArgs {
    SyncArgs {
        once,
        json: true,
        hub: None,
        status: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_then_sync_a_real_tally_store() {
    let hub_dir = tempfile::tempdir().unwrap();
    let kiosk_dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(hub_dir.path()).await;
    let kd = kiosk_dir.path();

    // Not enrolled: a plain refusal, not a retry loop.
    assert_eq!(
        run(kd, Command::Sync(sync_args(false))).await,
        ExitCode::FAILURE
    );
    let enrol = |code: String| EnrolArgs {
        hub: hub.url(),
        code,
        hub_ca: None,
        json: false,
    };
    assert_eq!(
        run(kd, Command::Enrol(enrol("ZZZZ-ZZZZ".into()))).await,
        ExitCode::FAILURE
    );
    assert_eq!(
        run(kd, Command::Enrol(enrol(hub.code("dps-molenbeek")))).await,
        ExitCode::SUCCESS
    );

    {
        let store = TallyStore::open(kd, Utc::now()).unwrap().store;
        store
            .start_session(
                Site::Certified {
                    id: Code::new("dps-molenbeek").unwrap(),
                },
                Utc::now(),
            )
            .unwrap();
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

        // The window holds the store: the CLI says so and stops.
        assert_eq!(
            run(kd, Command::Sync(sync_args(true))).await,
            ExitCode::FAILURE
        );
    }
    assert_eq!(
        run(kd, Command::Sync(sync_args(true))).await,
        ExitCode::SUCCESS
    );

    let store = TallyStore::open(kd, Utc::now()).unwrap().store;
    assert_eq!(store.pending_count().unwrap(), 0);
    let kiosk: std::collections::BTreeMap<_, _> = store
        .cells()
        .unwrap()
        .into_iter()
        .map(|c| (c.cell, c.net))
        .collect();
    assert_eq!(hub.totals(), kiosk);
    assert_eq!(kiosk.values().sum::<u64>(), 1 + 2 + 3 + 4 - 1);
    let st = dps_sync::status(&store).unwrap();
    assert!(st.enrolled && st.last_success.is_some() && st.last_error.is_none());
    assert_eq!(st.site.as_deref(), Some("dps-molenbeek"));
    drop(store);

    // Already synced: enrolling again would double the counts, so it refuses.
    assert_eq!(
        run(kd, Command::Enrol(enrol(hub.code("dps-molenbeek")))).await,
        ExitCode::FAILURE
    );
    hub.stop().await;
}
