//! Through the real pcscd + vpcd. Gated: `DPS_TEST_PCSCD=1` (set by `make test`);
//! without it each test prints that it was skipped and returns.

use std::sync::mpsc::Receiver;
use std::time::Duration;

use dps_eid::{read_first_card, CardErrorKind, Event, WaitError, Watcher};
use dps_vcard::harness::{without_pcscd, Pcscd};
use dps_vcard::{CardLog, InsertedCard};
use expect_test::expect;

use super::*;

fn gate(test: &str) -> bool {
    if std::env::var_os("DPS_TEST_PCSCD").is_some() {
        return true;
    }
    println!("skipped {test}: set DPS_TEST_PCSCD=1 (needs pcscd and vsmartcard-vpcd, as root)");
    false
}

fn image(s: &CardSpec) -> CardImage {
    CardImage::build(s, pki(s.key)).unwrap()
}

/// Generous bound for one event: vpcd notices insertion/removal within 400 ms.
const EVENT: Duration = Duration::from_secs(10);

fn next(rx: &Receiver<Event>) -> Event {
    let e = rx.recv_timeout(EVENT).expect("an event");
    eprintln!(
        "event: {}",
        serde_json::to_string(&e)
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect::<String>()
    );
    e
}

/// Short form of an event for comparisons: code and reader index.
fn code(e: &Event, pcscd: &Pcscd) -> String {
    let idx = |r: &str| {
        pcscd
            .reader_names()
            .iter()
            .position(|n| n == r)
            .map_or("?".to_owned(), |i| i.to_string())
    };
    match e {
        Event::ReaderAdded { reader } => format!("reader_added {}", idx(reader)),
        Event::ReaderRemoved { reader } => format!("reader_removed {}", idx(reader)),
        Event::CardInserted { reader } => format!("card_inserted {}", idx(reader)),
        Event::CardRead { reader, data, .. } => {
            format!("card_read {} {:?}", idx(reader), data.signature)
        }
        Event::CardError { reader, kind, .. } => format!("card_error {} {kind:?}", idx(reader)),
        Event::CardRemoved { reader } => format!("card_removed {}", idx(reader)),
        Event::ServiceUnavailable { .. } => "service_unavailable".to_owned(),
        Event::NoReader => "no_reader".to_owned(),
    }
}

#[test]
fn two_readers_two_cards_applet_17_and_18() {
    if !gate("two_readers_two_cards_applet_17_and_18") {
        return;
    }
    let pcscd = Pcscd::start(2).unwrap();
    let c17 = spec(Applet::V17, KeyKind::Rsa);
    let mut c18 = spec(Applet::V18, KeyKind::Ec);
    c18.birth_date = "        1962".into();
    c18.national_number = "62000000140".into();
    let _a = pcscd.insert(0, image(&c17)).unwrap();
    let _b = pcscd.insert(1, image(&c18)).unwrap();
    let names = pcscd.reader_names();
    let r0 = read_first_card(Some(&names[0]), EVENT, &trust(KeyKind::Rsa)).unwrap();
    let r1 = read_first_card(Some(&names[1]), EVENT, &trust(KeyKind::Ec)).unwrap();
    assert_eq!(
        (r0.data.applet.as_str(), r0.data.signature),
        ("1.7", SignatureStatus::Valid)
    );
    assert_eq!(
        (r1.data.applet.as_str(), r1.data.signature),
        ("1.8", SignatureStatus::Valid)
    );
    assert_eq!(
        r1.data.birth_date.as_deref().map(|d| d.to_iso()).as_deref(),
        Some("1962")
    );
    assert!(
        r0.apdus <= 15 && r1.apdus <= 15,
        "{} / {} APDUs",
        r0.apdus,
        r1.apdus
    );
    assert!(r1.warnings.is_empty(), "{:?}", r1.warnings);
}

