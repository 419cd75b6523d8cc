//! A throw-away PostgreSQL cluster for tests and benchmarks.
//!
//! [`TempCluster::start`] runs Debian's PostgreSQL 15 binaries (`initdb`,
//! `postgres`) on a temporary directory: trust authentication, superuser
//! `postgres`, listening only on `127.0.0.1` on a free port, its unix socket
//! inside the temporary directory (so it never touches `/var/run/postgresql`
//! or a system cluster). Dropping the value stops the server (fast shutdown)
//! and deletes the directory.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the
//! directory is handed to the `postgres` system user and both programs run
//! as that user; as a normal user they simply run as that user.
//!
//! ```no_run
//! let cluster = dps_hub_pg::testing::TempCluster::start()?;
//! let url = cluster.create_database("contract_1")?;
//! let store = dps_hub_pg::PgStore::connect(&url)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Durability is switched off (`fsync=off`, `synchronous_commit=off`): the
//! cluster exists for one test run and speed matters more than surviving a
//! power cut.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where Debian installs PostgreSQL 15; `DPS_PG_BIN` overrides it.
pub const DEFAULT_PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The log line PostgreSQL prints once it accepts connections. Waiting for it
/// on the server's stderr is how we know it is ready, without polling.
const READY_LINE: &str = "database system is ready to accept connections";

/// How long a start may take before we give up (initdb is not included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Log lines kept for error messages.
const LOG_TAIL: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot run {program}: {source} (is the `postgresql` package installed? set DPS_PG_BIN to its bin directory)")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}):\n{output}")]
    Failed {
        program: String,
        status: String,
        output: String,
    },
    #[error("PostgreSQL did not become ready:\n{log}")]
    NotReady { log: String },
    #[error("running as root, but there is no `postgres` user to run PostgreSQL as")]
    NoPostgresUser,
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("not a database name: {0:?} (letters, digits and _ only)")]
    BadName(String),
}

/// A running throw-away cluster. See the module documentation.
pub struct TempCluster {
    child: Option<Child>,
    port: u16,
    // Dropped after the server has stopped (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

/// The uid/gid to run PostgreSQL as: `None` means "as we are".
fn run_as() -> Result<Option<(u32, u32)>, ClusterError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: getpwnam gets a valid C string; the result is read at once,
    // before any other call that could reuse its static buffer.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(ClusterError::NoPostgresUser);
    }
    // SAFETY: non-null, points to a valid passwd record (see above).
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

fn command(bin: &Path, program: &str, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut c = Command::new(bin.join(program));
    // The postgres user cannot read root's home; run from the cluster's directory.
    c.current_dir(cwd);
    if let Some((uid, gid)) = user {
        // std drops supplementary groups too when root switches user.
        c.uid(uid).gid(gid);
    }
    c
}

