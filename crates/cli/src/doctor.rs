//! `dps-kiosk doctor`: one line per check, in plain words, with what to do.
//!
//! Checks: the card service (pcscd) and readers, the visit-count store (opens?
//! set-aside damaged stores? size; held by the kiosk window?), free disk space
//! of the data directory, the clock (a plausible year; the skew the hub
//! measured), and the hub (enrolled? answers within a short timeout? last
//! sync). Exit 0 when nothing failed (warnings included), 2 when something
//! failed. `--json` prints the same checks as one object.
//!
//! The doctor never creates a store: on a kiosk that never ran it says so.
//! It does open an existing store like the window would, so a damaged one is
//! set aside here just as at the window's next start.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use dps_sync::{keys, SyncStatus};
use dps_tally::{OpenStatus, TallyError, TallyStore};
use serde::Serialize;

use crate::Global;

/// Below this much free space in the data directory the doctor warns.
pub const DEFAULT_MIN_FREE_MB: u64 = 200;
/// A clock before this year is certainly wrong (the kiosk did not exist).
pub const MIN_YEAR: i32 = 2025;

#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    /// Warn when the data directory's disk has less free space than this (MB).
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MIN_FREE_MB)]
    pub min_free_mb: u64,
    /// How long to wait for the hub's answer (seconds).
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    pub hub_timeout: u64,
}

