//! The headless side of `dps-kiosk`: every subcommand, parsed before any
//! window or GTK exists, so they run on a machine with no display.
//!
//! Each subcommand lives in its own module with a `run(args, &Global) -> ExitCode`
//! and writes to stdout/stderr itself. The binary only decides: a subcommand
//! runs here, no subcommand opens the kiosk window.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod card;
pub mod doctor;
pub mod flows;
pub mod support;
pub mod sync;
pub mod tally;

/// DPS Kiosk: guided public procedures with the Belgian eID, counted anonymously.
#[derive(Debug, Parser)]
#[command(name = "dps-kiosk", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand and the window share.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Where the kiosk keeps its store and settings (default: the XDG data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl Global {
    /// The data directory: `--data-dir`, else `$XDG_DATA_HOME/dps-kiosk`, else
    /// `~/.local/share/dps-kiosk`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("dps-kiosk")
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read Belgian eID cards (headless).
    #[command(subcommand)]
    Card(card::CardCmd),
    /// Say in plain words whether the card service, readers, store, disk, clock and hub are fine.
    Doctor(doctor::DoctorArgs),
    /// Check procedure (flow) files.
    #[command(subcommand)]
    Flows(flows::FlowsCmd),
    /// The anonymous visit tallies on this kiosk.
    #[command(subcommand)]
    Tally(tally::TallyCmd),
    /// Enrol this kiosk with a coordination hub using a one-time code.
    Enrol(sync::EnrolArgs),
    /// Send the tallies to the coordination hub.
    Sync(sync::SyncArgs),
    /// Write a .zip for the helpdesk (logs + doctor + version; no counts, no personal data).
    SupportBundle(support::SupportArgs),
}

/// Runs a subcommand. The caller handles `command == None` (the window).
pub fn run(global: &Global, command: Command) -> ExitCode {
    match command {
        Command::Card(c) => card::run(c, global),
        Command::Doctor(a) => doctor::run(a, global),
        Command::Flows(c) => flows::run(c, global),
        Command::Tally(c) => tally::run(c, global),
        Command::Enrol(a) => sync::enrol(a, global),
        Command::Sync(a) => sync::sync(a, global),
        Command::SupportBundle(a) => support::run(a, global),
    }
}
