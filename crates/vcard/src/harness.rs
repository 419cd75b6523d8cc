//! A private pcscd for tests: started with its own `reader.conf.d` holding
//! vpcd readers, stopped on drop.
//!
//! ```no_run
//! use dps_vcard::{harness::Pcscd, CardSpec, CardImage, TestPki, KeyKind};
//! # fn main() -> Result<(), dps_vcard::VcardError> {
//! let pcscd = Pcscd::start(2)?;             // readers 0 and 1 (vpcd ports: pcscd.port(0), pcscd.port(1))
//! let pki = TestPki::generate(KeyKind::Ec, "DPS Test Root")?;
//! let card = CardImage::build(&CardSpec::default(), &pki)?;
//! let inserted = pcscd.insert(0, card)?;    // "card inserted" in reader 0
//! // … run the code under test: it sees pcscd.reader_names()[0] …
//! drop(inserted);                           // "card removed"
//! # Ok(()) }
//! ```
//!
//! Only one pcscd can run per machine (its socket is `/run/pcscd/pcscd.comm`):
//! [`Pcscd::start`] holds a process-wide lock for the life of the value, so
//! tests in one binary take turns, and it fails with [`VcardError::OtherPcscd`]
//! if a pcscd it did not start is running. Needs root (or write access to
//! /run/pcscd) and the `pcscd` and `vsmartcard-vpcd` packages; never install
//! vpcd on a real kiosk (it accepts cards from the network).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::card::CardImage;
use crate::vpcd::{insert, InsertedCard};
use crate::VcardError;

static ONE_PCSCD: Mutex<()> = Mutex::new(());

/// vpcd's default port (slot 0 of the first driver entry), as in Debian's
/// `/etc/reader.conf.d/vpcd`. The harness starts its search here.
pub const BASE_PORT: u16 = 0x8C7B;
/// Where the harness stops looking for free vpcd ports.
const LAST_PORT: u16 = 0x9C40;
const RUN_DIR: &str = "/run/pcscd";
const DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// A running private pcscd with vpcd readers.
pub struct Pcscd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    slots: usize,
    /// vpcd port of slot 0 in the current configuration.
    base_port: u16,
    reader_names: Vec<String>,
    _turn: MutexGuard<'static, ()>,
}

fn other_pcscd() -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        // A zombie child of ours still has its comm: only count live processes.
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        (comm.trim() == "pcscd" && pid != me && !zombie).then_some(pid)
    })
}

/// Takes the harness's turn without starting pcscd, for tests of "the card
/// service is not running". Fails if some pcscd runs anyway.
pub fn without_pcscd() -> Result<MutexGuard<'static, ()>, VcardError> {
    let turn = ONE_PCSCD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pid) = other_pcscd() {
        return Err(VcardError::OtherPcscd(pid));
    }
    remove_stale();
    Ok(turn)
}

fn remove_stale() {
    for f in ["pcscd.comm", "pcscd.pid"] {
        let _ = std::fs::remove_file(Path::new(RUN_DIR).join(f));
    }
}

