//! The reader code against the emulated applet, in process: no pcscd needed.

use super::*;
use expect_test::expect;

fn json(data: &CardData) -> String {
    serde_json::to_string_pretty(data).unwrap()
}

#[test]
fn applet_18_ec_card_reads_with_the_exact_json_shape() {
    let (data, warnings, apdus) = data_direct(&spec(Applet::V18, KeyKind::Ec));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(apdus <= 15, "{apdus} APDUs");
    expect![[r#"
        {
          "reader": "Direct",
          "applet": "1.8",
          "card_number": "592123456789",
          "document_type": "1",
          "valid_from": "2021-03-01",
          "valid_until": "2031-03-01",
          "issuing_municipality": "Schaerbeek",
          "national_number": "85073003328",
          "surname": "Dupont-Vandermeulen",
          "given_names": "Émilie Geneviève",
          "third_initial": "J",
          "nationality": "Belge",
          "birth_place": "Liège",
          "birth_date": "1985-07-30",
          "sex": "F",
          "address": {
            "street": "Chaussée de Haecht 42",
            "postcode": "1030",
            "municipality": "Schaerbeek"
          },
          "signature": "valid"
        }"#]]
    .assert_eq(&json(&data));
    assert_eq!(data.first_given_name(), Some("Émilie"));
}

#[test]
fn applet_17_rsa_card_reads_and_verifies() {
    let (data, warnings, apdus) = data_direct(&spec(Applet::V17, KeyKind::Rsa));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(data.applet, "1.7");
    assert_eq!(data.signature, SignatureStatus::Valid);
    assert!(apdus <= 15, "{apdus} APDUs");
}

#[test]
fn apdu_plan_never_reads_the_photo_nor_certificate_padding() {
    for (applet, key, reject_path) in [
        (Applet::V17, KeyKind::Rsa, false),
        (Applet::V18, KeyKind::Ec, false),
        (Applet::V17, KeyKind::Ec, false),
        (Applet::V18, KeyKind::Rsa, false),
        (Applet::V17, KeyKind::Rsa, true),
        (Applet::V18, KeyKind::Ec, true),
    ] {
        let mut s = spec(applet, key);
        s.behaviour.reject_path_select = reject_path;
        let (raw, log) = read_direct(&s);
        let raw = raw.unwrap();
        let what = format!("{applet:?} {key:?} step-by-step={reject_path}");
        assert_eq!(
            plan(&log).problems(pki(key).rrn_der.len()),
            Vec::<String>::new(),
            "{what}"
        );
        assert_eq!(raw.rrn_cert, pki(key).rrn_der, "{what}");
        if !reject_path {
            assert!(log.len() <= 15, "{what}: {} APDUs", log.len());
        }
    }
}

#[test]
fn every_birth_date_form_reaches_the_json() {
    let forms = [
        ("01 JAN 1971", "1971-01-01"),
        ("1 JAN 1971", "1971-01-01"),
        ("26 AVR  1975", "1975-04-26"),
        ("29 SEPT 1979", "1979-09-29"),
        ("08 MAAR 1980", "1980-03-08"),
        ("03 MEI 2001", "2001-05-03"),
        ("13.AUG. 1996", "1996-08-13"),
        ("23.SEP.1982", "1982-09-23"),
        ("23.SEP. 1982", "1982-09-23"),
        ("12 MÄR 1950", "1950-03-12"),
        ("1984", "1984"),
        ("        1962", "1962"),
        ("    MARS 1962", "1962-03"),
    ];
    for (raw, iso) in forms {
        let mut s = spec(Applet::V18, KeyKind::Ec);
        s.birth_date = raw.to_owned();
        let (data, _, _) = data_direct(&s);
        assert_eq!(
            data.birth_date.as_deref().map(|d| d.to_iso()).as_deref(),
            Some(iso),
            "{raw:?}"
        );
        assert_eq!(data.signature, SignatureStatus::Valid);
    }
}

#[test]
fn bis_foreigner_and_specimen_cards() {
    // A foreigner card with a BIS number (month + 40), Dutch "V" for a woman, "01" type.
    let mut s = spec(Applet::V17, KeyKind::Rsa);
    s.card_number = "B000197939".into();
    s.document_type = "11".into();
    s.national_number = "85473000248".into();
    s.sex = "V".into();
    s.nationality = "Marocaine".into();
    let (data, warnings, _) = data_direct(&s);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(data.document_type.as_ref().map(|d| d.expose()), Some("11"));
    assert_eq!(
        data.card_number.as_ref().map(|c| c.expose()),
        Some("B000197939")
    );
    assert_eq!(data.sex.as_deref(), Some(&dps_person::Sex::Female));

    // A specimen card breaking the check digits: read, reported, not fatal.
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.national_number = "85073003327".into();
    s.document_type = "01".into();
    s.sex = "W".into();
    let (data, warnings, _) = data_direct(&s);
    assert_eq!(
        data.national_number.as_ref().map(|n| n.expose()),
        Some("85073003327")
    );
    assert_eq!(data.document_type.as_ref().map(|d| d.expose()), Some("1"));
    expect![[r#"["national number breaks the rules (specimen card?): the check digits do not match: a digit was probably mistyped"]"#]]
        .assert_eq(&format!("{warnings:?}"));
}

#[test]
fn padded_streets_unknown_tags_and_accents() {
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.street = format!("Rue de l'Église 7{}", " ".repeat(25));
    s.surname = "Ødegård-Çelik".into();
    s.unknown_tags = vec![(0x1C, b"new mention".to_vec()), (0x7E, vec![1, 2, 3])];
    let (data, _, _) = data_direct(&s);
    let addr = data.address.as_ref().unwrap();
    assert_eq!(
        addr.street.as_ref().map(|x| x.expose()),
        Some("Rue de l'Église 7")
    );
    assert_eq!(
        data.surname.as_ref().map(|x| x.expose()),
        Some("Ødegård-Çelik")
    );
    assert_eq!(data.signature, SignatureStatus::Valid);
}

#[test]
fn signatures_valid_untrusted_root_and_tampered() {
    for key in [KeyKind::Rsa, KeyKind::Ec] {
        let s = spec(Applet::V18, key);
        let (raw, _) = read_direct(&s);
        let raw = raw.unwrap();
        let (d, _) = assemble("r", &raw, &trust(key)).unwrap();
        assert_eq!(d.signature, SignatureStatus::Valid, "{key:?}");
        let (d, _) = assemble("r", &raw, &TrustStore::belgium()).unwrap();
        assert_eq!(d.signature, SignatureStatus::UntrustedRoot, "{key:?}");

        let mut t = s.clone();
        t.behaviour.tamper_identity = true;
        let (raw, _) = read_direct(&t);
        let (d, _) = assemble("r", &raw.unwrap(), &trust(key)).unwrap();
        assert_eq!(d.signature, SignatureStatus::Invalid, "{key:?}");
    }
    // A root with the same name but another key: the certificate is a forgery.
    let other = TestPki::generate(KeyKind::Ec, "DPS Test Root").unwrap();
    let mut t = TrustStore::empty();
    t.add_pem(&other.root_pem).unwrap();
    let (raw, _) = read_direct(&spec(Applet::V18, KeyKind::Ec));
    let (d, _) = assemble("r", &raw.unwrap(), &t).unwrap();
    assert_eq!(d.signature, SignatureStatus::Invalid);
}

#[test]
fn a_cached_chain_verdict_never_excuses_a_tampered_file() {
    // One store for every read, as in the kiosk: from the second read on, the
    // RRN chain verdict comes from the cache; each card's files are still checked.
    for key in [KeyKind::Rsa, KeyKind::Ec] {
        let store = trust(key);
        let s = spec(Applet::V18, key);
        for round in 0..2 {
            let (raw, _) = read_direct(&s);
            let (d, _) = assemble("r", &raw.unwrap(), &store).unwrap();
            assert_eq!(d.signature, SignatureStatus::Valid, "{key:?} {round}");
            let mut t = s.clone();
            t.behaviour.tamper_identity = true;
            let (raw, _) = read_direct(&t);
            let (d, _) = assemble("r", &raw.unwrap(), &store).unwrap();
            assert_eq!(d.signature, SignatureStatus::Invalid, "{key:?} {round}");
        }
    }
}

#[test]
fn removal_at_every_apdu_is_removed_too_early() {
    let (_, full) = read_direct(&spec(Applet::V17, KeyKind::Rsa));
    for n in 1..=full.len() as u32 {
        let mut s = spec(Applet::V17, KeyKind::Rsa);
        s.behaviour.remove_at_apdu = Some(n);
        let (r, _) = read_direct(&s);
        assert_eq!(
            r.err(),
            Some(ReadError::RemovedTooEarly),
            "removed at APDU {n}"
        );
    }
}

#[test]
fn non_eid_card_is_refused() {
    let mut s = spec(Applet::V18, KeyKind::Ec);
    s.behaviour.not_eid = true;
    let (r, log) = read_direct(&s);
    assert_eq!(r.err(), Some(ReadError::NotEid));
    assert_eq!(log.len(), 1, "one APDU is enough to tell");
}

#[test]
fn select_path_refused_and_6282_still_read() {
    let mut s = spec(Applet::V17, KeyKind::Rsa);
    s.behaviour.reject_path_select = true;
    let (data, _, apdus) = data_direct(&s);
    assert_eq!(data.signature, SignatureStatus::Valid);
    assert!(
        apdus > 15,
        "step-by-step selection costs more APDUs ({apdus})"
    );

    let mut s = spec(Applet::V18, KeyKind::Rsa);
    s.behaviour.eof_6282 = true;
    let (data, _, _) = data_direct(&s);
    assert_eq!(data.signature, SignatureStatus::Valid);
}
