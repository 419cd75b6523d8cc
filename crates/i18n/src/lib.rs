//! The Fluent catalogs in `assets/i18n/<lang>/*.ftl` are the one source of
//! every word the window shows. The window loads them with `@fluent/bundle`;
//! this crate is the Rust side's check of the very same files, so a typo or a
//! message forgotten in one language fails `make test` instead of showing a
//! raw message id to a resident.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use dps_model::Language;
use fluent_syntax::ast;

/// One problem found in the catalogs, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the translations folder {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Message ids (and term ids, prefixed `-`) defined per language.
pub type Catalog = BTreeMap<Language, BTreeMap<String, (PathBuf, usize)>>;

fn line_of(source: &str, byte: usize) -> usize {
    source.as_bytes()[..byte.min(source.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Loads every `*.ftl` under `dir/<lang>/`, collecting parse problems.
pub fn load(dir: &Path) -> Result<(Catalog, Vec<Problem>), CatalogError> {
    let mut catalog = Catalog::new();
    let mut problems = Vec::new();
    for lang in Language::ALL {
        let lang_dir = dir.join(lang.code());
        let ids = catalog.entry(lang).or_default();
        let entries = match std::fs::read_dir(&lang_dir) {
            Ok(e) => e,
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                problems.push(Problem {
                    file: lang_dir.clone(),
                    line: 0,
                    message: format!("no catalog for language {lang}"),
                });
                continue;
            }
            Err(source) => {
                return Err(CatalogError::Read {
                    path: lang_dir,
                    source,
                })
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        files.sort();
        for file in files {
            let source = std::fs::read_to_string(&file).map_err(|source| CatalogError::Read {
                path: file.clone(),
                source,
            })?;
            let resource = match fluent_syntax::parser::parse(source.as_str()) {
                Ok(r) => r,
                Err((r, errors)) => {
                    for e in errors {
                        problems.push(Problem {
                            file: file.clone(),
                            line: line_of(&source, e.pos.start),
                            message: format!("syntax error: {:?}", e.kind),
                        });
                    }
                    r
                }
            };
            for entry in resource.body {
                let (id, span_of) = match &entry {
                    ast::Entry::Message(m) => (m.id.name.to_string(), m.id.name),
                    ast::Entry::Term(t) => (format!("-{}", t.id.name), t.id.name),
                    _ => continue,
                };
                // The id is a slice of `source`: its offset gives the line.
                let offset = span_of.as_ptr() as usize - source.as_ptr() as usize;
                let line = line_of(&source, offset);
                if let Some((first, first_line)) = ids.get(&id) {
                    problems.push(Problem {
                        file: file.clone(),
                        line,
                        message: format!(
                            "message {id} defined twice (first at {}:{first_line})",
                            first.display()
                        ),
                    });
                } else {
                    ids.insert(id, (file.clone(), line));
                }
            }
        }
    }
    Ok((catalog, problems))
}

/// Loads and checks: parse errors, duplicates, and every message present in
/// every language.
pub fn check(dir: &Path) -> Result<Vec<Problem>, CatalogError> {
    let (catalog, mut problems) = load(dir)?;
    let all: BTreeSet<&String> = catalog.values().flat_map(|ids| ids.keys()).collect();
    for (lang, ids) in &catalog {
        for id in &all {
            if !ids.contains_key(*id) {
                let (file, line) = catalog
                    .values()
                    .find_map(|other| other.get(*id))
                    .cloned()
                    .unwrap_or_default();
                problems.push(Problem {
                    file,
                    line,
                    message: format!("message {id} is missing in {lang}"),
                });
            }
        }
    }
    problems.sort();
    Ok(problems)
}