#[test]
fn watcher_sees_readers_insertion_read_and_removal() {
    if !gate("watcher_sees_readers_insertion_read_and_removal") {
        return;
    }
    let pcscd = Pcscd::start(2).unwrap();
    let (watcher, rx) = Watcher::start_channel(trust(KeyKind::Ec)).unwrap();
    let mut seen = vec![code(&next(&rx), &pcscd), code(&next(&rx), &pcscd)];
    seen.sort();
    assert_eq!(seen, ["reader_added 0", "reader_added 1"]);

    let card = pcscd
        .insert(1, image(&spec(Applet::V18, KeyKind::Ec)))
        .unwrap();
    assert_eq!(code(&next(&rx), &pcscd), "card_inserted 1");
    let read = next(&rx);
    assert_eq!(code(&read, &pcscd), "card_read 1 Valid");
    // The event is what the window receives over IPC: snake_case codes.
    let v = serde_json::to_value(&read).unwrap();
    assert_eq!(v["event"], "card_read");
    assert_eq!(v["data"]["signature"], "valid");
    drop(card);
    assert_eq!(code(&next(&rx), &pcscd), "card_removed 1");

    // Mid-read removals at several points: a clean error, then the removal.
    for n in [2, 1, 5, 9, 13] {
        let mut s = spec(Applet::V17, KeyKind::Rsa);
        s.behaviour.remove_at_apdu = Some(n);
        let card = pcscd.insert(0, image(&s)).unwrap();
        let Ok(e) = rx.recv_timeout(EVENT) else {
            panic!("no insertion at {n}: {}", pcscd.log())
        };
        assert_eq!(code(&e, &pcscd), "card_inserted 0", "at {n}");
        assert_eq!(
            code(&next(&rx), &pcscd),
            "card_error 0 RemovedTooEarly",
            "at {n}"
        );
        assert_eq!(code(&next(&rx), &pcscd), "card_removed 0", "at {n}");
        assert!(card.log().removed_itself);
    }

    // Not a Belgian eID.
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.behaviour.not_eid = true;
    let card = pcscd.insert(0, image(&s)).unwrap();
    assert_eq!(code(&next(&rx), &pcscd), "card_inserted 0");
    assert_eq!(code(&next(&rx), &pcscd), "card_error 0 NotEid");
    drop(card);
    assert_eq!(code(&next(&rx), &pcscd), "card_removed 0");
    watcher.stop();
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "no event after stop"
    );
}

#[test]
fn watcher_survives_pcscd_restart() {
    if !gate("watcher_survives_pcscd_restart") {
        return;
    }
    let mut pcscd = Pcscd::start(2).unwrap();
    let (_watcher, rx) = Watcher::start_channel(trust(KeyKind::Ec)).unwrap();
    next(&rx);
    next(&rx);
    pcscd.kill();
    let mut seen: Vec<String> = (0..3).map(|_| code(&next(&rx), &pcscd)).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "reader_removed 0",
            "reader_removed 1",
            "service_unavailable"
        ]
    );
    pcscd.restart().unwrap();
    let mut seen = vec![code(&next(&rx), &pcscd), code(&next(&rx), &pcscd)];
    seen.sort();
    assert_eq!(seen, ["reader_added 0", "reader_added 1"]);
    let _card = pcscd
        .insert(0, image(&spec(Applet::V18, KeyKind::Ec)))
        .unwrap();
    assert_eq!(code(&next(&rx), &pcscd), "card_inserted 0");
    assert_eq!(code(&next(&rx), &pcscd), "card_read 0 Valid");
}

