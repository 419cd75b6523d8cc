//! `app-bench`: the kiosk app against Chromium in kiosk mode showing the same
//! built UI (`ui/dist`), side by side, under Xvfb. Prints figures; asserts
//! nothing (performance is recorded in docs/benchmarks.md, not tested).
//!
//! The contenders do the same job:
//! * **the app**: the release `dps-kiosk` (custom-protocol, as the .deb ships
//!   it), WebKitGTK with the app's own settings (no GL compositing).
//! * **Chromium**: `chromium --kiosk --disable-gpu` (software, like the app)
//!   on the same `ui/dist`, *plus* the local service a browser kiosk needs
//!   for a card reader: `app-bench shim` (src/shim.rs), the same Rust crates
//!   behind HTTP + Server-Sent Events, counted on Chromium's side.
//!
//! Per run and contender:
//! * **start**: spawn → the UI's first screen (`dps-kiosk: first-screen` on
//!   the app's or the shim's stdout, printed when the page calls
//!   `first_screen` after its first render). The app's start-up phases
//!   (`dps-kiosk: phase …`) are timestamped as they arrive.
//! * **PSS**: the sum of `Pss` (`/proc/PID/smaps_rollup`) over every process
//!   of the contender, printed per process too; and which GL libraries each
//!   maps (the GPU policy check).
//! * **idle CPU**: the contender's CPU over an idle window, card watcher
//!   running against a private pcscd with one empty vpcd reader.
//! * **journey CPU**: a virtual card inserted, the page's bench driver
//!   (`ui/src/lib/benchjourney.ts`, loaded only on `?bench-journey`) clicks
//!   through the BRUVAX registration, the card is pulled once the driver
//!   says it is done, then 3 s more. The Xvfb server's own CPU is not
//!   counted for either.
//!
//! Processes are grouped in one cgroup v2 per contender run where possible
//! (`measure.rs` says which method was used). Needs root (the private
//! pcscd, the cgroups), Xvfb, chromium and a built app. Never run it while
//! card tests or the e2e suite run: one pcscd per machine.
mod measure;
mod shim;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use measure::Group;

#[derive(Debug, Parser)]
#[command(name = "app-bench")]
struct Cli {
    #[command(subcommand)]
    sub: Option<Sub>,
    #[command(flatten)]
    args: Args,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Chromium's local kiosk service (started by the bench itself).
    Shim(shim::ShimArgs),
}

#[derive(Debug, clap::Args)]
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
    /// Give up on a first screen (or a journey) after this long.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Run without the private pcscd (no card watcher, no journey).
    #[arg(long)]
    no_pcscd: bool,
    /// Extra environment for the app, KEY=VALUE (for experiments, e.g.
    /// comparing a WebKit setting).
    #[arg(long = "app-env", value_parser = parse_env)]
    app_env: Vec<(String, String)>,
    /// Only the app (e.g. to compare app variants).
    #[arg(long)]
    app_only: bool,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s}: expected KEY=VALUE"))
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
struct Journey {
    cpu_ms: f64,
    /// CPU ms by process name (10 ms ticks; processes alive at both ends).
    by_process: Vec<(String, f64)>,
    /// Card in → the driver's "done" (reading, verifying, every click).
    wall_ms: f64,
}

struct Figures {
    start_ms: f64,
    pss_kb: u64,
    uss_kb: u64,
    per_process: Vec<measure::Memory>,
    /// GL libraries mapped, per process name.
    gl: Vec<(String, Vec<String>)>,
    idle_pct: f64,
    journey: Option<Journey>,
    /// The app's start-up phases, ms after spawn.
    phases: Vec<(String, f64)>,
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

/// The `dps-kiosk: …` lines of a child's stdout, with their arrival time.
struct Lines(mpsc::Receiver<(Instant, String)>);

impl Lines {
    fn of(child: &mut Child) -> Result<Lines> {
        let out = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.trim().strip_prefix("dps-kiosk: ") {
                    let _ = tx.send((Instant::now(), rest.to_owned()));
                }
            }
        });
        Ok(Lines(rx))
    }

    /// Waits for the line `want`; the phases met on the way are returned
    /// with their time after `since`.
    fn wait(
        &self,
        want: &str,
        since: Instant,
        timeout: Duration,
    ) -> Result<(Instant, Vec<(String, f64)>)> {
        let deadline = Instant::now() + timeout;
        let mut phases = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = self
                .0
                .recv_timeout(left)
                .map_err(|_| anyhow!("no 'dps-kiosk: {want}' within {timeout:?}"))?;
            if line == want {
                return Ok((at, phases));
            }
            if let Some(p) = line.strip_prefix("phase ") {
                phases.push((p.to_owned(), (at - since).as_secs_f64() * 1000.0));
            } else if line.starts_with("mark ") {
                bail!("expected '{want}', the page said '{line}'");
            }
        }
    }
}

