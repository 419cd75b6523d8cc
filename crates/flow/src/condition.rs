//! Conditions of a computed branch, and their three-valued truth.
//!
//! A birth date may be partial (year only, year and month) or missing, so a
//! question such as "born on or before 31 May 1986?" can honestly be
//! *unknown*. Conditions therefore evaluate to [`Truth`] (Kleene logic), and a
//! branch sends an undecidable case to its `unknown` step (usually the
//! steward asking the resident) instead of guessing 1 January.

use chrono::NaiveDate;
use dps_model::{Channel, Residence};
use dps_person::PartialDate;
use toml::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    Yes,
    No,
    Unknown,
}

impl Truth {
    fn of(b: bool) -> Truth {
        if b {
            Truth::Yes
        } else {
            Truth::No
        }
    }
    fn not(self) -> Truth {
        match self {
            Truth::Yes => Truth::No,
            Truth::No => Truth::Yes,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// The condition names a flow may use, for the "unknown condition" message.
pub const NAMES: &[&str] = &[
    "born_on_or_before",
    "age_at_least",
    "from_date",
    "residence_in",
    "postcode_in",
    "channel",
    "all",
    "any",
    "not",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Born on or before a date (the BRUVAX age phases are written this way).
    BornOnOrBefore(NaiveDate),
    /// At least this old on `on` (default: today).
    AgeAtLeast {
        years: u32,
        on: Option<NaiveDate>,
    },
    /// Today is this date or later: when a phase of a procedure applies from.
    FromDate(NaiveDate),
    /// Residence codes: a municipality slug, `other_be`, `abroad`, `unknown`.
    ResidenceIn(Vec<Residence>),
    /// Exact four-digit postcodes.
    PostcodeIn(Vec<String>),
    Channel(Channel),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// What a condition may look at. Deliberately small: no name, no number.
#[derive(Clone, Copy)]
pub struct Facts<'a> {
    pub today: NaiveDate,
    pub birth: Option<PartialDate>,
    pub postcode: Option<&'a str>,
    pub channel: Channel,
}

impl Condition {
    /// Whether the condition looks at the birth date, so may be unknown.
    pub fn may_be_unknown(&self) -> bool {
        match self {
            Condition::BornOnOrBefore(_) | Condition::AgeAtLeast { .. } => true,
            Condition::All(cs) | Condition::Any(cs) => cs.iter().any(Condition::may_be_unknown),
            Condition::Not(c) => c.may_be_unknown(),
            _ => false,
        }
    }

    pub fn eval(&self, f: &Facts<'_>) -> Truth {
        match self {
            Condition::BornOnOrBefore(cutoff) => match f.birth.and_then(|b| b.bounds()) {
                None => Truth::Unknown,
                Some((first, _)) if first > *cutoff => Truth::No,
                Some((_, last)) if last <= *cutoff => Truth::Yes,
                Some(_) => Truth::Unknown,
            },
            Condition::AgeAtLeast { years, on } => {
                match f.birth.and_then(|b| b.age_range_at(on.unwrap_or(f.today))) {
                    None => Truth::Unknown,
                    Some((min, _)) if min >= *years => Truth::Yes,
                    Some((_, max)) if max < *years => Truth::No,
                    Some(_) => Truth::Unknown,
                }
            }
            Condition::FromDate(d) => Truth::of(f.today >= *d),
            Condition::ResidenceIn(rs) => {
                let r = f
                    .postcode
                    .map_or(Residence::Unknown, Residence::from_postcode);
                Truth::of(rs.contains(&r))
            }
            Condition::PostcodeIn(pcs) => Truth::of(
                f.postcode
                    .is_some_and(|p| pcs.iter().any(|x| x == p.trim())),
            ),
            Condition::Channel(c) => Truth::of(f.channel == *c),
            Condition::All(cs) => {
                let mut acc = Truth::Yes;
                for c in cs {
                    match c.eval(f) {
                        Truth::No => return Truth::No,
                        Truth::Unknown => acc = Truth::Unknown,
                        Truth::Yes => {}
                    }
                }
                acc
            }
            Condition::Any(cs) => {
                let mut acc = Truth::No;
                for c in cs {
                    match c.eval(f) {
                        Truth::Yes => return Truth::Yes,
                        Truth::Unknown => acc = Truth::Unknown,
                        Truth::No => {}
                    }
                }
                acc
            }
            Condition::Not(c) => c.eval(f).not(),
        }
    }

    /// Reads a condition written as a one-key table, e.g.
    /// `{ born_on_or_before = 1986-12-31 }`. Errors are messages for a person
    /// editing the flow; the caller adds file and line.
    pub fn from_toml(v: &Value) -> Result<Condition, String> {
        let Value::Table(t) = v else {
            return Err("a condition is a table such as { channel = \"eid\" }".to_owned());
        };
        // `age_at_least` may come with `on`; every other condition has one key.
        if let Some(years) = t.get("age_at_least") {
            let years = years
                .as_integer()
                .and_then(|y| u32::try_from(y).ok())
                .ok_or("age_at_least takes a whole number of years")?;
            let on = t.get("on").map(date).transpose()?;
            if let Some(k) = t.keys().find(|k| *k != "age_at_least" && *k != "on") {
                return Err(format!(
                    "age_at_least cannot be combined with {k:?} in one table"
                ));
            }
            return Ok(Condition::AgeAtLeast { years, on });
        }
        let mut entries = t.iter();
        let (Some((name, arg)), None) = (entries.next(), entries.next()) else {
            return Err(
                "a condition table has exactly one key (use all = [...] to combine)".to_owned(),
            );
        };
        let list = |arg: &Value| -> Result<Vec<Condition>, String> {
            let Value::Array(items) = arg else {
                return Err(format!("{name} takes a list of conditions"));
            };
            items.iter().map(Condition::from_toml).collect()
        };
        let strings = |arg: &Value| -> Result<Vec<String>, String> {
            arg.as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|s| s.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or(format!("{name} takes a list of strings"))
        };
        match name.as_str() {
            "born_on_or_before" => Ok(Condition::BornOnOrBefore(date(arg)?)),
            "from_date" => Ok(Condition::FromDate(date(arg)?)),
            "residence_in" => strings(arg)?
                .iter()
                .map(|s| {
                    s.parse::<Residence>().map_err(|_| {
                        format!("unknown residence {s:?} (a municipality slug, other_be, abroad or unknown)")
                    })
                })
                .collect::<Result<_, _>>()
                .map(Condition::ResidenceIn),
            "postcode_in" => {
                let pcs = strings(arg)?;
                match pcs.iter().find(|p| p.len() != 4 || !p.bytes().all(|b| b.is_ascii_digit())) {
                    Some(p) => Err(format!("postcode {p:?} is not four digits")),
                    None => Ok(Condition::PostcodeIn(pcs)),
                }
            }
            "channel" => arg
                .as_str()
                .and_then(|s| s.parse::<Channel>().ok())
                .map(Condition::Channel)
                .ok_or_else(|| "channel is \"eid\", \"manual\" or \"none\"".to_owned()),
            "all" => Ok(Condition::All(list(arg)?)),
            "any" => Ok(Condition::Any(list(arg)?)),
            "not" => Ok(Condition::Not(Box::new(Condition::from_toml(arg)?))),
            other => Err(format!("unknown condition {other:?} (known: {})", NAMES.join(", "))),
        }
    }
}

/// A date written as a TOML date (`1986-12-31`) or a string (`"1986-12-31"`).
fn date(v: &Value) -> Result<NaiveDate, String> {
    let text = match v {
        Value::Datetime(d) => d.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("expected a date such as 2021-05-28".to_owned()),
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date such as 2021-05-28"))
}
