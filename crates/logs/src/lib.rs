//! The kiosk's logs: `tracing` to a daily-rotated file in the data directory
//! (the last [`KEEP_FILES`] days are kept) and to stderr.
//!
//! Each day's file is capped at [`MAX_FILE_BYTES`]: an error logged in a loop
//! must not fill a laptop's disk. Past the cap the file gets one line saying
//! so and the rest of that day's lines are dropped (stderr still gets them);
//! the next day starts a new file. So the folder holds at most
//! [`MAX_TOTAL_BYTES`] (7 files of 8 MiB, plus one notice line each), and
//! a restart on a full day does not reopen the tap: the count continues from
//! the file's size.
//!
//! Logs leave the kiosk (support bundles go to a USB stick and then to a
//! helpdesk), so they must never hold personal data. Two things keep them
//! clean: the personal types (`dps-person`) print `***` in `Debug`, and the
//! shell logs the kiosk's *views* only through [`kiosk`], whose one-line
//! summaries name screens, steps and states, never the greeting or the
//! national number a view may carry. The integration test runs 200 synthetic
//! residents through the controller at TRACE and greps the log files for them.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{fmt, EnvFilter, Registry};

pub mod kiosk;

/// How many daily files are kept; older ones are deleted at rotation.
pub const KEEP_FILES: usize = 7;
/// The most one day's log file holds (plus the one line saying it is full).
/// A busy day at TRACE writes about 1 MiB; 8 MiB leaves room for a bad day
/// and keeps a support bundle small enough for any USB stick.
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// The most the log folder holds: [`KEEP_FILES`] days at [`MAX_FILE_BYTES`]
/// (plus one notice line per file).
pub const MAX_TOTAL_BYTES: u64 = KEEP_FILES as u64 * MAX_FILE_BYTES;
/// Log files are `dps-kiosk.YYYY-MM-DD.log` (the UTC day, as tracing-appender
/// names them).
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
    subscriber_capped(dir, filter, stderr, MAX_FILE_BYTES)
}

/// [`subscriber`] with another per-day cap than [`MAX_FILE_BYTES`] (the
/// tests fill a small one); the total is [`KEEP_FILES`] times `max_file_bytes`.
pub fn subscriber_capped(
    dir: &Path,
    filter: &str,
    stderr: bool,
    max_file_bytes: u64,
) -> Result<(impl tracing::Subscriber + Send + Sync, LogGuard), LogError> {
    std::fs::create_dir_all(dir).map_err(|source| LogError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let env_filter = EnvFilter::try_new(filter).map_err(|e| LogError::Filter {
        filter: filter.to_owned(),
        message: e.to_string(),
    })?;
    prune(dir, max_file_bytes);
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
    let capped = Capped::new(appender, dir, max_file_bytes, || Utc::now().date_naive());
    let (writer, guard) = tracing_appender::non_blocking(capped);
    let file_layer = fmt::layer().with_ansi(false).with_writer(writer);
    let stderr_layer = stderr.then(|| fmt::layer().with_writer(std::io::stderr));
    let subscriber = Registry::default()
        .with(env_filter)
        .with(file_layer)
        .with(stderr_layer);
    Ok((subscriber, LogGuard { _file: guard }))
}

/// Deletes the oldest log files so that, with the one about to be written,
/// [`KEEP_FILES`] remain, and so that the older ones stay within their share
/// of the total cap (files written before there was a cap, or copied in, can
/// be bigger). By name (the date), because tracing-appender sorts by creation
/// time, which a file system may not keep finer than a tick. tracing-appender
/// still prunes by count at each daily rotation while the kiosk runs; the
/// files it writes then are capped by [`Capped`].
fn prune(dir: &Path, max_file_bytes: u64) {
    let today = file_for(dir, Utc::now().date_naive());
    let mut files: Vec<PathBuf> = files(dir).into_iter().filter(|f| *f != today).collect();
    let excess = files.len().saturating_sub(KEEP_FILES - 1);
    // Best effort here and below: a file that cannot be removed is only disk space.
    for f in files.drain(..excess) {
        let _ = std::fs::remove_file(f);
    }
    let size = |f: &PathBuf| std::fs::metadata(f).map_or(0, |m| m.len());
    let budget = max_file_bytes.saturating_mul(KEEP_FILES as u64 - 1);
    let mut total: u64 = files.iter().map(size).sum();
    for f in &files {
        if total <= budget {
            break;
        }
        total = total.saturating_sub(size(f));
        let _ = std::fs::remove_file(f);
    }
}

/// The file tracing-appender writes `day`'s lines to.
fn file_for(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}.{day}.{FILE_SUFFIX}"))
}

