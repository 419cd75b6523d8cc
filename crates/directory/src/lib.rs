//! The certified Digital Public Spaces (DPS) of Brussels, and which
//! municipalities neighbour which, as data (`assets/dps/directory.toml`).
//!
//! The directory is data rather than code because the list of certified
//! spaces changes every year and the coordination, not a developer, keeps it.
//! It is also the list of *sites* for the tally store and the hub: a site id
//! is a [`Code`].
//!
//! Loading checks everything it can and reports *every* problem with its file
//! and line, so one edit session fixes them all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use dps_model::{Code, Municipality, Residence};
use serde::Deserialize;
use toml::Spanned;

/// The directory file inside the assets directory.
pub const DIRECTORY_FILE: &str = "dps/directory.toml";

/// Where the kiosk's assets (flows, pictograms, directory) are at run time:
/// `DPS_ASSETS_DIR` if set, else `<exe dir>/../share/dps-kiosk/assets` if it
/// exists (an installed kiosk), else the repository's `assets/` (a developer
/// running from the checkout). One function so every part agrees.
pub fn assets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DPS_ASSETS_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("../share/dps-kiosk/assets")))
        .filter(|d| d.is_dir());
    installed.unwrap_or_else(|| {
        // crates/directory -> the workspace root.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets")
    })
}

