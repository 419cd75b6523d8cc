//! The real `dps-hub` binary as deployed: `serve --public-url` behind a TLS
//! reverse proxy (Secure cookies over plain HTTP, only when told), and
//! `dps-hub export` with `--to` and `--format json`, on a stopped hub and
//! through a running one.

use std::path::Path;
use std::process::Stdio;

use dps_hub::SledStore;

use crate::coord::{seed, set_cookie};
use crate::process::{admin, hub_cmd, start_serve, Hub};

/// `dps-hub --data-dir DIR serve --bind 127.0.0.1:0 ARGS…` (killed when the
/// `Hub` drops) and its URL, or what it said on stderr when it refused.
fn serve(dir: &Path, args: &[&str]) -> Result<(Hub, String), String> {
    let (child, line, _) = start_serve(hub_cmd(dir), "127.0.0.1:0", args, Stdio::piped());
    match line.trim().strip_prefix("dps-hub: listening on ") {
        Some(url) => Ok((Hub(Some(child)), url.to_owned())),
        None => {
            let out = child.wait_with_output().unwrap();
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// The login form's CSRF cookie header as the hub at `url` sets it.
async fn login_cookie(url: &str) -> String {
    let r = reqwest::get(format!("{url}/login")).await.unwrap();
    set_cookie(&r, "dps_login_csrf").unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_url_https_marks_cookies_secure_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    // The documented deployment: plain HTTP on loopback, HTTPS outside.
    let hub = serve(dir.path(), &["--public-url", "https://hub.example.org"]).unwrap();
    assert!(hub.1.starts_with("http://"), "{}", hub.1);
    let c = login_cookie(&hub.1).await;
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"),
        "{c}"
    );
    drop(hub);
    // Not told: no Secure flag (a browser would drop the cookie over http).
    for args in [&[][..], &["--public-url", "http://10.0.0.5:8470/"][..]] {
        let hub = serve(dir.path(), args).unwrap();
        let c = login_cookie(&hub.1).await;
        assert!(
            c.contains("HttpOnly") && !c.contains("Secure"),
            "{args:?}: {c}"
        );
        // A proxy header claiming HTTPS is not trusted for it.
        let r = reqwest::Client::new()
            .get(format!("{}/login", hub.1))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        let (_, c) = set_cookie(&r, "dps_login_csrf").unwrap();
        assert!(!c.contains("Secure"), "X-Forwarded-Proto was trusted: {c}");
    }
    // A typo is refused with a reason, not silently ignored.
    for bad in ["hub.example.org", "https://", "ftp://hub.example.org"] {
        let err = serve(dir.path(), &["--public-url", bad]).err().unwrap();
        assert!(
            err.contains("--public-url") && err.contains(bad),
            "{bad}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_a_date_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed(&SledStore::open(d).unwrap());
    let export = |args: &[&str]| {
        let mut a = vec!["export"];
        a.extend_from_slice(args);
        admin(d, &a)
    };
    let by_day = [
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-05",
        "--group-by",
        "day",
        "--format",
        "json",
    ];
    let want_by_day = serde_json::json!({
        "disclosure": "exact",
        "columns": ["day", "visits"],
        "rows": [
            {"day": "2026-03-02", "visits": 25},
            {"day": "2026-03-03", "visits": 3}
        ],
        "totals": [{"day": null, "visits": 28}],
        "total": 28
    });
    // `--to` alone: everything up to that day, the 2025 visits included.
    let to_only = [
        "--to",
        "2026-03-02",
        "--group-by",
        "municipality",
        "--format",
        "csv",
    ];
    let want_to_only = "municipality,visits,row,disclosure\r\n\
                        molenbeek-saint-jean,32,cell,exact\r\n\
                        *,32,total,exact\r\n";

    // The answers wanted with or without a running hub.
    let answers = || {
        let (ok, out, err) = export(&by_day);
        assert!(ok, "{err}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out).unwrap(),
            want_by_day
        );
        let (ok, out, err) = export(&to_only);
        assert!(ok, "{err}");
        assert_eq!(out, want_to_only);
    };

    // No hub running: the command opens the store.
    answers();
    let (ok, _, err) = export(&["--from", "2026-03-05", "--to", "2026-03-01"]);
    assert!(!ok && err.contains("after"), "{err}");

    // While serving: the same answers through the admin channel.
    let hub = serve(d, &[]).unwrap();
    answers();
    let (ok, out, err) = export(&[
        "--to",
        "2026-12-31",
        "--group-by",
        "municipality",
        "--format",
        "json",
        "--public",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["disclosure"], "public");
    assert_eq!(
        v["rows"][1],
        serde_json::json!({"municipality": "saint-josse-ten-noode", "visits": "<10"})
    );
    drop(hub);
}
