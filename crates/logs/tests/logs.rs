//! The logs: 200 synthetic residents go through the real procedures in the
//! controller (by card, typed in, pulled mid-journey, left idle) while the
//! shell's logging runs at TRACE; then the log folder is searched for every
//! resident's national number (all formats), surname, given names, street
//! and birth date (all formats): 0 hits allowed.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use dps_controller::{Command, Kiosk, Screen};
use dps_eid::{CardAddress, CardData, Event as CardEvent, SignatureStatus};
use dps_flow::{AbandonReason, Event, ViewKind};
use dps_model::Language;
use dps_person::{NationalNumber, PartialDate, SecretString};
use rand::{Rng, SeedableRng};

const READER: &str = "VPCD virtual reader 0";

struct Resident {
    number: String,
    birth: NaiveDate,
    surname: String,
    given: String,
    street: String,
    postcode: String,
    birth_place: String,
    /// 0: card, 1: typed in, 2: card pulled mid-journey, 3: left idle.
    how: u8,
}

use dps_person::synthetic::{national_number, number_and_date_forms, word};

fn residents(n: usize) -> Vec<Resident> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(200);
    let postcodes = [
        "1000", "1030", "1060", "1080", "1081", "1210", "1070", "1190", "1300", "4000",
    ];
    (0..n)
        .map(|i| {
            let birth = NaiveDate::from_ymd_opt(
                rng.gen_range(1930..2008),
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
                given: word(i, 5),
                street: format!("Rue {} {}", word(i, 11), i % 90 + 1),
                postcode: postcodes[i % postcodes.len()].to_owned(),
                birth_place: word(i, 7),
                how: (i % 4) as u8,
            }
        })
        .collect()
}

fn card(r: &Resident) -> CardEvent {
    CardEvent::CardRead {
        reader: READER.into(),
        warnings: vec![],
        data: Box::new(CardData {
            reader: READER.into(),
            applet: "1.8".into(),
            card_number: Some("592123456789".into()),
            document_type: Some("1".into()),
            valid_from: None,
            valid_until: None,
            issuing_municipality: None,
            national_number: Some(r.number.as_str().into()),
            surname: Some(r.surname.as_str().into()),
            given_names: Some(SecretString::new(format!("{} Anne", r.given))),
            third_initial: None,
            nationality: Some("Belge".into()),
            birth_place: Some(r.birth_place.as_str().into()),
            birth_date: Some(dps_person::Zeroizing::new(PartialDate::full(r.birth))),
            sex: None,
            address: Some(CardAddress {
                street: Some(r.street.as_str().into()),
                postcode: Some(r.postcode.as_str().into()),
                municipality: Some("Schaerbeek".into()),
            }),
            signature: SignatureStatus::Valid,
        }),
    }
}

/// Every way the resident's identifying data could be written.
fn needles(r: &Resident) -> Vec<Vec<u8>> {
    let mut v: Vec<String> = number_and_date_forms(&r.number, r.birth)
        .into_iter()
        .map(|(_, form)| form)
        .collect();
    for w in [&r.surname, &r.given, &r.street, &r.birth_place] {
        v.push(w.clone());
        v.push(w.to_uppercase());
        v.push(w.to_lowercase());
    }
    v.into_iter().map(String::into_bytes).collect()
}

struct Needles<'a>(HashMap<[u8; 4], Vec<&'a [u8]>>);

impl<'a> Needles<'a> {
    fn new(all: &'a [Vec<u8>]) -> Needles<'a> {
        let mut index: HashMap<[u8; 4], Vec<&[u8]>> = HashMap::new();
        for n in all {
            index.entry([n[0], n[1], n[2], n[3]]).or_default().push(n);
        }
        Needles(index)
    }

    /// The needles found in `bytes` (indexed by their first 4 bytes).
    fn found(&self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..bytes.len().saturating_sub(3) {
            let k = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
            if let Some(cands) = self.0.get(&k) {
                for c in cands.iter().filter(|c| bytes[i..].starts_with(c)) {
                    out.push(String::from_utf8_lossy(c).into_owned());
                }
            }
        }
        out
    }

    fn found_in_dir(&self, dir: &Path) -> (usize, Vec<String>) {
        let mut bytes_read = 0;
        let mut hits = Vec::new();
        for f in std::fs::read_dir(dir).unwrap().flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            bytes_read += bytes.len();
            hits.extend(
                self.found(&bytes)
                    .into_iter()
                    .map(|h| format!("{}: {h}", f.path().display())),
            );
        }
        (bytes_read, hits)
    }
}

