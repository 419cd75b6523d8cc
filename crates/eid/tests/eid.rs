//! Parsers and the APDU reader against hostile input: no input panics; status
//! words the spec lists are handled. (Whole-card reads are in dps-vcard's tests.)

use std::collections::VecDeque;

use dps_eid::apdu::{der_len, read_card, RawCard, ReadError, SigShape, Transport, TransportError};
use dps_eid::fields::{parse_address, parse_birth_date, parse_identity};
use dps_eid::verify::{verify_card, TrustStore};
use dps_eid::{tlv, Event, SignatureStatus};
use dps_person::Zeroizing;
use expect_test::expect;
use proptest::prelude::*;

/// Answers from a script, whatever the command; records the commands.
struct Script {
    answers: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
}

impl Transport for Script {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TransportError> {
        self.sent.push(apdu.to_vec());
        match self.answers.pop_front() {
            Some(a) => Ok(Zeroizing::new(a)),
            None => Err(TransportError::Removed),
        }
    }
}

fn no_shape(_: &[u8]) -> SigShape {
    SigShape::Unknown
}

fn ok(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.extend_from_slice(&[0x90, 0x00]);
    v
}

fn card_data() -> Vec<u8> {
    let mut cd = vec![0u8; 28];
    cd[21] = 0x17;
    ok(&cd)
}

#[test]
fn status_words_of_the_spec() {
    // A DER "certificate" of 6 bytes, then files ending by 6Cxx, 6B00, short read, 6282.
    let cert = [0x30, 0x04, 1, 2, 3, 4];
    let id: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let answers = vec![
        card_data(),
        vec![0x6A, 0x87], // SELECT by path refused: step by step from now on
        ok(&[]),          // 3F00
        ok(&[]),          // DF00
        ok(&[]),          // 503C
        ok(&cert),        // short read, DER length known: done
        ok(&[]),
        ok(&[]),
        ok(&[]),          // select 4034
        ok(&[9; 256]),    // full chunk
        vec![0x6B, 0x00], // offset past the end: EOF
        ok(&[]),
        ok(&[]),
        ok(&[]),       // select 4032
        ok(&[7; 100]), // short read = end
        ok(&[]),
        ok(&[]),
        ok(&[]), // select 4033
        {
            let mut v = vec![1, 2, b'a', b'b'];
            v.extend_from_slice(&[0x62, 0x82]);
            v
        },
        ok(&[]),
        ok(&[]),
        ok(&[]),        // select 4031
        ok(&id[..256]), // full chunk
        vec![0x6C, 44], // only 44 left
        ok(&id[256..]), // that is the end: no further READ
    ];
    let mut t = Script {
        answers: answers.into(),
        sent: Vec::new(),
    };
    let raw = read_card(&mut t, no_shape).unwrap();
    assert_eq!(raw.rrn_cert, cert);
    assert_eq!(&raw.identity[..], &id[..]);
    assert_eq!(raw.identity_sig.len(), 100);
    assert_eq!(&raw.address[..], &[1, 2, b'a', b'b']);
    assert_eq!(raw.address_sig.len(), 256);
    assert_eq!(raw.apdus as usize, t.sent.len());
    assert!(t.answers.is_empty());
    // The 6Cxx retry re-reads the same offset with Le = xx.
    assert!(t.sent.contains(&vec![0x00, 0xB0, 0x01, 0x00, 44]));
}

#[test]
fn empty_response_is_removal_and_unknown_card_is_not_eid() {
    let mut t = Script {
        answers: vec![card_data(), vec![]].into(),
        sent: Vec::new(),
    };
    assert_eq!(
        read_card(&mut t, no_shape).err(),
        Some(ReadError::RemovedTooEarly)
    );
    let mut t = Script {
        answers: vec![vec![0x6E, 0x00]].into(),
        sent: Vec::new(),
    };
    assert_eq!(read_card(&mut t, no_shape).err(), Some(ReadError::NotEid));
    let mut t = Script {
        answers: vec![card_data(), vec![0x6A, 0x82]].into(),
        sent: Vec::new(),
    };
    assert_eq!(read_card(&mut t, no_shape).err(), Some(ReadError::NotEid));
}

#[test]
fn event_codes_are_snake_case() {
    let e = Event::CardError {
        reader: "R".into(),
        kind: dps_eid::CardErrorKind::RemovedTooEarly,
        message: "m".into(),
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"event":"card_error","reader":"R","kind":"removed_too_early","message":"m"}"#
    );
    let e = Event::ServiceUnavailable {
        message: "x".into(),
    };
    assert_eq!(
        serde_json::to_value(&e).unwrap()["event"],
        "service_unavailable"
    );
    assert_eq!(
        serde_json::to_string(&SignatureStatus::UntrustedRoot).unwrap(),
        r#""untrusted_root""#
    );
}

