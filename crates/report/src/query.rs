//! What a tallies query asks for: a date range, filters and grouping
//! dimensions, parsed from URL query parameters (the hub's
//! `GET /api/v1/tallies`) or from command-line arguments (`dps-hub export`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use dps_model::{AgeBand, Channel, Code, Language, Residence};
use serde::{Deserialize, Serialize};

use crate::error::QueryError;

/// A column a table can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Site,
    /// Municipality of residence (one of the 19, `other_be`, `abroad`, `unknown`).
    Municipality,
    Procedure,
    Outcome,
    AgeBand,
    Language,
    Channel,
    /// `2021-05-31`
    Day,
    /// ISO 8601 week, `2021-W22` (the ISO week-numbering year, so 2021-01-01 is `2020-W53`).
    Week,
    /// `2021-05`
    Month,
    /// `2021`
    Year,
}

impl Dimension {
    pub const ALL: [Dimension; 11] = [
        Dimension::Site,
        Dimension::Municipality,
        Dimension::Procedure,
        Dimension::Outcome,
        Dimension::AgeBand,
        Dimension::Language,
        Dimension::Channel,
        Dimension::Day,
        Dimension::Week,
        Dimension::Month,
        Dimension::Year,
    ];

    /// The name used in URLs, CLI arguments and as the column header.
    pub fn code(self) -> &'static str {
        match self {
            Dimension::Site => "site",
            Dimension::Municipality => "municipality",
            Dimension::Procedure => "procedure",
            Dimension::Outcome => "outcome",
            Dimension::AgeBand => "age_band",
            Dimension::Language => "language",
            Dimension::Channel => "channel",
            Dimension::Day => "day",
            Dimension::Week => "week",
            Dimension::Month => "month",
            Dimension::Year => "year",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Dimension {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.code() == s)
            .ok_or_else(|| QueryError::Unknown {
                param: "group_by",
                value: s.to_owned(),
                expected: Dimension::ALL
                    .iter()
                    .map(|d| d.code())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A tallies query. Every filter is a set: empty means "no filter"; a cell
/// passes when its value is in every non-empty set. Dates are inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub sites: BTreeSet<Code>,
    pub municipalities: BTreeSet<Residence>,
    pub procedures: BTreeSet<Code>,
    pub outcomes: BTreeSet<Code>,
    pub age_bands: BTreeSet<AgeBand>,
    pub languages: BTreeSet<Language>,
    pub channels: BTreeSet<Channel>,
    /// Columns of the table, in order; no repeats.
    pub group_by: Vec<Dimension>,
}

/// How the figures are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    /// Exact counts, for logged-in coordination staff only.
    Exact,
    /// Small-cell suppression applied (see [`crate::suppress`]); safe to publish.
    Public,
}

impl Disclosure {
    pub fn code(self) -> &'static str {
        match self {
            Disclosure::Exact => "exact",
            Disclosure::Public => "public",
        }
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Csv,
    Xlsx,
}

impl Format {
    pub fn code(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
    /// The HTTP `Content-Type` of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl FromStr for Format {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(QueryError::Unknown {
                param: "format",
                value: s.to_owned(),
                expected: "json, csv, xlsx".to_owned(),
            }),
        }
    }
}

/// A whole `GET /api/v1/tallies` request: the query plus how to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalliesRequest {
    pub query: Query,
    pub format: Format,
    pub disclosure: Disclosure,
}

/// The raw URL parameters, exactly as they appear in the query string. Lists
/// are comma-separated (`site=a,b`). Unknown parameters are refused so that a
/// typo (`grup_by=`) is an error instead of a silently different table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TalliesParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub site: Option<String>,
    pub municipality: Option<String>,
    pub procedure: Option<String>,
    pub outcome: Option<String>,
    pub age_band: Option<String>,
    pub language: Option<String>,
    pub channel: Option<String>,
    pub group_by: Option<String>,
    pub format: Option<String>,
    pub public: Option<String>,
}

/// The same query as command-line options, for `dps-hub export`
/// (`#[command(flatten)]` it into the subcommand).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct QueryArgs {
    /// First day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only these sites (comma-separated).
    #[arg(long, value_name = "SITE,…")]
    pub site: Option<String>,
    /// Only residents of these municipalities (slugs, or other_be / abroad / unknown).
    #[arg(long, value_name = "MUNICIPALITY,…")]
    pub municipality: Option<String>,
    /// Only these procedures.
    #[arg(long, value_name = "PROCEDURE,…")]
    pub procedure: Option<String>,
    /// Only these outcomes.
    #[arg(long, value_name = "OUTCOME,…")]
    pub outcome: Option<String>,
    /// Only these age bands (under_18, 18_29, 30_44, 45_64, 65_74, 75_plus, unknown).
    #[arg(long, value_name = "BAND,…")]
    pub age_band: Option<String>,
    /// Only these languages (fr, nl, en, de).
    #[arg(long, value_name = "LANG,…")]
    pub language: Option<String>,
    /// Only these channels (eid, manual, none).
    #[arg(long, value_name = "CHANNEL,…")]
    pub channel: Option<String>,
    /// Columns: site, municipality, procedure, outcome, age_band, language,
    /// channel, day, week, month, year.
    #[arg(long, value_name = "DIM,…")]
    pub group_by: Option<String>,
    /// json, csv or xlsx.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Apply small-cell suppression (for anything published).
    #[arg(long)]
    pub public: bool,
}

