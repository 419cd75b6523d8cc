//! Privacy: 1,000 synthetic residents go through the BRUVAX journey (the real
//! flow file, the real engine), by card or typed in, and their visits are
//! counted. Then the data directory and every temp file written meanwhile are
//! searched for each resident's national number, surname, street and birth
//! date in all their usual formats: 0 hits allowed.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use dps_flow::{After, Event, Identity, Input, ViewKind, World};
use dps_model::Language;
use dps_person::{NationalNumber, PartialDate, SecretString, Zeroizing};
use dps_tally::TallyStore;
use rand::{Rng, SeedableRng};

use crate::{at, site};

struct Resident {
    number: String,
    birth: NaiveDate,
    surname: String,
    street: String,
    postcode: String,
    by_card: bool,
}

use dps_person::synthetic::{national_number, word};

fn residents(n: usize) -> Vec<Resident> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000);
    let postcodes = [
        "1000", "1030", "1060", "1080", "1081", "1210", "1070", "1190", "1300", "4000",
    ];
    (0..n)
        .map(|i| {
            let birth = NaiveDate::from_ymd_opt(
                rng.gen_range(1930..2006),
                rng.gen_range(1..=12),
                rng.gen_range(1..=28),
            )
            .unwrap();
            let number = national_number(birth, (i % 997 + 1) as u32);
            assert!(NationalNumber::parse(&number).is_ok(), "{number}");
            Resident {
                number,
                birth,
                surname: word(i, 3),
                street: format!("Rue {}", word(i, 11)),
                postcode: postcodes[i % postcodes.len()].to_owned(),
                by_card: i % 3 != 0,
            }
        })
        .collect()
}

/// Every way the resident's identifying data could be written.
fn needles(r: &Resident) -> Vec<Vec<u8>> {
    let d = &r.number;
    let (y, m, dd) = (r.birth.year(), r.birth.month(), r.birth.day());
    let mut v = vec![
        d.clone(),
        format!(
            "{}.{}.{}-{}.{}",
            &d[0..2],
            &d[2..4],
            &d[4..6],
            &d[6..9],
            &d[9..11]
        ),
        format!("{}-{}-{}", &d[0..6], &d[6..9], &d[9..11]),
        format!("{} {} {}", &d[0..6], &d[6..9], &d[9..11]),
        format!("{y:04}-{m:02}-{dd:02}"),
        format!("{dd:02}.{m:02}.{y:04}"),
        format!("{dd:02}/{m:02}/{y:04}"),
        format!("{dd:02}-{m:02}-{y:04}"),
        format!("{y:04}{m:02}{dd:02}"),
        format!("{dd:02}{m:02}{y:04}"),
    ];
    for w in [&r.surname, &r.street] {
        v.push(w.clone());
        v.push(w.to_uppercase());
        v.push(w.to_lowercase());
    }
    v.into_iter().map(String::into_bytes).collect()
}

/// Counts occurrences of any needle in `bytes`; needles indexed by their
/// first 4 bytes so 1,000 residents x 16 formats stay fast.
fn hits(bytes: &[u8], index: &HashMap<[u8; 4], Vec<&[u8]>>) -> usize {
    let mut n = 0;
    for i in 0..bytes.len().saturating_sub(3) {
        let k = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        if let Some(cands) = index.get(&k) {
            n += cands.iter().filter(|c| bytes[i..].starts_with(c)).count();
        }
    }
    n
}

fn files_under(dir: &Path, newer_than: std::time::SystemTime, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            files_under(&p, newer_than, out);
        } else if m.is_file() && m.modified().is_ok_and(|t| t >= newer_than) && m.len() < 256 << 20
        {
            out.push(p);
        }
    }
}

#[test]
fn a_thousand_journeys_leave_no_personal_data_on_disk() {
    let started = std::time::SystemTime::now();
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictos) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictos);
    let flow = loaded
        .flows
        .iter()
        .find(|f| f.id.as_str() == "bruvax-registration")
        .unwrap_or_else(|| panic!("bruvax flow in {flows_dir:?}: {:?}", loaded.problems));
    let directory = dps_directory::Directory::bundled().unwrap();
    let world = World {
        today: NaiveDate::from_ymd_opt(2021, 6, 10).unwrap(),
        directory: &directory,
    };

    let data = tempfile::tempdir().unwrap();
    let now = at(2021, 6, 10, 10, 0);
    let store = TallyStore::open(data.path(), now).unwrap().store;
    store.start_session(site(), now).unwrap();
    let people = residents(1000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut counted, mut outcomes) = (0u64, BTreeSet::new());
    for r in &people {
        let (mut j, mut v) = dps_flow::start(flow, Language::ALL[rng.gen_range(0..4)], &world);
        let mut record = None;
        for _ in 0..100 {
            let input: Input = match v.kind {
                ViewKind::Identify if r.by_card => Input::Card(Identity {
                    national_number: Some(NationalNumber::parse(&r.number).unwrap()),
                    birth_date: Some(Zeroizing::new(PartialDate::full(r.birth))),
                    postcode: Some(SecretString::new(r.postcode.clone())),
                }),
                ViewKind::Identify => Event::Manual {
                    number: SecretString::new(r.number.clone()),
                    postcode: SecretString::new(r.postcode.clone()),
                }
                .into(),
                ViewKind::Info => Event::Next.into(),
                ViewKind::Check => Event::Tick.into(),
                ViewKind::Choice => Event::Choose {
                    option: v.options[rng.gen_range(0..v.options.len())].id.clone(),
                }
                .into(),
                ViewKind::End => Event::Finish.into(),
            };
            match dps_flow::step(flow, j, input, &world) {
                After::Continue(nj, nv) => (j, v) = (nj, *nv),
                After::Ended(rec) => {
                    record = Some(rec);
                    break;
                }
            }
        }
        let rec = record
            .expect("journey ended within 100 steps")
            .expect("a finished journey is counted");
        outcomes.insert(rec.outcome.to_string());
        store.record(rec, now).unwrap();
        counted += 1;
    }
    store.end_session(at(2021, 6, 10, 17, 0)).unwrap();
    let net: u64 = store.totals().unwrap().iter().map(|c| c.net).sum();
    assert_eq!((counted, net), (1000, 1000));
    assert!(
        outcomes.len() >= 2,
        "journeys reached several outcomes: {outcomes:?}"
    );
    drop(store);

    let all: Vec<Vec<u8>> = people.iter().flat_map(needles).collect();
    let mut index: HashMap<[u8; 4], Vec<&[u8]>> = HashMap::new();
    for n in &all {
        index.entry([n[0], n[1], n[2], n[3]]).or_default().push(n);
    }
    // Self-check: the search finds what it looks for.
    assert!(hits(format!("x{}y", people[5].number).as_bytes(), &index) >= 1);
    assert!(hits(people[9].street.to_uppercase().as_bytes(), &index) >= 1);

    let mut files = Vec::new();
    files_under(data.path(), std::time::UNIX_EPOCH, &mut files);
    let in_data = files.len();
    // Temp files written during the test by anything in this process's reach
    // (other tests' files included: they must not hold these people either).
    files_under(&std::env::temp_dir(), started, &mut files);
    let mut total = 0;
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let h = hits(&bytes, &index);
        assert_eq!(h, 0, "{h} personal data hits in {f:?}");
        total += bytes.len();
    }
    println!(
        "privacy: 1000 journeys ({outcomes:?}), {} needles, {in_data} files in the data dir + {} temp files, {total} bytes searched: 0 hits",
        all.len(),
        files.len() - in_data
    );
}
