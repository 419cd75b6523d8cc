//! Drives the real `dps-kiosk` window: Xvfb for a display, tauri-driver in
//! front of Debian's WebKitWebDriver, and WebDriver commands through
//! fantoccini. Assertions read what WebKitGTK actually renders.
//!
//! The suite runs only when `DPS_E2E=1` (set by `make test`), so a plain
//! `cargo test` on a machine without a display says it skipped instead of
//! failing, and CI can never skip it silently.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// True when the e2e suite should run; prints why not otherwise.
pub fn enabled(test: &str) -> bool {
    if std::env::var_os("DPS_E2E").is_some_and(|v| v == "1") {
        return true;
    }
    eprintln!("skipped {test}: set DPS_E2E=1 (make test does) to drive the real window");
    false
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The app binary under test: `DPS_KIOSK_BIN`, or the workspace's debug build.
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DPS_KIOSK_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug/dps-kiosk")
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listened on port {port} within {timeout:?}").into())
}

/// A child process ended with SIGTERM on drop (SIGKILL would orphan
/// WebKitWebDriver, which then holds the output pipe and hangs the run).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY-free: kill(2) through the `kill` command keeps us off libc.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One Xvfb display for the lifetime of a test.
pub struct Display {
    _xvfb: Proc,
    pub name: String,
}

impl Display {
    pub fn start() -> Result<Display, Error> {
        // `-displayfd` makes Xvfb pick a free display and tell us which,
        // so parallel runs on one machine never collide.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Xvfb (apt-get install xvfb): {e}"))?;
        let mut out = child.stdout.take().ok_or("no Xvfb stdout")?;
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        use std::io::Read;
        while out.read(&mut byte)? == 1 && byte[0] != b'\n' {
            buf.push(byte[0]);
        }
        let n = String::from_utf8(buf)?.trim().to_owned();
        if n.is_empty() {
            return Err("Xvfb did not report its display".into());
        }
        Ok(Display {
            _xvfb: Proc(child),
            name: format!(":{n}"),
        })
    }
}

/// The PIN of a kiosk started with [`Kiosk::launch_with`].
pub const STEWARD_PIN: &str = "2580";
/// The pop-up place of its open session.
pub const STAND_PLACE: &str = "Stand e2e";

/// Where the app keeps its data for `XDG_DATA_HOME=home`.
pub fn app_data_dir(home: &Path) -> PathBuf {
    home.join("dps-kiosk")
}

/// What a steward does at first start, done through the tally store so a
/// test can start from a kiosk in use.
pub fn set_up_steward(app_data: &Path) -> Result<(), Error> {
    set_up_steward_with(app_data, |_| Ok(()))
}

/// [`set_up_steward`], then `more` on the same store (a steward language, a
/// few visits…).
pub fn set_up_steward_with(
    app_data: &Path,
    more: impl FnOnce(&dps_tally::TallyStore) -> Result<(), Error>,
) -> Result<(), Error> {
    let now = chrono::Utc::now();
    let store = dps_tally::TallyStore::open(app_data, now)?.store;
    store.set_pin(STEWARD_PIN)?;
    store.start_session(
        dps_tally::Site::PopUp {
            place: STAND_PLACE.into(),
            municipality: dps_model::Municipality::MolenbeekSaintJean,
        },
        now,
    )?;
    more(&store)
}

/// How to start the app: its environment and command-line arguments, and
/// where its data is (the XDG default unless `--data-dir` says otherwise).
#[derive(Default)]
pub struct Launch<'a> {
    pub env: &'a [(&'a str, &'a str)],
    pub args: Vec<String>,
    /// The app's data dir when `args` has `--data-dir`.
    pub app_data: Option<PathBuf>,
    /// Under the "DPS Kiosk" session's window manager ([`WindowManager`]),
    /// as a stand runs it, rather than on a bare display.
    pub window_manager: bool,
}

/// The window manager of the "DPS Kiosk" session, started the way the
/// session starts it (`packaging/kiosk/kiosk-session --window-manager`:
/// matchbox, no title bar, the shipped empty key list).
pub struct WindowManager {
    _wm: Proc,
}

