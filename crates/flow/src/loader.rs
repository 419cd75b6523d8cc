//! The only part of the crate that reads files: a folder of flows and the
//! pictograms folder they may use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::{parse, Flow, Problem};

/// The flows that passed the check, and every problem of those that did not.
/// A broken flow is left out, never half-offered; the others still work.
#[derive(Debug, Default)]
pub struct Loaded {
    pub flows: Vec<Flow>,
    pub problems: Vec<Problem>,
}

/// `flows/` and `pictograms/` under an assets directory.
pub fn dirs(assets: &Path) -> (PathBuf, PathBuf) {
    (assets.join("flows"), assets.join("pictograms"))
}

fn io_problem(path: &Path, err: &std::io::Error) -> Problem {
    Problem {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        message: format!("cannot read: {err}"),
    }
}

/// The pictogram ids (file stems of `*.svg`) in `dir`, with a problem for
/// each file that would not be safe or accessible in the window: one
/// without a `<title>` (screen readers), with a script, or referring to
/// anything outside itself (the kiosk is offline; nothing may leak out).
pub fn pictograms(dir: &Path) -> (BTreeSet<String>, Vec<Problem>) {
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return (ids, vec![io_problem(dir, &e)]),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(io_problem(&path, &e));
                continue;
            }
        };
        let file = path.display().to_string();
        let lower = text.to_ascii_lowercase();
        let mut bad = |needle: &str, msg: &str| {
            if let Some(at) = lower.find(needle) {
                problems.push(Problem::at(&file, &text, at..at, msg));
            }
        };
        bad("<script", "a pictogram may not contain a script");
        bad(
            "href=\"http",
            "a pictogram may not refer to anything outside itself",
        );
        bad(
            "url(http",
            "a pictogram may not refer to anything outside itself",
        );
        bad("<image", "a pictogram is drawn, not an embedded image");
        if !lower.contains("<title") {
            problems.push(Problem::at(
                &file,
                &text,
                0..0,
                "a pictogram needs a <title> for screen readers",
            ));
        }
        ids.insert(stem.to_owned());
    }
    (ids, problems)
}

/// Loads and checks every `*.toml` flow in `flows_dir`, in file-name order.
pub fn load_dir(flows_dir: &Path, pictograms_dir: &Path) -> Loaded {
    let (ids, mut problems) = pictograms(pictograms_dir);
    let mut flows: Vec<Flow> = Vec::new();
    let entries = match std::fs::read_dir(flows_dir) {
        Ok(e) => e,
        Err(e) => {
            return Loaded {
                flows,
                problems: vec![io_problem(flows_dir, &e)],
            }
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(io_problem(&path, &e));
                continue;
            }
        };
        let file = path.display().to_string();
        match parse(&file, &text, &ids) {
            Ok(flow) => {
                if let Some(other) = flows.iter().find(|f| f.id == flow.id) {
                    problems.push(Problem {
                        file,
                        line: 1,
                        column: 1,
                        message: format!(
                            "flow id {:?} is already used by {}",
                            flow.id.as_str(),
                            other.file
                        ),
                    });
                } else {
                    flows.push(flow);
                }
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    Loaded { flows, problems }
}
