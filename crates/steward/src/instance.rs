//! One kiosk window per data directory: a second start asks the first to come
//! to the front and exits.
//!
//! Why a Unix socket of our own rather than a single-instance plugin: the
//! Tauri plugin goes through the D-Bus session bus, which a bare X session
//! (and the test suite under Xvfb) does not have; a socket in the data
//! directory works everywhere, and the tally store's lock would refuse a
//! second window anyway, only less kindly.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

pub const SOCKET_NAME: &str = "kiosk.sock";

pub enum Claim {
    /// This process is the kiosk; call [`Instance::serve`].
    First(Instance),
    /// Another kiosk runs and was asked to come to the front.
    AlreadyRunning,
}

pub struct Instance {
    listener: UnixListener,
    path: PathBuf,
}

/// Claims the data directory `dir` for this process.
pub fn claim(dir: &Path) -> io::Result<Claim> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(SOCKET_NAME);
    match UnixStream::connect(&path) {
        Ok(mut s) => {
            s.write_all(b"focus\n")?;
            // Wait for the first one's answer, so "it came to the front" is
            // true when we exit.
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line)?;
            return Ok(Claim::AlreadyRunning);
        }
        // Nobody listening: a socket left by a crash, or none at all.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) =>
        {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    Ok(Claim::First(Instance { listener, path }))
}

impl Instance {
    /// Answers later starts on a thread of its own, blocking in `accept`
    /// (no polling); `focus` runs for each.
    pub fn serve(self, focus: impl Fn() + Send + 'static) -> io::Result<()> {
        std::thread::Builder::new()
            .name("single-instance".into())
            .spawn(move || {
                for stream in self.listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let mut line = String::new();
                    if BufReader::new(&stream).read_line(&mut line).is_ok() && line == "focus\n" {
                        focus();
                        let _ = stream.write_all(b"ok\n");
                    }
                }
                let _ = std::fs::remove_file(&self.path);
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
    fn a_socket_left_by_a_crash_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A bound-then-dropped listener leaves the socket file with no one behind it.
        drop(UnixListener::bind(dir.path().join(SOCKET_NAME)).unwrap());
        assert!(dir.path().join(SOCKET_NAME).exists());
        assert!(matches!(claim(dir.path()).unwrap(), Claim::First(_)));
    }
}