impl Pcscd {
    /// Starts pcscd with `readers` vpcd readers (rounded up to an even number:
    /// each vpcd driver entry has two slots) and waits until pcscd lists them
    /// all. With 0, pcscd runs with no reader at all ("plug in the reader").
    pub fn start(readers: usize) -> Result<Pcscd, VcardError> {
        let turn = ONE_PCSCD.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pid) = other_pcscd() {
            return Err(VcardError::OtherPcscd(pid));
        }
        if !Path::new(DRIVER).exists() {
            return Err(VcardError::Setup(format!(
                "{DRIVER} is missing: apt-get install vsmartcard-vpcd"
            )));
        }
        let entries = readers.div_ceil(2);
        if entries * 2 > 16 {
            return Err(VcardError::Setup("pcscd handles at most 16 readers".into()));
        }
        let dir = tempfile::tempdir().map_err(|e| VcardError::Setup(e.to_string()))?;
        std::fs::create_dir(dir.path().join("reader.conf.d"))
            .map_err(|e| VcardError::Setup(e.to_string()))?;
        let mut p = Pcscd {
            child: None,
            dir,
            slots: entries * 2,
            base_port: BASE_PORT,
            reader_names: Vec::new(),
            _turn: turn,
        };
        p.spawn()?;
        Ok(p)
    }

    /// Writes `reader.conf.d` on ports nothing uses right now. Why not fixed
    /// ports: vpcd binds without SO_REUSEADDR, and after pcscd is stopped its
    /// closed card connections sit in TIME_WAIT on the port for a minute, so
    /// the next pcscd on the same port cannot bind (seen in CI: "Address
    /// already in use"). Reader names do not depend on the port, so a restart
    /// on new ports looks like the same readers to PC/SC clients.
    fn write_config(&mut self) -> Result<(), VcardError> {
        self.base_port = free_ports(self.slots)?;
        let conf = self.dir.path().join("reader.conf.d");
        for k in 0..self.slots / 2 {
            // Entries sharing one .so clobber each other: each gets its own copy.
            let lib = self.dir.path().join(format!("libifdvpcd-{k}.so"));
            if !lib.exists() {
                std::fs::copy(DRIVER, &lib).map_err(|e| VcardError::Setup(e.to_string()))?;
            }
            let port = self.base_port + 2 * k as u16;
            let text = format!(
                "FRIENDLYNAME \"DPS Virtual {k}\"\nDEVICENAME /dev/null:0x{port:04X}\nLIBPATH {}\nCHANNELID 0x{port:04X}\n",
                lib.display()
            );
            std::fs::write(conf.join(format!("vpcd-{k}")), text)
                .map_err(|e| VcardError::Setup(e.to_string()))?;
        }
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("pcscd.log")
    }

    fn spawn(&mut self) -> Result<(), VcardError> {
        self.write_config()?;
        remove_stale();
        let _ = std::fs::create_dir_all(RUN_DIR);
        let log =
            std::fs::File::create(self.log_path()).map_err(|e| VcardError::Setup(e.to_string()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| VcardError::Setup(e.to_string()))?;
        let mut cmd = Command::new("pcscd");
        cmd.arg("--foreground")
            .arg("-c")
            .arg(self.dir.path().join("reader.conf.d"));
        if pcscd_knows("--disable-polkit") {
            cmd.arg("--disable-polkit");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                VcardError::Setup(format!("cannot start pcscd (apt-get install pcscd): {e}"))
            })?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Ready = pcscd answers and lists every vpcd reader. pcscd offers no
    /// readiness notification, so this re-checks every 20 ms up to 10 s.
    fn wait_ready(&mut self) -> Result<(), VcardError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                    return Err(VcardError::Setup(format!("pcscd exited ({status}): {log}")));
                }
            }
            if Path::new(RUN_DIR).join("pcscd.comm").exists() {
                if let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) {
                    // With no reader configured, pcscd answers "no readers".
                    let listed = match ctx.list_readers_owned() {
                        Err(pcsc::Error::NoReadersAvailable) if self.slots == 0 => Ok(Vec::new()),
                        other => other,
                    };
                    if let Ok(names) = listed {
                        if names.len() >= self.slots {
                            self.reader_names = names
                                .iter()
                                .map(|n: &CString| n.to_string_lossy().into_owned())
                                .collect();
                            self.reader_names.sort();
                            return Ok(());
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(VcardError::Setup(format!(
                    "pcscd did not list its readers within 10 s: {log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reader names as PC/SC lists them, sorted: index n is slot n.
    pub fn reader_names(&self) -> &[String] {
        &self.reader_names
    }

    /// The vpcd port of slot `n`.
    pub fn port(&self, slot: usize) -> u16 {
        self.base_port + slot as u16
    }

    /// Inserts a virtual card into slot `n`.
    pub fn insert(&self, slot: usize, card: CardImage) -> Result<InsertedCard, VcardError> {
        if slot >= self.slots {
            return Err(VcardError::Setup(format!("there is no slot {slot}")));
        }
        insert(self.port(slot), card)
    }

    /// Waits until pcscd sees a card in slot `slot` (`present`) or sees it
    /// empty, blocking in `get_status_change` (no polling), up to `timeout`.
    /// vpcd notices a card coming or going within its 400 ms presence poll.
    pub fn wait_card(
        &self,
        slot: usize,
        present: bool,
        timeout: Duration,
    ) -> Result<(), VcardError> {
        let name = self
            .reader_names
            .get(slot)
            .ok_or_else(|| VcardError::Setup(format!("there is no slot {slot}")))?;
        let name = CString::new(name.as_str()).map_err(|e| VcardError::Setup(e.to_string()))?;
        let ctx = pcsc::Context::establish(pcsc::Scope::User)
            .map_err(|e| VcardError::Setup(format!("pcscd: {e}")))?;
        let mut rs = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            ctx.get_status_change(left, &mut rs).map_err(|e| {
                VcardError::Setup(format!(
                    "slot {slot} not {} in time: {e}",
                    if present { "holding a card" } else { "empty" }
                ))
            })?;
            if rs[0].event_state().contains(pcsc::State::PRESENT) == present {
                return Ok(());
            }
            rs[0].sync_current_state();
        }
    }

    /// Kills pcscd like a crash (SIGKILL), leaving its stale socket behind.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts pcscd again after [`Pcscd::kill`], cleaning the stale socket and pid file.
    pub fn restart(&mut self) -> Result<(), VcardError> {
        self.kill();
        self.spawn()
    }

    /// pcscd's own output so far (for failing tests).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// The local TCP ports of every socket on the machine, in any state
/// (listening, connected, TIME_WAIT…), from /proc/net/tcp and tcp6.
fn ports_in_use() -> std::collections::HashSet<u16> {
    let mut used = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            // "  sl  local_address rem_address st …", local_address = HEXIP:HEXPORT
            let port = line
                .split_whitespace()
                .nth(1)
                .and_then(|local| local.rsplit(':').next())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if let Some(port) = port {
                used.insert(port);
            }
        }
    }
    used
}

/// The first run of `count` consecutive ports from [`BASE_PORT`] that no
/// socket uses in any state.
fn free_ports(count: usize) -> Result<u16, VcardError> {
    let used = ports_in_use();
    let count = count as u16;
    let mut base = BASE_PORT;
    while base + count <= LAST_PORT {
        if (base..base + count).all(|p| !used.contains(&p)) {
            return Ok(base);
        }
        base += count;
    }
    Err(VcardError::Setup(format!(
        "no {count} free TCP ports between {BASE_PORT} and {LAST_PORT} for vpcd"
    )))
}

fn pcscd_knows(flag: &str) -> bool {
    Command::new("pcscd")
        .arg("--help")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).contains(flag)
                || String::from_utf8_lossy(&o.stderr).contains(flag)
        })
        .unwrap_or(false)
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM first so pcscd removes its socket; SIGKILL if it lingers.
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                }
            }
        }
        remove_stale();
    }
}