fn kiosk() -> Kiosk {
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictos) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictos);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let directory = dps_directory::Directory::bundled().unwrap();
    Kiosk::new(loaded.flows, vec![], directory)
}

/// The shell's side: every input logged, the view after it logged, a visit
/// logged when one comes out. The `Debug` of commands and card events is
/// logged too, at TRACE, to hold the personal types to their redaction.
struct Shell {
    k: Kiosk,
    today: NaiveDate,
    visits: usize,
    views: usize,
}

impl Shell {
    fn command(&mut self, c: Command) {
        dps_logs::kiosk::command(&c);
        tracing::trace!(?c, "command (Debug)");
        let v = self.k.command(c, self.today);
        self.after(v);
    }

    fn card(&mut self, e: CardEvent) {
        dps_logs::kiosk::card_event(&e);
        tracing::trace!(?e, "card event (Debug)");
        let v = self.k.card_event(e, self.today);
        self.after(v);
    }

    fn after(&mut self, visit: Option<dps_model::VisitRecord>) {
        dps_logs::kiosk::view(&self.k.view());
        self.views += 1;
        if let Some(r) = visit {
            dps_logs::kiosk::visit(&r);
            tracing::trace!(?r, "visit (Debug)");
            self.visits += 1;
        }
    }
}

/// One resident's visit, as the window and the card watcher would drive it.
fn journey(s: &mut Shell, r: &Resident, rng: &mut impl Rng) {
    let procedures = [
        "bruvax-registration",
        "bruvax-waiting-list",
        "find-dps",
        "other-help",
    ];
    let by_card = r.how != 1;
    s.command(Command::SetLanguage {
        language: Language::ALL[rng.gen_range(0..4)],
    });
    if by_card {
        s.card(CardEvent::CardInserted {
            reader: READER.into(),
        });
        s.card(card(r));
    }
    s.command(Command::ShowProcedures);
    s.command(Command::StartProcedure {
        procedure: procedures[rng.gen_range(0..procedures.len())].into(),
    });
    let stop_after = match r.how {
        2 | 3 => rng.gen_range(1..6),
        _ => usize::MAX,
    };
    for n in 0..60 {
        let Screen::Journey { view } = s.k.view().screen else {
            break;
        };
        if n == stop_after {
            if r.how == 2 {
                s.card(CardEvent::CardRemoved {
                    reader: READER.into(),
                });
            } else {
                s.command(Command::Home {
                    reason: AbandonReason::Idle,
                });
            }
            break;
        }
        let event = match view.kind {
            ViewKind::Info => Event::Next,
            ViewKind::Check => Event::Tick,
            ViewKind::Choice => Event::Choose {
                option: view.options[rng.gen_range(0..view.options.len())]
                    .id
                    .clone(),
            },
            ViewKind::End => Event::Finish,
            // A wrong number first now and then, as stewards mistype.
            ViewKind::Identify if view.error.is_none() && rng.gen_bool(0.3) => Event::Manual {
                number: SecretString::new(r.number[..10].to_owned()),
                postcode: SecretString::new(r.postcode.clone()),
            },
            ViewKind::Identify => Event::Manual {
                number: SecretString::new(r.number.clone()),
                postcode: SecretString::new(r.postcode.clone()),
            },
        };
        s.command(Command::Journey { event });
    }
    if by_card && r.how != 2 {
        s.card(CardEvent::CardRemoved {
            reader: READER.into(),
        });
    }
    if !matches!(s.k.view().screen, Screen::Welcome) {
        s.command(Command::Home {
            reason: AbandonReason::Quit,
        });
    }
}

