//! Sync as the steward sees it, against a real `dps-hub`: enrolment, the
//! status bar's last success / changes waiting / last error, healing by
//! itself when the hub comes back, a revoked device, a clock that is off.

use std::time::{Duration, Instant};

use crate::steward::{close_steward, other_help_visit, unlock, wait_visits};
use dps_e2e::{enabled, Error, Kiosk};

/// A real `dps-hub` on a loopback port with its own store; killed on drop.
pub struct Hub {
    child: std::process::Child,
    data: Option<tempfile::TempDir>,
    pub url: String,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hub_binary() -> std::path::PathBuf {
    std::env::var_os("DPS_HUB_BIN")
        .map(Into::into)
        .unwrap_or_else(|| dps_e2e::app_binary().with_file_name("dps-hub"))
}

/// Debian's libfaketime (package `faketime`): the real hub, whose clock
/// reads `offset` from the machine's. Only wall-clock time is shifted
/// (`FAKETIME_DONT_FAKE_MONOTONIC`), so its timers run as usual.
fn faketime_lib() -> Result<std::path::PathBuf, Error> {
    std::fs::read_dir("/usr/lib")?
        .flatten()
        .map(|e| e.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists())
        .ok_or_else(|| "libfaketime is missing: apt-get install faketime".into())
}

impl Hub {
    pub fn start() -> Result<Hub, Error> {
        Hub::start_at(tempfile::tempdir()?, &free_port()?, None)
    }

    /// A hub whose clock is `offset` (libfaketime syntax, e.g. `+2h`) off.
    pub fn start_skewed(offset: &str) -> Result<Hub, Error> {
        Hub::start_at(tempfile::tempdir()?, &free_port()?, Some(offset))
    }

    /// A hub on `port` over the store in `data` (new, or left by a stopped hub).
    pub fn restart(data: tempfile::TempDir, port: &str) -> Result<Hub, Error> {
        Hub::start_at(data, port, None)
    }

