//! The anonymous vocabulary shared by the journey, the tally store, the sync
//! protocol and the hub.
//!
//! Everything in this crate is, by construction, **not personal data**: a
//! [`VisitRecord`] is the only thing that leaves a resident's journey, and it
//! holds bands and categories, never a name, a number, a date of birth or an
//! address. Keeping this vocabulary in one small crate is what lets every
//! other crate agree on it without depending on each other.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod municipality;

pub use municipality::{Municipality, Residence};

/// An error parsing one of the vocabulary's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} code {value:?}")]
pub struct CodeError {
    pub kind: &'static str,
    pub value: String,
}

/// The languages the kiosk speaks. Order is the order shown on the welcome screen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Fr,
    Nl,
    En,
    De,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::Fr, Language::Nl, Language::En, Language::De];

    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::Nl => "nl",
            Language::En => "en",
            Language::De => "de",
        }
    }

    /// The language's name written in itself, as a resident looks for it.
    pub fn endonym(self) -> &'static str {
        match self {
            Language::Fr => "Français",
            Language::Nl => "Nederlands",
            Language::En => "English",
            Language::De => "Deutsch",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|l| l.code() == s)
            .ok_or_else(|| CodeError {
                kind: "language",
                value: s.to_owned(),
            })
    }
}

/// How the resident was identified during the journey.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Read from the eID card.
    Eid,
    /// Typed in by the steward (national register or BIS number + postcode).
    Manual,
    /// The procedure identifies no one (e.g. "other digital help").
    None,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Eid, Channel::Manual, Channel::None];
    pub fn code(self) -> &'static str {
        match self {
            Channel::Eid => "eid",
            Channel::Manual => "manual",
            Channel::None => "none",
        }
    }
}

impl FromStr for Channel {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.code() == s)
            .ok_or_else(|| CodeError {
                kind: "channel",
                value: s.to_owned(),
            })
    }
}

/// Age bands, wide enough that a band never identifies a person.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
pub enum AgeBand {
    #[serde(rename = "under_18")]
    Under18,
    #[serde(rename = "18_29")]
    From18To29,
    #[serde(rename = "30_44")]
    From30To44,
    #[serde(rename = "45_64")]
    From45To64,
    #[serde(rename = "65_74")]
    From65To74,
    #[serde(rename = "75_plus")]
    From75,
    /// No birth date, or a partial one that straddles two bands.
    #[serde(rename = "unknown")]
    Unknown,
}

impl AgeBand {
    pub const ALL: [AgeBand; 7] = [
        AgeBand::Under18,
        AgeBand::From18To29,
        AgeBand::From30To44,
        AgeBand::From45To64,
        AgeBand::From65To74,
        AgeBand::From75,
        AgeBand::Unknown,
    ];

    /// The band of an exact age in whole years.
    pub fn of_age(years: u32) -> AgeBand {
        match years {
            0..=17 => AgeBand::Under18,
            18..=29 => AgeBand::From18To29,
            30..=44 => AgeBand::From30To44,
            45..=64 => AgeBand::From45To64,
            65..=74 => AgeBand::From65To74,
            _ => AgeBand::From75,
        }
    }

    /// The band of an age known only to lie in `min..=max` (a partial birth
    /// date): a band only when both ends agree, otherwise honestly unknown.
    pub fn of_age_range(min: u32, max: u32) -> AgeBand {
        let (a, b) = (AgeBand::of_age(min), AgeBand::of_age(max));
        if a == b {
            a
        } else {
            AgeBand::Unknown
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AgeBand::Under18 => "under_18",
            AgeBand::From18To29 => "18_29",
            AgeBand::From30To44 => "30_44",
            AgeBand::From45To64 => "45_64",
            AgeBand::From65To74 => "65_74",
            AgeBand::From75 => "75_plus",
            AgeBand::Unknown => "unknown",
        }
    }
}

impl FromStr for AgeBand {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgeBand::ALL
            .into_iter()
            .find(|b| b.code() == s)
            .ok_or_else(|| CodeError {
                kind: "age band",
                value: s.to_owned(),
            })
    }
}

/// A lowercase identifier: `[a-z0-9_-]{1,64}`, starting with a letter or digit.
/// Used for procedure ids, outcome codes and site ids, which are data (flows
/// and the DPS directory), not code, so that a procedure can change without a
/// release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(try_from = "String", into = "String")]
#[ts(type = "string")]
pub struct Code(String);

