//! Which processes belong to a contender, and what they use.
//!
//! Preferred: one cgroup v2 per contender run. Every process started inside
//! stays counted wherever it re-parents (Chromium's crashpad handler leaves
//! the tree at once), and `cpu.stat`'s `usage_usec` counts CPU in µs,
//! including processes that have already exited. Fallback, where no cgroup
//! v2 can be created (not root, no unified hierarchy): the process tree
//! under the spawned process, with utime+stime in clock ticks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the processes of one contender run are found and measured.
pub enum Group {
    Cgroup(PathBuf),
    /// The roots are known only after spawning: added by [`Group::spawned`].
    Tree(Vec<u32>),
}

/// Where cgroups v2 are mounted: the unified hierarchy alone, or beside
/// cgroup v1 controllers (a hybrid system, like this machine).
fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
    })
}

impl Group {
    /// A fresh cgroup named `name` under this bench's own, or the tree fallback.
    pub fn new(name: &str) -> Group {
        let Some(root) = cgroup2_root() else {
            return Group::Tree(Vec::new());
        };
        let dir = root
            .join(format!("dps-app-bench-{}", std::process::id()))
            .join(name);
        match std::fs::create_dir_all(&dir) {
            Ok(()) if dir.join("cgroup.procs").exists() => Group::Cgroup(dir),
            _ => Group::Tree(Vec::new()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Group::Cgroup(_) => "cgroup v2 (cgroup.procs, cpu.stat usage_usec)",
            Group::Tree(_) => "process tree (/proc ppid walk, utime+stime ticks)",
        }
    }

    /// `program args…` wrapped so the process joins the group *before* it
    /// execs (no window in which it could fork outside).
    pub fn command(&self, program: &Path) -> Command {
        match self {
            Group::Cgroup(dir) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
                    .arg(dir)
                    .arg(program);
                c
            }
            Group::Tree(_) => Command::new(program),
        }
    }

    /// Tells the tree fallback a root (for a cgroup the shell `exec`s, so
    /// the pid is the program's anyway).
    pub fn spawned(&mut self, pid: u32) {
        if let Group::Tree(roots) = self {
            roots.push(pid);
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        match self {
            Group::Cgroup(dir) => std::fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect(),
            Group::Tree(roots) => roots.iter().flat_map(|r| tree(*r).into_keys()).collect(),
        }
    }

    /// CPU time used so far by the group, in µs.
    pub fn cpu_usec(&self, hz: f64) -> u64 {
        match self {
            Group::Cgroup(dir) => std::fs::read_to_string(dir.join("cpu.stat"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("usage_usec "))
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(0),
            Group::Tree(roots) => {
                // Ticks of processes that ended are lost here (not in a cgroup).
                let ticks: u64 = roots.iter().flat_map(|r| tree(*r).into_values()).sum();
                (ticks as f64 / hz * 1e6) as u64
            }
        }
    }

    /// Memory of every process, largest PSS first.
    pub fn memory(&self) -> Vec<Memory> {
        let mut v: Vec<Memory> = self
            .pids()
            .into_iter()
            .map(|pid| {
                let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                    .unwrap_or_default();
                let kb = |field: &str| -> u64 {
                    rollup
                        .lines()
                        .find_map(|l| l.strip_prefix(field))
                        .and_then(|v| v.split_whitespace().next()?.parse().ok())
                        .unwrap_or(0)
                };
                Memory {
                    name: comm(pid),
                    pid,
                    pss_kb: kb("Pss:"),
                    uss_kb: kb("Private_Clean:") + kb("Private_Dirty:"),
                }
            })
            .collect();
        v.sort_by_key(|m| std::cmp::Reverse(m.pss_kb));
        v
    }

    /// CPU ticks of each live process of the group, by pid (for a
    /// breakdown: the totals come from [`Group::cpu_usec`]).
    pub fn ticks(&self) -> BTreeMap<u32, u64> {
        let all = processes();
        let pids = self.pids();
        all.into_iter()
            .filter(|(p, _, _)| pids.contains(p))
            .map(|(p, _, t)| (p, t))
            .collect()
    }

    /// Ends every process of the group: SIGTERM, then SIGKILL for what is
    /// left. The cgroup itself goes when the group is dropped, after the
    /// caller has reaped its children (a zombie still counts as a member).
    pub fn stop(&self) {
        for sig in ["-TERM", "-KILL"] {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            let _ = Command::new("kill")
                .arg(sig)
                .args(pids.iter().map(u32::to_string))
                .stderr(std::process::Stdio::null())
                .status();
            // Up to 5 s for them to go (a cgroup empties when they have).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !self.pids().is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Group::Cgroup(dir) = self {
            // Members re-parented to init may be reaped a moment later.
            for _ in 0..50 {
                if std::fs::remove_dir(&*dir).is_ok() || !dir.exists() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            eprintln!("app-bench: could not remove {}", dir.display());
        }
    }
}

/// Removes this bench's parent cgroup (its children are removed by [`Group::stop`]).
pub fn cleanup() {
    if let Some(root) = cgroup2_root() {
        let _ = std::fs::remove_dir(root.join(format!("dps-app-bench-{}", std::process::id())));
    }
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

/// One process's memory. PSS shares pages with every process mapping them,
/// so it drops when other programs on the machine use the same libraries
/// (WebKit, Chromium); USS (private pages only) does not.
pub struct Memory {
    pub name: String,
    pub pid: u32,
    pub pss_kb: u64,
    pub uss_kb: u64,
}

pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// Whether a process maps a GL driver (Mesa's llvmpipe pulls in LLVM): the
/// GPU policy check of the bench.
pub fn maps_gl(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut libs: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| {
            [
                "libLLVM",
                "libgallium",
                "_dri.so",
                "swrast",
                "libEGL_mesa",
                "libGLX_mesa",
            ]
            .iter()
            .any(|n| p.contains(n))
        })
        .filter_map(|p| Path::new(p).file_name()?.to_str().map(str::to_owned))
        .collect();
    libs.sort();
    libs.dedup();
    libs
}