    fn start_at(data: tempfile::TempDir, port: &str, offset: Option<&str>) -> Result<Hub, Error> {
        let mut cmd = std::process::Command::new(hub_binary());
        cmd.arg("--data-dir")
            .arg(data.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(offset) = offset {
            cmd.env("LD_PRELOAD", faketime_lib()?)
                .env("FAKETIME", offset)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", hub_binary().display()))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            if Instant::now() > deadline {
                return Err("the hub did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Hub {
            child,
            data: Some(data),
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Kills the hub and keeps its store for a restart.
    pub fn stop(mut self) -> Result<tempfile::TempDir, Error> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data.take().ok_or_else(|| "no data dir".into())
    }

    fn data(&self) -> &std::path::Path {
        self.data
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(std::path::Path::new("/nonexistent"))
    }

    /// An admin command's standard output (the hub may be serving).
    pub fn admin_text(&self, args: &[&str]) -> Result<String, Error> {
        let out = std::process::Command::new(hub_binary())
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(format!("dps-hub {args:?}: {out:?}").into());
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    pub fn admin(&self, args: &[&str]) -> Result<serde_json::Value, Error> {
        Ok(serde_json::from_str(&self.admin_text(args)?)?)
    }

    /// A one-time enrolment code for the e2e stand's site.
    pub fn code(&self) -> Result<String, Error> {
        let code = self.admin(&[
            "enrol",
            "--site",
            "popup-molenbeek-saint-jean-stand-e2e",
            "--json",
        ])?;
        Ok(code["code"].as_str().ok_or("no code")?.to_owned())
    }

    /// The one device the hub knows.
    pub fn device(&self) -> Result<serde_json::Value, Error> {
        let devices = self.admin(&["devices", "--json"])?;
        devices
            .as_array()
            .and_then(|d| d.first())
            .cloned()
            .ok_or_else(|| format!("no device: {devices}").into())
    }
}

fn free_port() -> Result<String, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string())
}

/// Enrols the kiosk in the steward area (left unlocked).
async fn enrol(k: &Kiosk, hub: &Hub) -> Result<(), Error> {
    k.find("#hub").await?.send_keys(&hub.url).await?;
    k.find("#code").await?.send_keys(&hub.code()?).await?;
    k.click("[data-action=enrol]").await?;
    k.find("[data-testid=sync-hub]").await?;
    Ok(())
}

/// Waits until the status bar's sync chip satisfies `ok` (its pending count,
/// its error code and its text).
async fn wait_chip(
    k: &Kiosk,
    what: &str,
    ok: impl Fn(&str, &str, &str) -> bool,
) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let chip = k.find("[data-testid=sync-chip]").await?;
        let pending = chip.attr("data-pending").await?.unwrap_or_default();
        let error = chip.attr("data-error").await?.unwrap_or_default();
        let text = chip.text().await?;
        if ok(&pending, &error, &text) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "sync chip never {what}: pending {pending:?}, error {error:?}, {text:?}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_steward_enrols_and_visits_reach_the_hub_by_themselves() -> Result<(), Error> {
    if !enabled("the_steward_enrols_and_visits_reach_the_hub_by_themselves") {
        return Ok(());
    }
    let hub = Hub::start()?;
    // Retries at most 2 s apart (10 min in the field), so healing by itself
    // fits in the test; the first retry is the field's own (<= 1 s).
    let k = Kiosk::launch_with(&[("DPS_SYNC_RETRY_CAP_SECS", "2")]).await?;
    unlock(&k).await?;
    // A wrong code is refused in plain words; the right one connects.
    k.find("#hub").await?.send_keys(&hub.url).await?;
    k.find("#code").await?.send_keys("ZZZZ-ZZZZ").await?;
    k.click("[data-action=enrol]").await?;
    k.wait_contains("[data-testid=steward-error]", "code")
        .await?;
    k.find("#hub").await?.clear().await?;
    k.find("#code").await?.clear().await?;
    enrol(&k, &hub).await?;
    k.assert_axe_clean("steward area, enrolled").await?;
    close_steward(&k).await?;

    // Two visits; the kiosk sends them without anyone asking, and the status
    // bar says when it last succeeded and that nothing waits.
    other_help_visit(&k).await?;
    other_help_visit(&k).await?;
    wait_visits(&k, 2).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = hub.device()?;
        if !d["last_sync"].is_null() && d["pending"] == serde_json::json!(0) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("not synced: {d:#}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = wait_chip(&k, "synced", |p, e, _| p == "0" && e.is_empty()).await?;
    assert!(
        text.contains("Synchronisé") && text.contains("0 en attente"),
        "{text}"
    );

    // The hub is stopped: the status bar keeps the last success, counts what
    // waits and says why in plain words; nothing is lost.
    let port = hub.url.rsplit(':').next().unwrap_or_default().to_owned();
    let data = hub.stop()?;
    other_help_visit(&k).await?;
    wait_visits(&k, 3).await?;
    let text = wait_chip(&k, "unreachable", |p, e, _| {
        p == "1" && (e == "unreachable" || e == "timeout")
    })
    .await?;
    assert!(text.contains("Synchronisé"), "last success kept: {text}");
    assert!(text.contains("1 en attente"), "{text}");
    let why = k.text("[data-testid=sync-chip-error]").await?;
    assert!(
        why == "serveur injoignable, nouvel essai" || why == "serveur trop lent, nouvel essai",
        "{why}"
    );
    k.assert_axe_clean("status bar with a sync problem").await?;
    k.screenshot(&crate::artifacts().join("sync-problem.png"))
        .await?;

    // Back on the same store and port: the loop's backoff gets there by
    // itself, nobody presses "send now".
    let hub = Hub::restart(data, &port)?;
    wait_chip(&k, "healed", |p, e, _| p == "0" && e.is_empty()).await?;

    // The coordination revokes the device: the next sync is refused, and the
    // steward reads what to do.
    let device = hub.device()?;
    let id = device["id"].as_str().ok_or("no device id")?.to_owned();
    hub.admin_text(&["revoke", &id])?;
    other_help_visit(&k).await?;
    wait_visits(&k, 4).await?;
    wait_chip(&k, "refused", |_, e, _| e == "refused").await?;
    assert_eq!(
        k.text("[data-testid=sync-chip-error]").await?,
        "appareil refusé : demandez un nouveau code"
    );
    unlock(&k).await?;
    k.wait_text(
        "[data-testid=sync-error]",
        "Le serveur refuse cet appareil : demandez un nouveau code à la coordination.",
    )
    .await?;
    k.assert_axe_clean("steward area, device refused").await?;

    // A new code connects it again, from the steward area, as the same
    // device (the form comes back with the hub's address): the visit that
    // waited arrives and nothing is counted twice.
    let prefilled = k.find("#hub").await?.prop("value").await?;
    assert_eq!(prefilled.as_deref(), Some(hub.url.as_str()));
    k.find("#code").await?.send_keys(&hub.code()?).await?;
    k.click("[data-action=enrol]").await?;
    close_steward(&k).await?;
    wait_chip(&k, "re-enrolled and synced", |p, e, _| {
        p == "0" && e.is_empty()
    })
    .await?;
    let again = hub.device()?;
    assert_eq!(again["id"], device["id"], "re-enrolled as the same device");
    assert!(again["revoked"].is_null(), "no longer revoked: {again:#}");
    assert_eq!(hub_visits(&hub)?, 4, "each of the 4 visits once");
    drop(hub);
    Ok(())
}

/// Every visit the hub holds, from its exact CSV export (one `visits` column
/// when nothing is grouped).
fn hub_visits(hub: &Hub) -> Result<u64, Error> {
    let csv = hub.admin_text(&["export", "--format", "csv"])?;
    let mut lines = csv.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().ok_or("empty export")?;
    let col = header
        .split(',')
        .position(|c| c.trim_matches('"') == "visits")
        .ok_or_else(|| format!("no visits column: {csv}"))?;
    let mut sum = 0;
    for line in lines {
        let v = line
            .split(',')
            .nth(col)
            .ok_or_else(|| format!("short row: {csv}"))?;
        sum += v.trim_matches('"').parse::<u64>()?;
    }
    Ok(sum)
}

#[tokio::test]
async fn a_clock_two_hours_off_is_shown_to_the_steward_and_recorded_on_the_hub() -> Result<(), Error>
{
    if !enabled("a_clock_two_hours_off_is_shown_to_the_steward_and_recorded_on_the_hub") {
        return Ok(());
    }
    // The hub's clock runs two hours ahead of the kiosk's: to the kiosk,
    // its own clock is two hours behind.
    let hub = Hub::start_skewed("+2h")?;
    let k = Kiosk::launch_with(&[]).await?;
    unlock(&k).await?;
    enrol(&k, &hub).await?;
    k.wait_contains("[data-testid=clock-skew]", "120 minutes")
        .await?;
    k.assert_axe_clean("steward area, clock off").await?;
    close_steward(&k).await?;
    let text = wait_chip(&k, "warning about the clock", |_, _, t| {
        t.contains("horloge décalée de 120 min")
    })
    .await?;
    let chip = k.find("[data-testid=sync-chip]").await?;
    assert_eq!(
        chip.attr("data-skew").await?.as_deref(),
        Some("yes"),
        "{text}"
    );
    // The hub recorded it too, for the coordination's device list.
    let skew = hub.device()?["clock_skew_secs"]
        .as_i64()
        .ok_or("no skew on the hub")?;
    assert!((skew.abs() - 7200).abs() < 120, "hub skew {skew}");
    Ok(())
}