impl Code {
    pub fn new(s: &str) -> Result<Code, CodeError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Code(s.to_owned()))
        } else {
            Err(CodeError {
                kind: "identifier",
                value: s.to_owned(),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Code {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Code::new(&s)
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0
    }
}

impl FromStr for Code {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::new(s)
    }
}

/// The one thing a finished journey hands to the tally store. Nothing else
/// about the resident leaves the journey.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub struct VisitRecord {
    pub procedure: Code,
    pub outcome: Code,
    pub language: Language,
    pub channel: Channel,
    pub age_band: AgeBand,
    #[ts(type = "string")]
    pub residence: Residence,
}

/// A tally cell: the finest grain anything is counted at. A visit record plus
/// where (the outreach session's site) and when (the local day in
/// Europe/Brussels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CellKey {
    pub day: chrono::NaiveDate,
    pub site: Code,
    pub procedure: Code,
    pub outcome: Code,
    pub language: Language,
    pub channel: Channel,
    pub age_band: AgeBand,
    pub residence: Residence,
}

impl CellKey {
    pub fn new(day: chrono::NaiveDate, site: Code, visit: VisitRecord) -> CellKey {
        CellKey {
            day,
            site,
            procedure: visit.procedure,
            outcome: visit.outcome,
            language: visit.language,
            channel: visit.channel,
            age_band: visit.age_band,
            residence: visit.residence,
        }
    }
}

/// One replica of a PN-counter cell: increments and retractions (undo) as two
/// grow-only counts. Merging takes the maximum of each, so merging is
/// commutative, associative and idempotent: any resend is harmless.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PnCount {
    pub inc: u64,
    pub ret: u64,
}

impl PnCount {
    pub fn merge(self, other: PnCount) -> PnCount {
        PnCount {
            inc: self.inc.max(other.inc),
            ret: self.ret.max(other.ret),
        }
    }
    /// Visits net of retractions; never negative.
    pub fn net(self) -> u64 {
        self.inc.saturating_sub(self.ret)
    }
}

/// Who wrote a replica: a device, in one incarnation of its store. A device
/// whose store is lost or quarantined starts a new incarnation, so its new
/// counts add to the old ones instead of being swallowed by them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReplicaId {
    pub device: String,
    pub incarnation: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_have_their_edges_where_the_names_say() {
        let edges = [
            (17, "under_18"),
            (18, "18_29"),
            (29, "18_29"),
            (30, "30_44"),
            (44, "30_44"),
        ];
        for (age, code) in edges {
            assert_eq!(AgeBand::of_age(age).code(), code, "age {age}");
        }
        assert_eq!(AgeBand::of_age(64).code(), "45_64");
        assert_eq!(AgeBand::of_age(65).code(), "65_74");
        assert_eq!(AgeBand::of_age(75).code(), "75_plus");
        assert_eq!(AgeBand::of_age_range(40, 41), AgeBand::From30To44);
        assert_eq!(AgeBand::of_age_range(44, 45), AgeBand::Unknown);
    }

    #[test]
    fn codes_round_trip_and_serde_agrees_with_code() {
        for b in AgeBand::ALL {
            assert_eq!(b.code().parse::<AgeBand>(), Ok(b));
            assert_eq!(
                serde_json::to_string(&b).ok(),
                Some(format!("\"{}\"", b.code()))
            );
        }
        for l in Language::ALL {
            assert_eq!(l.code().parse::<Language>(), Ok(l));
        }
        for c in Channel::ALL {
            assert_eq!(
                serde_json::to_string(&c).ok(),
                Some(format!("\"{}\"", c.code()))
            );
        }
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(Code::new("bruvax-registration").is_ok());
        assert!(Code::new("waiting_list").is_ok());
        for bad in ["", "-x", "Upper", "with space", "é", &"x".repeat(65)] {
            assert!(Code::new(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Code>("\"Nope\"").is_err());
    }

    #[test]
    fn pn_merge_is_a_semilattice() {
        let a = PnCount { inc: 3, ret: 1 };
        let b = PnCount { inc: 2, ret: 2 };
        let c = PnCount { inc: 5, ret: 0 };
        assert_eq!(a.merge(b), b.merge(a));
        assert_eq!(a.merge(b).merge(c), a.merge(b.merge(c)));
        assert_eq!(a.merge(a), a);
        assert_eq!(PnCount { inc: 1, ret: 2 }.net(), 0);
    }
}
