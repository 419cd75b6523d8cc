//! Synthetic visits with realistic spreads, for `tally simulate`, the soak
//! test and the benchmarks. Every visit is made of the same anonymous
//! vocabulary the journey produces; no resident is ever invented.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Brussels;
use dps_model::{AgeBand, Channel, Code, Language, Municipality, Residence, VisitRecord};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Result, TallyError};
use crate::store::TallyStore;
use crate::types::Site;

/// Procedures and how often stewards see them (weights).
const PROCEDURES: [(&str, u32); 7] = [
    ("bruvax-registration", 30),
    ("bruvax-appointment", 15),
    ("irisbox-certificate", 15),
    ("myminfin-tax", 10),
    ("itsme-activation", 10),
    ("mypension", 8),
    ("other-digital-help", 12),
];
const OUTCOMES: [(&str, u32); 4] = [
    ("done", 70),
    ("referred", 10),
    ("waiting_list", 8),
    ("abandoned", 12),
];
const SITES: [&str; 4] = [
    "sim-dps-molenbeek",
    "sim-dps-saint-josse",
    "sim-dps-schaerbeek",
    "sim-dps-anderlecht",
];

#[derive(Debug, Clone)]
pub struct SimParams {
    pub visits: u64,
    /// Days ending with (and including) `last_day`.
    pub days: u32,
    pub seed: u64,
    pub last_day: NaiveDate,
    /// Fraction of visits undone by the steward right after (a mistap).
    pub undo_rate: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimReport {
    pub visits: u64,
    pub undone: u64,
    pub sessions: u64,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
}

/// A seeded generator of anonymous visit records.
pub struct VisitGen {
    rng: StdRng,
    proc: WeightedIndex<u32>,
    outcome: WeightedIndex<u32>,
    lang: WeightedIndex<u32>,
    channel: WeightedIndex<u32>,
    age: WeightedIndex<u32>,
    residence: (Vec<Residence>, WeightedIndex<u32>),
}

fn weights<T: Copy>(items: &[(T, u32)]) -> Result<WeightedIndex<u32>> {
    WeightedIndex::new(items.iter().map(|(_, w)| *w))
        .map_err(|e| TallyError::Damaged(format!("simulation weights: {e}")))
}

fn code(s: &str) -> Result<Code> {
    Code::new(s).map_err(|e| TallyError::Damaged(e.to_string()))
}

const LANGS: [(Language, u32); 4] = [
    (Language::Fr, 62),
    (Language::Nl, 14),
    (Language::En, 22),
    (Language::De, 2),
];
const CHANNELS: [(Channel, u32); 2] = [(Channel::Eid, 75), (Channel::Manual, 25)];
const AGES: [(AgeBand, u32); 7] = [
    (AgeBand::Under18, 3),
    (AgeBand::From18To29, 12),
    (AgeBand::From30To44, 18),
    (AgeBand::From45To64, 27),
    (AgeBand::From65To74, 20),
    (AgeBand::From75, 15),
    (AgeBand::Unknown, 5),
];

impl VisitGen {
    pub fn new(seed: u64) -> Result<VisitGen> {
        let mut res: Vec<(Residence, u32)> = Municipality::ALL
            .into_iter()
            // The outreach goes where vaccination lagged: those six see more visits.
            .map(|m| {
                (
                    Residence::Brussels(m),
                    if m.is_priority_2021() { 6 } else { 2 },
                )
            })
            .collect();
        res.extend([
            (Residence::OtherBelgium, 4),
            (Residence::Abroad, 2),
            (Residence::Unknown, 3),
        ]);
        Ok(VisitGen {
            rng: StdRng::seed_from_u64(seed),
            proc: weights(&PROCEDURES)?,
            outcome: weights(&OUTCOMES)?,
            lang: weights(&LANGS)?,
            channel: weights(&CHANNELS)?,
            age: weights(&AGES)?,
            residence: (res.iter().map(|(r, _)| *r).collect(), weights(&res)?),
        })
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    pub fn visit(&mut self) -> Result<VisitRecord> {
        let (procedure, _) = PROCEDURES[self.proc.sample(&mut self.rng)];
        let (outcome, _) = OUTCOMES[self.outcome.sample(&mut self.rng)];
        let language = LANGS[self.lang.sample(&mut self.rng)].0;
        // "Other digital help" identifies no one, so it knows no age or residence.
        let anonymous = procedure == "other-digital-help";
        let (channel, age_band, residence) = if anonymous {
            (Channel::None, AgeBand::Unknown, Residence::Unknown)
        } else {
            (
                CHANNELS[self.channel.sample(&mut self.rng)].0,
                AGES[self.age.sample(&mut self.rng)].0,
                self.residence.0[self.residence.1.sample(&mut self.rng)],
            )
        };
        Ok(VisitRecord {
            procedure: code(procedure)?,
            outcome: code(outcome)?,
            language,
            channel,
            age_band,
            residence,
        })
    }
}

fn brussels(day: NaiveDate, secs_after_midnight: u32) -> Result<DateTime<Utc>> {
    let t = NaiveTime::from_num_seconds_from_midnight_opt(secs_after_midnight, 0)
        .ok_or_else(|| TallyError::Damaged("simulated time".into()))?;
    Brussels
        .from_local_datetime(&day.and_time(t))
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| TallyError::Damaged("simulated time".into()))
}

/// Writes `p.visits` synthetic visits over `p.days` days into `store`, one
/// outreach session per open day (09:00-17:30 Brussels time), weekdays busier
/// than Saturdays, Sundays nearly closed. Refuses if a session is open.
/// Uses [`TallyStore::bulk`]: one fsync at the end, not one per visit.
pub fn simulate(store: &TallyStore, p: &SimParams) -> Result<SimReport> {
    if store.current_session()?.is_some() {
        return Err(TallyError::SessionAlreadyOpen);
    }
    let mut g = VisitGen::new(p.seed)?;
    let days: Vec<NaiveDate> = (0..p.days.max(1))
        .rev()
        .map(|back| p.last_day - Duration::days(i64::from(back)))
        .collect();
    let day_weight = |d: &NaiveDate| match d.weekday() {
        Weekday::Sat => 5,
        Weekday::Sun => 1,
        _ => 10,
    };
    let dist = WeightedIndex::new(days.iter().map(day_weight))
        .map_err(|e| TallyError::Damaged(format!("simulation weights: {e}")))?;
    let mut per_day = vec![0u64; days.len()];
    for _ in 0..p.visits {
        per_day[dist.sample(g.rng())] += 1;
    }
    store.bulk(|store| {
        let mut r = SimReport::default();
        for (i, day) in days.iter().enumerate() {
            if per_day[i] == 0 {
                continue;
            }
            let site_id = SITES[g.rng().gen_range(0..SITES.len())];
            let site = Site::Certified { id: code(site_id)? };
            store.start_session(site, brussels(*day, 9 * 3600)?)?;
            let mut times: Vec<u32> = (0..per_day[i])
                .map(|_| g.rng().gen_range(9 * 3600 + 60..17 * 3600))
                .collect();
            times.sort_unstable();
            for t in times {
                let now = brussels(*day, t)?;
                store.record(g.visit()?, now)?;
                r.visits += 1;
                if g.rng().gen_bool(p.undo_rate.clamp(0.0, 1.0)) {
                    store.undo_last()?;
                    r.undone += 1;
                }
            }
            store.end_session(brussels(*day, 17 * 3600 + 1800)?)?;
            r.sessions += 1;
            r.first_day.get_or_insert(*day);
            r.last_day = Some(*day);
        }
        Ok(r)
    })?
}
