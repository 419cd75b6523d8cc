//! Brussels' 19 municipalities and where a resident lives, as far as the
//! statistics may know it.
//!
//! Residence is deliberately coarse: one of the 19 municipalities, "elsewhere
//! in Belgium", "abroad" or "unknown". A postcode is never stored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CodeError;

macro_rules! municipalities {
    ($( $variant:ident = $slug:literal, $nis:literal, $fr:literal, $nl:literal, [$($pc:literal),+] ;)+) => {
        /// One of the 19 municipalities of the Brussels-Capital Region.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Municipality { $($variant),+ }

        impl Municipality {
            pub const ALL: [Municipality; 19] = [$(Municipality::$variant),+];

            /// A stable slug, used in tally cells, sync payloads and exports.
            pub fn slug(self) -> &'static str { match self { $(Municipality::$variant => $slug),+ } }
            /// The NIS (Statbel) code.
            pub fn nis(self) -> u32 { match self { $(Municipality::$variant => $nis),+ } }
            pub fn name_fr(self) -> &'static str { match self { $(Municipality::$variant => $fr),+ } }
            pub fn name_nl(self) -> &'static str { match self { $(Municipality::$variant => $nl),+ } }
            /// The postcodes whose addresses lie (mainly) in this municipality.
            pub fn postcodes(self) -> &'static [u16] { match self { $(Municipality::$variant => &[$($pc),+]),+ } }
        }
    };
}

municipalities! {
    Anderlecht = "anderlecht", 21001, "Anderlecht", "Anderlecht", [1070];
    Auderghem = "auderghem", 21002, "Auderghem", "Oudergem", [1160];
    BerchemSainteAgathe = "berchem-sainte-agathe", 21003, "Berchem-Sainte-Agathe", "Sint-Agatha-Berchem", [1082];
    Bruxelles = "bruxelles", 21004, "Bruxelles", "Brussel", [1000, 1020, 1120, 1130];
    Etterbeek = "etterbeek", 21005, "Etterbeek", "Etterbeek", [1040];
    Evere = "evere", 21006, "Evere", "Evere", [1140];
    Forest = "forest", 21007, "Forest", "Vorst", [1190];
    Ganshoren = "ganshoren", 21008, "Ganshoren", "Ganshoren", [1083];
    Ixelles = "ixelles", 21009, "Ixelles", "Elsene", [1050];
    Jette = "jette", 21010, "Jette", "Jette", [1090];
    Koekelberg = "koekelberg", 21011, "Koekelberg", "Koekelberg", [1081];
    MolenbeekSaintJean = "molenbeek-saint-jean", 21012, "Molenbeek-Saint-Jean", "Sint-Jans-Molenbeek", [1080];
    SaintGilles = "saint-gilles", 21013, "Saint-Gilles", "Sint-Gillis", [1060];
    SaintJosseTenNoode = "saint-josse-ten-noode", 21014, "Saint-Josse-ten-Noode", "Sint-Joost-ten-Node", [1210];
    Schaerbeek = "schaerbeek", 21015, "Schaerbeek", "Schaarbeek", [1030];
    Uccle = "uccle", 21016, "Uccle", "Ukkel", [1180];
    WatermaelBoitsfort = "watermael-boitsfort", 21017, "Watermael-Boitsfort", "Watermaal-Bosvoorde", [1170];
    WoluweSaintLambert = "woluwe-saint-lambert", 21018, "Woluwe-Saint-Lambert", "Sint-Lambrechts-Woluwe", [1200];
    WoluweSaintPierre = "woluwe-saint-pierre", 21019, "Woluwe-Saint-Pierre", "Sint-Pieters-Woluwe", [1150];
}

impl Municipality {
    /// The municipality a Brussels postcode belongs to, if it is one.
    pub fn from_postcode(postcode: u16) -> Option<Municipality> {
        Municipality::ALL
            .into_iter()
            .find(|m| m.postcodes().contains(&postcode))
    }

    /// The six municipalities with the lowest vaccination rates that the
    /// 2021 BRUVAX outreach targeted; the dashboard highlights them.
    pub fn is_priority_2021(self) -> bool {
        matches!(
            self,
            Municipality::SaintJosseTenNoode
                | Municipality::SaintGilles
                | Municipality::Bruxelles
                | Municipality::Schaerbeek
                | Municipality::MolenbeekSaintJean
                | Municipality::Koekelberg
        )
    }
}

impl FromStr for Municipality {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Municipality::ALL
            .into_iter()
            .find(|m| m.slug() == s)
            .ok_or_else(|| CodeError {
                kind: "municipality",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for Municipality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// Where a resident lives, as coarse as the statistics need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Residence {
    Brussels(Municipality),
    /// A Belgian postcode outside the Brussels-Capital Region.
    OtherBelgium,
    Abroad,
    Unknown,
}

impl Residence {
    /// Residence from a postcode as written on a card or typed by a steward.
    /// Four digits 1000-9999 are Belgian; anything else non-empty is abroad.
    pub fn from_postcode(postcode: &str) -> Residence {
        let pc = postcode.trim();
        if pc.is_empty() {
            return Residence::Unknown;
        }
        match pc.parse::<u16>() {
            Ok(n) if pc.len() == 4 && (1000..=9999).contains(&n) => {
                Municipality::from_postcode(n).map_or(Residence::OtherBelgium, Residence::Brussels)
            }
            _ => Residence::Abroad,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Residence::Brussels(m) => m.slug(),
            Residence::OtherBelgium => "other_be",
            Residence::Abroad => "abroad",
            Residence::Unknown => "unknown",
        }
    }
}

impl FromStr for Residence {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "other_be" => Ok(Residence::OtherBelgium),
            "abroad" => Ok(Residence::Abroad),
            "unknown" => Ok(Residence::Unknown),
            _ => s
                .parse::<Municipality>()
                .map(Residence::Brussels)
                .map_err(|_| CodeError {
                    kind: "residence",
                    value: s.to_owned(),
                }),
        }
    }
}

impl TryFrom<String> for Residence {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Residence> for String {
    fn from(r: Residence) -> String {
        r.code().to_owned()
    }
}

impl fmt::Display for Residence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_map_to_municipalities() {
        assert_eq!(
            Residence::from_postcode("1030"),
            Residence::Brussels(Municipality::Schaerbeek)
        );
        assert_eq!(
            Residence::from_postcode(" 1210 "),
            Residence::Brussels(Municipality::SaintJosseTenNoode)
        );
        assert_eq!(
            Residence::from_postcode("1020"),
            Residence::Brussels(Municipality::Bruxelles)
        );
        assert_eq!(Residence::from_postcode("9000"), Residence::OtherBelgium);
        assert_eq!(Residence::from_postcode("75001"), Residence::Abroad);
        assert_eq!(Residence::from_postcode(""), Residence::Unknown);
    }

    #[test]
    fn every_municipality_round_trips_and_postcodes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for m in Municipality::ALL {
            assert_eq!(m.slug().parse::<Municipality>(), Ok(m));
            let r = Residence::Brussels(m);
            assert_eq!(r.code().parse::<Residence>(), Ok(r));
            for pc in m.postcodes() {
                assert!(seen.insert(*pc), "postcode {pc} twice");
            }
        }
        assert_eq!(
            Municipality::ALL
                .iter()
                .filter(|m| m.is_priority_2021())
                .count(),
            6
        );
    }
}
