//! The window suite: one integration-test binary. Tests run one at a time
//! (`--test-threads=1` in the Makefile): each starts its own display, driver
//! and app, and the card tests their own private pcscd.

mod cli;
mod journey;
mod lockdown;
mod privacy;
mod quarantine;
mod steward;
mod sync;
mod welcome;

/// Screenshots for people to look at, kept after the run.
pub fn artifacts() -> std::path::PathBuf {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
