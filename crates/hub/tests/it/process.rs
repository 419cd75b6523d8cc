//! The real `dps-hub` binary: admin commands while `serve` runs, the hub
//! killed (SIGKILL) in the middle of a sync and restarted, graceful stop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dps_faultproxy::{Fault, FaultProxy};
use dps_hub::store::totals;
use dps_hub::SledStore;
use dps_sync::ReplicaSource;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_dps-hub");

/// Kills the hub if a test fails before stopping it.
pub struct Hub(Option<Child>);

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn serve(dir: &Path, bind: &str) -> (Hub, String) {
    serve_with(dir, bind, &[])
}

/// `dps-hub --data-dir DIR EXTRA… serve --bind BIND`; returns its URL.
pub fn serve_with(dir: &Path, bind: &str, extra: &[&str]) -> (Hub, String) {
    let mut child = Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(extra)
        .args(["serve", "--bind", bind])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("dps-hub: listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    (Hub(Some(child)), url)
}

pub fn admin(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn terminate(mut hub: Hub) {
    let mut child = hub.0.take().unwrap();
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let st = child.wait().unwrap();
    assert!(st.success(), "graceful stop exited with {st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_while_serving_and_a_killed_hub_heals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (hub, url) = serve(d, "127.0.0.1:0");
    let bind = url.trim_start_matches("http://").to_owned();

    // Enrol while `serve` holds the store: through the admin channel.
    let (ok, out, err) = admin(
        d,
        &["enrol", "--site", "dps-molenbeek", "--ttl", "2h", "--json"],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let code = v["code"].as_str().unwrap().to_owned();
    assert!(v["expires"].as_str().is_some());
    let (ok, human, _) = admin(d, &["enrol", "--site", "dps-molenbeek"]);
    assert!(
        ok && human.contains("Enrolment code for dps-molenbeek") && human.contains('█'),
        "{human}"
    );

    let k = kiosk(&url, &code, "inc1").await;
    visits(&k, 3_000, 2_500, 7);
    let proxy = FaultProxy::start(bind.parse().unwrap()).await.unwrap();
    let c = client(&proxy.url(), false, 2_000);
    // Two batches go through; on the third the hub is killed.
    proxy.plan([
        Fault::Pass,
        Fault::Pass,
        Fault::Delay(Duration::from_secs(30)),
    ]);
    let k2 = k.clone();
    let c2 = c.clone();
    let syncing = tokio::spawn(async move { sync(&k2, &c2, 100).await });
    proxy.fault_hit.notified().await;
    drop(hub); // SIGKILL
    let e = syncing.await.unwrap().unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let acked = k.acked().unwrap();
    assert!(
        acked > 0 && k.pending_count().unwrap() > 0,
        "the kill should land mid-sync"
    );

    // A stale admin file from the killed hub: the command opens the store itself.
    let (ok, out, err) = admin(d, &["devices", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (hub, _) = serve(d, &bind);
    let (_, failures) = sync_until_ok(&k, &c, 100, 3).await;
    assert_eq!(failures, 0);
    let (ok, out, err) = admin(d, &["devices", "--json"]);
    assert!(ok, "{err}");
    let devs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(devs[0]["pending"], 0);
    assert_eq!(devs[0]["site"], "dps-molenbeek");
    let (ok, table, _) = admin(d, &["devices"]);
    assert!(
        ok && table.contains("dps-molenbeek") && table.contains("active"),
        "{table}"
    );

    let device = k.replica().device;
    let (ok, _, err) = admin(d, &["revoke", &device]);
    assert!(ok, "{err}");
    let e = sync(&k, &c, 100).await.unwrap_err();
    assert!(e.plain().contains("refused this device"));
    let (ok, _, err) = admin(d, &["revoke", "dev-nobody"]);
    assert!(!ok && err.contains("no device"), "{err}");

    terminate(hub);
    assert!(
        !d.join("admin.json").exists(),
        "graceful stop removes the admin file"
    );
    let store = SledStore::open(d).unwrap();
    assert_eq!(totals(&store).unwrap(), k.totals());

    // The store held by someone else and no admin channel: a plain message.
    let (ok, _, err) = admin(d, &["devices"]);
    assert!(!ok);
    assert!(err.contains("admin channel does not answer"), "{err}");
    drop(store);
}

/// A private CA and a leaf certificate for `localhost` signed by it (made
/// with Debian's `openssl`): `(key.pem, cert.pem, ca.pem)` in `d`.
fn test_certs(d: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (key, cert, ca) = (d.join("key.pem"), d.join("cert.pem"), d.join("ca.pem"));
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .current_dir(d)
            .args(args)
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ok = openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=Test hub CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    ) && openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
            ],
        ]
        .concat(),
    ) && openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    assert!(ok, "openssl could not make a test certificate");
    (key, cert, ca)
}

/// `serve --tls-cert/--tls-key` with a private CA the kiosk pins; a kiosk
/// without that CA refuses the hub. Revoked, the kiosk re-enrols from a
/// place that passes no CA (the steward area) and still trusts only the
/// pinned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_pinned_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, cert, ca) = test_certs(d);
    let data = d.join("hub");
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let hub = Hub(Some(child));
    let port = line.trim().rsplit(':').next().unwrap().to_owned();
    assert!(line.contains("https://"), "{line}");
    let url = format!("https://localhost:{port}");
    let (ok, out, err) = admin(&data, &["enrol", "--site", "dps-a", "--json"]);
    assert!(ok, "{err}");
    let code = serde_json::from_str::<serde_json::Value>(&out).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();

    // Public roots only: the private CA is not trusted.
    let k = dps_sync::MemSource::new("inc1");
    let e = dps_sync::enrol(&k, &url, &code, None).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    // Pinned: enrols and syncs over TLS.
    let pem = std::fs::read(&ca).unwrap();
    dps_sync::enrol(&k, &url, &code, Some(pem)).await.unwrap();
    visits(&k, 50, 40, 3);
    let (c, e) = dps_sync::client_for(&k, None).unwrap();
    dps_sync::sync_once(&k, &c, &e.token, &chrono::Utc::now, 100)
        .await
        .unwrap();
    assert_eq!(k.pending_count().unwrap(), 0);

    // Revoked; a new code redeemed with no CA given: the pinned one is reused.
    let pinned = k.get_setting(dps_sync::keys::HUB_CA_PEM).unwrap();
    let (ok, _, err) = admin(&data, &["revoke", &k.replica().device]);
    assert!(ok, "{err}");
    let (ok, out, err) = admin(&data, &["enrol", "--site", "dps-a", "--json"]);
    assert!(ok, "{err}");
    let code = serde_json::from_str::<serde_json::Value>(&out).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    visits(&k, 20, 60, 4);
    let r = dps_sync::enrol(&k, &format!("{url}/"), &code, None)
        .await
        .unwrap();
    assert_eq!(r.device, k.replica().device);
    assert_eq!(k.get_setting(dps_sync::keys::HUB_CA_PEM).unwrap(), pinned);
    let (c, e) = dps_sync::client_for(&k, None).unwrap();
    dps_sync::sync_once(&k, &c, &e.token, &chrono::Utc::now, 100)
        .await
        .unwrap();
    assert_eq!(k.pending_count().unwrap(), 0);
    terminate(hub);
    assert_eq!(
        totals(&SledStore::open(&data).unwrap()).unwrap(),
        k.totals()
    );
}

/// `dps-hub admin add NAME --password-stdin` and `dps-hub export`, first on
/// a stopped hub (they open the store), then while `serve` holds it (they go
/// through the admin channel); the account logs in to the running hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_add_and_export_with_and_without_a_running_hub() {
    use crate::coord::{login, no_redirects, seed, EXACT_BY_MUNICIPALITY, PUBLIC_BY_MUNICIPALITY};
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed(&SledStore::open(d).unwrap());
    let add = |name: &str, pw: &str| {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(d)
            .args(["admin", "add", name, "--password-stdin"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let export = |args: &[&str]| {
        let mut a = vec!["export"];
        a.extend_from_slice(args);
        admin(d, &a)
    };
    let by_muni = [
        "--from",
        "2026-01-01",
        "--group-by",
        "municipality",
        "--format",
        "csv",
    ];

    // No hub running.
    let (ok, out) = add("anne", crate::coord::PASSWORD);
    assert!(ok && out.contains("Account anne added"), "{out}");
    let (ok, out) = add("Bad Name", crate::coord::PASSWORD);
    assert!(!ok && out.contains("account name"), "{out}");
    let (ok, out) = add("bob", "short");
    assert!(!ok && out.contains("at least 10 characters"), "{out}");
    let (ok, csv, err) = export(&by_muni);
    assert!(ok, "{err}");
    assert_eq!(csv, EXACT_BY_MUNICIPALITY);

    // While serving.
    let (hub, url) = serve(d, "127.0.0.1:0");
    let (ok, out) = add("marie", crate::coord::PASSWORD);
    assert!(ok, "{out}");
    let (ok, out) = add("marie", crate::coord::PASSWORD);
    assert!(!ok && out.contains("already exists"), "{out}");
    let mut public = by_muni.to_vec();
    public.push("--public");
    let (ok, csv, err) = export(&public);
    assert!(ok, "{err}");
    assert_eq!(csv, PUBLIC_BY_MUNICIPALITY);
    let file = d.join("t.xlsx");
    let (ok, _, err) = export(&[
        "--format",
        "xlsx",
        "--group-by",
        "site",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(ok && err.contains("(xlsx, exact)"), "{err}");
    assert!(std::fs::read(&file).unwrap().starts_with(b"PK"));
    let (ok, _, err) = export(&["--group-by", "nonsense"]);
    assert!(!ok && err.contains("nonsense"), "{err}");
    // Both accounts log in to the running hub.
    let http = no_redirects();
    for name in ["anne", "marie"] {
        let s = login(&http, &url, name).await;
        let r = crate::coord::get(
            &http,
            &format!("{url}/api/v1/tallies?group_by=municipality&from=2026-01-01&format=csv"),
            &s,
        )
        .await;
        assert_eq!(r.text().await.unwrap(), EXACT_BY_MUNICIPALITY);
    }
    terminate(hub);
}
