//! One kiosk window per data directory: a second start asks the first to come
//! to the front and exits.
//!
//! Why a Unix socket of our own rather than a single-instance plugin: the
//! Tauri plugin goes through the D-Bus session bus, which a bare X session
//! (and the test suite under Xvfb) does not have; a socket in the data
//! directory works everywhere. (The tally store's lock does not keep a
//! second window out: the window opens without a store, "not counting".)

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs2::FileExt;

pub const SOCKET_NAME: &str = "kiosk.sock";
/// Held (flock) by the kiosk for its whole life: who holds it owns the
/// socket. The kernel drops it when the process dies, however it dies.
pub const LOCK_NAME: &str = "kiosk.sock.lock";

/// How long a second start waits for the first to open its socket (the
/// first binds it right after taking the lock: microseconds, unless the
/// machine is very busy).
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

pub enum Claim {
    /// This process is the kiosk; call [`Instance::serve`].
    First(Instance),
    /// Another kiosk runs and was asked to come to the front.
    AlreadyRunning,
}

pub struct Instance {
    listener: UnixListener,
    path: PathBuf,
    _lock: File,
}

/// Claims the data directory `dir` for this process.
///
/// The lock decides, not the socket: with the socket alone, two starts at
/// once (a double click on a slow laptop) could both find no one listening,
/// and the second would delete the first's fresh socket and open a second
/// window.
pub fn claim(dir: &Path) -> io::Result<Claim> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(SOCKET_NAME);
    let lock = File::create(dir.join(LOCK_NAME))?;
    match lock.try_lock_exclusive() {
        Ok(()) => {
            // Ours now: a socket file left is from a kiosk that died.
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let listener = UnixListener::bind(&path)?;
            Ok(Claim::First(Instance {
                listener,
                path,
                _lock: lock,
            }))
        }
        Err(e) if e.kind() == fs2::lock_contended_error().kind() => {
            focus_first(&path)?;
            Ok(Claim::AlreadyRunning)
        }
        Err(e) => Err(e),
    }
}

/// Asks the kiosk holding the lock to come to the front, and waits for its
/// answer so "it came to the front" is true when we exit.
fn focus_first(path: &Path) -> io::Result<()> {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    let mut s = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            // Between its lock and its bind: a moment, once.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    };
    s.write_all(b"focus\n")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(())
}

impl Instance {
    /// Answers later starts on a thread of its own, blocking in `accept`
    /// (no polling); `focus` runs for each.
    pub fn serve(self, focus: impl Fn() + Send + 'static) -> io::Result<()> {
        // Moved whole into the thread: a closure capturing only the fields it
        // uses would drop the lock here and let a second kiosk in.
        let Instance {
            listener,
            path,
            _lock: lock,
        } = self;
        std::thread::Builder::new()
            .name("single-instance".into())
            .spawn(move || {
                let _held = lock;
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let mut line = String::new();
                    if BufReader::new(&stream).read_line(&mut line).is_ok() && line == "focus\n" {
                        focus();
                        let _ = stream.write_all(b"ok\n");
                    }
                }
                let _ = std::fs::remove_file(&path);
            })
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_second_start_focuses_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let Claim::First(first) = claim(dir.path()).unwrap() else {
            panic!("the first start must get the directory");
        };
        let (tx, rx) = mpsc::channel();
        first.serve(move || tx.send(()).unwrap()).unwrap();
        assert!(matches!(claim(dir.path()).unwrap(), Claim::AlreadyRunning));
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert!(matches!(claim(dir.path()).unwrap(), Claim::AlreadyRunning));
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn starts_at_the_same_moment_make_one_kiosk() {
        // Many rounds of 6 starts released together: exactly one becomes
        // the kiosk, every other one is told it runs.
        for _ in 0..30 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let firsts: Vec<_> = (0..6)
                .map(|_| {
                    let (dir, barrier) = (dir.path().to_owned(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        match claim(&dir).unwrap() {
                            Claim::First(i) => {
                                i.serve(|| {}).unwrap();
                                1
                            }
                            Claim::AlreadyRunning => 0,
                        }
                    })
                })
                .collect();
            let n: u32 = firsts.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(n, 1, "kiosks started from one data dir");
        }
    }

    #[test]
    fn a_socket_left_by_a_crash_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A bound-then-dropped listener leaves the socket file with no one behind it.
        drop(UnixListener::bind(dir.path().join(SOCKET_NAME)).unwrap());
        assert!(dir.path().join(SOCKET_NAME).exists());
        assert!(matches!(claim(dir.path()).unwrap(), Claim::First(_)));
    }
}
