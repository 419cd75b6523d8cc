//! Privacy: 1,000 distinct synthetic residents go through the kiosk as it
//! runs in the window: their cards read as the card reader reads them (a
//! sample through the virtual eID and the real APDU reader, the rest built
//! the same way from the card's own text forms), or their number typed in;
//! the controller runs the real procedures with the flow engine; every visit
//! it yields is counted in the store; the shell's log summaries are written
//! at TRACE into the data dir's log folder. This runs in a child process
//! whose TMPDIR is a folder of the test's own, so any temp file anything
//! leaves behind is searched too. Then the data dir (store, logs) and that
//! temp folder are searched for every resident's national number, surname,
//! given names, street, birth place and birth date in all their formats:
//! 0 hits allowed.
//!
//! The search routine is shown to find what it looks for by a control run
//! that leaks on purpose (`the_search_finds_planted_data`).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command as Process;

use chrono::{Datelike, NaiveDate};
use dps_controller::{Command, Kiosk, Screen};
use dps_eid::{CardAddress, CardData, Event as CardEvent, SignatureStatus};
use dps_flow::{AbandonReason, Event, ViewKind};
use dps_model::Language;
use dps_person::synthetic::{national_number, number_and_date_forms, word};
use dps_person::{NationalNumber, PartialDate, SecretString, Zeroizing};
use dps_tally::TallyStore;
use rand::{Rng, SeedableRng};

use crate::{at, site};

const READER: &str = "VPCD virtual reader 0";
const RESIDENTS: usize = 1000;
/// Every n-th card is read through the virtual eID and the real reader code
/// (each costs two openssl signatures, so not all 1,000).
const READ_THROUGH_VCARD_EVERY: usize = 25;
/// Set in the child process: the folder it writes into.
const CHILD_VAR: &str = "DPS_TALLY_PRIVACY_CHILD";

/// Month names as cards print them, by the card's language.
const MONTHS: [[&str; 12]; 3] = [
    [
        "JANV", "FEV", "MARS", "AVR", "MAI", "JUIN", "JUIL", "AOUT", "SEPT", "OCT", "NOV", "DEC",
    ],
    [
        "JAN", "FEB", "MAAR", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC",
    ],
    [
        "JAN", "FEB", "MÄR", "APR", "MAI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEZ",
    ],
];

struct Resident {
    number: String,
    birth: NaiveDate,
    surname: String,
    given: [String; 2],
    street: String,
    postcode: String,
    birth_place: String,
    /// 0 French, 1 Dutch, 2 German: how the card prints the birth date.
    card_language: usize,
    by_card: bool,
}

impl Resident {
    /// The birth date as this resident's card prints it (tag 0C).
    fn card_birth_text(&self) -> String {
        let b = self.birth;
        let month = MONTHS[self.card_language][b.month0() as usize];
        match self.card_language {
            0 => format!("{:02} {month} {}", b.day(), b.year()),
            1 => format!("{:02} {month}  {}", b.day(), b.year()),
            _ => format!("{:02}.{month}.{}", b.day(), b.year()),
        }
    }
}

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
                given: [word(i, 5), word(i, 6)],
                street: format!("Rue {} {}", word(i, 11), i % 90 + 1),
                postcode: postcodes[i % postcodes.len()].to_owned(),
                birth_place: word(i, 7),
                card_language: i % 3,
                by_card: i % 4 != 0,
            }
        })
        .collect()
}

/// Every way a resident's identifying data could be written, lower-cased
/// (the search lower-cases what it reads), each with what it is.
fn needles(r: &Resident) -> Vec<(&'static str, String)> {
    let d = &r.number;
    let (y, m, dd) = (r.birth.year(), r.birth.month(), r.birth.day());
    let mut v = number_and_date_forms(d, r.birth);
    v.extend([
        ("national number without check digits", d[..9].to_owned()),
        ("surname", r.surname.clone()),
        ("given name", r.given[0].clone()),
        ("given name", r.given[1].clone()),
        ("given names", r.given.join(" ")),
        ("street", r.street.clone()),
        ("birth place", r.birth_place.clone()),
    ]);
    // The card's text forms in all three languages, whichever this card uses.
    for months in MONTHS {
        let mon = months[m as usize - 1];
        for text in [
            format!("{dd:02} {mon} {y}"),
            format!("{dd} {mon} {y}"),
            format!("{dd:02} {mon}  {y}"),
            format!("{dd:02}.{mon}.{y}"),
            format!("{dd:02}.{mon}. {y}"),
        ] {
            v.push(("birth date, as the card prints it", text));
        }
    }
    v.sort();
    v.dedup();
    v.into_iter()
        .map(|(what, n)| (what, n.to_lowercase()))
        .collect()
}