/// What a contender uses once its first screen is up.
struct Settled {
    pss_kb: u64,
    uss_kb: u64,
    per_process: Vec<measure::Memory>,
    gl: Vec<(String, Vec<String>)>,
    idle_pct: f64,
}

/// Memory and idle CPU after the first screen.
fn measure_after_start(group: &Group, a: &Args, hz: f64) -> Settled {
    std::thread::sleep(Duration::from_secs(a.settle_secs));
    let per_process = group.memory();
    let pss_kb = per_process.iter().map(|m| m.pss_kb).sum();
    let uss_kb = per_process.iter().map(|m| m.uss_kb).sum();
    let gl = per_process
        .iter()
        .map(|m| (m.name.clone(), measure::maps_gl(m.pid)))
        .filter(|(_, libs)| !libs.is_empty())
        .collect();
    let t0 = Instant::now();
    let before = group.cpu_usec(hz);
    std::thread::sleep(Duration::from_secs(a.idle_secs));
    let after = group.cpu_usec(hz);
    let idle_pct = after.saturating_sub(before) as f64 / 1e6 / t0.elapsed().as_secs_f64() * 100.0;
    Settled {
        pss_kb,
        uss_kb,
        per_process,
        gl,
        idle_pct,
    }
}

/// CPU for one whole journey: card in, the driver's clicks to the end, card
/// out, 3 s for the wipe.
fn journey(group: &Group, lines: &Lines, r: &Reader, a: &Args, hz: f64) -> Result<Journey> {
    let image = dps_vcard::CardImage::build(&dps_vcard::CardSpec::default(), &r.pki)?;
    let before = group.cpu_usec(hz);
    let ticks_before = group.ticks();
    let t0 = Instant::now();
    let card = r.pcscd.insert(0, image)?;
    let (done, _) = lines.wait("mark journey-done", t0, Duration::from_secs(a.timeout_secs))?;
    drop(card);
    std::thread::sleep(Duration::from_secs(3));
    let after = group.cpu_usec(hz);
    let mut by_process: Vec<(String, f64)> = group
        .ticks()
        .into_iter()
        .filter_map(|(pid, t)| {
            let t0 = ticks_before.get(&pid)?;
            Some((
                measure::comm(pid),
                t.saturating_sub(*t0) as f64 / hz * 1000.0,
            ))
        })
        .filter(|(_, ms)| *ms > 0.0)
        .collect();
    by_process.sort_by(|x, y| y.1.total_cmp(&x.1));
    Ok(Journey {
        cpu_ms: after.saturating_sub(before) as f64 / 1000.0,
        by_process,
        wall_ms: (done - t0).as_secs_f64() * 1000.0,
    })
}

/// The same measurements of either contender, from the `dps-kiosk: …` lines
/// of `child` (the app, or the shim beside Chromium): start to first screen
/// (with the phases met on the way), what it uses once settled, and the
/// journey when a reader is given.
fn measure(
    group: &Group,
    child: &mut Child,
    started: Instant,
    reader: Option<&Reader>,
    a: &Args,
    hz: f64,
) -> Result<Figures> {
    let lines = Lines::of(child)?;
    let (first, phases) =
        lines.wait("first-screen", started, Duration::from_secs(a.timeout_secs))?;
    let start_ms = (first - started).as_secs_f64() * 1000.0;
    let Settled {
        pss_kb,
        uss_kb,
        per_process,
        gl,
        idle_pct,
    } = measure_after_start(group, a, hz);
    let journey = reader
        .map(|r| journey(group, &lines, r, a, hz))
        .transpose()?;
    Ok(Figures {
        start_ms,
        pss_kb,
        uss_kb,
        per_process,
        gl,
        idle_pct,
        journey,
        phases,
    })
}