impl Default for DoctorArgs {
    fn default() -> Self {
        DoctorArgs {
            json: false,
            min_free_mb: DEFAULT_MIN_FREE_MB,
            hub_timeout: 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Works, but someone should look (the kiosk keeps counting).
    Warn,
    /// Something the kiosk needs does not work.
    Fail,
    /// Not checked, and why is in the message.
    Skipped,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "⚠",
            Status::Fail => "✗",
            Status::Skipped => "–",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name: `card_service`, `readers`, `store`, `disk`, `clock`, `hub`.
    pub check: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do about it, when there is something to do.
    pub action: Option<String>,
}

fn check(id: &'static str, status: Status, message: String, action: Option<&str>) -> Check {
    Check {
        check: id,
        status,
        message,
        action: action.map(str::to_owned),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: &'static str,
    pub data_dir: PathBuf,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn exit_code(&self) -> ExitCode {
        if self.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        }
    }

    /// One line per check, then an indented line with what to do.
    pub fn text(&self) -> String {
        let mut out = format!(
            "DPS Kiosk {} — data in {}\n",
            self.version,
            self.data_dir.display()
        );
        for c in &self.checks {
            out.push_str(&format!("{} {}\n", c.status.mark(), c.message));
            if let Some(a) = &c.action {
                out.push_str(&format!("    → {a}\n"));
            }
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

pub fn run(a: DoctorArgs, g: &Global) -> ExitCode {
    let r = report(&g.data_dir(), Utc::now(), &dps_eid::diagnose(), &a);
    if a.json {
        println!("{}", r.json());
    } else {
        print!("{}", r.text());
    }
    r.exit_code()
}

/// Every check, with the card service's answer and `now` passed in.
pub fn report(
    data_dir: &Path,
    now: DateTime<Utc>,
    card: &dps_eid::Diagnosis,
    a: &DoctorArgs,
) -> Report {
    let mut checks = card_checks(card);
    let store = store_check(data_dir, now);
    checks.push(store.check.clone());
    checks.push(disk_check(data_dir, a.min_free_mb));
    let hub = hub_check(&store, now, a.hub_timeout);
    checks.push(clock_check(now, store.sync.as_ref(), hub.live_skew));
    checks.push(hub.check);
    Report {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: data_dir.to_owned(),
        ok: checks.iter().all(|c| c.status != Status::Fail),
        checks,
    }
}

fn card_checks(d: &dps_eid::Diagnosis) -> Vec<Check> {
    if !d.service_running {
        return vec![
            check(
                "card_service",
                Status::Fail,
                "Card service (pcscd): not running.".into(),
                Some(
                    "Start it: `sudo systemctl start pcscd` (install it with `sudo apt-get \
                     install pcscd libccid` if it is missing).",
                ),
            ),
            check(
                "readers",
                Status::Skipped,
                "Card readers: not checked without the card service.".into(),
                None,
            ),
        ];
    }
    let service = check(
        "card_service",
        Status::Ok,
        "Card service (pcscd): running.".into(),
        None,
    );
    let readers = if d.readers.is_empty() {
        check(
            "readers",
            Status::Fail,
            "Card readers: none found.".into(),
            Some(
                "Plug the card reader in (USB); if it is plugged, try another port or cable. \
                 Residents can still type their number.",
            ),
        )
    } else {
        let list = d
            .readers
            .iter()
            .map(|(name, card)| format!("{name} ({})", if *card { "card in" } else { "empty" }))
            .collect::<Vec<_>>()
            .join(", ");
        check(
            "readers",
            Status::Ok,
            format!("Card readers: {}: {list}.", d.readers.len()),
            None,
        )
    };
    vec![service, readers]
}

struct StoreOutcome {
    check: Check,
    /// The sync settings, when the store could be read.
    sync: Option<SyncStatus>,
    ca: Option<Vec<u8>>,
    /// Why the sync settings are missing: the hub check says it.
    hub_note: Option<(Status, &'static str)>,
}

fn quarantined(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join(dps_tally::QUARANTINE_DIR))
        .map(|rd| rd.flatten().count())
        .unwrap_or(0)
}

fn mb(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_048_576.0)
    }
}

fn store_check(data_dir: &Path, now: DateTime<Utc>) -> StoreOutcome {
    let none = |check, note| StoreOutcome {
        check,
        sync: None,
        ca: None,
        hub_note: Some(note),
    };
    if !TallyStore::exists(data_dir) {
        return none(
            check(
                "store",
                Status::Ok,
                format!(
                    "Visit counts: none yet in {} (the kiosk creates them when it first starts).",
                    data_dir.display()
                ),
                None,
            ),
            (Status::Ok, "Hub: not enrolled; counts stay on this kiosk."),
        );
    }
    let opened = match TallyStore::open(data_dir, now) {
        Ok(o) => o,
        Err(TallyError::StoreInUse { .. }) => {
            return none(
                check(
                    "store",
                    Status::Ok,
                    "Visit counts: in use by the kiosk window (normal while it runs).".into(),
                    None,
                ),
                (
                    Status::Skipped,
                    "Hub: not checked while the kiosk window has the visit counts open (its status bar shows the sync).",
                ),
            )
        }
        Err(e) => {
            return none(
                check(
                    "store",
                    Status::Fail,
                    format!("Visit counts: cannot be opened: {e}."),
                    Some("Restart the kiosk; if this stays, send a support bundle to the coordination."),
                ),
                (
                    Status::Skipped,
                    "Hub: not checked (the visit counts, which hold the enrolment, could not be read).",
                ),
            )
        }
    };
    let store = opened.store;
    let size = store.size_on_disk().map(mb).unwrap_or_else(|_| "?".into());
    let set_aside = quarantined(data_dir);
    let check = match (&opened.status, set_aside) {
        (OpenStatus::Quarantined { moved_to, .. }, _) => check(
            "store",
            Status::Warn,
            format!(
                "Visit counts: were damaged and have just been set aside in {}; counting starts again from zero.",
                moved_to.display()
            ),
            Some("Visits already sent to the hub are safe. Tell the coordination (send a support bundle)."),
        ),
        (_, 0) => check(
            "store",
            Status::Ok,
            format!("Visit counts: fine ({size})."),
            None,
        ),
        (_, n) => check(
            "store",
            Status::Warn,
            format!(
                "Visit counts: fine ({size}), but {n} damaged earlier store(s) were set aside in {}.",
                data_dir.join(dps_tally::QUARANTINE_DIR).display()
            ),
            Some("Visits already sent to the hub are safe. Tell the coordination (send a support bundle)."),
        ),
    };
    let sync = dps_sync::status(&store).ok();
    let ca = store
        .get_setting(keys::HUB_CA_PEM)
        .ok()
        .flatten()
        .map(String::into_bytes);
    StoreOutcome {
        check,
        sync,
        ca,
        hub_note: Some((
            Status::Skipped,
            "Hub: not checked (the sync settings could not be read).",
        )),
    }
}

/// Free space on the file system holding `dir` (or its nearest existing
/// parent: on a kiosk that never ran the data dir does not exist yet).
fn free_space(dir: &Path) -> std::io::Result<(PathBuf, u64)> {
    let mut at = dir.to_owned();
    while !at.exists() {
        match at.parent() {
            Some(p) => at = p.to_owned(),
            None => break,
        }
    }
    fs2::available_space(&at).map(|b| (at, b))
}

fn disk_check(data_dir: &Path, min_free_mb: u64) -> Check {
    match free_space(data_dir) {
        Ok((_, free)) if free < min_free_mb * 1_048_576 => check(
            "disk",
            Status::Warn,
            format!(
                "Disk: only {} free (under {min_free_mb} MB).",
                mb(free)
            ),
            Some("Free some space (empty the trash, remove old downloads); counts need little, but a full disk stops them."),
        ),
        Ok((_, free)) => check("disk", Status::Ok, format!("Disk: {} free.", mb(free)), None),
        Err(e) => check(
            "disk",
            Status::Warn,
            format!("Disk: free space unknown ({e})."),
            None,
        ),
    }
}

fn clock_check(now: DateTime<Utc>, sync: Option<&SyncStatus>, live_skew: Option<i64>) -> Check {
    let fix = "Set the date and time (system settings → Date & Time, automatic if possible).";
    if now.year() < MIN_YEAR {
        return check(
            "clock",
            Status::Fail,
            format!(
                "Clock: says {}, which cannot be right; visits would be counted on the wrong day.",
                now.format("%Y-%m-%d %H:%M UTC")
            ),
            Some(fix),
        );
    }
    let (skew, source) = match (live_skew, sync.and_then(|s| s.clock_skew_secs)) {
        (Some(s), _) => (Some(s), "just now"),
        (None, Some(s)) => (Some(s), "at the last sync"),
        (None, None) => (None, ""),
    };
    match skew {
        Some(s) if s.abs() > dps_sync::SKEW_WARNING_SECS => check(
            "clock",
            Status::Warn,
            format!(
                "Clock: {} minutes {} the hub's ({source}).",
                s.abs() / 60,
                if s > 0 { "ahead of" } else { "behind" }
            ),
            Some(fix),
        ),
        Some(s) => check(
            "clock",
            Status::Ok,
            format!(
                "Clock: {} (within {} s of the hub's, {source}).",
                now.format("%Y-%m-%d %H:%M UTC"),
                s.abs()
            ),
            None,
        ),
        None => check(
            "clock",
            Status::Ok,
            format!(
                "Clock: {} (plausible; not compared with a hub).",
                now.format("%Y-%m-%d %H:%M UTC")
            ),
            None,
        ),
    }
}

struct HubOutcome {
    check: Check,
    /// Kiosk clock minus hub clock, measured by this check.
    live_skew: Option<i64>,
}

#[derive(serde::Deserialize)]
struct Health {
    time: DateTime<Utc>,
}

/// GET the hub's health endpoint; returns the hub's clock.
fn ping(hub: &str, ca: Option<&[u8]>, timeout: Duration) -> Result<DateTime<Utc>, String> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("dps-kiosk-doctor/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca {
        let cert = reqwest::Certificate::from_pem(pem).map_err(|e| e.to_string())?;
        b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
    }
    let client = b.build().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!(
        "{}{}",
        hub.trim_end_matches('/'),
        dps_sync::wire::PATH_HEALTH
    );
    rt.block_on(async {
        let resp = client.get(&url).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {} s", timeout.as_secs())
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                e.to_string()
            }
        })?;
        if !resp.status().is_success() {
            return Err(format!("it answered {}", resp.status()));
        }
        resp.json::<Health>()
            .await
            .map(|h| h.time)
            .map_err(|_| "its answer is not a DPS hub's".to_owned())
    })
}

