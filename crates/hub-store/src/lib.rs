//! The hub's storage behind a trait, so the embedded sled store (default,
//! nothing to install) and PostgreSQL (`dps-hub-pg`) serve the same handlers.
//!
//! This crate is the bottom of the hub: `dps-hub-pg` implements [`Store`]
//! without knowing the HTTP hub, and `dps-hub` picks a store at start-up.
//! The embedded [`SledStore`] lives here too, so the one contract suite (in
//! `dps-hub-pg`'s tests) can run the same cases on both stores.
//!
//! The trait is synchronous: handlers call it through `spawn_blocking`, which
//! suits sled and a blocking PostgreSQL client alike.
//!
//! Invariant every implementation keeps: an ingest merges cells by maximum
//! *and* advances the replica's watermark in ONE transaction, and advances
//! it only contiguously ([`advance_watermark`]). So "the hub holds replica R
//! up to sequence W" is never a lie, even after a crash or a restore from an
//! older copy — which is what lets the kiosk heal the hub by resending.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use dps_model::{CellKey, Code, PnCount, ReplicaId};
use dps_sync::wire::PushRequest;
use serde::{Deserialize, Serialize};

mod sled_coordination;
mod sled_store;

pub use sled_store::SledStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {dir} is in use by another dps-hub process")]
    Locked { dir: String },
    #[error("store: {0}")]
    Backend(String),
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    #[error("no such device {0:?}")]
    NoDevice(String),
    /// The device was revoked, possibly while its push was on the way:
    /// checked inside the ingest's transaction, so nothing of it is stored.
    #[error("device {0:?} is revoked")]
    Revoked(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// A code waiting to be redeemed. Only the code's hash is the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrolment {
    pub site: Code,
    pub expires: DateTime<Utc>,
}

/// An enrolled kiosk as the hub knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub site: Code,
    /// Hex SHA-256 of the secret part of the token; the token itself is never stored.
    pub token_hash: String,
    pub enrolled: DateTime<Utc>,
    pub last_sync: Option<DateTime<Utc>>,
    /// Kiosk clock minus hub clock at the last push, in seconds.
    pub clock_skew_secs: Option<i64>,
    /// Cells the kiosk said were still waiting after its last push.
    pub pending: Option<u64>,
    pub revoked: Option<DateTime<Utc>>,
}

/// What redeeming a code for an existing device id did ([`Store::re_enrol`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReEnrolment {
    /// The code is unknown, used or expired. Nothing changed (an expired
    /// code is removed, as by [`Store::redeem`]).
    BadCode,
    /// The device is enrolled and not revoked: a code may not take over a
    /// live kiosk's replica. Nothing changed; the code stays usable.
    Active,
    /// The device was revoked: it now has the new token, is active again and
    /// belongs to the code's site. Its replicas, cells, watermarks and last
    /// sync are untouched, so the kiosk carries on where it stopped.
    Rekeyed(Device),
    /// The hub did not know the device (its store was restored from a copy
    /// older than the enrolment, or lost): created with the kiosk's id, so
    /// the kiosk's replica is the one it always was.
    Restored(Device),
}

/// What an ingest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub watermark: u64,
    /// Cells whose stored value grew.
    pub stored: u64,
}

/// A coordination staff account (not a resident: residents never have one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    /// argon2id PHC string (salt and parameters included).
    pub password_hash: String,
    pub created: DateTime<Utc>,
}

/// A logged-in browser. Keyed in the store by the SHA-256 of the cookie's
/// value, so a copy of the store does not hold live session cookies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: String,
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// The time grain a [`CellQuery`] keeps: cells of one grain bucket (a
/// day, an ISO week starting on Monday, a calendar month or year) are
/// summed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeGrain {
    Day,
    Week,
    Month,
    Year,
}

impl TimeGrain {
    /// The first day of `day`'s bucket (Monday for a week).
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            TimeGrain::Day => day,
            TimeGrain::Week => {
                day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            TimeGrain::Month => day.with_day(1).unwrap_or(day),
            TimeGrain::Year => day.with_ordinal(1).unwrap_or(day),
        }
    }
}