/// All residents' needles, indexed by their first 4 bytes so that 1,000
/// residents x ~30 forms are searched in one pass over each file.
struct Needles {
    index: HashMap<[u8; 4], Vec<(Vec<u8>, String)>>,
    count: usize,
}

impl Needles {
    fn of(people: &[Resident]) -> Needles {
        let mut index: HashMap<[u8; 4], Vec<(Vec<u8>, String)>> = HashMap::new();
        let mut count = 0;
        for (i, r) in people.iter().enumerate() {
            for (what, n) in needles(r) {
                let b = n.into_bytes();
                let head = <[u8; 4]>::try_from(&b[..4]).expect("needles are 4+ bytes");
                index
                    .entry(head)
                    .or_default()
                    .push((b, format!("resident {i}'s {what}")));
                count += 1;
            }
        }
        Needles { index, count }
    }

    /// What personal data `bytes` holds ("resident 5's street"), ASCII case
    /// ignored.
    fn found(&self, bytes: &[u8]) -> Vec<String> {
        let lower = bytes.to_ascii_lowercase();
        let mut out = Vec::new();
        for i in 0..lower.len().saturating_sub(3) {
            let head = [lower[i], lower[i + 1], lower[i + 2], lower[i + 3]];
            if let Some(cands) = self.index.get(&head) {
                for (n, what) in cands {
                    if lower[i..].starts_with(n) {
                        out.push(what.clone());
                    }
                }
            }
        }
        out
    }
}

/// What a search went through and found.
#[derive(Debug, Default)]
struct Searched {
    files: usize,
    bytes: usize,
    hits: Vec<String>,
}

/// Searches every file under `roots` (any size, any kind, recursively) for
/// the needles.
fn search(roots: &[&Path], needles: &Needles) -> Searched {
    fn walk(dir: &Path, needles: &Needles, s: &mut Searched) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                walk(&p, needles, s);
            } else if m.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                s.files += 1;
                s.bytes += bytes.len();
                s.hits.extend(
                    needles
                        .found(&bytes)
                        .into_iter()
                        .map(|h| format!("{}: {h}", p.display())),
                );
            }
        }
    }
    let mut s = Searched::default();
    for r in roots {
        walk(r, needles, &mut s);
    }
    s
}

/// The card the watcher would report for `r`: read from a virtual eID by
/// the real reader code (APDUs, TLV, signatures), or, for most residents,
/// assembled directly from the same fields, the birth date parsed from the
/// card's text form by the reader's own parser.
fn card(r: &Resident, i: usize) -> CardEvent {
    let birth_text = r.card_birth_text();
    let given = r.given.join(" ");
    if i.is_multiple_of(READ_THROUGH_VCARD_EVERY) {
        let spec = dps_vcard::CardSpec {
            key: dps_vcard::KeyKind::Ec,
            national_number: r.number.clone(),
            surname: r.surname.clone(),
            given_names: given,
            birth_place: r.birth_place.clone(),
            birth_date: birth_text,
            street: r.street.clone(),
            postcode: r.postcode.clone(),
            ..dps_vcard::CardSpec::default()
        };
        let (data, warnings) = read_virtual_card(&spec);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(data.signature, SignatureStatus::Valid);
        assert_eq!(
            data.birth_date.as_deref(),
            Some(&PartialDate::full(r.birth))
        );
        return CardEvent::CardRead {
            reader: READER.into(),
            warnings,
            data: Box::new(data),
        };
    }
    let birth = dps_eid::fields::parse_birth_date(&birth_text).expect("a card's birth date");
    CardEvent::CardRead {
        reader: READER.into(),
        warnings: vec![],
        data: Box::new(CardData {
            reader: READER.into(),
            applet: "1.8".into(),
            card_number: Some("592123456789".into()),
            document_type: Some("1".into()),
            valid_from: Some("2021-03-01".into()),
            valid_until: Some("2031-03-01".into()),
            issuing_municipality: Some("Schaerbeek".into()),
            national_number: Some(r.number.as_str().into()),
            surname: Some(r.surname.as_str().into()),
            given_names: Some(SecretString::new(given)),
            third_initial: Some("J".into()),
            nationality: Some("Belge".into()),
            birth_place: Some(r.birth_place.as_str().into()),
            birth_date: Some(Zeroizing::new(birth)),
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

fn pki() -> &'static dps_vcard::TestPki {
    static PKI: std::sync::OnceLock<dps_vcard::TestPki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        dps_vcard::TestPki::generate(dps_vcard::KeyKind::Ec, "DPS Test Root")
            .expect("test PKI (is openssl installed?)")
    })
}

/// The virtual card answering in process, as pcscd would relay it.
struct Direct<'c>(dps_vcard::card::Session<'c>);

