//! Through the real pcscd + vpcd. Gated: `DPS_TEST_PCSCD=1` (set by `make test`);
//! without it each test prints that it was skipped and returns.

use std::sync::mpsc::Receiver;
use std::time::Duration;

use dps_eid::{read_first_card, CardErrorKind, Event, WaitError, Watcher};
use dps_vcard::harness::{without_pcscd, Pcscd};

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
        r1.data.birth_date.map(|d| d.to_iso()).as_deref(),
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
