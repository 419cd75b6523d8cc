//! `app-bench`: the kiosk app against Chromium in kiosk mode showing the same
//! built UI (`ui/dist`), side by side, under Xvfb. Prints figures; asserts
//! nothing (performance is recorded in docs/benchmarks.md, not tested).
//!
//! Per run and contender:
//! * **start**: process spawn → the UI's first screen. The app prints
//!   `dps-kiosk: first-screen` on stdout (with `DPS_BENCH_READY=1`) once the
//!   welcome screen is drawn; in Chromium the same UI (through
//!   `ui/src/lib/browser.ts`) POSTs `/__first-screen` to this bench's HTTP
//!   server, which serves `ui/dist`.
//! * **PSS**: the sum of `Pss` in `/proc/PID/smaps_rollup` over the whole
//!   process tree (WebKitWebProcess/NetworkProcess, Chromium's zygote,
//!   renderers and GPU process), after a settle time.
//! * **idle CPU**: utime+stime of the whole tree over an idle window, as a
//!   share of one core. The app's card watcher runs against a private pcscd
//!   with one vpcd reader (as at a stand: a reader, no card).
//!
//! Needs root (the private pcscd), Xvfb, chromium and a built app
//! (`--app`, default `$CARGO_TARGET_DIR/release/dps-kiosk`). Never run it
//! while card tests or the e2e suite run: one pcscd per machine.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "app-bench")]
struct Args {
    /// The app binary (default: $CARGO_TARGET_DIR/release/dps-kiosk, else ./target/release).
    #[arg(long)]
    app: Option<PathBuf>,
    /// The built UI Chromium shows (default: ui/dist of this repository).
    #[arg(long)]
    dist: Option<PathBuf>,
    #[arg(long, default_value = "chromium")]
    chromium: String,
    /// Runs per contender (alternating app and Chromium).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds after the first screen before memory is read.
    #[arg(long, default_value_t = 5)]
    settle_secs: u64,
    /// Length of the idle CPU window.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Give up on a first screen after this long.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Run without the private pcscd (e.g. when one is already running).
    #[arg(long)]
    no_pcscd: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    App,
    Chromium,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::App => "dps-kiosk",
            Who::Chromium => "chromium --kiosk",
        }
    }
}

#[derive(Debug, Clone)]
struct Figures {
    start_ms: f64,
    pss_kb: u64,
    processes: usize,
    idle_pct: f64,
    /// CPU time (ms, whole tree) from a card inserted to 3 s after it was
    /// pulled: read, verify, greet, wipe. The app only (Chromium has no reader).
    card_cpu_ms: Option<f64>,
}

/// The private pcscd and a virtual card to insert during a run.
struct Reader {
    pcscd: dps_vcard::harness::Pcscd,
    pki: dps_vcard::TestPki,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn clock_ticks() -> f64 {
    // getconf CLK_TCK: 100 on every Linux this runs on; asked, not assumed.
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (pid, ppid, utime + stime) of every process.
fn processes() -> Vec<(u32, u32, u64)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // The command name may hold spaces and parentheses: fields start
            // after the last ')'.
            let rest = stat.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ppid = f.get(1)?.parse().ok()?;
            let utime: u64 = f.get(11)?.parse().ok()?;
            let stime: u64 = f.get(12)?.parse().ok()?;
            Some((pid, ppid, utime + stime))
        })
        .collect()
}

/// `root` and all its descendants, with their CPU ticks.
fn tree(root: u32) -> BTreeMap<u32, u64> {
    let all = processes();
    let mut out = BTreeMap::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        if let Some(&(_, _, t)) = all.iter().find(|(pid, _, _)| *pid == p) {
            out.insert(p, t);
        }
        frontier.extend(
            all.iter()
                .filter(|(_, ppid, _)| *ppid == p)
                .map(|(pid, _, _)| *pid),
        );
    }
    out
}

fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Ends a process tree: SIGTERM to all, then SIGKILL to what is left.
fn stop_tree(child: &mut Child) {
    let pids: Vec<u32> = tree(child.id()).keys().copied().collect();
    let signal = |sig: &str, pids: &[u32]| {
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill")
            .arg(sig)
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM", &pids);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .collect();
    signal("-KILL", &left);
    let _ = child.wait();
}

/// Serves `dist` on loopback; a POST to `/__first-screen` sends the instant
/// on `tx`. One thread per connection (Chromium opens a few).
fn serve(dist: PathBuf, tx: mpsc::Sender<Instant>) -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let dist = dist.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = answer(conn, &dist, &tx);
            });
        }
    });
    Ok(port)
}