#[test]
fn two_hundred_residents_at_trace_leave_no_personal_data_in_the_logs() {
    let logs = tempfile::tempdir().unwrap();
    let (subscriber, guard) = dps_logs::subscriber(logs.path(), "trace", false).unwrap();
    let people = residents(200);
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let mut shell = Shell {
        k: kiosk(),
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        visits: 0,
        views: 0,
    };
    tracing::subscriber::with_default(subscriber, || {
        shell.card(CardEvent::ReaderAdded {
            reader: READER.into(),
        });
        for r in &people {
            journey(&mut shell, r, &mut rng);
        }
        // A panic's payload must not reach the log either.
        dps_logs::install_panic_hook();
        let r = &people[0];
        let caught = std::panic::catch_unwind(|| panic!("bad number {}", r.number));
        assert!(caught.is_err());
        let _ = std::panic::take_hook();
    });
    drop(guard);
    assert!(
        shell.visits >= 150,
        "most journeys counted a visit: {}",
        shell.visits
    );

    let all: Vec<Vec<u8>> = people.iter().flat_map(needles).collect();
    let index = Needles::new(&all);
    let (bytes, hits) = index.found_in_dir(logs.path());
    let text = dps_logs::files(logs.path())
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect::<String>();
    // The log says what happened, so the search had something to search.
    assert_eq!(
        text.matches("visit counted: ").count(),
        shell.visits,
        "{text}"
    );
    assert_eq!(text.matches(" view ").count(), shell.views);
    assert!(text.contains("journey:bruvax-registration:type-number"));
    assert!(text.contains("command journey manual number=typed postcode=typed"));
    assert!(text.contains("card read in VPCD virtual reader 0: applet 1.8"));
    assert!(
        text.contains("SecretString(***)"),
        "the Debug lines are there"
    );
    assert!(text.contains("the program stopped on an internal error (panic)"));
    assert_eq!(hits, Vec::<String>::new(), "personal data in the logs");
    println!(
        "logs privacy: 200 residents, {} visits, {} views, {} needles, {bytes} log bytes searched: 0 hits",
        shell.visits,
        shell.views,
        all.len()
    );
}

/// The search finds what it looks for, and it would find a view logged raw:
/// the reason the shell logs [`dps_logs::kiosk::view`] and not `?view`.
#[test]
fn the_search_finds_a_view_logged_raw() {
    let logs = tempfile::tempdir().unwrap();
    let (subscriber, guard) = dps_logs::subscriber(logs.path(), "trace", false).unwrap();
    let people = residents(1);
    let r = &people[0];
    let mut shell = Shell {
        k: kiosk(),
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        visits: 0,
        views: 0,
    };
    let mut raw = 0;
    tracing::subscriber::with_default(subscriber, || {
        shell.card(CardEvent::ReaderAdded {
            reader: READER.into(),
        });
        shell.command(Command::StartProcedure {
            procedure: "bruvax-registration".into(),
        });
        shell.card(card(r));
        // Walk until the step that shows the number, logging the raw view.
        for _ in 0..10 {
            let view = shell.k.view();
            tracing::trace!(?view, "raw view");
            let Screen::Journey { view } = view.screen else {
                break;
            };
            if view.national_number.is_some() {
                raw += 1;
                break;
            }
            shell.command(Command::Journey { event: Event::Tick });
        }
    });
    drop(guard);
    assert_eq!(raw, 1, "reached the step that shows the number");
    let all = needles(r);
    let index = Needles::new(&all);
    let (_, hits) = index.found_in_dir(logs.path());
    let hits: Vec<&str> = hits
        .iter()
        .map(|h| h.rsplit(": ").next().unwrap())
        .collect();
    let formatted = String::from_utf8(all[1].clone()).unwrap();
    assert!(hits.contains(&formatted.as_str()), "{hits:?}");
    assert!(
        hits.iter().any(|h| r.given.contains(h)),
        "the greeting: {hits:?}"
    );
}