fn free_port() -> Result<u16, ClusterError> {
    // The port is free now; the small race with another process grabbing it
    // before PostgreSQL binds is handled by retrying the start.
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TempCluster {
    /// initdb + start on a free loopback port, and wait until it accepts
    /// connections. Uses `DPS_PG_BIN` or [`DEFAULT_PG_BIN`].
    pub fn start() -> Result<TempCluster, ClusterError> {
        let bin = std::env::var_os("DPS_PG_BIN")
            .map_or_else(|| PathBuf::from(DEFAULT_PG_BIN), PathBuf::from);
        let user = run_as()?;
        let dir = tempfile::Builder::new().prefix("dps-pg-").tempdir()?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let data = dir.path().join("data");
        let out = command(&bin, "initdb", user, dir.path())
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ClusterError::Spawn {
                program: "initdb".into(),
                source,
            })?;
        if !out.status.success() {
            return Err(ClusterError::Failed {
                program: "initdb".into(),
                status: out.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
        let mut last = None;
        // A few attempts only because of the free-port race above.
        for _ in 0..3 {
            let port = free_port()?;
            match start_server(&bin, user, dir.path(), &data, port) {
                Ok(child) => {
                    let c = TempCluster {
                        child: Some(child),
                        port,
                        dir,
                    };
                    c.create_database("dps")?;
                    return Ok(c);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClusterError::NotReady { log: String::new() }))
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's temporary directory (data in `data/`, the socket beside it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of database `db` (superuser `postgres`, no password: trust on loopback).
    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The URL of the database `dps`, created by [`TempCluster::start`].
    pub fn url(&self) -> String {
        self.url_of("dps")
    }

    /// Create an empty database `name` and return its URL: one per test keeps
    /// tests that share a cluster independent.
    pub fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ClusterError::BadName(name.to_owned()));
        }
        let mut c = postgres::Client::connect(&self.url_of("postgres"), postgres::NoTls)?;
        // Identifiers cannot be bound parameters; the name was checked above.
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url_of(name))
    }
}

/// Start `postgres` and wait (on its log, not by polling) until it is ready.
fn start_server(
    bin: &Path,
    user: Option<(u32, u32)>,
    dir: &Path,
    data: &Path,
    port: u16,
) -> Result<Child, ClusterError> {
    let mut child = command(bin, "postgres", user, dir)
        .arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            "-c",
            "logging_collector=off",
            "-c",
            "log_destination=stderr",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ClusterError::Spawn {
            program: "postgres".into(),
            source,
        })?;
    let Some(stderr) = child.stderr.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ClusterError::NotReady {
            log: "no stderr pipe".into(),
        });
    };
    let (tx, rx) = mpsc::channel::<Result<(), String>>();
    // The reader keeps draining the log for the server's whole life, so a full
    // pipe never blocks PostgreSQL.
    std::thread::spawn(move || {
        let mut tail: Vec<String> = Vec::new();
        let mut ready = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !ready {
                if line.contains(READY_LINE) {
                    ready = true;
                    let _ = tx.send(Ok(()));
                } else {
                    if tail.len() == LOG_TAIL {
                        tail.remove(0);
                    }
                    tail.push(line);
                }
            }
        }
        if !ready {
            let _ = tx.send(Err(tail.join("\n")));
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(())) => Ok(child),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            let log = match other {
                Ok(Err(log)) => log,
                _ => "timed out waiting for the server".into(),
            };
            Err(ClusterError::NotReady { log })
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT = PostgreSQL's "fast" shutdown: disconnect clients, stop.
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill with a pid we spawned and have not reaped yet.
                unsafe {
                    libc::kill(pid, libc::SIGINT);
                }
            }
            let _ = child.wait();
        }
        // `dir` is removed when the field drops, after the server is gone.
    }
}

/// Synthetic data shared by the contract suite, the worker process and the
/// benchmark, so that all three agree on what a replica should hold.
pub mod synth {
    use chrono::{DateTime, NaiveDate, Utc};
    use dps_model::{
        AgeBand, CellKey, Channel, Code, Language, Municipality, PnCount, ReplicaId, Residence,
    };
    use dps_sync::wire::{PushRequest, WireCell, PROTOCOL_VERSION};

    fn code(s: &str) -> Code {
        // Only called with the literals below, never with outside input.
        Code::new(s).expect("the synthetic codes are valid literals")
    }

    /// Every residence the model knows, so round trips cover them all.
    pub fn residences() -> Vec<Residence> {
        let mut r: Vec<Residence> = Municipality::ALL
            .into_iter()
            .map(Residence::Brussels)
            .collect();
        r.extend([
            Residence::OtherBelgium,
            Residence::Abroad,
            Residence::Unknown,
        ]);
        r
    }

    /// A varied, deterministic cell for index `i`: different `i` give
    /// different cells (for `i` below about 1.2 million).
    pub fn cell(i: usize) -> CellKey {
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
            + chrono::Duration::days((i % 365) as i64);
        let j = i / 365;
        let res = residences();
        CellKey {
            day,
            site: code(["dps-molenbeek-1", "dps-saint-josse", "bus-2"][j % 3]),
            procedure: code(["bruvax-registration", "other-digital-help"][(j / 3) % 2]),
            outcome: code(["done", "waiting_list", "abandoned"][(j / 6) % 3]),
            language: Language::ALL[(j / 18) % 4],
            channel: Channel::ALL[(j / 72) % 3],
            age_band: AgeBand::ALL[(j / 216) % 7],
            residence: res[(j / 1512) % res.len()],
        }
    }

    /// The final count of cell `i` in a synthetic replica.
    pub fn count(i: usize) -> PnCount {
        PnCount {
            inc: 1 + (i % 4) as u64,
            ret: u64::from(i.is_multiple_of(3)),
        }
    }

    /// Batch `b` of a synthetic replica: cells `b*per .. (b+1)*per`, sequence
    /// range `(b*per, (b+1)*per]`.
    pub fn push(
        replica: &ReplicaId,
        b: usize,
        per: usize,
        kiosk_time: DateTime<Utc>,
    ) -> PushRequest {
        let cells = (b * per..(b + 1) * per)
            .map(|i| WireCell::new(cell(i), count(i)))
            .collect();
        PushRequest {
            v: PROTOCOL_VERSION,
            replica: replica.clone(),
            after: (b * per) as u64,
            upto: ((b + 1) * per) as u64,
            cells,
            kiosk_time,
            pending: 0,
        }
    }
}
