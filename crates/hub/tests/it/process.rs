//! The real `dps-hub` binary: admin commands while `serve` runs, the hub
//! killed (SIGKILL) in the middle of a sync and restarted, graceful stop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use dps_faultproxy::{Fault, FaultProxy};
use dps_hub::store::totals;
use dps_hub::SledStore;
use dps_sync::ReplicaSource;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_dps-hub");

/// Kills the hub if a test fails before stopping it.
pub struct Hub(pub Option<Child>);

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

/// `CMD serve --bind BIND SERVE_ARGS…`, its stdout piped and its stderr to
/// `stderr`: the child, its first line ("dps-hub: listening on URL" once it
/// serves) and the rest of its stdout. Every test that runs the binary's
/// server starts it here.
pub fn start_serve<S: AsRef<OsStr>>(
    mut cmd: Command,
    bind: &str,
    serve_args: &[S],
    stderr: Stdio,
) -> (Child, String, BufReader<ChildStdout>) {
    let mut child = cmd
        .args(["serve", "--bind", bind])
        .args(serve_args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (child, line, out)
}

/// `dps-hub --data-dir DIR EXTRA… serve --bind BIND`; returns its URL.
pub fn serve_with(dir: &Path, bind: &str, extra: &[&str]) -> (Hub, String) {
    let mut cmd = hub_cmd(dir);
    cmd.args(extra);
    let (child, line, _) = start_serve(cmd, bind, &[] as &[&str], Stdio::null());
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
    sigterm(&child);
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
    let (child, line, _) = start_serve(
        hub_cmd(&data),
        "127.0.0.1:0",
        &[
            OsStr::new("--tls-cert"),
            cert.as_os_str(),
            OsStr::new("--tls-key"),
            key.as_os_str(),
        ],
        Stdio::null(),
    );
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

// ---- time limits and shutdown ----

/// `dps-hub … serve --bind 127.0.0.1:0 SERVE_ARGS…` from `cmd`; returns the
/// hub, its address and its stdout (for the "stopping" line).
fn spawn_hub(cmd: Command, serve_args: &[&str]) -> (Hub, String, BufReader<ChildStdout>) {
    let (child, line, out) = start_serve(cmd, "127.0.0.1:0", serve_args, Stdio::null());
    let addr = line
        .trim()
        .strip_prefix("dps-hub: listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    (Hub(Some(child)), addr, out)
}

pub fn hub_cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(dir);
    c
}

/// Reads one HTTP/1.1 response (headers, then a `content-length` body).
async fn read_response<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                return (status, body);
            }
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends half a request's headers and goes silent; returns once the hub has
/// closed the connection (or fails after 10 s: the hub kept it open).
async fn half_headers_are_cut_off<S>(mut s: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"POST /api/v1/push HTTP/1.1\r\nHost: hub\r\nContent-Ty")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
    assert!(
        r.is_ok(),
        "the hub still holds a connection that sent half its headers 10 s ago"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains(" 200 "),
        "{rest:?}"
    );
}

struct InProcess {
    bound: dps_hub::serve::Bound,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), dps_hub::serve::ServeError>>,
}

async fn serve_in_process(opts: dps_hub::serve::ServeOptions) -> InProcess {
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let (btx, brx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(dps_hub::serve::serve(
        opts,
        async move {
            let _ = rx.await;
        },
        move |b| {
            let _ = btx.send(b.clone());
        },
    ));
    InProcess {
        bound: brx.await.unwrap(),
        stop,
        task,
    }
}

impl InProcess {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// A slow-loris client (half its headers, then silence) is cut off after the
/// header time limit, with and without TLS; the hub serves others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_half_its_headers_is_cut_off() {
    use tokio_rustls::rustls;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = dps_hub::serve::ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("plain"),
    );
    opts.limits.header_read = Duration::from_millis(500);
    let hub = serve_in_process(opts).await;
    let addr = hub.bound.addr;
    let slow = tokio::spawn(half_headers_are_cut_off(
        tokio::net::TcpStream::connect(addr).await.unwrap(),
    ));
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    slow.await.unwrap();
    hub.stop().await;

    let (key, cert, ca) = test_certs(dir.path());
    let mut opts =
        dps_hub::serve::ServeOptions::new("127.0.0.1:0".parse().unwrap(), &dir.path().join("tls"));
    opts.tls = Some((cert, key));
    opts.limits.header_read = Duration::from_millis(500);
    let hub = serve_in_process(opts).await;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut std::fs::read(&ca).unwrap().as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(hub.bound.addr)
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    half_headers_are_cut_off(tls).await;
    hub.stop().await;
}

