// The kiosk window has no console on a release build for Windows; Linux is
// unaffected. Kept so the binary is portable if ever needed.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Subcommands are parsed and run before any window or GTK exists, so
    // they work headless (over SSH, in CI, on a machine with no display).
    let cli = dps_cli::Cli::parse();
    match cli.command {
        Some(command) => dps_cli::run(&cli.global, command),
        None => match dps_kiosk::run(cli.global) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dps-kiosk: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