fn answer(mut s: std::net::TcpStream, dist: &Path, tx: &mpsc::Sender<Instant>) -> Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("/").to_owned(),
        );
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 || h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body)?;
        if method == "POST" && path == "/__first-screen" {
            let _ = tx.send(Instant::now());
            write!(s, "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")?;
            continue;
        }
        let rel = path
            .split('?')
            .next()
            .unwrap_or("/")
            .trim_start_matches('/');
        let rel = if rel.is_empty() { "index.html" } else { rel };
        let file = dist.join(rel);
        match (rel.contains(".."), std::fs::read(&file)) {
            (false, Ok(bytes)) => {
                let mime = match file.extension().and_then(|e| e.to_str()) {
                    Some("html") => "text/html; charset=utf-8",
                    Some("js") => "text/javascript",
                    Some("css") => "text/css",
                    Some("svg") => "image/svg+xml",
                    Some("png") => "image/png",
                    Some("woff2") => "font/woff2",
                    Some("json") => "application/json",
                    _ => "application/octet-stream",
                };
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: {mime}\r\ncontent-length: {}\r\n\r\n",
                    bytes.len()
                )?;
                s.write_all(&bytes)?;
            }
            _ => write!(s, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?,
        }
    }
}

fn measure_after_start(root: u32, a: &Args, hz: f64) -> (u64, usize, f64) {
    std::thread::sleep(Duration::from_secs(a.settle_secs));
    let procs = tree(root);
    let pss: u64 = procs.keys().map(|p| pss_kb(*p)).sum();
    let t0 = Instant::now();
    let before: u64 = tree(root).values().sum();
    std::thread::sleep(Duration::from_secs(a.idle_secs));
    let after: u64 = tree(root).values().sum();
    let secs = t0.elapsed().as_secs_f64();
    // Ticks of processes that ended meanwhile are lost; none should end.
    let idle = after.saturating_sub(before) as f64 / hz / secs * 100.0;
    (pss, procs.len(), idle)
}

/// CPU the tree uses for one card: inserted, 4 s, pulled, 3 s.
fn card_cycle(root: u32, r: &Reader, hz: f64) -> Result<f64> {
    let image = dps_vcard::CardImage::build(&dps_vcard::CardSpec::default(), &r.pki)?;
    let before: u64 = tree(root).values().sum();
    let card = r.pcscd.insert(0, image)?;
    std::thread::sleep(Duration::from_secs(4));
    drop(card);
    std::thread::sleep(Duration::from_secs(3));
    let after: u64 = tree(root).values().sum();
    Ok(after.saturating_sub(before) as f64 / hz * 1000.0)
}

