//! `dps-kiosk support-bundle [--out DIR]`: a .zip for the helpdesk with the
//! logs, the doctor's report, the app version and the flows check.
//!
//! Never in it: the visit-count store, the settings (hub token), anything
//! from the quarantine. The logs hold no personal data (dps-logs' test), so
//! the bundle holds none either. Default destination: the first USB stick
//! mounted under /media/$USER or /run/media/$USER, else the home folder.
//!
//! The kiosk window's steward area writes the same bundle with
//! [`to_usb_stick`], which only ever writes to a removable stick (also
//! ChromeOS's /mnt/chromeos/removable) and says so when there is none.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::Global;

#[derive(Debug, Clone, clap::Args)]
pub struct SupportArgs {
    /// Write the bundle into DIR (default: the first USB stick, else the home folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("no place to write the support bundle: no USB stick is mounted and HOME is not set; use --out DIR")]
    NoDestination,
    #[error("cannot write the support bundle in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the support bundle in {path}: {message}")]
    Zip { path: PathBuf, message: String },
    #[error("no USB stick is plugged in (looked in {looked})")]
    NoStick { looked: String },
}

impl BundleError {
    /// A stable code for the window (`error-<code>` in the catalogs).
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::NoStick { .. } | BundleError::NoDestination => "bundle_no_stick",
            BundleError::Write { .. } | BundleError::Zip { .. } => "bundle_failed",
        }
    }
}

/// Lets tests point the search for sticks at a real directory of their
/// own: its sub-directories are the "plugged-in sticks".
pub const MEDIA_ROOT_ENV: &str = "DPS_REMOVABLE_MEDIA_ROOT";

/// Where sticks appear for `user`: udisks under /media/USER and
/// /run/media/USER; ChromeOS shares them with its Linux container under
/// /mnt/chromeos/removable. [`MEDIA_ROOT_ENV`] replaces all three.
pub fn media_roots(user: Option<&str>) -> Vec<PathBuf> {
    if let Some(root) = std::env::var_os(MEDIA_ROOT_ENV).filter(|r| !r.is_empty()) {
        return vec![PathBuf::from(root)];
    }
    let mut v = Vec::new();
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        v.push(Path::new("/media").join(u));
        v.push(Path::new("/run/media").join(u));
    }
    v.push(PathBuf::from("/mnt/chromeos/removable"));
    v
}

/// The user the session runs as (`USER`, else `LOGNAME`): udisks mounts
/// their sticks under a directory of that name.
pub fn current_user() -> Option<String> {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
}

/// The first stick (sub-directory, in name order) under the first root
/// that has one.
pub fn first_stick(roots: &[PathBuf]) -> Option<PathBuf> {
    roots.iter().find_map(|root| {
        let mut sticks: Vec<PathBuf> = std::fs::read_dir(root)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        sticks.sort();
        sticks.into_iter().next()
    })
}

/// The texts of a bundle made now: the doctor's checks and the flows check.
pub fn texts(data_dir: &Path, now: DateTime<Utc>) -> Texts {
    let doctor = crate::doctor::report(
        data_dir,
        now,
        &dps_eid::diagnose(),
        &crate::doctor::DoctorArgs::default(),
    );
    let flows_dir = dps_directory::assets_dir().join("flows");
    let (_, flows_check) = crate::flows::check(&flows_dir);
    Texts {
        doctor_text: doctor.text(),
        doctor_json: doctor.json(),
        flows_check: format!("{}\n{flows_check}", flows_dir.display()),
    }
}