impl dps_eid::Transport for Direct<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, dps_eid::TransportError> {
        Ok(Zeroizing::new(self.0.respond(apdu)))
    }
}

fn read_virtual_card(spec: &dps_vcard::CardSpec) -> (CardData, Vec<String>) {
    let image = dps_vcard::CardImage::build(spec, pki()).expect("virtual card");
    let raw = dps_eid::apdu::read_card(&mut Direct(image.session()), dps_eid::verify::shape_of)
        .expect("the virtual card reads");
    let mut trust = dps_eid::TrustStore::belgium();
    trust.add_pem(&pki().root_pem).expect("test root");
    dps_eid::assemble(READER, &raw, &trust).expect("the card assembles")
}

fn kiosk() -> Kiosk {
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictos) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictos);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let directory = dps_directory::Directory::bundled().unwrap();
    Kiosk::new(loaded.flows, vec![], directory)
}

/// The shell's side, as `src-tauri` does it: every input and the view after
/// it logged through `dps_logs::kiosk`, and each visit the controller yields
/// logged and counted in the store (what `Steward::count` does).
struct Shell<'s> {
    k: Kiosk,
    store: &'s TallyStore,
    today: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
    visits: u64,
    /// Control runs only: log the raw view too, the mistake the log
    /// summaries exist to prevent.
    leak_views: bool,
}

impl Shell<'_> {
    fn command(&mut self, c: Command) {
        dps_logs::kiosk::command(&c);
        let v = self.k.command(c, self.today);
        self.after(v);
    }

    fn card(&mut self, e: CardEvent) {
        dps_logs::kiosk::card_event(&e);
        let v = self.k.card_event(e, self.today);
        self.after(v);
    }

    fn after(&mut self, visit: Option<dps_model::VisitRecord>) {
        let view = self.k.view();
        dps_logs::kiosk::view(&view);
        if self.leak_views {
            tracing::trace!(?view, "raw view");
        }
        if let Some(r) = visit {
            dps_logs::kiosk::visit(&r);
            self.store.record(r, self.now).expect("counted");
            self.visits += 1;
        }
    }
}