/// The line that closes a full day's file.
fn full_notice(day: NaiveDate, cap: u64) -> String {
    format!(
        "{} WARN dps_logs: this log file reached its size cap ({cap} bytes); the rest of {day}'s lines are dropped\n",
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
}

/// The file writer with a per-day size cap, between the non-blocking worker
/// and the daily-rotating appender. The worker hands over one formatted line
/// per `write_all`, so a line is written whole or dropped whole.
struct Capped<W, C> {
    inner: W,
    dir: PathBuf,
    cap: u64,
    /// Today's UTC date: the same clock tracing-appender names files by (a
    /// line written in the last instant of a day may be counted to the
    /// neighbouring day: one line, not a hole in the cap).
    today: C,
    day: Option<NaiveDate>,
    written: u64,
    full: bool,
}

impl<W: Write, C: Fn() -> NaiveDate> Capped<W, C> {
    fn new(inner: W, dir: &Path, cap: u64, today: C) -> Self {
        Capped {
            inner,
            dir: dir.to_owned(),
            cap,
            today,
            day: None,
            written: 0,
            full: false,
        }
    }

    /// Sets up the count for the day a line is about to go to.
    fn turn_day(&mut self) -> NaiveDate {
        let day = (self.today)();
        if self.day != Some(day) {
            self.day = Some(day);
            // The day's file may exist already (the kiosk restarted today):
            // count on from its size, so a crash loop cannot bypass the cap.
            self.written = std::fs::metadata(file_for(&self.dir, day)).map_or(0, |m| m.len());
            self.full = self.written >= self.cap;
        }
        day
    }
}

impl<W: Write, C: Fn() -> NaiveDate> Write for Capped<W, C> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let day = self.turn_day();
        if self.full {
            return Ok(buf.len());
        }
        let len = buf.len() as u64;
        if self.written.saturating_add(len) > self.cap {
            self.full = true;
            let notice = full_notice(day, self.cap);
            self.inner.write_all(notice.as_bytes())?;
            self.written += notice.len() as u64;
            return Ok(buf.len());
        }
        self.inner.write_all(buf)?;
        self.written += len;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    /// A writer whose clock the test turns.
    fn capped(
        dir: &Path,
        cap: u64,
    ) -> (Capped<Vec<u8>, impl Fn() -> NaiveDate>, Rc<Cell<NaiveDate>>) {
        let clock = Rc::new(Cell::new(day(23)));
        let c = clock.clone();
        (Capped::new(Vec::new(), dir, cap, move || c.get()), clock)
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| {
                // The notice's time stamp changes from run to run.
                l.split_once(" WARN ")
                    .map_or(l.to_owned(), |(_, r)| r.to_owned())
            })
            .collect()
    }

    #[test]
    fn a_full_day_says_so_once_then_drops_whole_lines_until_the_next_day() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, clock) = capped(dir.path(), 25);
        for l in ["line 1\n", "line 2\n", "line 3\n", "line 4\n", "line 5\n"] {
            w.write_all(l.as_bytes()).unwrap();
        }
        clock.set(day(24));
        w.write_all(b"next day\n").unwrap();
        expect_test::expect![[r#"
            [
                "line 1",
                "line 2",
                "line 3",
                "dps_logs: this log file reached its size cap (25 bytes); the rest of 2026-11-23's lines are dropped",
                "next day",
            ]
        "#]]
        .assert_debug_eq(&lines(&w.inner));
    }

    #[test]
    fn a_restart_on_a_full_day_writes_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(file_for(dir.path(), day(23)), [b'x'; 20]).unwrap();
        let (mut w, _) = capped(dir.path(), 25);
        w.write_all(b"fits\n").unwrap();
        w.write_all(b"does not\n").unwrap();
        assert_eq!(lines(&w.inner)[0], "fits");
        assert_eq!(
            lines(&w.inner).len(),
            2,
            "the line that fits, then the notice"
        );

        let (mut again, _) = capped(dir.path(), 25);
        std::fs::write(file_for(dir.path(), day(23)), [b'x'; 25]).unwrap();
        again.write_all(b"after restart\n").unwrap();
        assert!(again.inner.is_empty(), "{:?}", lines(&again.inner));
    }
}