#[test]
fn files_lists_only_the_log_files_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "dps-kiosk.2026-11-20.log",
        "dps-kiosk.2026-11-19.log",
        "other.txt",
        "dps-kiosk.2026-11-21.log.tmp",
    ] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    let names: Vec<String> = dps_logs::files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["dps-kiosk.2026-11-19.log", "dps-kiosk.2026-11-20.log"]
    );
}

#[test]
fn a_bad_filter_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let e = dps_logs::subscriber(dir.path(), "info,[", false)
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .starts_with("the log level \"info,[\" is not valid"),
        "{e}"
    );
}

#[test]
fn opening_keeps_the_newest_files_only() {
    let dir = tempfile::tempdir().unwrap();
    // Ten days of old logs, written oldest first.
    let old: Vec<String> = (1..=10)
        .map(|d| format!("dps-kiosk.2020-01-{d:02}.log"))
        .collect();
    for name in &old {
        std::fs::write(dir.path().join(name), "old\n").unwrap();
    }
    let (_subscriber, guard) = dps_logs::subscriber(dir.path(), "info", false).unwrap();
    drop(guard);
    let names: Vec<String> = dps_logs::files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), dps_logs::KEEP_FILES, "{names:?}");
    // The six newest old days and today's new file.
    assert_eq!(names[..6], old[4..]);
    assert!(!names[6].starts_with("dps-kiosk.2020-"), "{names:?}");
}

/// An error logged in a loop fills today's file up to the cap, then one line
/// says the rest is dropped; a restart the same day adds nothing.
#[test]
fn an_error_in_a_loop_stops_at_the_size_cap_even_across_a_restart() {
    const CAP: u64 = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let flood = |from: u32, to: u32| {
        let (subscriber, guard) =
            dps_logs::subscriber_capped(dir.path(), "info", false, CAP).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for i in from..to {
                tracing::error!(attempt = i, "the hub refused the batch; retrying at once");
            }
        });
        // Dropping the guard waits for the writer to empty its queue.
        drop(guard);
    };
    flood(0, 5_000);
    let files = dps_logs::files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let size = text.len() as u64;
    let notices = text.matches("reached its size cap").count();
    assert_eq!(notices, 1, "{}", &text[text.len().saturating_sub(400)..]);
    let notice_len = text.lines().last().unwrap().len() as u64 + 1;
    assert!(
        size <= CAP + notice_len && size > CAP - 200,
        "{size} bytes for a cap of {CAP}"
    );
    assert!(
        text.contains("attempt=0\n"),
        "the start of the loop is kept"
    );
    assert!(!text.contains("attempt=4999\n"), "the end was dropped");

    flood(5_000, 6_000);
    assert_eq!(
        std::fs::read_to_string(&files[0]).unwrap().len() as u64,
        size,
        "a restart on a full day adds nothing"
    );
}

/// Old files bigger than a day's share (written before the cap existed, or
/// copied in) are deleted, oldest first, until the folder fits its total.
#[test]
fn opening_keeps_the_old_files_within_the_total_cap() {
    const CAP: u64 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let old: Vec<String> = (1..=6)
        .map(|d| format!("dps-kiosk.2020-01-{d:02}.log"))
        .collect();
    for name in &old {
        std::fs::write(dir.path().join(name), vec![b'x'; 2 * CAP as usize]).unwrap();
    }
    let (_subscriber, guard) = dps_logs::subscriber_capped(dir.path(), "info", false, CAP).unwrap();
    drop(guard);
    let kept: Vec<String> = dps_logs::files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dps-kiosk.2020-"))
        .collect();
    // 6 days x 2 KB over a budget of 6 x 1 KB: the three newest fit.
    assert_eq!(kept, old[3..]);
    let total: u64 = dps_logs::files(dir.path())
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(total <= dps_logs::KEEP_FILES as u64 * CAP, "{total}");
    assert_eq!(dps_logs::MAX_TOTAL_BYTES, 7 * 8 * 1024 * 1024);
}