/// One resident's visit, as the window and the card watcher drive it.
fn journey(s: &mut Shell, r: &Resident, i: usize, rng: &mut impl Rng) {
    let procedures = [
        "bruvax-registration",
        "bruvax-waiting-list",
        "find-dps",
        "other-help",
    ];
    s.command(Command::SetLanguage {
        language: Language::ALL[rng.gen_range(0..4)],
    });
    if r.by_card {
        s.card(CardEvent::CardInserted {
            reader: READER.into(),
        });
        s.card(card(r, i));
    }
    s.command(Command::ShowProcedures);
    let mut procedure = procedures[rng.gen_range(0..procedures.len())];
    if s.leak_views {
        // The control run takes the procedure that shows the number.
        procedure = procedures[0];
    }
    s.command(Command::StartProcedure {
        procedure: procedure.into(),
    });
    for _ in 0..60 {
        let Screen::Journey { view } = s.k.view().screen else {
            break;
        };
        let event = match view.kind {
            ViewKind::Info => Event::Next,
            ViewKind::Check => Event::Tick,
            ViewKind::Choice => Event::Choose {
                option: view.options[rng.gen_range(0..view.options.len())]
                    .id
                    .clone(),
            },
            ViewKind::End => Event::Finish,
            ViewKind::Identify => Event::Manual {
                number: SecretString::new(r.number.clone()),
                postcode: SecretString::new(r.postcode.clone()),
            },
        };
        s.command(Command::Journey { event });
    }
    if r.by_card {
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

/// Runs `people` through the kiosk with the data dir `data` (store and
/// logs); returns the visits counted.
fn run_kiosk(data: &Path, people: &[Resident], leak_views: bool) -> u64 {
    let now = at(2021, 6, 10, 10, 0);
    let store = TallyStore::open(data, now).unwrap().store;
    store.start_session(site(), now).unwrap();
    let (subscriber, guard) =
        dps_logs::subscriber(&dps_logs::dir(data), "trace", false).expect("logs");
    let mut shell = Shell {
        k: kiosk(),
        store: &store,
        today: now.date_naive(),
        now,
        visits: 0,
        leak_views,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    tracing::subscriber::with_default(subscriber, || {
        shell.card(CardEvent::ReaderAdded {
            reader: READER.into(),
        });
        for (i, r) in people.iter().enumerate() {
            journey(&mut shell, r, i, &mut rng);
        }
    });
    drop(guard);
    let visits = shell.visits;
    store.end_session(at(2021, 6, 10, 17, 0)).unwrap();
    let net: u64 = store.totals().unwrap().iter().map(|c| c.net).sum();
    assert_eq!(net, visits, "every visit the controller yielded is counted");
    visits
}

/// The child's side of the test below: runs the kiosk, prints a summary.
fn child(root: &Path) {
    let people = residents(RESIDENTS);
    let visits = run_kiosk(&root.join("data"), &people, false);
    // Anything in this process that makes a temp file makes it here now.
    assert!(std::env::temp_dir().starts_with(root));
    println!("privacy child: {visits} visits counted");
}

#[test]
fn a_thousand_residents_leave_no_personal_data_in_store_logs_or_temp_files() {
    if let Some(root) = std::env::var_os(CHILD_VAR) {
        child(Path::new(&root));
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // A process of its own, so that its TMPDIR is ours without changing the
    // environment of the other tests running in this one.
    let out = Process::new(std::env::current_exe().unwrap())
        .args([
            "privacy::a_thousand_residents_leave_no_personal_data_in_store_logs_or_temp_files",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, root.path())
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let visits: u64 = stdout
        .lines()
        // libtest prints "test … ... " before the test's own output.
        .find_map(|l| l.split_once("privacy child: ").map(|(_, rest)| rest))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the child's summary:\n{stdout}"));
    assert!(
        visits >= 900,
        "most of the 1,000 journeys end in a visit: {visits}"
    );

    let people = residents(RESIDENTS);
    let needles = Needles::of(&people);
    let data = root.path().join("data");
    let found = search(&[&data, &tmp], &needles);
    assert_eq!(found.hits, Vec::<String>::new(), "personal data on disk");

    // The search had something to search: the store, and logs that say
    // what happened.
    assert!(TallyStore::exists(&data));
    let logs: String = dps_logs::files(&dps_logs::dir(&data))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(logs.matches("visit counted: ").count() as u64, visits);
    assert!(logs.contains("card read in VPCD virtual reader 0: applet 1.8"));
    assert!(logs.contains("command journey manual number=typed postcode=typed"));
    println!(
        "privacy: {RESIDENTS} residents, {visits} visits counted, {} needles, {} files ({} bytes) in the data dir and TMPDIR searched: 0 hits",
        needles.count, found.files, found.bytes
    );
}

/// The search routine finds personal data where it is: a control run of
/// three residents through the same kiosk, with the raw view logged (the
/// greeting and, on one step, the formatted national number), plus a street
/// written into the data dir and a card's birth date into a temp file.
#[test]
fn the_search_finds_planted_data() {
    let root = tempfile::tempdir().unwrap();
    let (data, tmp) = (root.path().join("data"), root.path().join("tmp"));
    std::fs::create_dir(&tmp).unwrap();
    let people = residents(3);
    let needles = Needles::of(&people);

    run_kiosk(&data, &people, false);
    assert_eq!(search(&[&data, &tmp], &needles).hits, Vec::<String>::new());

    std::fs::write(data.join("notes.txt"), people[1].street.to_uppercase()).unwrap();
    std::fs::write(tmp.join("card.tmp"), people[2].card_birth_text()).unwrap();
    let control = root.path().join("control");
    run_kiosk(&control, &people, true);
    let hits = search(&[&data, &tmp, &control], &needles).hits;
    let has = |what: &str| hits.iter().any(|h| h.ends_with(what));
    assert!(has("resident 1's street"), "{hits:?}");
    assert!(
        has("resident 2's birth date, as the card prints it"),
        "{hits:?}"
    );
    assert!(
        has("'s given name"),
        "the greeting in the raw view: {hits:?}"
    );
    assert!(
        has("'s national number, dotted"),
        "the number a step shows, in the raw view: {hits:?}"
    );
}