fn run_app(app: &Path, a: &Args, hz: f64, reader: Option<&Reader>, run: usize) -> Result<Figures> {
    let display = dps_e2e::Display::start().map_err(|e| anyhow!("{e}"))?;
    let home = tempfile::tempdir()?;
    // A set-up kiosk (PIN, open session): it opens on the welcome screen,
    // not the first-start setup, and its visits count.
    dps_e2e::set_up_steward(&dps_e2e::app_data_dir(home.path())).map_err(|e| anyhow!("{e}"))?;
    let mut group = Group::new(&format!("app-{run}"));
    let mut cmd = group.command(app);
    cmd.env("DISPLAY", &display.name)
        .env("XDG_DATA_HOME", home.path())
        .env("HOME", home.path())
        .env("DPS_BENCH_READY", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(r) = reader {
        cmd.env("DPS_BENCH_JOURNEY", "1")
            .env("DPS_TRUST_ROOTS", r.pki.root_pem_path());
    }
    for (k, v) in &a.app_env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", app.display()))?;
    group.spawned(child.id());
    let result = measure(&group, &mut child, started, reader, a, hz);
    group.stop();
    let _ = child.wait();
    result
}

fn run_chromium(
    dist: &Path,
    a: &Args,
    hz: f64,
    reader: Option<&Reader>,
    run: usize,
) -> Result<Figures> {
    let display = dps_e2e::Display::start().map_err(|e| anyhow!("{e}"))?;
    let profile = tempfile::tempdir()?;
    let home = tempfile::tempdir()?;
    let data = dps_e2e::app_data_dir(home.path());
    dps_e2e::set_up_steward(&data).map_err(|e| anyhow!("{e}"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut group = Group::new(&format!("chromium-{run}"));
    let exe = std::env::current_exe()?;
    let mut shim = group.command(&exe);
    shim.arg("shim")
        .arg("--dist")
        .arg(dist)
        .arg("--data-dir")
        .arg(&data)
        .arg("--port")
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(r) = reader {
        shim.arg("--trust-root").arg(r.pki.root_pem_path());
    }
    let mut browser = group.command(Path::new(&a.chromium));
    browser
        .args([
            "--kiosk",
            "--no-sandbox",
            // Software rendering, as the app's WebKit (no GL compositing).
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
        .arg(format!(
            "http://127.0.0.1:{port}/{}",
            if reader.is_some() {
                "?bench-journey"
            } else {
                ""
            }
        ))
        .env("DISPLAY", &display.name)
        .env("HOME", profile.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Both start at once, as a browser kiosk and its service would at login.
    let started = Instant::now();
    let mut shim = shim.spawn().context("cannot start the bench's shim")?;
    group.spawned(shim.id());
    let mut browser = match browser.spawn() {
        Ok(b) => b,
        Err(e) => {
            group.stop();
            let _ = shim.wait();
            return Err(anyhow!(
                "cannot start {} (apt-get install chromium): {e}",
                a.chromium
            ));
        }
    };
    group.spawned(browser.id());
    // The shim's start-up phases are not the app's: none are reported.
    let result = measure(&group, &mut shim, started, reader, a, hz).map(|f| Figures {
        phases: Vec::new(),
        ..f
    });
    group.stop();
    let _ = browser.wait();
    let _ = shim.wait();
    result
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Sub::Shim(s)) = cli.sub {
        return shim::run(s);
    }
    let a = cli.args;
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
            "{} not built: packaging/build-deb.sh (or --app PATH)",
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
    let probe = Group::new("probe");
    println!(
        "app-bench: {} vs {} showing {}; {} runs, settle {} s, idle window {} s; grouping: {}",
        app.display(),
        a.chromium,
        dist.display(),
        a.runs,
        a.settle_secs,
        a.idle_secs,
        probe.kind()
    );
    drop(probe);
    let who: &[Who] = if a.app_only {
        &[Who::App]
    } else {
        &[Who::App, Who::Chromium]
    };
    let mut all: Vec<(Who, Figures)> = Vec::new();
    let result = (|| {
        for run in 1..=a.runs {
            for &w in who {
                let f = match w {
                    Who::App => run_app(&app, &a, hz, reader.as_ref(), run),
                    Who::Chromium => run_chromium(&dist, &a, hz, reader.as_ref(), run),
                }
                .with_context(|| format!("run {run}, {}", w.name()))?;
                report_run(run, w, &f);
                all.push((w, f));
            }
        }
        Ok::<(), anyhow::Error>(())
    })();
    measure::cleanup();
    result?;
    report_medians(&all);
    Ok(())
}

fn report_run(run: usize, w: Who, f: &Figures) {
    println!(
        "run {run} {:<17} start {:>6.0} ms  PSS {:>6.1} MB (USS {:>6.1}) in {:>2} processes  idle CPU {:.3} % of a core{}",
        w.name(),
        f.start_ms,
        f.pss_kb as f64 / 1024.0,
        f.uss_kb as f64 / 1024.0,
        f.per_process.len(),
        f.idle_pct,
        f.journey
            .as_ref()
            .map(|j| format!("  journey: {:.0} ms CPU ({:.0} ms card in to done)", j.cpu_ms, j.wall_ms))
            .unwrap_or_default()
    );
    let procs: Vec<String> = f
        .per_process
        .iter()
        .map(|m| {
            format!(
                "{} {:.1} ({:.1})",
                m.name,
                m.pss_kb as f64 / 1024.0,
                m.uss_kb as f64 / 1024.0
            )
        })
        .collect();
    println!("      PSS (USS) MB by process: {}", procs.join(", "));
    if let Some(j) = &f.journey {
        let p: Vec<String> = j
            .by_process
            .iter()
            .map(|(n, ms)| format!("{n} {ms:.0}"))
            .collect();
        println!("      journey CPU ms by process: {}", p.join(", "));
    }
    if !f.gl.is_empty() {
        let gl: Vec<String> =
            f.gl.iter()
                .map(|(n, l)| format!("{n}: {}", l.join(" ")))
                .collect();
        println!("      GL libraries mapped: {}", gl.join("; "));
    } else {
        println!("      GL libraries mapped: none");
    }
    if !f.phases.is_empty() {
        let p: Vec<String> = f
            .phases
            .iter()
            .map(|(n, ms)| format!("{n} {ms:.0}"))
            .collect();
        println!(
            "      phases (ms after spawn): {}, first-screen {:.0}",
            p.join(", "),
            f.start_ms
        );
    }
}

fn report_medians(all: &[(Who, Figures)]) {
    let of = |w: Who, f: fn(&Figures) -> Option<f64>| -> Vec<f64> {
        all.iter()
            .filter(|(x, _)| *x == w)
            .filter_map(|(_, fig)| f(fig))
            .collect()
    };
    let row = |label: &str, unit: &str, target: &str, f: fn(&Figures) -> Option<f64>| {
        let (a, c) = (of(Who::App, f), of(Who::Chromium, f));
        if a.is_empty() {
            return;
        }
        let (ma, mc) = (median(a.clone()), median(c.clone()));
        println!(
            "  {label:<28} app median {ma:>8.2} {unit} (min {:>8.2})   Chromium median {mc:>8.2} {unit} (min {:>8.2})   ratio {:.2}x   {target}",
            min(&a),
            min(&c),
            ma / mc
        );
    };
    println!("medians (and minima):");
    row("start to first screen", "ms", "target <= 1.0x", |f| {
        Some(f.start_ms)
    });
    row("PSS of all processes", "MB", "target <= 0.6x", |f| {
        Some(f.pss_kb as f64 / 1024.0)
    });
    row(
        "idle CPU, card watcher on",
        "%",
        "target app < 0.5 % of a core",
        |f| Some(f.idle_pct),
    );
    row("CPU for one journey", "ms", "", |f| {
        f.journey.as_ref().map(|j| j.cpu_ms)
    });
    row("journey, card in to done", "ms", "", |f| {
        f.journey.as_ref().map(|j| j.wall_ms)
    });
}