fn run_app(app: &Path, a: &Args, hz: f64, reader: Option<&Reader>) -> Result<Figures> {
    let display = dps_e2e::Display::start().map_err(|e| anyhow!("{e}"))?;
    let home = tempfile::tempdir()?;
    // A set-up kiosk (PIN, open session): it opens on the welcome screen,
    // not the first-start setup.
    dps_e2e::set_up_steward(&dps_e2e::app_data_dir(home.path())).map_err(|e| anyhow!("{e}"))?;
    let started = Instant::now();
    let mut child = Command::new(app)
        .env("DISPLAY", &display.name)
        .env("XDG_DATA_HOME", home.path())
        .env("HOME", home.path())
        .env("DPS_BENCH_READY", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", app.display()))?;
    let out = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.trim() == "dps-kiosk: first-screen" {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(a.timeout_secs));
    let Ok(first) = first else {
        stop_tree(&mut child);
        bail!(
            "the app printed no 'dps-kiosk: first-screen' within {} s",
            a.timeout_secs
        );
    };
    let start_ms = (first - started).as_secs_f64() * 1000.0;
    let (pss_kb, processes, idle_pct) = measure_after_start(child.id(), a, hz);
    let card_cpu_ms = match reader {
        Some(r) => Some(card_cycle(child.id(), r, hz)?),
        None => None,
    };
    stop_tree(&mut child);
    Ok(Figures {
        start_ms,
        pss_kb,
        processes,
        idle_pct,
        card_cpu_ms,
    })
}

fn run_chromium(dist: &Path, a: &Args, hz: f64) -> Result<Figures> {
    let display = dps_e2e::Display::start().map_err(|e| anyhow!("{e}"))?;
    let profile = tempfile::tempdir()?;
    let (tx, rx) = mpsc::channel();
    let port = serve(dist.to_owned(), tx)?;
    let started = Instant::now();
    let mut child = Command::new(&a.chromium)
        .args([
            "--kiosk",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--password-store=basic",
            "--window-size=1280,800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://127.0.0.1:{port}/"))
        .env("DISPLAY", &display.name)
        .env("HOME", profile.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {} (apt-get install chromium)", a.chromium))?;
    let Ok(first) = rx.recv_timeout(Duration::from_secs(a.timeout_secs)) else {
        stop_tree(&mut child);
        bail!(
            "Chromium's page did not POST /__first-screen within {} s",
            a.timeout_secs
        );
    };
    let start_ms = (first - started).as_secs_f64() * 1000.0;
    let (pss_kb, processes, idle_pct) = measure_after_start(child.id(), a, hz);
    stop_tree(&mut child);
    Ok(Figures {
        start_ms,
        pss_kb,
        processes,
        idle_pct,
        card_cpu_ms: None,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() -> Result<()> {
    let a = Args::parse();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let app = a
        .app
        .clone()
        .unwrap_or_else(|| target.join("release/dps-kiosk"));
    let dist = a
        .dist
        .clone()
        .unwrap_or_else(|| repo_root().join("ui/dist"));
    if !app.exists() {
        bail!(
            "{} not built: cargo build --release --bin dps-kiosk (or --app PATH)",
            app.display()
        );
    }
    if !dist.join("index.html").exists() {
        bail!("{}/index.html missing: make ui", dist.display());
    }
    let hz = clock_ticks();
    let reader = if a.no_pcscd {
        None
    } else {
        Some(Reader {
            pcscd: dps_vcard::harness::Pcscd::start(1).context(
                "cannot start the private pcscd (needs root and vsmartcard-vpcd; stop the system pcscd)",
            )?,
            pki: dps_vcard::TestPki::generate(dps_vcard::KeyKind::Ec, "App Bench Root")?,
        })
    };
    println!(
        "app-bench: {} vs {} showing {}; {} runs, settle {} s, idle window {} s",
        app.display(),
        a.chromium,
        dist.display(),
        a.runs,
        a.settle_secs,
        a.idle_secs
    );
    let mut all: BTreeMap<Who, Vec<Figures>> = BTreeMap::new();
    for run in 1..=a.runs {
        for who in [Who::App, Who::Chromium] {
            let f = match who {
                Who::App => run_app(&app, &a, hz, reader.as_ref()),
                Who::Chromium => run_chromium(&dist, &a, hz),
            }
            .with_context(|| format!("run {run}, {}", who.name()))?;
            println!(
                "run {run} {:<17} start {:>7.0} ms  PSS {:>7.1} MB in {:>2} processes  idle CPU {:.2} % of a core{}",
                who.name(),
                f.start_ms,
                f.pss_kb as f64 / 1024.0,
                f.processes,
                f.idle_pct,
                f.card_cpu_ms
                    .map(|c| format!("  card in/out: {c:.0} ms CPU"))
                    .unwrap_or_default()
            );
            all.entry(who).or_default().push(f);
        }
    }
    let med = |who: Who, f: fn(&Figures) -> f64| {
        median(
            all.get(&who)
                .map_or_else(Vec::new, |v| v.iter().map(f).collect()),
        )
    };
    let (sa, sc) = (
        med(Who::App, |f| f.start_ms),
        med(Who::Chromium, |f| f.start_ms),
    );
    let (pa, pc) = (
        med(Who::App, |f| f.pss_kb as f64),
        med(Who::Chromium, |f| f.pss_kb as f64),
    );
    let (ia, ic) = (
        med(Who::App, |f| f.idle_pct),
        med(Who::Chromium, |f| f.idle_pct),
    );
    println!("medians:");
    println!(
        "  start to first screen: app {sa:.0} ms, Chromium {sc:.0} ms: {:.2}x (target <= 1.0x)",
        sa / sc
    );
    println!(
        "  PSS of all processes:  app {:.1} MB, Chromium {:.1} MB: {:.2}x (target <= 0.6x)",
        pa / 1024.0,
        pc / 1024.0,
        pa / pc
    );
    println!(
        "  idle CPU (card watcher running): app {ia:.2} %, Chromium {ic:.2} % of a core (target < 0.5 %)"
    );
    let card: Vec<f64> = all.get(&Who::App).map_or_else(Vec::new, |v| {
        v.iter().filter_map(|f| f.card_cpu_ms).collect()
    });
    if !card.is_empty() {
        println!(
            "  app CPU for one card (insert, read, greet, pull, wipe; 7 s window): {:.0} ms",
            median(card)
        );
    }
    Ok(())
}