#[test]
fn read_first_card_errors() {
    if !gate("read_first_card_errors") {
        return;
    }
    {
        let _turn = without_pcscd().unwrap();
        let e = read_first_card(None, Duration::from_millis(100), &TrustStore::belgium());
        assert!(matches!(e, Err(WaitError::ServiceUnavailable)), "{e:?}");
        let (w, rx) = Watcher::start_channel(TrustStore::belgium()).unwrap();
        assert!(matches!(next(&rx), Event::ServiceUnavailable { .. }));
        w.stop();
    }
    let pcscd = Pcscd::start(2).unwrap();
    let e = read_first_card(
        Some("no such reader"),
        Duration::from_millis(100),
        &TrustStore::belgium(),
    );
    assert!(matches!(e, Err(WaitError::NoReader)), "{e:?}");
    let e = read_first_card(None, Duration::from_millis(500), &TrustStore::belgium());
    assert!(matches!(e, Err(WaitError::NoCard)), "{e:?}");

    let mut s = spec(Applet::V17, KeyKind::Rsa);
    s.behaviour.remove_at_apdu = Some(6);
    let _c = pcscd.insert(0, image(&s)).unwrap();
    let e = read_first_card(None, EVENT, &TrustStore::belgium());
    assert!(
        matches!(&e, Err(WaitError::Read(r)) if CardErrorKind::of(r) == CardErrorKind::RemovedTooEarly),
        "{e:?}"
    );
    drop(_c);
    // An untrusted root through the whole stack.
    let _c = pcscd
        .insert(1, image(&spec(Applet::V18, KeyKind::Ec)))
        .unwrap();
    let r = read_first_card(
        Some(&pcscd.reader_names()[1]),
        EVENT,
        &TrustStore::belgium(),
    )
    .unwrap();
    assert_eq!(r.data.signature, SignatureStatus::UntrustedRoot);
}

/// The slot (reader index) an event's reader name is.
fn slot(pcscd: &Pcscd, reader: &str) -> usize {
    pcscd
        .reader_names()
        .iter()
        .position(|n| n == reader)
        .unwrap_or_else(|| panic!("unknown reader {reader}"))
}

/// A read card in one line: verdict, applet, what the card says.
fn describe(data: &CardData, warnings: &[String]) -> String {
    let s = |v: &Option<dps_eid::SecretString>| {
        v.as_ref().map_or("-".to_owned(), |x| x.expose().to_owned())
    };
    let addr = data.address.as_ref();
    format!(
        "{:?} {} born={} sex={} doc={} card={} nn={} nat={} street={:?} name={:?}{}",
        data.signature,
        data.applet,
        data.birth_date
            .as_deref()
            .map_or("-".to_owned(), |d| d.to_iso()),
        data.sex.as_deref().map_or("-", |x| x.code()),
        s(&data.document_type),
        s(&data.card_number),
        s(&data.national_number),
        s(&data.nationality),
        addr.map_or("-".to_owned(), |a| s(&a.street)),
        s(&data.surname),
        if warnings.is_empty() {
            String::new()
        } else {
            format!(" warnings={warnings:?}")
        }
    )
}

/// How the reader talked to a card, from the card's log: APDU count,
/// whether it selected step by step, re-read an offset (6Cxx), read past
/// the end (6B00 answers a READ at the file's length), plus any problem with
/// what was read (the photo, the certificate's padding).
fn how(log: &CardLog, cert_der_len: usize, complete: bool) -> String {
    // A READ BINARY at the offset of the previous one on the same file: the
    // answer to 6Cxx (resend with the Le the card asked for).
    let mut retried = false;
    let mut last_offset: Option<&[u8]> = None;
    for a in &log.apdus {
        match a.get(1) {
            Some(0xA4) => last_offset = None,
            Some(0xB0) => {
                let offset = a.get(2..4);
                retried |= offset.is_some() && last_offset == offset;
                last_offset = offset;
            }
            _ => {}
        }
    }
    let step = log
        .apdus
        .iter()
        .any(|a| a.get(1) == Some(&0xA4) && a.get(2) == Some(&0x02));
    let mut flags = format!("apdus={}", log.apdus.len());
    if step {
        flags.push_str(" step-by-step");
    }
    if retried {
        flags.push_str(" re-read");
    }
    if complete {
        for p in plan(&log.apdus).problems(cert_der_len) {
            flags.push_str(&format!(" PROBLEM: {p}"));
        }
    }
    flags
}

