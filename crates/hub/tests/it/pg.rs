//! `dps-hub serve --database-url`: two hub processes on one PostgreSQL
//! database (a throw-away cluster), kiosks pushing to both, admin commands
//! straight on the database. Needs `DPS_TEST_PG=1` (Debian's `postgresql`).

use std::sync::Arc;

use dps_hub::store::{totals, Coordination, Store};
use dps_hub_pg::testing::TempCluster;
use dps_hub_pg::PgStore;
use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};
use dps_sync::ReplicaSource;

use crate::common::*;
use crate::process::{admin, serve_with, terminate};

pub fn pg_enabled(what: &str) -> bool {
    if std::env::var_os("DPS_TEST_PG").is_some_and(|v| v == "1") {
        true
    } else {
        println!("skipped {what}: set DPS_TEST_PG=1 (needs Debian's postgresql) to run it");
        false
    }
}

/// A throw-away cluster with one fresh database; the URL of it.
pub async fn cluster(db: &str) -> (TempCluster, String) {
    let db = db.to_owned();
    tokio::task::spawn_blocking(move || {
        let c = TempCluster::start().unwrap();
        let url = c.create_database(&db).unwrap();
        (c, url)
    })
    .await
    .unwrap()
}

/// Read the database's totals from another connection, off the async threads.
pub async fn pg_totals(url: &str) -> std::collections::BTreeMap<dps_model::CellKey, u64> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let s: Arc<dyn Store> = Arc::new(PgStore::connect_with(&url, 1).unwrap());
        totals(s.as_ref()).unwrap()
    })
    .await
    .unwrap()
}