/// What a tallies query needs from the store: the days, the filters, and
/// which cell dimensions it still looks at (grouped by or filtered on).
/// A store may sum away every other dimension before handing cells back
/// (both stores do): such a summed-out dimension then holds a placeholder
/// value (see [`CellQuery::project`]) that the query never reads.
///
/// Days: cells are summed per bucket of [`Self::time`] at least (a store may
/// keep finer buckets: PostgreSQL keeps days, which measured cheaper than
/// computing a bucket per row), all days together when `None`. Each summed
/// cell carries a day inside `from..=to` and in the same bucket as its
/// members (the embedded store gives the earliest member day) — never
/// simply the bucket's first day: a month that starts before `from` would
/// then be dropped by the query's own date filter. With no time kept, the
/// day is only inside `from..=to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub sites: Vec<String>,
    pub residences: Vec<String>,
    pub procedures: Vec<String>,
    pub outcomes: Vec<String>,
    pub age_bands: Vec<String>,
    pub languages: Vec<String>,
    pub channels: Vec<String>,
    /// Keep these dimensions (a filtered dimension is always kept).
    pub keep_site: bool,
    pub keep_residence: bool,
    pub keep_procedure: bool,
    pub keep_outcome: bool,
    pub keep_age_band: bool,
    pub keep_language: bool,
    pub keep_channel: bool,
    /// The finest time grain the query groups by, if any.
    pub time: Option<TimeGrain>,
}

/// The values a summed-out dimension holds: valid values of each type,
/// the same on every store (PostgreSQL writes them in SQL as text).
pub mod placeholder {
    use dps_model::{AgeBand, Channel, Language, Residence};
    pub const CODE: &str = "all";
    pub const LANGUAGE: Language = Language::Fr;
    pub const CHANNEL: Channel = Channel::None;
    pub const AGE_BAND: AgeBand = AgeBand::Unknown;
    pub const RESIDENCE: Residence = Residence::Unknown;
}

impl CellQuery {
    /// What the store must keep for a dps-report query: its days, its
    /// filters, the dimensions it groups by, and the coarsest time grain
    /// that still tells every time column it groups by apart.
    pub fn of(q: &dps_report::Query) -> CellQuery {
        use dps_report::Dimension as D;
        let has = |d: D| q.group_by.contains(&d);
        let codes = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let time = match (has(D::Day), has(D::Week), has(D::Month), has(D::Year)) {
            (false, false, false, false) => None,
            (false, true, false, false) => Some(TimeGrain::Week),
            (false, false, true, _) => Some(TimeGrain::Month),
            (false, false, false, true) => Some(TimeGrain::Year),
            // A day, or an ISO week beside a calendar month or year (a week
            // can straddle both): only days tell them apart.
            _ => Some(TimeGrain::Day),
        };
        CellQuery {
            from: q.from,
            to: q.to,
            sites: codes(q.sites.iter().map(|c| c.as_str()).collect()),
            residences: codes(q.municipalities.iter().map(|r| r.code()).collect()),
            procedures: codes(q.procedures.iter().map(|c| c.as_str()).collect()),
            outcomes: codes(q.outcomes.iter().map(|c| c.as_str()).collect()),
            age_bands: codes(q.age_bands.iter().map(|a| a.code()).collect()),
            languages: codes(q.languages.iter().map(|l| l.code()).collect()),
            channels: codes(q.channels.iter().map(|c| c.code()).collect()),
            keep_site: has(D::Site),
            keep_residence: has(D::Municipality),
            keep_procedure: has(D::Procedure),
            keep_outcome: has(D::Outcome),
            keep_age_band: has(D::AgeBand),
            keep_language: has(D::Language),
            keep_channel: has(D::Channel),
            time,
        }
    }

    /// Every dimension and every day kept: the cells themselves.
    pub fn every_cell(from: Option<NaiveDate>, to: Option<NaiveDate>) -> CellQuery {
        CellQuery {
            from,
            to,
            keep_site: true,
            keep_residence: true,
            keep_procedure: true,
            keep_outcome: true,
            keep_age_band: true,
            keep_language: true,
            keep_channel: true,
            time: Some(TimeGrain::Day),
            ..CellQuery::default()
        }
    }