/// Inserts the cards into the readers (as many at once as there are
/// readers), lets the watcher read them, pulls them out, and returns one line
/// per card: the watcher's verdict and how the reader talked to the card.
fn run_cards(pcscd: &Pcscd, rx: &Receiver<Event>, cases: &[(String, CardSpec)]) -> String {
    let mut out = String::new();
    for batch in cases.chunks(pcscd.reader_names().len()) {
        let cards: Vec<InsertedCard> = batch
            .iter()
            .enumerate()
            .map(|(i, (_, s))| pcscd.insert(i, image(s)).unwrap())
            .collect();
        let mut result: Vec<Option<String>> = vec![None; batch.len()];
        let mut removed = vec![false; batch.len()];
        while result.iter().any(Option::is_none) {
            match next(rx) {
                Event::CardInserted { .. } => {}
                Event::CardRead {
                    reader,
                    data,
                    warnings,
                } => {
                    assert_eq!(data.reader, reader);
                    result[slot(pcscd, &reader)] = Some(describe(&data, &warnings));
                }
                Event::CardError { reader, kind, .. } => {
                    result[slot(pcscd, &reader)] = Some(format!("error {kind:?}"));
                }
                // A card that leaves on its own mid-read.
                Event::CardRemoved { reader } => removed[slot(pcscd, &reader)] = true,
                other => panic!("unexpected {other:?}; pcscd: {}", pcscd.log()),
            }
        }
        let logs: Vec<CardLog> = cards.into_iter().map(InsertedCard::remove).collect();
        while removed.iter().any(|r| !r) {
            match next(rx) {
                Event::CardRemoved { reader } => removed[slot(pcscd, &reader)] = true,
                other => panic!("unexpected {other:?}"),
            }
        }
        for (((label, s), result), log) in batch.iter().zip(result).zip(logs) {
            let result = result.unwrap_or_default();
            let complete = !result.starts_with("error");
            out.push_str(&format!(
                "{label}: {result} | {}\n",
                how(&log, pki(s.key).rrn_der.len(), complete)
            ));
        }
    }
    out
}