fn enrol_code(dir: &std::path::Path, url: &str, site: &str) -> String {
    let (ok, out, err) = admin(
        dir,
        &["--database-url", url, "enrol", "--site", site, "--json"],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hub_processes_serve_one_database() {
    if !pg_enabled("two_hub_processes_serve_one_database") {
        return;
    }
    let (_cluster, url) = cluster("hub_two").await;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Both start at once: the migrations serialise on their advisory lock.
    let ha = std::thread::spawn({
        let (d, u) = (d1.path().to_owned(), url.clone());
        move || serve_with(&d, "127.0.0.1:0", &["--database-url", &u])
    });
    let (hub_b, url_b) = serve_with(d2.path(), "127.0.0.1:0", &["--database-url", &url]);
    let (hub_a, url_a) = ha.join().unwrap();

    // Codes made with the admin command on the database, redeemed at either hub.
    let k1 = kiosk(&url_a, &enrol_code(d1.path(), &url, "dps-molenbeek"), "k1").await;
    let k2 = kiosk(
        &url_b,
        &enrol_code(d2.path(), &url, "dps-saint-josse"),
        "k2",
    )
    .await;
    visits(&k1, 1_200, 900, 1);
    visits(&k2, 800, 600, 2);
    let (ca, cb) = (client(&url_a, true, 5_000), client(&url_b, true, 5_000));
    // Half of k1 through A, the rest through B; k2 through both in turn.
    sync(&k1, &ca, 100).await.unwrap();
    sync(&k2, &cb, 64).await.unwrap();
    visits(&k1, 300, 900, 3);
    sync(&k1, &cb, 100).await.unwrap();
    visits(&k2, 200, 600, 4);
    sync(&k2, &ca, 64).await.unwrap();
    let want = sum(&[k1.clone(), k2.clone()]);
    assert_eq!(pg_totals(&url).await, want);

    // k1's whole replica resent to both hubs (as a kiosk that lost its
    // acknowledgements would): merging by maximum changes nothing.
    let all = PushRequest {
        v: PROTOCOL_VERSION,
        replica: k1.replica(),
        after: 0,
        upto: k1.last_seq(),
        cells: k1
            .counts()
            .into_iter()
            .map(|(k, c)| WireCell::new(k, c))
            .collect(),
        kiosk_time: chrono::Utc::now(),
        pending: 0,
    };
    for c in [&ca, &cb] {
        let (r, _) = c.push(&token(&k1), &all).await.unwrap();
        assert_eq!((r.stored, r.watermark), (0, k1.last_seq()));
    }
    assert_eq!(pg_totals(&url).await, want);

    // Both hubs and the admin command see both devices, with their sites.
    let (ok, out, err) = admin(d1.path(), &["--database-url", &url, "devices", "--json"]);
    assert!(ok, "{err}");
    let devs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut sites: Vec<&str> = devs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["site"].as_str().unwrap())
        .collect();
    sites.sort();
    assert_eq!(sites, ["dps-molenbeek", "dps-saint-josse"]);
    // A revocation through the database cuts the device off at both hubs.
    let dev = k2.replica().device;
    let (ok, _, err) = admin(d2.path(), &["--database-url", &url, "revoke", &dev]);
    assert!(ok, "{err}");
    for c in [&ca, &cb] {
        let e = sync(&k2, c, 64).await.unwrap_err();
        assert!(e.plain().contains("refused this device"), "{e}");
    }
    // A coordination account added on the database logs in at hub A; the
    // session works at hub B, and a logout at B kills it at A too.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dps-hub"))
        .args([
            "--database-url",
            &url,
            "admin",
            "add",
            "marie",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{}", crate::coord::PASSWORD).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let http = crate::coord::no_redirects();
    let session = crate::coord::login(&http, &url_a, "marie").await;
    let tallies = |base: &str| format!("{base}/api/v1/tallies?group_by=site&format=json");
    let mut totals_seen = Vec::new();
    for base in [&url_a, &url_b] {
        let r = crate::coord::get(&http, &tallies(base), &session).await;
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        let v: serde_json::Value = r.json().await.unwrap();
        totals_seen.push(v["total"].as_u64().unwrap());
    }
    let all: u64 = want.values().sum();
    assert_eq!(totals_seen, [all, all]);
    let html = crate::coord::get(&http, &format!("{url_b}/dashboard"), &session)
        .await
        .text()
        .await
        .unwrap();
    let csrf = crate::coord::csrf_field(&html);
    let r = http
        .post(format!("{url_b}/logout"))
        .header(reqwest::header::COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let r = crate::coord::get(&http, &tallies(&url_a), &session).await;
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);

    assert!(
        !d1.path().join("admin.json").exists(),
        "on PostgreSQL no admin file is written"
    );
    terminate(hub_a);
    terminate(hub_b);
}

/// On PostgreSQL the tallies query sums in SQL over only the dimensions it
/// looks at: every table must equal dps-report run over all the cells, and
/// the hand-computed exports must come out exactly.
#[test]
fn tallies_summed_in_sql_equal_the_reference() {
    if !pg_enabled("tallies_summed_in_sql_equal_the_reference") {
        return;
    }
    let cluster = TempCluster::start().unwrap();
    let url = cluster.create_database("tallies").unwrap();
    let store = PgStore::connect_with(&url, 2).unwrap();
    crate::coord::seed(&store);
    let all = store.net_cells(None, None).unwrap();
    for q in [
        "group_by=municipality",
        "group_by=municipality&public=true&from=2026-01-01",
        "group_by=site,procedure,outcome",
        "group_by=year,outcome&municipality=molenbeek-saint-jean,saint-josse-ten-noode",
        "group_by=week&outcome=done",
        "group_by=month,language&age_band=45_64&channel=eid",
        "procedure=help",
        "from=2026-03-03&to=2026-03-10&group_by=day",
        "group_by=site&site=nowhere",
    ] {
        let req = dps_report::TalliesRequest::from_url_query(q).unwrap();
        let fast = dps_hub::coord::table(&store, &req).unwrap();
        let reference = dps_report::run(all.iter().map(|(k, v)| (k, *v)), &req).unwrap();
        assert_eq!(fast, reference, "{q}");
    }
    let csv = |q: &str| {
        let req = dps_report::TalliesRequest::from_url_query(q).unwrap();
        String::from_utf8(dps_hub::coord::export(&store, &req).unwrap()).unwrap()
    };
    assert_eq!(
        csv("from=2026-01-01&to=2026-12-31&group_by=municipality&format=csv"),
        crate::coord::EXACT_BY_MUNICIPALITY
    );
    assert_eq!(
        csv("from=2026-01-01&group_by=municipality&format=csv&public=true"),
        crate::coord::PUBLIC_BY_MUNICIPALITY
    );
}