fn hub_check(store: &StoreOutcome, now: DateTime<Utc>, timeout_secs: u64) -> HubOutcome {
    let done = |check| HubOutcome {
        check,
        live_skew: None,
    };
    let Some(s) = &store.sync else {
        let (status, note) = store
            .hub_note
            .unwrap_or((Status::Skipped, "Hub: not checked."));
        return done(check("hub", status, note.to_owned(), None));
    };
    let ca = store.ca.as_deref();
    let (true, Some(hub)) = (s.enrolled, s.hub.as_deref()) else {
        return done(check(
            "hub",
            Status::Ok,
            "Hub: not enrolled; counts stay on this kiosk.".into(),
            Some("To send them to the coordination: `dps-kiosk enrol --hub URL CODE` with the code they give you."),
        ));
    };
    let last = s.last_success.map_or("never".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    });
    let pending = s.pending_cells;
    let started = std::time::Instant::now();
    match ping(hub, ca, Duration::from_secs(timeout_secs.max(1))) {
        Ok(hub_time) => {
            // The request's midpoint is when the hub read its clock.
            let half = chrono::Duration::from_std(started.elapsed() / 2).unwrap_or_default();
            let skew = (now + half - hub_time).num_seconds();
            HubOutcome {
                check: check(
                    "hub",
                    Status::Ok,
                    format!("Hub: {hub} answers. Last sync: {last}; {pending} cell(s) waiting."),
                    None,
                ),
                live_skew: Some(skew),
            }
        }
        Err(why) => done(check(
            "hub",
            Status::Warn,
            format!(
                "Hub: {hub} cannot be reached ({why}). Last sync: {last}; {pending} cell(s) waiting."
            ),
            Some("Counts are kept and sent when the hub is back. Check the network (Wi-Fi, phone hotspot)."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::io::{Read, Write};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    fn no_pcscd() -> dps_eid::Diagnosis {
        dps_eid::Diagnosis {
            service_running: false,
            readers: vec![],
        }
    }

    fn two_readers() -> dps_eid::Diagnosis {
        dps_eid::Diagnosis {
            service_running: true,
            readers: vec![("Reader A".into(), false), ("Reader B".into(), true)],
        }
    }

    /// `check=status` for each check, in order.
    fn statuses(r: &Report) -> String {
        r.checks
            .iter()
            .map(|c| format!("{}={:?}", c.check, c.status))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A one-shot HTTP server answering the health endpoint with `hub_time`.
    fn fake_hub(hub_time: DateTime<Utc>) -> (String, std::thread::JoinHandle<String>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap();
            let body = serde_json::json!({"status": "ok", "time": hub_time}).to_string();
            write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, t)
    }

    fn enrol(dir: &Path, hub: &str) {
        let s = TallyStore::open(dir, now()).unwrap().store;
        s.put_setting(keys::HUB_URL, hub).unwrap();
        s.put_setting(keys::TOKEN, "t0k3n").unwrap();
    }

    #[test]
    fn a_kiosk_that_never_ran_is_fine_and_nothing_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("never-ran");
        let r = report(&dir, now(), &two_readers(), &DoctorArgs::default());
        assert_eq!(
            statuses(&r),
            "card_service=Ok readers=Ok store=Ok disk=Ok clock=Ok hub=Ok"
        );
        assert!(!dir.exists(), "the doctor created no data directory");
        assert!(r.ok);
        let text = r.text().replace(&dir.display().to_string(), "DIR");
        expect_test::expect![[r#"
            DPS Kiosk 0.1.0 — data in DIR
            ✓ Card service (pcscd): running.
            ✓ Card readers: 2: Reader A (empty), Reader B (card in).
            ✓ Visit counts: none yet in DIR (the kiosk creates them when it first starts).
            ✓ Disk: FREE free.
            ✓ Clock: 2026-11-23 10:00 UTC (plausible; not compared with a hub).
            ✓ Hub: not enrolled; counts stay on this kiosk.
        "#]]
        .assert_eq(&mask_free(&text));
    }

    /// The free space changes between runs: masked.
    fn mask_free(text: &str) -> String {
        text.lines()
            .map(|l| {
                if l.starts_with("✓ Disk: ") {
                    "✓ Disk: FREE free.".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .map(|l| l + "\n")
            .collect()
    }

    #[test]
    fn no_card_service_fails_with_what_to_do_and_exit_2() {
        let tmp = tempfile::tempdir().unwrap();
        let r = report(tmp.path(), now(), &no_pcscd(), &DoctorArgs::default());
        assert_eq!(
            statuses(&r),
            "card_service=Fail readers=Skipped store=Ok disk=Ok clock=Ok hub=Ok"
        );
        assert!(!r.ok);
        assert_eq!(
            format!("{:?}", r.exit_code()),
            format!("{:?}", ExitCode::from(2))
        );
        assert!(r.text().contains(
            "✗ Card service (pcscd): not running.\n    → Start it: `sudo systemctl start pcscd`"
        ));
        let none = dps_eid::Diagnosis {
            service_running: true,
            readers: vec![],
        };
        let r = report(tmp.path(), now(), &none, &DoctorArgs::default());
        assert_eq!(r.checks[1].status, Status::Fail);
        assert!(r.checks[1].message.contains("none found"));
    }

    #[test]
    fn store_states_not_enrolled_in_use_set_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let store = TallyStore::open(tmp.path(), now()).unwrap().store;
        // Held open, as by the kiosk window.
        let r = report(tmp.path(), now(), &two_readers(), &DoctorArgs::default());
        assert_eq!(
            statuses(&r),
            "card_service=Ok readers=Ok store=Ok disk=Ok clock=Ok hub=Skipped"
        );
        assert!(
            r.checks[2].message.contains("in use by the kiosk window"),
            "{}",
            r.text()
        );
        drop(store);

        let r = report(tmp.path(), now(), &two_readers(), &DoctorArgs::default());
        assert!(
            r.checks[2].message.starts_with("Visit counts: fine ("),
            "{}",
            r.text()
        );
        assert_eq!(
            r.checks[5].message,
            "Hub: not enrolled; counts stay on this kiosk."
        );
        assert_eq!(r.checks[5].status, Status::Ok);

        std::fs::create_dir_all(tmp.path().join("quarantine/tally-20261101T100000Z")).unwrap();
        let r = report(tmp.path(), now(), &two_readers(), &DoctorArgs::default());
        assert_eq!(r.checks[2].status, Status::Warn);
        assert!(r.checks[2]
            .message
            .contains("1 damaged earlier store(s) were set aside"));
        assert!(r.ok, "a warning is not a failure");
    }

    #[test]
    fn a_damaged_store_is_set_aside_and_said() {
        let tmp = tempfile::tempdir().unwrap();
        drop(TallyStore::open(tmp.path(), now()).unwrap());
        // Garbage over sled's files.
        let db = tmp.path().join(dps_tally::STORE_DIR);
        for f in std::fs::read_dir(&db).unwrap().flatten() {
            if f.path().is_file() {
                std::fs::write(f.path(), b"not a sled file").unwrap();
            }
        }
        let r = report(tmp.path(), now(), &two_readers(), &DoctorArgs::default());
        assert_eq!(r.checks[2].status, Status::Warn, "{}", r.text());
        assert!(
            r.checks[2].message.contains("have just been set aside"),
            "{}",
            r.text()
        );
    }

    #[test]
    fn low_disk_and_a_wrong_year() {
        let tmp = tempfile::tempdir().unwrap();
        let a = DoctorArgs {
            min_free_mb: u64::MAX / 2_000_000,
            ..DoctorArgs::default()
        };
        let then = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap();
        let r = report(tmp.path(), then, &two_readers(), &a);
        assert_eq!(
            statuses(&r),
            "card_service=Ok readers=Ok store=Ok disk=Warn clock=Fail hub=Ok"
        );
        assert!(
            r.checks[3].message.starts_with("Disk: only "),
            "{}",
            r.text()
        );
        assert!(r.checks[4]
            .message
            .contains("says 2001-01-01 00:00 UTC, which cannot be right"));
    }

    #[test]
    fn an_enrolled_kiosk_pings_its_hub_and_measures_the_clock() {
        let tmp = tempfile::tempdir().unwrap();
        // The hub's clock is 10 minutes behind the kiosk's.
        let (url, server) = fake_hub(now() - chrono::Duration::minutes(10));
        enrol(tmp.path(), &url);
        let r = report(tmp.path(), now(), &two_readers(), &DoctorArgs::default());
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /healthz HTTP/1.1"), "{request}");
        assert_eq!(
            statuses(&r),
            "card_service=Ok readers=Ok store=Ok disk=Ok clock=Warn hub=Ok"
        );
        assert_eq!(
            r.checks[5].message,
            format!("Hub: {url} answers. Last sync: never; 0 cell(s) waiting.")
        );
        assert_eq!(
            r.checks[4].message,
            "Clock: 10 minutes ahead of the hub's (just now)."
        );
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["checks"][4]["check"], "clock");
        assert_eq!(v["checks"][4]["status"], "warn");
        assert!(v["checks"][4]["action"]
            .as_str()
            .unwrap()
            .contains("Date & Time"));
    }

    #[test]
    fn an_unreachable_hub_is_a_warning_not_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        // A port nobody listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        enrol(tmp.path(), &url);
        let r = report(tmp.path(), now(), &two_readers(), &DoctorArgs::default());
        assert_eq!(
            statuses(&r),
            "card_service=Ok readers=Ok store=Ok disk=Ok clock=Ok hub=Warn"
        );
        assert_eq!(
            r.checks[5].message,
            format!("Hub: {url} cannot be reached (cannot connect). Last sync: never; 0 cell(s) waiting.")
        );
        assert!(r.ok);
    }

    #[test]
    fn the_subcommand_parses_json_and_thresholds() {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from([
            "dps-kiosk",
            "doctor",
            "--json",
            "--min-free-mb",
            "50",
            "--hub-timeout",
            "1",
        ])
        .unwrap();
        let Some(crate::Command::Doctor(a)) = cli.command else {
            panic!("doctor parsed");
        };
        assert!(a.json);
        assert_eq!((a.min_free_mb, a.hub_timeout), (50, 1));
    }
}