/// The issue's list of cards, all through the real pcscd + vpcd: every birth
/// date form, BIS/foreigner/specimen cards, tampered files, each status word
/// of the spec (6A87 step by step, 6282, 6B00, 6Cxx), removal mid-read at
/// several points on both applets, a non-eID card. One pcscd with 16 readers
/// (the most pcscd serves); the cards go in 16 at a time, so the suite waits
/// for vpcd's 400 ms presence poll a few times, not once per card.
#[test]
fn every_card_of_the_issue_through_pcscd() {
    if !gate("every_card_of_the_issue_through_pcscd") {
        return;
    }
    let mut cases: Vec<(String, CardSpec)> = Vec::new();
    let mut add = |label: &str, s: CardSpec| cases.push((label.to_owned(), s));
    let dates = [
        "01 JAN 1971",
        "1 JAN 1971",
        "26 AVR  1975",
        "29 SEPT 1979",
        "08 MAAR 1980",
        "03 MEI 2001",
        "13.AUG. 1996",
        "23.SEP.1982",
        "23.SEP. 1982",
        "12 MÄR 1950",
        "24 DEZ 1950",
        "15 FEV 1960",
        "1984",
        "        1962",
        "    MARS 1962",
        "31 FEB 1980",
    ];
    for (i, date) in dates.iter().enumerate() {
        // Both applets and key types take turns.
        let mut s = if i % 2 == 0 {
            spec(Applet::V18, KeyKind::Ec)
        } else {
            spec(Applet::V17, KeyKind::Rsa)
        };
        s.birth_date = (*date).to_owned();
        add(&format!("date {date:?}"), s);
    }
    let mut s = spec(Applet::V17, KeyKind::Rsa);
    s.card_number = "B000197939".into();
    s.document_type = "11".into();
    s.national_number = "85473000248".into();
    s.sex = "V".into();
    s.nationality = "Marocaine".into();
    add("foreigner, BIS number, sex V", s);
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.national_number = "85273000106".into();
    s.sex = "W".into();
    s.document_type = "61".into();
    add("BIS number, sex unknown, W", s);
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.national_number = "85073003327".into();
    s.document_type = "01".into();
    add("specimen number", s);
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.street = format!("Rue de l'Église 7{}", " ".repeat(25));
    s.surname = "Ødegård-Çelik".into();
    s.unknown_tags = vec![(0x1C, b"new mention".to_vec()), (0x7E, vec![1, 2, 3])];
    add("padded street, unknown tags", s);
    for (applet, key) in [(Applet::V17, KeyKind::Rsa), (Applet::V18, KeyKind::Ec)] {
        let mut s = spec(applet, key);
        s.behaviour.tamper_identity = true;
        add(&format!("tampered {applet:?} {key:?}"), s);
        let mut s = spec(applet, key);
        s.behaviour.reject_path_select = true;
        add(&format!("6A87 {applet:?} {key:?}"), s);
        let mut s = spec(applet, key);
        s.behaviour.eof_6282 = true;
        add(&format!("6282 {applet:?} {key:?}"), s);
        let mut s = spec(applet, key);
        s.behaviour.identity_size = Some(512);
        add(&format!("6B00 {applet:?} {key:?}"), s);
    }
    add("6Cxx V17 Ec", spec(Applet::V17, KeyKind::Ec));
    for (applet, key, points) in [
        (Applet::V18, KeyKind::Ec, [1, 2, 4, 7, 10, 13]),
        (Applet::V17, KeyKind::Rsa, [1, 3, 6, 9, 12, 14]),
    ] {
        for n in points {
            let mut s = spec(applet, key);
            s.behaviour.remove_at_apdu = Some(n);
            add(&format!("removed at APDU {n} {applet:?} {key:?}"), s);
        }
    }
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.behaviour.not_eid = true;
    add("not an eID", s);

    // 16: as many as pcscd serves, one more reader state than pcsc-lite
    // takes in one call with the PnP pseudo-reader (the watcher leaves it out).
    let pcscd = Pcscd::start(16).unwrap();
    // Both test roots, as a kiosk with two generations of cards would have.
    let mut store = trust(KeyKind::Ec);
    store.add_pem(&pki(KeyKind::Rsa).root_pem).unwrap();
    let (watcher, rx) = Watcher::start_channel(store).unwrap();
    for _ in 0..16 {
        assert!(matches!(next(&rx), Event::ReaderAdded { .. }));
    }
    let got = run_cards(&pcscd, &rx, &cases);
    watcher.stop();
    expect![[r#"
        date "01 JAN 1971": Valid 1.8 born=1971-01-01 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "1 JAN 1971": Valid 1.7 born=1971-01-01 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "26 AVR  1975": Valid 1.8 born=1975-04-26 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "29 SEPT 1979": Valid 1.7 born=1979-09-29 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "08 MAAR 1980": Valid 1.8 born=1980-03-08 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "03 MEI 2001": Valid 1.7 born=2001-05-03 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "13.AUG. 1996": Valid 1.8 born=1996-08-13 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "23.SEP.1982": Valid 1.7 born=1982-09-23 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "23.SEP. 1982": Valid 1.8 born=1982-09-23 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "12 MÄR 1950": Valid 1.7 born=1950-03-12 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "24 DEZ 1950": Valid 1.8 born=1950-12-24 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "15 FEV 1960": Valid 1.7 born=1960-02-15 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "1984": Valid 1.8 born=1984 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "        1962": Valid 1.7 born=1962 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        date "    MARS 1962": Valid 1.8 born=1962-03 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        date "31 FEB 1980": Valid 1.7 born=- sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" warnings=["the birth date on the card is in an unknown form"] | apdus=14 re-read
        foreigner, BIS number, sex V: Valid 1.7 born=1985-07-30 sex=F doc=11 card=B000197939 nn=85473000248 nat=Marocaine street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        BIS number, sex unknown, W: Valid 1.8 born=1985-07-30 sex=F doc=61 card=592123456789 nn=85273000106 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        specimen number: Valid 1.8 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003327 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" warnings=["national number breaks the rules (specimen card?): the check digits do not match: a digit was probably mistyped"] | apdus=13
        padded street, unknown tags: Valid 1.8 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Rue de l'Église 7" name="Ødegård-Çelik" | apdus=13
        tampered V17 Rsa: Invalid 1.7 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Eupont-Vandermeulen" | apdus=14 re-read
        6A87 V17 Rsa: Valid 1.7 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=25 step-by-step re-read
        6282 V17 Rsa: Valid 1.7 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        6B00 V17 Rsa: Valid 1.7 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=15
        tampered V18 Ec: Invalid 1.8 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Eupont-Vandermeulen" | apdus=13
        6A87 V18 Ec: Valid 1.8 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=24 step-by-step
        6282 V18 Ec: Valid 1.8 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=13
        6B00 V18 Ec: Valid 1.8 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14
        6Cxx V17 Ec: Valid 1.7 born=1985-07-30 sex=F doc=1 card=592123456789 nn=85073003328 nat=Belge street="Chaussée de Haecht 42" name="Dupont-Vandermeulen" | apdus=14 re-read
        removed at APDU 1 V18 Ec: error RemovedTooEarly | apdus=1
        removed at APDU 2 V18 Ec: error RemovedTooEarly | apdus=2
        removed at APDU 4 V18 Ec: error RemovedTooEarly | apdus=4
        removed at APDU 7 V18 Ec: error RemovedTooEarly | apdus=7
        removed at APDU 10 V18 Ec: error RemovedTooEarly | apdus=10
        removed at APDU 13 V18 Ec: error RemovedTooEarly | apdus=13
        removed at APDU 1 V17 Rsa: error RemovedTooEarly | apdus=1
        removed at APDU 3 V17 Rsa: error RemovedTooEarly | apdus=3
        removed at APDU 6 V17 Rsa: error RemovedTooEarly | apdus=6
        removed at APDU 9 V17 Rsa: error RemovedTooEarly | apdus=9
        removed at APDU 12 V17 Rsa: error RemovedTooEarly | apdus=12
        removed at APDU 14 V17 Rsa: error RemovedTooEarly | apdus=14 re-read
        not an eID: error NotEid | apdus=1
    "#]].assert_eq(&got);
}

#[test]
fn two_cards_in_two_readers_at_once() {
    if !gate("two_cards_in_two_readers_at_once") {
        return;
    }
    let pcscd = Pcscd::start(2).unwrap();
    let mut store = trust(KeyKind::Ec);
    store.add_pem(&pki(KeyKind::Rsa).root_pem).unwrap();
    let (watcher, rx) = Watcher::start_channel(store).unwrap();
    next(&rx);
    next(&rx);
    let mut a = spec(Applet::V17, KeyKind::Rsa);
    a.given_names = "Anne Marie".into();
    let mut b = spec(Applet::V18, KeyKind::Ec);
    b.given_names = "Bram Jozef".into();
    // Both in before the watcher can see either: vpcd reports them in the same poll.
    let ca = pcscd.insert(0, image(&a)).unwrap();
    let cb = pcscd.insert(1, image(&b)).unwrap();
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&String| l.starts_with("read"))
        .count()
        < 2
    {
        let line = match next(&rx) {
            Event::CardInserted { reader } => format!("inserted {}", slot(&pcscd, &reader)),
            Event::CardRead { reader, data, .. } => format!(
                "read {} {} {:?} {:?}",
                slot(&pcscd, &reader),
                data.first_given_name().unwrap_or("-"),
                data.signature,
                data.reader == reader
            ),
            other => panic!("unexpected {other:?}"),
        };
        seen.push(line);
    }
    // Both cards were present together: neither was pulled before both were read.
    assert!(ca.log().apdus.len() > 10 && cb.log().apdus.len() > 10);
    drop((ca, cb));
    for _ in 0..2 {
        let Event::CardRemoved { reader } = next(&rx) else {
            panic!("expected a removal")
        };
        seen.push(format!("removed {}", slot(&pcscd, &reader)));
    }
    seen.sort();
    expect![[r#"
        [
            "inserted 0",
            "inserted 1",
            "read 0 Anne Valid true",
            "read 1 Bram Valid true",
            "removed 0",
            "removed 1",
        ]
    "#]]
    .assert_debug_eq(&seen);
    watcher.stop();
}

#[test]
fn watcher_reads_the_card_again_after_pcscd_is_killed_with_it_in() {
    if !gate("watcher_reads_the_card_again_after_pcscd_is_killed_with_it_in") {
        return;
    }
    let mut pcscd = Pcscd::start(2).unwrap();
    let (_watcher, rx) = Watcher::start_channel(trust(KeyKind::Ec)).unwrap();
    next(&rx);
    next(&rx);
    let card = spec(Applet::V18, KeyKind::Ec);
    let inserted = pcscd.insert(0, image(&card)).unwrap();
    assert_eq!(code(&next(&rx), &pcscd), "card_inserted 0");
    assert_eq!(code(&next(&rx), &pcscd), "card_read 0 Valid");
    // pcscd dies with the card in: the watcher says the card and readers are
    // gone and the service is down.
    pcscd.kill();
    let mut seen: Vec<String> = (0..4).map(|_| code(&next(&rx), &pcscd)).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "card_removed 0",
            "reader_removed 0",
            "reader_removed 1",
            "service_unavailable"
        ]
    );
    // The virtual card's connection died with vpcd; a card left in a real
    // reader is simply there when pcscd is back. Reconnecting the same card
    // to the new pcscd (which picks new vpcd ports) plays that part.
    drop(inserted);
    pcscd.restart().unwrap();
    let _again = pcscd.insert(0, image(&card)).unwrap();
    let mut seen: Vec<String> = (0..4).map(|_| code(&next(&rx), &pcscd)).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "card_inserted 0",
            "card_read 0 Valid",
            "reader_added 0",
            "reader_added 1"
        ]
    );
}