/// One problem found in a data file, where a person editing it can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Problem {
    /// A problem at a byte span of `source` (1-based line and column).
    pub fn at(file: &str, source: &str, span: Range<usize>, message: impl Into<String>) -> Problem {
        let (line, column) = line_col(source, span.start);
        Problem {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A TOML syntax or shape error, located where the parser says.
    pub fn from_toml(file: &str, source: &str, err: &toml::de::Error) -> Problem {
        let (line, column) = err.span().map_or((1, 1), |s| line_col(source, s.start));
        // One line per problem: the parser's message may span several.
        let message = err
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        Problem {
            file: file.to_owned(),
            line,
            column,
            message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// A certified DPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: Code,
    pub name: String,
    /// Street and number; a few spaces have more than one entrance.
    pub addresses: Vec<String>,
    pub postcode: String,
    pub municipality: Municipality,
    /// As dialled from Belgium or abroad (`+32 …`); absent when the source has none.
    pub phone: Option<String>,
}

/// The DPSs suggested to a resident, nearest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nearby<'a> {
    pub residence: Residence,
    /// In the resident's own municipality.
    pub own: Vec<&'a Site>,
    /// In a municipality that borders theirs.
    pub neighbouring: Vec<&'a Site>,
    /// Everywhere else (everything, for someone living outside the Region).
    pub others: Vec<&'a Site>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    sites: Vec<Site>,
    neighbours: BTreeMap<Municipality, BTreeSet<Municipality>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    #[serde(default)]
    borders: Vec<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    site: Vec<RawSite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: Spanned<String>,
    name: Spanned<String>,
    addresses: Spanned<Vec<String>>,
    postcode: Spanned<String>,
    municipality: Spanned<String>,
    phone: Option<Spanned<String>>,
}

impl Directory {
    /// The directory in the assets directory ([`assets_dir`]).
    pub fn bundled() -> Result<Directory, DirectoryError> {
        Directory::load(&assets_dir().join(DIRECTORY_FILE))
    }

    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Directory::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks a directory; `file` only labels the problems.
    pub fn parse(file: &str, text: &str) -> Result<Directory, DirectoryError> {
        let raw: RawDirectory = toml::from_str(text)
            .map_err(|e| DirectoryError::Invalid(vec![Problem::from_toml(file, text, &e)]))?;
        let mut problems = Vec::new();
        let mut bad =
            |span: Range<usize>, msg: String| problems.push(Problem::at(file, text, span, msg));

        let municipality = |s: &Spanned<String>, bad: &mut dyn FnMut(Range<usize>, String)| {
            let m = s.get_ref().parse::<Municipality>().ok();
            if m.is_none() {
                bad(
                    s.span(),
                    format!(
                        "unknown municipality {:?} (use a slug such as \"saint-gilles\")",
                        s.get_ref()
                    ),
                );
            }
            m
        };

        let mut neighbours: BTreeMap<Municipality, BTreeSet<Municipality>> = BTreeMap::new();
        for pair in &raw.borders {
            let [a, b] = pair.get_ref().as_slice() else {
                bad(
                    pair.span(),
                    "a border is a pair of two municipalities".to_owned(),
                );
                continue;
            };
            let (Some(ma), Some(mb)) = (municipality(a, &mut bad), municipality(b, &mut bad))
            else {
                continue;
            };
            if ma == mb {
                bad(pair.span(), format!("{ma} cannot border itself"));
            } else if !neighbours.entry(ma).or_default().insert(mb) {
                bad(
                    pair.span(),
                    format!("the border {ma} - {mb} is listed twice"),
                );
            } else {
                neighbours.entry(mb).or_default().insert(ma);
            }
        }

        let mut sites = Vec::new();
        let mut ids = BTreeSet::new();
        for s in raw.site {
            let id = match Code::new(s.id.get_ref()) {
                Ok(id) => Some(id),
                Err(_) => {
                    bad(
                        s.id.span(),
                        format!(
                            "site id {:?} must be lowercase letters, digits, '-' or '_'",
                            s.id.get_ref()
                        ),
                    );
                    None
                }
            };
            if !ids.insert(s.id.get_ref().clone()) {
                bad(
                    s.id.span(),
                    format!("site id {:?} is used twice", s.id.get_ref()),
                );
            }
            if s.name.get_ref().trim().is_empty() {
                bad(s.name.span(), "a site needs a name".to_owned());
            }
            if s.addresses.get_ref().iter().all(|a| a.trim().is_empty()) {
                bad(
                    s.addresses.span(),
                    "a site needs at least one address".to_owned(),
                );
            }
            let m = municipality(&s.municipality, &mut bad);
            let pc = s.postcode.get_ref().trim();
            let pc_municipality = pc.parse::<u16>().ok().and_then(Municipality::from_postcode);
            match (pc_municipality, m) {
                (None, _) => bad(
                    s.postcode.span(),
                    format!("postcode {pc:?} is not a postcode of the Brussels-Capital Region"),
                ),
                (Some(pm), Some(m)) if pm != m => bad(
                    s.postcode.span(),
                    format!("postcode {pc} is in {pm}, not in {m}"),
                ),
                _ => {}
            }
            if let Some(phone) = &s.phone {
                let p = phone.get_ref();
                let digits = p.chars().filter(char::is_ascii_digit).count();
                let ok = p.starts_with("+32 ")
                    && p.chars()
                        .all(|c| c.is_ascii_digit() || c == ' ' || c == '+')
                    && (10..=11).contains(&digits);
                if !ok {
                    bad(
                        phone.span(),
                        format!("phone {p:?} must be written +32 followed by 8 or 9 digits"),
                    );
                }
            }
            if let (Some(id), Some(municipality)) = (id, m) {
                sites.push(Site {
                    id,
                    name: s.name.into_inner().trim().to_owned(),
                    addresses: s.addresses.into_inner(),
                    postcode: pc.to_owned(),
                    municipality,
                    phone: s.phone.map(Spanned::into_inner),
                });
            }
        }
        if problems.is_empty() {
            Ok(Directory { sites, neighbours })
        } else {
            Err(DirectoryError::Invalid(problems))
        }
    }

    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id.as_str() == id)
    }

    /// The municipalities bordering `m`, in slug order.
    pub fn neighbours(&self, m: Municipality) -> impl Iterator<Item = Municipality> + '_ {
        self.neighbours.get(&m).into_iter().flatten().copied()
    }

    /// The DPSs for a resident's postcode: their own municipality's first,
    /// then the neighbouring municipalities', then the rest. Within a group
    /// the file's order is kept, neighbours grouped by municipality.
    pub fn nearby(&self, postcode: &str) -> Nearby<'_> {
        let residence = Residence::from_postcode(postcode);
        let home = match residence {
            Residence::Brussels(m) => Some(m),
            _ => None,
        };
        let near: BTreeSet<Municipality> = home
            .map(|m| self.neighbours(m).collect())
            .unwrap_or_default();
        let own = self
            .sites
            .iter()
            .filter(|s| Some(s.municipality) == home)
            .collect();
        let mut neighbouring: Vec<&Site> = self
            .sites
            .iter()
            .filter(|s| near.contains(&s.municipality))
            .collect();
        neighbouring.sort_by_key(|s| s.municipality);
        let others = self
            .sites
            .iter()
            .filter(|s| Some(s.municipality) != home && !near.contains(&s.municipality))
            .collect();
        Nearby {
            residence,
            own,
            neighbouring,
            others,
        }
    }
}
