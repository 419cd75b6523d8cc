//! Plain serde types the steward UI and the CLI show. None of them holds
//! anything about a resident beyond the anonymous cell vocabulary.

use chrono::{DateTime, Utc};
use dps_model::{CellKey, Code, Municipality, PnCount};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TallyError};

/// Where an outreach session takes place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Site {
    /// A certified DPS, by its id in the DPS directory (`dps-directory`).
    Certified { id: Code },
    /// A pop-up place (market, community centre, van stop) and its municipality.
    PopUp {
        place: String,
        #[serde(with = "municipality_slug")]
        municipality: Municipality,
    },
}

impl Site {
    /// Longest pop-up place name accepted: a place, not a note.
    pub const MAX_PLACE_CHARS: usize = 80;

    /// A certified DPS, checked against the DPS directory (`assets/dps`), so a
    /// session can only be started at a DPS that exists.
    pub fn certified(id: &str, directory: &dps_directory::Directory) -> Result<Site> {
        match directory.site(id) {
            Some(s) => Ok(Site::Certified { id: s.id.clone() }),
            None => Err(TallyError::InvalidSite(format!(
                "{id:?} is not a certified DPS in the directory"
            ))),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if let Site::PopUp { place, .. } = self {
            let n = place.trim().chars().count();
            if n == 0 || n > Site::MAX_PLACE_CHARS {
                return Err(TallyError::InvalidSite(format!(
                    "a pop-up place needs a name of 1 to {} characters",
                    Site::MAX_PLACE_CHARS
                )));
            }
            if slug(place).is_empty() {
                return Err(TallyError::InvalidSite(
                    "a pop-up place name needs at least one letter or digit".into(),
                ));
            }
        }
        Ok(())
    }

    /// The site as it appears in tally cells. A pop-up place becomes
    /// `popup-<municipality>-<place slug>` so the hub can still place it on a map
    /// by municipality without a directory entry.
    pub fn code(&self) -> Result<Code> {
        self.validate()?;
        let s = match self {
            Site::Certified { id } => return Ok(id.clone()),
            Site::PopUp {
                place,
                municipality,
            } => {
                let mut s = format!("popup-{}-{}", municipality.slug(), slug(place));
                s.truncate(64);
                s.trim_end_matches('-').to_owned()
            }
        };
        Code::new(&s).map_err(|e| TallyError::InvalidSite(e.to_string()))
    }

    /// A short human label for summaries.
    pub fn label(&self) -> String {
        match self {
            Site::Certified { id } => id.to_string(),
            Site::PopUp {
                place,
                municipality,
            } => {
                format!("{} ({})", place.trim(), municipality.name_fr())
            }
        }
    }
}

/// Lowercase ASCII slug; common French/Dutch accents folded so "Marché" gives
/// "marche" rather than "march-".
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            'ÿ' => 'y',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

mod municipality_slug {
    use dps_model::Municipality;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Municipality, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.slug())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Municipality, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An outreach session: a steward counting visits at one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: u64,
    pub site: Site,
    pub site_code: Code,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Filled in when the session ends (its visit log is then dropped).
    pub summary: Option<Summary>,
}

/// Visits by procedure and outcome, net of undos.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Visits net of undos.
    pub visits: u64,
    /// Visits undone.
    pub undone: u64,
    pub by_procedure: Vec<ProcedureOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcedureOutcome {
    pub procedure: Code,
    pub outcome: Code,
    pub visits: u64,
}

impl Summary {
    /// Builds a summary from (cell, counted?) pairs; `false` means undone.
    pub(crate) fn of<'a>(items: impl IntoIterator<Item = (&'a CellKey, PnCount)>) -> Summary {
        let mut map = std::collections::BTreeMap::<(Code, Code), u64>::new();
        let mut s = Summary::default();
        for (cell, count) in items {
            s.visits += count.net();
            s.undone += count.ret.min(count.inc);
            *map.entry((cell.procedure.clone(), cell.outcome.clone()))
                .or_default() += count.net();
        }
        s.by_procedure = map
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|((procedure, outcome), visits)| ProcedureOutcome {
                procedure,
                outcome,
                visits,
            })
            .collect();
        s
    }
}

/// What the steward sees confirmed after a visit is counted: it is returned
/// only once the count is on disk (flushed and fsynced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitReceipt {
    /// The store's change sequence number of this commit.
    pub seq: u64,
    pub session: u64,
    /// 1-based number of the visit within its session.
    pub visit_no: u32,
    pub cell: CellKey,
}

/// A retraction of the session's last counted visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoReceipt {
    pub seq: u64,
    pub session: u64,
    pub visit_no: u32,
    pub cell: CellKey,
}

/// One cell's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellTotal {
    #[serde(flatten)]
    pub cell: CellKey,
    pub inc: u64,
    pub ret: u64,
    pub net: u64,
}

impl CellTotal {
    pub fn new(cell: CellKey, count: PnCount) -> CellTotal {
        CellTotal {
            cell,
            inc: count.inc,
            ret: count.ret,
            net: count.net(),
        }
    }
    pub fn count(&self) -> PnCount {
        PnCount {
            inc: self.inc,
            ret: self.ret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certified_sites_come_from_the_directory() {
        let dir = dps_directory::Directory::bundled().expect("bundled directory");
        let first = dir.sites().first().expect("at least one DPS");
        let s = Site::certified(first.id.as_str(), &dir).expect("known id");
        assert_eq!(s.code().ok().as_ref(), Some(&first.id));
        assert!(Site::certified("no-such-dps", &dir).is_err());
    }

    #[test]
    fn pop_up_sites_get_a_code_with_their_municipality() {
        let s = Site::PopUp {
            place: "Marché du Midi, quai n°3".into(),
            municipality: Municipality::SaintGilles,
        };
        assert_eq!(
            s.code().map(|c| c.to_string()).ok().as_deref(),
            Some("popup-saint-gilles-marche-du-midi-quai-n-3")
        );
        let long = Site::PopUp {
            place: "abcdef ".repeat(11),
            municipality: Municipality::Bruxelles,
        };
        assert!(long.code().is_ok_and(|c| c.as_str().len() <= 64));
        let empty = Site::PopUp {
            place: " ¿? ".into(),
            municipality: Municipality::Bruxelles,
        };
        assert!(empty.code().is_err());
    }
}