impl TalliesRequest {
    /// Parses a URL query string (without the leading `?`).
    pub fn from_url_query(query: &str) -> Result<TalliesRequest, QueryError> {
        let params: TalliesParams =
            serde_urlencoded::from_str(query).map_err(|e| QueryError::Malformed(e.to_string()))?;
        TalliesRequest::try_from(params)
    }
}

impl TryFrom<TalliesParams> for TalliesRequest {
    type Error = QueryError;
    fn try_from(p: TalliesParams) -> Result<Self, Self::Error> {
        let public = match p.public.as_deref() {
            // "" is what an unchecked form field may send; "on" a checked checkbox.
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") | Some("on") => true,
            Some(other) => {
                return Err(QueryError::Unknown {
                    param: "public",
                    value: other.to_owned(),
                    expected: "true, false".to_owned(),
                })
            }
        };
        build(Fields {
            from: p.from.as_deref(),
            to: p.to.as_deref(),
            site: p.site.as_deref(),
            municipality: p.municipality.as_deref(),
            procedure: p.procedure.as_deref(),
            outcome: p.outcome.as_deref(),
            age_band: p.age_band.as_deref(),
            language: p.language.as_deref(),
            channel: p.channel.as_deref(),
            group_by: p.group_by.as_deref(),
            format: p.format.as_deref(),
            public,
        })
    }
}

impl TryFrom<&QueryArgs> for TalliesRequest {
    type Error = QueryError;
    fn try_from(a: &QueryArgs) -> Result<Self, Self::Error> {
        build(Fields {
            from: a.from.as_deref(),
            to: a.to.as_deref(),
            site: a.site.as_deref(),
            municipality: a.municipality.as_deref(),
            procedure: a.procedure.as_deref(),
            outcome: a.outcome.as_deref(),
            age_band: a.age_band.as_deref(),
            language: a.language.as_deref(),
            channel: a.channel.as_deref(),
            group_by: a.group_by.as_deref(),
            format: a.format.as_deref(),
            public: a.public,
        })
    }
}

/// Both front ends funnel into this one parser, so the URL and the CLI
/// accept exactly the same values and give the same errors.
struct Fields<'a> {
    from: Option<&'a str>,
    to: Option<&'a str>,
    site: Option<&'a str>,
    municipality: Option<&'a str>,
    procedure: Option<&'a str>,
    outcome: Option<&'a str>,
    age_band: Option<&'a str>,
    language: Option<&'a str>,
    channel: Option<&'a str>,
    group_by: Option<&'a str>,
    format: Option<&'a str>,
    public: bool,
}

fn build(f: Fields<'_>) -> Result<TalliesRequest, QueryError> {
    let from = f
        .from
        .filter(|s| !s.is_empty())
        .map(|s| date("from", s))
        .transpose()?;
    let to =
        f.to.filter(|s| !s.is_empty())
            .map(|s| date("to", s))
            .transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            return Err(QueryError::EmptyRange { from: a, to: b });
        }
    }
    let mut group_by = Vec::new();
    for d in list(f.group_by) {
        let d: Dimension = d.parse()?;
        if group_by.contains(&d) {
            return Err(QueryError::Repeated(d));
        }
        group_by.push(d);
    }
    let query = Query {
        from,
        to,
        sites: set("site", f.site)?,
        municipalities: set("municipality", f.municipality)?,
        procedures: set("procedure", f.procedure)?,
        outcomes: set("outcome", f.outcome)?,
        age_bands: set("age_band", f.age_band)?,
        languages: set("language", f.language)?,
        channels: set("channel", f.channel)?,
        group_by,
    };
    let format = f
        .format
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .transpose()?
        .unwrap_or_default();
    let disclosure = if f.public {
        Disclosure::Public
    } else {
        Disclosure::Exact
    };
    Ok(TalliesRequest {
        query,
        format,
        disclosure,
    })
}

fn date(param: &'static str, s: &str) -> Result<NaiveDate, QueryError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| QueryError::BadDate {
        param,
        value: s.to_owned(),
    })
}

fn list(s: Option<&str>) -> impl Iterator<Item = &str> {
    s.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn set<T: FromStr + Ord>(param: &'static str, s: Option<&str>) -> Result<BTreeSet<T>, QueryError>
where
    T::Err: fmt::Display,
{
    list(s)
        .map(|v| {
            v.parse::<T>().map_err(|e| QueryError::BadValue {
                param,
                value: v.to_owned(),
                reason: e.to_string(),
            })
        })
        .collect()
}
