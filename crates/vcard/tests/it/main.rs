//! The virtual eID against the real reader code: in process (no pcscd needed)
//! and through the real pcscd + vpcd (gated by `DPS_TEST_PCSCD=1`).

use std::sync::OnceLock;

use dps_eid::apdu::{read_card, RawCard, ReadError, Transport, TransportError};
use dps_eid::verify::shape_of;
use dps_eid::{assemble, CardData, SignatureStatus, TrustStore};
use dps_person::Zeroizing;
use dps_vcard::{Applet, CardImage, CardSpec, KeyKind, TestPki};

fn pki(kind: KeyKind) -> &'static TestPki {
    static RSA: OnceLock<TestPki> = OnceLock::new();
    static EC: OnceLock<TestPki> = OnceLock::new();
    let cell = match kind {
        KeyKind::Rsa => &RSA,
        KeyKind::Ec => &EC,
    };
    cell.get_or_init(|| {
        TestPki::generate(kind, "DPS Test Root").expect("test PKI (is openssl installed?)")
    })
}

fn trust(kind: KeyKind) -> TrustStore {
    let mut t = TrustStore::belgium();
    t.add_pem(&pki(kind).root_pem).unwrap();
    t
}

/// The card answering in process, as pcscd would relay it.
struct Direct<'c> {
    session: dps_vcard::card::Session<'c>,
    remove_at: Option<u32>,
    n: u32,
    log: Vec<Vec<u8>>,
}

impl Transport for Direct<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TransportError> {
        self.n += 1;
        self.log.push(apdu.to_vec());
        if self.remove_at == Some(self.n) {
            // What vpcd gives for a card pulled mid-APDU: an empty response.
            return Ok(Zeroizing::new(Vec::new()));
        }
        if self.remove_at.is_some_and(|r| self.n > r) {
            return Err(TransportError::Removed);
        }
        Ok(Zeroizing::new(self.session.respond(apdu)))
    }
}

fn read_direct(spec: &CardSpec) -> (Result<RawCard, ReadError>, Vec<Vec<u8>>) {
    let image = CardImage::build(spec, pki(spec.key)).unwrap();
    let mut t = Direct {
        session: image.session(),
        remove_at: spec.behaviour.remove_at_apdu,
        n: 0,
        log: Vec::new(),
    };
    let r = read_card(&mut t, shape_of);
    (r, t.log)
}

fn data_direct(spec: &CardSpec) -> (CardData, Vec<String>, u32) {
    let (raw, _) = read_direct(spec);
    let raw = raw.unwrap();
    let (data, warnings) = assemble("Direct", &raw, &trust(spec.key)).unwrap();
    (data, warnings, raw.apdus)
}

fn spec(applet: Applet, key: KeyKind) -> CardSpec {
    CardSpec {
        applet,
        key,
        ..CardSpec::default()
    }
}

mod direct;
mod through_pcscd;
