//! `dps-kiosk tally …`: the anonymous visit tallies, headless.
use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;
use dps_tally::simulate::{simulate, SimParams};
use dps_tally::{brussels_day, CellTotal, TallyStore};

use crate::Global;

#[derive(Debug, clap::Subcommand)]
pub enum TallyCmd {
    /// Totals by cell, net of retractions.
    Show {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write synthetic visits (realistic spreads) into the store of
    /// `--data-dir`, for benchmarks and demos.
    Simulate {
        /// How many visits.
        #[arg(long)]
        visits: u64,
        /// Over how many days, ending today.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed of the generator (same seed, same visits).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also allow writing into the kiosk's real (default) store.
        #[arg(long)]
        into_default_store: bool,
    },
}

pub fn run(cmd: TallyCmd, g: &Global) -> ExitCode {
    match cmd {
        TallyCmd::Show { json } => show(g, json, &mut std::io::stdout().lock()),
        TallyCmd::Simulate {
            visits,
            days,
            seed,
            into_default_store,
        } => {
            if g.data_dir.is_none() && !into_default_store {
                eprintln!(
                    "dps-kiosk: refusing to put synthetic visits into this kiosk's real counts; \
                     give --data-dir DIR (or --into-default-store if you really mean it)"
                );
                return ExitCode::from(2);
            }
            sim(g, visits, days, seed)
        }
    }
}

fn open(g: &Global) -> Option<TallyStore> {
    match TallyStore::open(&g.data_dir(), Utc::now()) {
        Ok(o) => {
            if let Some(m) = o.steward_message() {
                eprintln!("dps-kiosk: {m}");
            }
            Some(o.store)
        }
        Err(e) => {
            eprintln!("dps-kiosk: {e}");
            None
        }
    }
}

fn show(g: &Global, json: bool, out: &mut impl Write) -> ExitCode {
    let totals = if TallyStore::exists(&g.data_dir()) {
        let Some(store) = open(g) else {
            return ExitCode::FAILURE;
        };
        match store.totals() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("dps-kiosk: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        // Showing must not create a store as a side effect.
        Vec::new()
    };
    let written = if json {
        write_json(out, &totals)
    } else {
        write_table(out, &totals)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dps-kiosk: could not write the totals: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_json(out: &mut impl Write, totals: &[CellTotal]) -> std::io::Result<()> {
    let total: u64 = totals.iter().map(|c| c.net).sum();
    let doc = serde_json::json!({ "visits": total, "cells": totals });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn write_table(out: &mut impl Write, totals: &[CellTotal]) -> std::io::Result<()> {
    if totals.is_empty() {
        return writeln!(out, "No visits counted yet.");
    }
    writeln!(
        out,
        "{:<10}  {:<24}  {:<22}  {:<12}  {:<4}  {:<6}  {:<8}  {:<22}  {:>6}",
        "day", "site", "procedure", "outcome", "lang", "chan", "age", "residence", "visits"
    )?;
    for t in totals {
        let c = &t.cell;
        writeln!(
            out,
            "{:<10}  {:<24}  {:<22}  {:<12}  {:<4}  {:<6}  {:<8}  {:<22}  {:>6}",
            c.day.to_string(),
            c.site.as_str(),
            c.procedure.as_str(),
            c.outcome.as_str(),
            c.language.code(),
            c.channel.code(),
            c.age_band.code(),
            c.residence.code(),
            t.net
        )?;
    }
    let total: u64 = totals.iter().map(|c| c.net).sum();
    writeln!(out, "{} visits in {} cells", total, totals.len())
}

fn sim(g: &Global, visits: u64, days: u32, seed: u64) -> ExitCode {
    let Some(store) = open(g) else {
        return ExitCode::FAILURE;
    };
    let now = Utc::now();
    let p = SimParams {
        visits,
        days,
        seed,
        last_day: brussels_day(now),
        undo_rate: 0.02,
    };
    match simulate(&store, &p) {
        Ok(r) => {
            let size = store.size_on_disk().unwrap_or(0);
            println!(
                "simulated {} visits ({} undone) in {} sessions from {} to {}; store {} bytes in {}",
                r.visits,
                r.undone,
                r.sessions,
                r.first_day.map(|d| d.to_string()).unwrap_or_default(),
                r.last_day.map(|d| d.to_string()).unwrap_or_default(),
                size,
                store.path().display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dps-kiosk: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(dir: &std::path::Path) -> Global {
        Global {
            data_dir: Some(dir.to_owned()),
        }
    }

    #[test]
    fn simulate_refuses_the_default_store() {
        let cmd = TallyCmd::Simulate {
            visits: 10,
            days: 1,
            seed: 1,
            into_default_store: false,
        };
        // No --data-dir: refused before anything is opened or created.
        assert_eq!(run(cmd, &Global { data_dir: None }), ExitCode::from(2));
    }

    #[test]
    fn show_on_a_missing_store_says_so_and_creates_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(show(&global(d.path()), false, &mut out), ExitCode::SUCCESS);
        assert_eq!(String::from_utf8(out).unwrap(), "No visits counted yet.\n");
        assert!(!TallyStore::exists(d.path()));
    }

    #[test]
    fn simulate_then_show() {
        let d = tempfile::tempdir().unwrap();
        let g = global(d.path());
        let cmd = TallyCmd::Simulate {
            visits: 300,
            days: 7,
            seed: 3,
            into_default_store: false,
        };
        assert_eq!(run(cmd, &g), ExitCode::SUCCESS);
        let mut out = Vec::new();
        assert_eq!(show(&g, true, &mut out), ExitCode::SUCCESS);
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let cells = doc["cells"].as_array().unwrap();
        let sum: u64 = cells.iter().map(|c| c["net"].as_u64().unwrap()).sum();
        assert_eq!(doc["visits"].as_u64(), Some(sum));
        // 2% of visits are undone by the simulated steward.
        assert!((270..=300).contains(&sum), "{sum}");
        assert!(cells
            .iter()
            .all(|c| c["day"].is_string() && c["residence"].is_string()));
        let mut table = Vec::new();
        assert_eq!(show(&g, false, &mut table), ExitCode::SUCCESS);
        let table = String::from_utf8(table).unwrap();
        assert!(
            table.ends_with(&format!("{sum} visits in {} cells\n", cells.len())),
            "{table}"
        );
    }
}
