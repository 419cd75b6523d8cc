//! Start at login: a desktop entry in the XDG autostart directory, which every
//! desktop Debian and ChromeOS's Linux environment ship honours. No daemon,
//! no systemd user unit: a steward can see and remove the file.

use std::io;
use std::path::PathBuf;

pub const FILE_NAME: &str = "dps-kiosk.desktop";

pub struct Autostart {
    dir: PathBuf,
    exec: String,
}

impl Autostart {
    /// `dir` is the autostart directory, `exec` the command to start.
    pub fn new(dir: PathBuf, exec: impl Into<String>) -> Autostart {
        Autostart {
            dir,
            exec: exec.into(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    pub fn is_on(&self) -> bool {
        self.path().is_file()
    }

    pub fn set(&self, on: bool) -> io::Result<()> {
        let path = self.path();
        if on {
            std::fs::create_dir_all(&self.dir)?;
            // Quoted per the desktop entry spec, so a path with spaces works.
            let exec = format!(
                "\"{}\"",
                self.exec.replace('\\', "\\\\").replace('"', "\\\"")
            );
            std::fs::write(
                &path,
                format!(
                    "[Desktop Entry]\nType=Application\nName=DPS Kiosk\nExec={exec}\n\
                     X-GNOME-Autostart-enabled=true\nTerminal=false\n"
                ),
            )
        } else {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
    }
}