    /// Whether `k` is in the query's days and passes its filters.
    pub fn matches(&self, k: &CellKey) -> bool {
        let ok = |set: &[String], v: &str| set.is_empty() || set.iter().any(|s| s == v);
        !(self.from.is_some_and(|f| k.day < f) || self.to.is_some_and(|t| k.day > t))
            && ok(&self.sites, k.site.as_str())
            && ok(&self.residences, k.residence.code())
            && ok(&self.procedures, k.procedure.as_str())
            && ok(&self.outcomes, k.outcome.as_str())
            && ok(&self.age_bands, k.age_band.code())
            && ok(&self.languages, k.language.code())
            && ok(&self.channels, k.channel.code())
    }

    /// `k` with every dimension the query does not keep replaced by its
    /// [`placeholder`], and its day by the first day of its time bucket
    /// (`NaiveDate::MIN` when no time is kept): the group `k` is summed into.
    /// `all` is `placeholder::CODE` as a [`Code`], made once by the caller.
    pub fn project(&self, k: &CellKey, all: &Code) -> CellKey {
        let keep = |kept: bool, filtered: &[String]| kept || !filtered.is_empty();
        let code = |kept: bool, filtered: &[String], v: &Code| {
            if keep(kept, filtered) {
                v.clone()
            } else {
                all.clone()
            }
        };
        CellKey {
            day: self.time.map_or(NaiveDate::MIN, |g| g.start(k.day)),
            site: code(self.keep_site, &self.sites, &k.site),
            procedure: code(self.keep_procedure, &self.procedures, &k.procedure),
            outcome: code(self.keep_outcome, &self.outcomes, &k.outcome),
            language: if keep(self.keep_language, &self.languages) {
                k.language
            } else {
                placeholder::LANGUAGE
            },
            channel: if keep(self.keep_channel, &self.channels) {
                k.channel
            } else {
                placeholder::CHANNEL
            },
            age_band: if keep(self.keep_age_band, &self.age_bands) {
                k.age_band
            } else {
                placeholder::AGE_BAND
            },
            residence: if keep(self.keep_residence, &self.residences) {
                k.residence
            } else {
                placeholder::RESIDENCE
            },
        }
    }
}