impl WindowManager {
    pub fn start(display: &str) -> Result<WindowManager, Error> {
        let script = repo_root().join("packaging/kiosk/kiosk-session");
        let child = Command::new(&script)
            .arg("--window-manager")
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
        let wm = WindowManager { _wm: Proc(child) };
        // Ready once it has told the root what it supports (matchbox sets
        // no _NET_SUPPORTING_WM_CHECK).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("xprop")
                .args(["-root", "_NET_SUPPORTED"])
                .env("DISPLAY", display)
                .output()
                .map_err(|e| format!("cannot run xprop (apt-get install x11-utils): {e}"))?;
            if String::from_utf8_lossy(&out.stdout).contains("_NET_WM_STATE_FULLSCREEN") {
                return Ok(wm);
            }
            if Instant::now() > deadline {
                return Err("matchbox-window-manager did not start within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The kiosk window under WebDriver control.
pub struct Kiosk {
    pub client: Client,
    _driver: Proc,
    _wm: Option<WindowManager>,
    _display: Display,
    /// Everything the app writes: XDG data, cache and config homes, TMPDIR.
    pub data_dir: tempfile::TempDir,
    app_data: PathBuf,
}

impl Kiosk {
    /// Starts a display, tauri-driver and the app with a fresh data dir.
    pub async fn launch() -> Result<Kiosk, Error> {
        Self::launch_with(&[]).await
    }

    /// A kiosk its steward has set up: PIN [`STEWARD_PIN`] and an open
    /// pop-up session (the state a kiosk is in at a stand), so visits count.
    pub async fn launch_with(env: &[(&str, &str)]) -> Result<Kiosk, Error> {
        let data_dir = tempfile::tempdir()?;
        set_up_steward(&app_data_dir(data_dir.path()))?;
        Self::launch_in(data_dir, env).await
    }

    /// A set-up kiosk as a stand runs it: under the "DPS Kiosk" session's
    /// window manager ([`WindowManager`]), not on a bare display.
    pub async fn launch_in_session(env: &[(&str, &str)]) -> Result<Kiosk, Error> {
        let data_dir = tempfile::tempdir()?;
        set_up_steward(&app_data_dir(data_dir.path()))?;
        Self::launch_opts(
            data_dir,
            Launch {
                env,
                window_manager: true,
                ..Launch::default()
            },
        )
        .await
    }

    /// A kiosk on its very first start: no PIN, no session.
    pub async fn launch_fresh(env: &[(&str, &str)]) -> Result<Kiosk, Error> {
        Self::launch_in(tempfile::tempdir()?, env).await
    }

    /// The X display the window is on (`:N`).
    pub fn display(&self) -> &str {
        &self._display.name
    }

    /// The app's own data directory (store, logs) inside [`Kiosk::data_dir`].
    pub fn app_data(&self) -> PathBuf {
        self.app_data.clone()
    }

    async fn launch_in(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> Result<Kiosk, Error> {
        Self::launch_opts(
            data_dir,
            Launch {
                env,
                ..Launch::default()
            },
        )
        .await
    }

    /// Starts the app with `opts` over `data_dir` (see [`Kiosk::data_dir`]).
    pub async fn launch_opts(
        data_dir: tempfile::TempDir,
        opts: Launch<'_>,
    ) -> Result<Kiosk, Error> {
        let env = opts.env;
        let app = app_binary();
        if !app.exists() {
            return Err(format!("{} not built (make test builds it)", app.display()).into());
        }
        let display = Display::start()?;
        let wm = if opts.window_manager {
            Some(WindowManager::start(&display.name)?)
        } else {
            None
        };
        // The app's temporary files go inside the data dir too, so the
        // privacy test searches them along with the store and the logs.
        let tmp = data_dir.path().join("tmp");
        std::fs::create_dir_all(&tmp)?;
        std::fs::create_dir_all(data_dir.path().join("cache"))?;
        let port = free_port()?;
        let native_port = free_port()?;
        let mut cmd = Command::new(tauri_driver());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("DISPLAY", &display.name)
        .env("XDG_DATA_HOME", data_dir.path())
        .env("XDG_CONFIG_HOME", data_dir.path().join("config"))
        // WebKit's caches and local storage too, for the privacy search.
        .env("XDG_CACHE_HOME", data_dir.path().join("cache"))
        .env("TMPDIR", &tmp)
        // WebKitGTK's sandbox needs user namespaces that CI containers lack.
        .env("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Proc(
            cmd.spawn()
                .map_err(|e| format!("cannot start tauri-driver: {e}"))?,
        );
        // tauri-driver accepts connections before its WebKitWebDriver child
        // does, and drops requests it cannot forward yet: wait for both.
        wait_for_port(port, Duration::from_secs(20))?;
        wait_for_port(native_port, Duration::from_secs(20))?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({
                "application": app.canonicalize()?.to_string_lossy(),
                "args": opts.args,
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await?;
        let app_data = opts
            .app_data
            .unwrap_or_else(|| app_data_dir(data_dir.path()));
        Ok(Kiosk {
            client,
            _driver: driver,
            _wm: wm,
            _display: display,
            data_dir,
            app_data,
        })
    }

    /// Waits for an element to appear (the UI renders asynchronously).
    pub async fn find(&self, css: &str) -> Result<fantoccini::elements::Element, Error> {
        Ok(self
            .client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| format!("no element {css:?}: {e}"))?)
    }

    pub async fn text(&self, css: &str) -> Result<String, Error> {
        Ok(self.find(css).await?.text().await?)
    }

    /// Waits until `css`'s text equals `want` (re-rendering is asynchronous).
    pub async fn wait_text(&self, css: &str, want: &str) -> Result<(), Error> {
        self.wait_text_by(css, want, |text| text == want).await
    }

    /// Waits until the element's text contains `part`.
    pub async fn wait_contains(&self, css: &str, part: &str) -> Result<(), Error> {
        self.wait_text_by(css, part, |text| text.contains(part))
            .await
    }

    async fn wait_text_by(
        &self,
        css: &str,
        want: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if ok(&last) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{css}: wanted {want:?}, window shows {last:?}").into())
    }

    pub async fn click(&self, css: &str) -> Result<(), Error> {
        let el = self.find(css).await?;
        // WebKitWebDriver's own scroll-into-view misses an element at the
        // edge of a scrolled dialog when WebKit draws without compositing
        // (as the kiosk does) and then refuses the click as not
        // interactable; a steward would scroll it into view first.
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center'})",
                vec![serde_json::to_value(&el)?],
            )
            .await?;
        el.click().await?;
        Ok(())
    }

    /// Runs axe-core in the window and returns its violations, as
    /// "rule-id: help (n nodes)" lines.
    pub async fn axe_violations(&self) -> Result<Vec<String>, Error> {
        let source = std::fs::read_to_string(axe_path()).map_err(|e| {
            format!(
                "cannot read axe-core ({}): {e}; run npm ci in ui/",
                axe_path().display()
            )
        })?;
        self.client
            .execute(&format!("{source}\n;return true;"), vec![])
            .await?;
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ' nodes: ' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')))
                    .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await?;
        Ok(match result {
            Value::Array(items) => items
                .into_iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect(),
            other => vec![format!("unexpected axe result {other}")],
        })
    }

    /// Saves a screenshot after two animation frames (so what is shown is
    /// what was rendered, not a half-painted frame).
    pub async fn screenshot(&self, path: &Path) -> Result<(), Error> {
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await?;
        let png = self.client.screenshot().await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// The screen on show: `data-screen` of the `main` element.
    pub async fn screen(&self) -> Result<String, Error> {
        Ok(self
            .find("main[data-screen]")
            .await?
            .attr("data-screen")
            .await?
            .unwrap_or_default())
    }

    /// Waits until the main element matches `css` (e.g. `[data-screen=welcome]`).
    pub async fn wait_for(&self, css: &str) -> Result<(), Error> {
        self.find(css).await.map(|_| ())
    }

    /// Waits until no element matches `css`.
    pub async fn wait_gone(&self, css: &str) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.client.find(Locator::Css(css)).await.is_err() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{css} still shown").into())
    }

    /// The whole visible text of the page (for "nothing personal left" checks).
    pub async fn page_text(&self) -> Result<String, Error> {
        let v = self
            .client
            .execute("return document.body.innerText", vec![])
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Fails with the rule list if axe-core finds any violation.
    pub async fn assert_axe_clean(&self, where_: &str) -> Result<(), Error> {
        let v = self.axe_violations().await?;
        if v.is_empty() {
            Ok(())
        } else {
            Err(format!("axe on {where_}: {v:#?}").into())
        }
    }

    pub async fn close(self) -> Result<(), Error> {
        self.client.close().await?;
        Ok(())
    }
}

fn axe_path() -> PathBuf {
    repo_root().join("ui/node_modules/axe-core/axe.min.js")
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}