#[test]
fn read_first_card_prefers_an_eid_over_another_card() {
    if !gate("read_first_card_prefers_an_eid_over_another_card") {
        return;
    }
    let pcscd = Pcscd::start(2).unwrap();
    let names = pcscd.reader_names().to_vec();
    let mut other = spec(Applet::V18, KeyKind::Ec);
    other.behaviour.not_eid = true;
    let _c0 = pcscd.insert(0, image(&other)).unwrap();
    // Only the non-eID so far: "not an eID", at once.
    let e = read_first_card(None, EVENT, &trust(KeyKind::Ec));
    assert!(
        matches!(&e, Err(WaitError::Read(r)) if CardErrorKind::of(r) == CardErrorKind::NotEid),
        "{e:?}"
    );
    let _c1 = pcscd
        .insert(1, image(&spec(Applet::V18, KeyKind::Ec)))
        .unwrap();
    // Wait (blocking, no polling) until reader 1 has its card.
    let r = read_first_card(Some(&names[1]), EVENT, &trust(KeyKind::Ec)).unwrap();
    assert_eq!(r.data.reader, names[1]);
    // Both present: the eID in reader 1 wins over the first reader's card.
    let r = read_first_card(None, EVENT, &trust(KeyKind::Ec)).unwrap();
    assert_eq!(r.data.reader, names[1]);
    assert_eq!(r.data.signature, SignatureStatus::Valid);
    // Asking for reader 0 by name still says what is there.
    let e = read_first_card(Some(&names[0]), EVENT, &trust(KeyKind::Ec));
    assert!(
        matches!(&e, Err(WaitError::Read(r)) if CardErrorKind::of(r) == CardErrorKind::NotEid),
        "{e:?}"
    );
}