/// The steward area's button: the bundle on the first USB stick in
/// `roots`, never anywhere else. Blocking (the doctor asks pcscd and the
/// hub): call it off the window's threads.
pub fn to_usb_stick(
    data_dir: &Path,
    roots: &[PathBuf],
    now: DateTime<Utc>,
) -> Result<PathBuf, BundleError> {
    let stick = first_stick(roots).ok_or_else(|| BundleError::NoStick {
        looked: roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    write_bundle(data_dir, &stick, now, &texts(data_dir, now)).map(|(path, _)| path)
}

/// What goes in, besides the logs: (name in the zip, content).
pub struct Texts {
    pub doctor_text: String,
    pub doctor_json: String,
    pub flows_check: String,
}

pub fn run(a: SupportArgs, g: &Global) -> ExitCode {
    let now = Utc::now();
    let data_dir = g.data_dir();
    let out = match a.out.clone().or_else(|| {
        default_out(
            current_user().as_deref(),
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
            &[Path::new("/media"), Path::new("/run/media")],
        )
    }) {
        Some(o) => o,
        None => {
            eprintln!("dps-kiosk: {}", BundleError::NoDestination);
            return ExitCode::FAILURE;
        }
    };
    let texts = texts(&data_dir, now);
    match write_bundle(&data_dir, &out, now, &texts) {
        Ok((path, files)) => {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            println!(
                "Support bundle written to {} ({files} files, {} KB).",
                path.display(),
                size.div_ceil(1024)
            );
            println!("It holds the logs and the kiosk's checks, no visit counts and no personal data. Give it to the coordination's helpdesk.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dps-kiosk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first directory mounted for `user` under one of `bases` (udisks
/// mounts sticks at `/media/USER/LABEL` or `/run/media/USER/LABEL`), else
/// `home`.
pub fn default_out(user: Option<&str>, home: Option<&Path>, bases: &[&Path]) -> Option<PathBuf> {
    user.filter(|u| !u.is_empty())
        .and_then(|u| first_stick(&bases.iter().map(|b| b.join(u)).collect::<Vec<_>>()))
        .or_else(|| home.map(Path::to_owned))
}

/// A line per fact about this machine the helpdesk asks first.
fn version_text(now: DateTime<Utc>) -> String {
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "dps-kiosk {}\nsystem: {os}\nkernel: {kernel}\narch: {}\nbundle made: {}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        now.to_rfc3339()
    )
}

const README: &str = "DPS Kiosk support bundle\n\
\n\
version.txt      the app version and the system it runs on\n\
doctor.txt/json  `dps-kiosk doctor`: card service, readers, store, disk, clock, hub\n\
flows-check.txt  `dps-kiosk flows check` of the installed procedures\n\
logs/            the kiosk's log files (the last 7 days)\n\
\n\
Never included: the visit counts, the kiosk's settings and hub credentials.\n\
The logs never hold personal data (names, national numbers, addresses, birth dates).\n";

/// Writes the bundle into `out_dir`; returns its path and how many files it
/// holds. Written under a temporary name, synced, then renamed, so a stick
/// pulled too early never holds a half bundle under the real name.
pub fn write_bundle(
    data_dir: &Path,
    out_dir: &Path,
    now: DateTime<Utc>,
    texts: &Texts,
) -> Result<(PathBuf, usize), BundleError> {
    let name = format!("dps-kiosk-support-{}.zip", now.format("%Y%m%d-%H%M%S"));
    let path = out_dir.join(&name);
    let tmp = out_dir.join(format!(".{name}.part"));
    let io = |source| BundleError::Write {
        path: out_dir.to_owned(),
        source,
    };
    let zerr = |e: zip::result::ZipError| BundleError::Zip {
        path: out_dir.to_owned(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(out_dir).map_err(io)?;
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("README.txt".into(), README.into()),
        ("version.txt".into(), version_text(now).into_bytes()),
        ("doctor.txt".into(), texts.doctor_text.clone().into_bytes()),
        ("doctor.json".into(), texts.doctor_json.clone().into_bytes()),
        (
            "flows-check.txt".into(),
            texts.flows_check.clone().into_bytes(),
        ),
    ];
    for f in dps_logs::files(&dps_logs::dir(data_dir)) {
        // A log file that vanished (rotation) in between is left out.
        if let (Ok(bytes), Some(n)) = (std::fs::read(&f), f.file_name()) {
            entries.push((format!("logs/{}", n.to_string_lossy()), bytes));
        }
    }
    let written = (|| {
        for (n, bytes) in &entries {
            zip.start_file(n.as_str(), opts).map_err(zerr)?;
            zip.write_all(bytes).map_err(io)?;
        }
        let file = zip.finish().map_err(zerr)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        // The rename itself must reach the stick too.
        if let Ok(d) = std::fs::File::open(out_dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| (path, entries.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::io::Read;

    fn texts() -> Texts {
        Texts {
            doctor_text: "✓ Card service (pcscd): running.\n".into(),
            doctor_json: "{\"ok\": true}".into(),
            flows_check: "ok: find-dps\n".into(),
        }
    }

    #[test]
    fn the_bundle_holds_logs_and_checks_never_the_counts() {
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 17, 30, 5).unwrap();
        // A store with a setting that must not travel, and two log files.
        let store = dps_tally::TallyStore::open(data.path(), now).unwrap().store;
        store.put_setting("token", "SECRET-HUB-TOKEN").unwrap();
        drop(store);
        let logs = dps_logs::dir(data.path());
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("dps-kiosk.2026-11-22.log"), "day one\n").unwrap();
        std::fs::write(logs.join("dps-kiosk.2026-11-23.log"), "day two\n").unwrap();

        let (path, n) = write_bundle(data.path(), out.path(), now, &texts()).unwrap();
        assert_eq!(
            path,
            out.path().join("dps-kiosk-support-20261123-173005.zip")
        );
        let mut z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut names: Vec<String> = z.file_names().map(str::to_owned).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "README.txt",
                "doctor.json",
                "doctor.txt",
                "flows-check.txt",
                "logs/dps-kiosk.2026-11-22.log",
                "logs/dps-kiosk.2026-11-23.log",
                "version.txt"
            ]
        );
        assert_eq!(n, names.len());
        let mut read = |name: &str| {
            let mut s = String::new();
            z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        assert_eq!(read("logs/dps-kiosk.2026-11-23.log"), "day two\n");
        assert_eq!(read("doctor.txt"), texts().doctor_text);
        assert!(read("version.txt").starts_with(concat!(
            "dps-kiosk ",
            env!("CARGO_PKG_VERSION"),
            "\n"
        )));
        // Nothing of the store, not even compressed: search the raw bytes
        // and every entry.
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(16).any(|w| w == b"SECRET-HUB-TOKEN"));
        for i in 0..z.len() {
            let mut s = Vec::new();
            z.by_index(i).unwrap().read_to_end(&mut s).unwrap();
            assert!(!s.windows(16).any(|w| w == b"SECRET-HUB-TOKEN"));
        }
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_unwritable_destination_is_said_and_leaves_nothing() {
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        // A file where the folder should be.
        let blocked = out.path().join("file");
        std::fs::write(&blocked, "x").unwrap();
        let e = write_bundle(data.path(), &blocked.join("sub"), Utc::now(), &texts())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("cannot write the support bundle in "),
            "{e}"
        );
    }

    #[test]
    fn the_default_is_the_first_stick_else_home() {
        let root = tempfile::tempdir().unwrap();
        let media = root.path().join("media");
        let run_media = root.path().join("run-media");
        let home = root.path().join("home");
        let bases = [media.as_path(), run_media.as_path()];
        assert_eq!(
            default_out(Some("steward"), Some(&home), &bases),
            Some(home.clone())
        );
        std::fs::create_dir_all(run_media.join("steward/KINGSTON")).unwrap();
        assert_eq!(
            default_out(Some("steward"), Some(&home), &bases),
            Some(run_media.join("steward/KINGSTON"))
        );
        std::fs::create_dir_all(media.join("steward/USB B")).unwrap();
        std::fs::create_dir_all(media.join("steward/USB A")).unwrap();
        assert_eq!(
            default_out(Some("steward"), Some(&home), &bases),
            Some(media.join("steward/USB A"))
        );
        // Another user's stick is not ours.
        assert_eq!(
            default_out(Some("other"), Some(&home), &bases),
            Some(home.clone())
        );
        assert_eq!(default_out(None, None, &bases), None);
    }

    #[test]
    fn the_window_writes_only_to_a_stick_and_says_when_there_is_none() {
        let data = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let roots = [root.path().join("media/steward"), root.path().join("cros")];
        let e = to_usb_stick(data.path(), &roots, Utc::now()).unwrap_err();
        assert_eq!(e.code(), "bundle_no_stick");
        assert!(e.to_string().contains("no USB stick"), "{e}");
        // A stick on ChromeOS's path when there is none under /media.
        std::fs::create_dir_all(root.path().join("cros/SanDisk")).unwrap();
        let path = to_usb_stick(data.path(), &roots, Utc::now()).unwrap();
        assert!(
            path.starts_with(root.path().join("cros/SanDisk")),
            "{path:?}"
        );
        assert!(path.extension().is_some_and(|x| x == "zip"));
    }

    #[test]
    fn the_subcommand_writes_a_bundle_to_out() {
        use clap::Parser;
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let cli = crate::Cli::try_parse_from([
            "dps-kiosk".as_ref(),
            "--data-dir".as_ref(),
            data.path().as_os_str(),
            "support-bundle".as_ref(),
            "--out".as_ref(),
            out.path().as_os_str(),
        ])
        .unwrap();
        let code = crate::run(&cli.global, cli.command.unwrap());
        assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::SUCCESS));
        let files: Vec<PathBuf> = std::fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let mut z = zip::ZipArchive::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
        let mut flows = String::new();
        z.by_name("flows-check.txt")
            .unwrap()
            .read_to_string(&mut flows)
            .unwrap();
        assert!(flows.contains("ok: bruvax-registration"), "{flows}");
        let mut doctor = String::new();
        z.by_name("doctor.txt")
            .unwrap()
            .read_to_string(&mut doctor)
            .unwrap();
        assert!(doctor.contains("Visit counts: none yet"), "{doctor}");
        assert!(
            !dps_tally::TallyStore::exists(data.path()),
            "no store was created"
        );
    }
}