/// The coordination's side of the store: staff accounts, their sessions and
/// failed logins (shared by every hub process on one database, so a logout
/// or a lockout holds everywhere), and the tallies query.
///
/// Counting rule both stores keep: a replica's cell counts `inc - ret`,
/// clamped at 0 ([`PnCount::net`]), BEFORE cells are summed over replicas,
/// so one replica with more retractions than visits never subtracts other
/// kiosks' visits.
pub trait Coordination {
    /// Create an account; false (and nothing changed) when the name is taken.
    fn add_account(&self, a: &Account) -> Result<bool, StoreError>;
    fn account(&self, name: &str) -> Result<Option<Account>, StoreError>;
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// One login attempt for `name` at `at`, reserved BEFORE the password
    /// is checked, atomically across every handle and process on the store:
    /// when fewer than `max` failures of `name` are recorded at or after
    /// `since`, record one more at `at` and return true (the attempt counts
    /// as failed until [`Self::clear_login_failures`]); otherwise record
    /// nothing and return false (locked). So N parallel guesses can never
    /// all pass a count read before any of them was recorded. Failures
    /// before `since` may be forgotten.
    fn reserve_login_attempt(
        &self,
        name: &str,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        max: u32,
    ) -> Result<bool, StoreError>;
    /// Failed logins for `name` at or after `since`.
    fn login_failures_since(&self, name: &str, since: DateTime<Utc>) -> Result<u32, StoreError>;
    /// Forget `name`'s failed logins (after a successful login).
    fn clear_login_failures(&self, name: &str) -> Result<(), StoreError>;
    fn put_session(&self, id_hash: &[u8; 32], s: &Session) -> Result<(), StoreError>;
    fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError>;
    fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError>;
    /// Drop sessions that expired before `now`; returns how many.
    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Cells for a tallies query, summed over replicas (each clamped at 0
    /// first) and over the dimensions and days it does not keep (see
    /// [`CellQuery`]); groups that net to zero are left out.
    fn query_cells(&self, q: &CellQuery) -> Result<Vec<(CellKey, u64)>, StoreError>;
    /// [`Self::query_cells`] for each query, answers in the same order. A
    /// store may answer them together (one scan on the embedded store, in
    /// parallel on PostgreSQL); by default one after the other.
    fn query_cells_many(&self, qs: &[CellQuery]) -> Result<Vec<Vec<(CellKey, u64)>>, StoreError> {
        qs.iter().map(|q| self.query_cells(q)).collect()
    }
    /// Net visits per cell, summed over replicas, for days in `from..=to`
    /// (open ends unbounded); cells that net to zero are left out.
    fn net_cells(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<(CellKey, u64)>, StoreError> {
        self.query_cells(&CellQuery::every_cell(from, to))
    }
}

pub trait Store: Coordination + Send + Sync + 'static {
    fn add_enrolment(&self, code_hash: &[u8; 32], e: &PendingEnrolment) -> Result<(), StoreError>;
    /// Consume a code (once, atomically) and create `device` at the code's
    /// site. `None` when the code is unknown, used or expired.
    fn redeem(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<Option<Device>, StoreError>;
    /// Consume a code (once, atomically) for the existing device `device.id`
    /// — the kiosk's own id — giving it `device.token_hash`, the code's site,
    /// `enrolled = device.enrolled` and no revocation, if that device is
    /// revoked or unknown; see [`ReEnrolment`]. An active device is refused
    /// and nothing changes, the code included.
    fn re_enrol(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        device: Device,
    ) -> Result<ReEnrolment, StoreError>;
    fn device(&self, id: &str) -> Result<Option<Device>, StoreError>;
    fn devices(&self) -> Result<Vec<Device>, StoreError>;
    /// Returns false when there is no such device.
    fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Merge a push from `device` (ownership already checked) and record the
    /// device's last sync, clock skew and pending count, all in one
    /// transaction. The device must exist ([`StoreError::NoDevice`]) and not
    /// be revoked ([`StoreError::Revoked`]) *inside* that transaction: a push
    /// authenticated just before a revocation stores nothing once
    /// `revoke` has returned.
    fn ingest(
        &self,
        device: &str,
        req: &PushRequest,
        hub_time: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError>;
    /// Every stored replica cell.
    fn cells(&self) -> Result<Vec<(ReplicaId, CellKey, PnCount)>, StoreError>;
    fn watermark(&self, replica: &ReplicaId) -> Result<u64, StoreError>;
    /// Make everything acknowledged so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

/// Net visits per cell over all replicas: what the coordination counts.
pub fn totals(store: &dyn Store) -> Result<BTreeMap<CellKey, u64>, StoreError> {
    let mut t = BTreeMap::new();
    for (_, k, c) in store.cells()? {
        *t.entry(k).or_insert(0) += c.net();
    }
    Ok(t)
}

/// The replica's watermark after a push of sequences `after..=upto` onto a
/// replica held up to `current`: only a contiguous push (`current >= after`)
/// moves it, and it never goes back. A push past a gap still merges its
/// cells, but the kiosk will resend from `current`.
pub fn advance_watermark(current: u64, after: u64, upto: u64) -> u64 {
    if current >= after {
        current.max(upto)
    } else {
        current
    }
}

/// A push's cells with repeated keys merged by maximum, in key order. A
/// store reads each stored cell before the push, so without this a later
/// entry of one key would overwrite an earlier, larger one (and `stored`
/// would count one cell twice).
pub fn merged_cells(req: &PushRequest) -> BTreeMap<&CellKey, PnCount> {
    let mut merged: BTreeMap<&CellKey, PnCount> = BTreeMap::new();
    for c in &req.cells {
        let e = merged.entry(&c.key).or_default();
        *e = e.merge(c.count());
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_moves_only_over_contiguous_pushes() {
        // (current, after, upto) -> new
        let cases = [
            ((0, 0, 5), 5),
            ((5, 5, 9), 9),
            ((5, 3, 9), 9), // overlapping resend
            ((5, 6, 9), 5), // gap: stays
            ((9, 0, 5), 9), // old resend: never goes back
            ((0, 1, 1), 0),
        ];
        for ((c, a, u), want) in cases {
            assert_eq!(advance_watermark(c, a, u), want, "{c} {a} {u}");
        }
    }
}
