//! The kiosk's logs: `tracing` to a daily-rotated file in the data directory
//! (the last [`KEEP_FILES`] days are kept) and to stderr.
//!
//! Logs leave the kiosk (support bundles go to a USB stick and then to a
//! helpdesk), so they must never hold personal data. Two things keep them
//! clean: the personal types (`dps-person`) print `***` in `Debug`, and the
//! shell logs the kiosk's *views* only through [`kiosk`], whose one-line
//! summaries name screens, steps and states, never the greeting or the
//! national number a view may carry. The integration test runs 200 synthetic
//! residents through the controller at TRACE and greps the log files for them.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{fmt, EnvFilter, Registry};

pub mod kiosk;

/// How many daily files are kept; older ones are deleted at rotation.
pub const KEEP_FILES: usize = 7;
/// Log files are `dps-kiosk.YYYY-MM-DD.log`.
pub const FILE_PREFIX: &str = "dps-kiosk";
pub const FILE_SUFFIX: &str = "log";
/// The variable that overrides the level (`EnvFilter` syntax, e.g. `debug`
/// or `info,dps_sync=trace`).
pub const FILTER_VAR: &str = "DPS_LOG";
const DEFAULT_FILTER: &str = "info";

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot create the log folder {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open a log file in {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("the log level {filter:?} is not valid: {message}")]
    Filter { filter: String, message: String },
    #[error("logging is already set up in this process")]
    AlreadySet,
}

/// The log folder inside a kiosk data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Keeps the file writer alive: dropping it flushes what is buffered. Hold
/// it for the life of the program.
#[must_use = "dropping the guard stops writing the log file"]
pub struct LogGuard {
    _file: WorkerGuard,
}

/// Sets up logging for the whole process: the file in `dir` (created if
/// missing) and stderr, at `DPS_LOG` or `info`. Also replaces the panic
/// message with one that names only where the panic happened, because a
/// panic payload may quote the data that caused it.
pub fn init(dir: &Path) -> Result<LogGuard, LogError> {
    let filter = std::env::var(FILTER_VAR)
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
    let (subscriber, guard) = subscriber(dir, &filter, true)?;
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadySet)?;
    install_panic_hook();
    Ok(guard)
}

/// The subscriber [`init`] installs, for a caller that scopes it itself
/// (`tracing::subscriber::with_default`, as the tests do).
pub fn subscriber(
    dir: &Path,
    filter: &str,
    stderr: bool,
) -> Result<(impl tracing::Subscriber + Send + Sync, LogGuard), LogError> {
    std::fs::create_dir_all(dir).map_err(|source| LogError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let env_filter = EnvFilter::try_new(filter).map_err(|e| LogError::Filter {
        filter: filter.to_owned(),
        message: e.to_string(),
    })?;
    prune(dir);
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix(FILE_SUFFIX)
        .max_log_files(KEEP_FILES)
        .build(dir)
        .map_err(|e| LogError::File {
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let file_layer = fmt::layer().with_ansi(false).with_writer(writer);
    let stderr_layer = stderr.then(|| fmt::layer().with_writer(std::io::stderr));
    let subscriber = Registry::default()
        .with(env_filter)
        .with(file_layer)
        .with(stderr_layer);
    Ok((subscriber, LogGuard { _file: guard }))
}

/// Deletes the oldest log files so that, with the one about to be written,
/// [`KEEP_FILES`] remain. By name (the date), because tracing-appender sorts
/// by creation time, which a file system may not keep finer than a tick.
/// tracing-appender still prunes at each daily rotation while the kiosk runs.
fn prune(dir: &Path) {
    let files = files(dir);
    let excess = files.len().saturating_sub(KEEP_FILES - 1);
    for f in files.iter().take(excess) {
        // Best effort: a file that cannot be removed is only disk space.
        let _ = std::fs::remove_file(f);
    }
}

/// The log files in `dir`, oldest first (their names sort by date).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(FILE_PREFIX) && n.ends_with(&format!(".{FILE_SUFFIX}"))
                })
        })
        .collect();
    out.sort();
    out
}

/// A panic is logged and printed with its place only: the payload (an
/// `expect` message, a parse error) could quote a resident's data.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info.location().map_or_else(
            || "an unknown place".to_owned(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        tracing::error!(%place, %thread, "the program stopped on an internal error (panic)");
        eprintln!("dps-kiosk: internal error (panic) in thread {thread} at {place}; details are withheld because they could hold personal data");
    }));
}