/// An identity and an address file, as a card carries them.
fn files() -> (Vec<u8>, Vec<u8>) {
    let mut id = Vec::new();
    for (tag, v) in [
        (0x01, "592123456789"),
        (0x03, "01.03.2021"),
        (0x04, "01.03.2031"),
        (0x05, "Quaregnon"),
        (0x06, "85073003328"),
        (0x07, "Dupont-Vandermeulen"),
        (0x08, "Émilie Geneviève"),
        (0x09, "J"),
        (0x0A, "Belge"),
        (0x0B, "Liège"),
        (0x0C, "30 JUIL 1985"),
        (0x0D, "V"),
        (0x0F, "11"),
    ] {
        id.push(tag);
        id.push(v.len() as u8);
        id.extend_from_slice(v.as_bytes());
    }
    let mut addr = Vec::new();
    for (tag, v) in [(1, "Rue Haute 12"), (2, "1030"), (3, "Schaerbeek")] {
        addr.push(tag);
        addr.push(v.len() as u8);
        addr.extend_from_slice(v.as_bytes());
    }
    addr.resize(117, 0);
    (id, addr)
}

#[test]
fn debug_of_a_read_card_says_nothing_personal() {
    let (id, addr) = files();
    let raw = RawCard {
        applet: 0x18,
        identity: Zeroizing::new(id.clone()),
        identity_sig: Zeroizing::new(vec![0; 8]),
        address: Zeroizing::new(addr.clone()),
        address_sig: Zeroizing::new(vec![0; 8]),
        rrn_cert: vec![0x30, 0x00],
        apdus: 13,
    };
    let (data, _) = dps_eid::assemble("Reader 0", &raw, &TrustStore::belgium()).unwrap();
    // The values are all there…
    assert_eq!(data.nationality.as_ref().map(|n| n.expose()), Some("Belge"));
    assert_eq!(
        data.valid_from.as_ref().map(|n| n.expose()),
        Some("2021-03-01")
    );
    assert_eq!(data.document_type.as_ref().map(|n| n.expose()), Some("11"));
    assert_eq!(data.sex.as_deref(), Some(&dps_eid::Sex::Female));
    // …and no `{:?}` of the card, the event carrying it or the parsed files shows one.
    let event = Event::CardRead {
        reader: "Reader 0".into(),
        data: Box::new(data.clone()),
        warnings: vec![],
    };
    let text = format!(
        "{event:?}\n{data:?}\n{:?}\n{:?}\n{:?}",
        data.address,
        parse_identity(&id).unwrap(),
        parse_address(&addr).unwrap()
    );
    expect![[r#"
        CardRead { reader: "Reader 0", data: CardData { reader: "Reader 0", applet: "1.8", signature: Invalid, .. }, warnings: [] }
        CardData { reader: "Reader 0", applet: "1.8", signature: Invalid, .. }
        Some(CardAddress { .. })
        Identity { photo_hash_len: None, .. }
        Address { .. }"#]]
    .assert_eq(&text);
}

proptest! {
    #[test]
    fn tlv_and_field_parsers_never_panic(file in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = tlv::parse(&file);
        let _ = tlv::reached_padding(&file);
        let _ = parse_identity(&file);
        let _ = parse_address(&file);
        let _ = der_len(&file);
    }

    #[test]
    fn birth_date_parser_never_panics(s in "\\PC{0,20}", d in 0u32..40, m in "[A-ZÄÉÛ]{3,4}\\.?", y in 0u32..10000) {
        let _ = parse_birth_date(&s);
        let _ = parse_birth_date(&format!("{d} {m} {y}"));
        let _ = parse_birth_date(&format!("{d:02}.{m}{y}"));
    }

    #[test]
    fn well_formed_tlv_round_trips(fields in proptest::collection::vec((1u8..=255, proptest::collection::vec(any::<u8>(), 0..200)), 1..8)) {
        let mut file = Vec::new();
        for (tag, value) in &fields {
            file.push(*tag);
            if value.len() >= 0x80 {
                file.push(0x80 | (value.len() >> 7) as u8);
                file.push((value.len() & 0x7F) as u8);
            } else {
                file.push(value.len() as u8);
            }
            file.extend_from_slice(value);
        }
        file.extend_from_slice(&[0; 20]);
        let parsed = tlv::parse(&file).unwrap();
        let got: Vec<(u8, Vec<u8>)> = parsed.iter().map(|t| (t.tag, t.value.to_vec())).collect();
        prop_assert_eq!(got, fields);
    }

    #[test]
    fn reader_never_panics_on_any_answers(answers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..30)) {
        let mut t = Script { answers: answers.into(), sent: Vec::new() };
        let _ = read_card(&mut t, no_shape);
        prop_assert!(t.sent.len() <= 30 + 1);
    }

    #[test]
    fn verification_never_panics(a in proptest::collection::vec(any::<u8>(), 0..64), cert in proptest::collection::vec(any::<u8>(), 0..64)) {
        let s = verify_card(&a, &a, &a, &a, &cert, &TrustStore::belgium());
        prop_assert_eq!(s, SignatureStatus::Invalid);
    }
}