/// A request whose body does not arrive in time gets a JSON 408
/// `{"code":"timeout",…}`, like every other error, not an empty body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_gets_a_json_408() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = dps_hub::serve::ServeOptions::new("127.0.0.1:0".parse().unwrap(), dir.path());
    opts.limits.request = Duration::from_millis(500);
    let hub = serve_in_process(opts).await;
    let mut s = tokio::net::TcpStream::connect(hub.bound.addr)
        .await
        .unwrap();
    s.write_all(
        b"POST /api/v1/enrol HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"v\":1,",
    )
    .await
    .unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .expect("no answer to a request that timed out");
    assert_eq!(status, 408, "{body}");
    let e: dps_sync::wire::ApiError = serde_json::from_str(&body).unwrap();
    assert_eq!(e.code, "timeout");
    assert!(e.message.contains("took longer"), "{}", e.message);
    hub.stop().await;
}

/// SIGTERM: a request in flight (its body half sent) still completes after
/// the stop began; a request that never completes is cut at the grace
/// (`--shutdown-grace`), and the hub exits cleanly either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_within_the_grace() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mut hub, addr, mut out) = spawn_hub(hub_cmd(d), &["--shutdown-grace", "3"]);
    let (ok, json, err) = admin(d, &["enrol", "--site", "dps-a", "--json"]);
    assert!(ok, "{err}");
    let code = serde_json::from_str::<serde_json::Value>(&json).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = format!(r#"{{"v":1,"code":"{code}"}}"#);
    let (first, second) = body.split_at(body.len() / 2);
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        format!(
            "POST /api/v1/enrol HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{first}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Let the hub read the headers (the request is then in flight).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut child = hub.0.take().unwrap();
    sigterm(&child);
    let stopping = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    assert!(stopping.starts_with("dps-hub: stopping"), "{stopping:?}");
    s.write_all(second.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut s).await;
    assert_eq!(status, 200, "{answer}");
    let r: dps_sync::wire::EnrolResponse = serde_json::from_str(&answer).unwrap();
    assert_eq!(r.site.as_str(), "dps-a");
    let st = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(st.success(), "{st}");
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());

    // A request that never completes holds the stop for the grace, no longer.
    let (mut hub, addr, _out) = spawn_hub(hub_cmd(d), &["--shutdown-grace", "2"]);
    let mut stuck = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/v1/enrol HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut child = hub.0.take().unwrap();
    let t = std::time::Instant::now();
    sigterm(&child);
    let st = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || child.wait().unwrap()),
    )
    .await
    .expect("the hub did not stop within 20 s")
    .unwrap();
    let took = t.elapsed();
    assert!(st.success(), "{st}");
    // It waited for the request (the grace), and not for the 30 s request limit.
    assert!(
        took >= Duration::from_millis(1_500) && took < Duration::from_secs(8),
        "stopped after {took:?} with a 2 s grace"
    );
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

// ---- admin commands and the data directory ----

/// Pointed at a directory with no store and no running hub, the admin
/// commands refuse in plain words and create nothing (they used to create an
/// empty store and print a code no hub knew). The default data directory is
/// absolute (XDG), so they find the hub's store from any working directory.
#[test]
fn admin_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = dir.path().join("missing");
    let commands: [&[&str]; 4] = [
        &["enrol", "--site", "dps-a"],
        &["devices"],
        &["revoke", "dev-x"],
        &["export", "--format", "csv"],
    ];
    for d in [&empty, &missing] {
        for args in commands {
            let out = hub_cmd(d)
                .args(args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} in {}", d.display());
            assert!(
                out.stdout.is_empty(),
                "{args:?}: {:?}",
                String::from_utf8_lossy(&out.stdout)
            );
            assert!(
                err.contains(&format!("there is no hub store in {}", d.display()))
                    && err.contains("nothing created"),
                "{args:?}: {err}"
            );
        }
    }
    assert!(!missing.exists(), "an admin command created the directory");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);

    // No --data-dir: $XDG_DATA_HOME/dps-hub, whatever the working directory.
    let xdg = dir.path().join("xdg");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let default_cmd = || {
        let mut c = Command::new(BIN);
        c.env("XDG_DATA_HOME", &xdg)
            .env("HOME", dir.path())
            .current_dir(&elsewhere);
        c
    };
    let out = default_cmd().arg("devices").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&xdg.join("dps-hub").display().to_string()),
        "{err}"
    );
    assert!(!xdg.exists());
    let (hub, _, _out) = spawn_hub(default_cmd(), &[]);
    assert!(xdg.join("dps-hub").join("hub.sled").is_dir());
    let out = default_cmd()
        .current_dir(dir.path())
        .args(["enrol", "--site", "dps-a", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    terminate(hub);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}
