//! `dps-kiosk flows …` (owned by the flow work).
//!
//! `flows check [DIR]` checks every procedure in DIR (default: the bundled
//! `assets/flows`), the pictograms beside it (`DIR/../pictograms`) and, if
//! present, the DPS directory (`DIR/../dps/directory.toml`), and lists every
//! problem as `file:line:column: message` on stderr. Exit 0 only when all is
//! well, so the coordination can run it before handing a kiosk a new file.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::Global;

#[derive(Debug, clap::Subcommand)]
pub enum FlowsCmd {
    /// Check every flow file in DIR (default: the bundled flows).
    Check { dir: Option<std::path::PathBuf> },
}

pub fn run(cmd: FlowsCmd, _g: &Global) -> ExitCode {
    match cmd {
        FlowsCmd::Check { dir } => {
            let dir = dir.unwrap_or_else(|| dps_directory::assets_dir().join("flows"));
            let (ok, report) = check(&dir);
            if ok {
                print!("{report}");
                ExitCode::SUCCESS
            } else {
                eprint!("{report}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Checks a flows directory; returns whether all is well and the report.
pub fn check(flows_dir: &Path) -> (bool, String) {
    let parent = flows_dir
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf);
    let loaded = dps_flow::load_dir(flows_dir, &parent.join("pictograms"));
    let mut problems: Vec<String> = loaded.problems.iter().map(ToString::to_string).collect();
    let directory = parent.join(dps_directory::DIRECTORY_FILE);
    let mut sites = None;
    if directory.is_file() {
        match dps_directory::Directory::load(&directory) {
            Ok(d) => sites = Some(d.sites().len()),
            Err(dps_directory::DirectoryError::Invalid(ps)) => {
                problems.extend(ps.iter().map(ToString::to_string));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let mut out = String::new();
    if problems.is_empty() && loaded.flows.is_empty() {
        out.push_str(&format!(
            "{}: no flow files (*.toml) found\n",
            flows_dir.display()
        ));
        return (false, out);
    }
    for p in &problems {
        out.push_str(p);
        out.push('\n');
    }
    if problems.is_empty() {
        for f in &loaded.flows {
            out.push_str(&format!(
                "ok: {} (version {}, {} steps, outcomes: {})\n",
                f.id,
                f.version,
                f.steps.len(),
                f.outcomes()
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(n) = sites {
            out.push_str(&format!("ok: DPS directory ({n} sites)\n"));
        }
    } else {
        let s = if problems.len() == 1 { "" } else { "s" };
        out.push_str(&format!(
            "{} problem{s} found; the kiosk will not offer a broken flow\n",
            problems.len()
        ));
    }
    (problems.is_empty(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_bundled_flows_pass() {
        let (ok, report) = check(&root().join("assets/flows"));
        assert!(ok, "{report}");
        assert_eq!(
            report,
            "ok: bruvax-registration (version 1, 22 steps, outcomes: appointment_booked, not_yet_eligible, referred, waiting_list)\n\
             ok: bruvax-waiting-list (version 1, 8 steps, outcomes: not_yet_eligible, referred, waiting_list, waiting_list_closed)\n\
             ok: find-dps (version 1, 4 steps, outcomes: referred)\n\
             ok: other-help (version 1, 6 steps, outcomes: help_email, help_forms, help_login, help_other, help_smartphone)\n\
             ok: DPS directory (26 sites)\n"
        );
    }

    #[test]
    fn broken_fixtures_fail_listing_every_problem() {
        let dir = root().join("crates/flow/tests/fixtures/flows");
        let (ok, report) = check(&dir);
        assert!(!ok);
        // One line per problem (counted by the flow crate's own fixture
        // tests) plus the summary.
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(
            lines.last(),
            Some(&"26 problems found; the kiosk will not offer a broken flow")
        );
        assert!(lines.iter().any(|l| l.ends_with("dangling.toml:17:8: step \"start\" goes to \"nowhere\", which is not a step of this flow")));
    }

    #[test]
    fn the_subcommand_exits_non_zero_on_a_broken_folder() {
        use clap::Parser;
        let code = |dir: PathBuf| {
            let cli = crate::Cli::try_parse_from([
                "dps-kiosk".into(),
                "flows".into(),
                "check".into(),
                dir.into_os_string(),
            ])
            .unwrap();
            format!("{:?}", crate::run(&cli.global, cli.command.unwrap()))
        };
        let fixtures = root().join("crates/flow/tests/fixtures/flows");
        assert_eq!(code(fixtures), format!("{:?}", ExitCode::FAILURE));
        assert_eq!(
            code(root().join("assets/flows")),
            format!("{:?}", ExitCode::SUCCESS)
        );
    }

    #[test]
    fn an_empty_folder_is_not_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("flows")).unwrap();
        let (ok, report) = check(&dir.path().join("flows"));
        assert!(!ok, "{report}");
    }
}
