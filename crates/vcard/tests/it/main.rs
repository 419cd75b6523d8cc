//! The virtual eID against the real reader code: in process (no pcscd needed)
//! and through the real pcscd + vpcd (gated by `DPS_TEST_PCSCD=1`); and the
//! proof that a read card leaves no personal data in freed memory.

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

/// Every free is looked at by the zeroize test (only while it watches).
#[global_allocator]
static ALLOC: wipe::Watch = wipe::Watch;

/// What a card was asked, file by file.
#[derive(Debug, Default)]
struct Plan {
    /// Every file id selected, in order, however it was selected (by path:
    /// the last id of the path; step by step: each id).
    selected: Vec<[u8; 2]>,
    /// (file selected at the time, Le) of each READ BINARY; Le 0 means 256.
    reads: Vec<([u8; 2], usize)>,
}

const PHOTO: [u8; 2] = [0x40, 0x35];
const RRN_CERT: [u8; 2] = [0x50, 0x3C];

/// Follows the commands a card received the way the applet tracks its
/// current file.
fn plan(log: &[Vec<u8>]) -> Plan {
    let mut p = Plan::default();
    let mut current = [0u8; 2];
    for a in log {
        match a.get(1) {
            Some(0xA4) => {
                let lc = usize::from(a.get(4).copied().unwrap_or(0));
                let data = a.get(5..5 + lc).unwrap_or(&[]);
                if let [.., hi, lo] = data {
                    current = [*hi, *lo];
                    p.selected.push(current);
                }
            }
            Some(0xB0) => {
                let le = match a.get(4).copied().unwrap_or(0) {
                    0 => 256,
                    n => usize::from(n),
                };
                p.reads.push((current, le));
            }
            _ => {}
        }
    }
    p
}

impl Plan {
    /// Problems with what was read: the photo in any way, the RRN
    /// certificate beyond its DER length (its zero padding).
    fn problems(&self, cert_der_len: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.selected.contains(&PHOTO) {
            out.push("the photo (4035) was selected".to_owned());
        }
        if self.reads.iter().any(|(f, _)| *f == PHOTO) {
            out.push("the photo (4035) was read".to_owned());
        }
        let cert: usize = self
            .reads
            .iter()
            .filter(|(f, _)| *f == RRN_CERT)
            .map(|(_, le)| le)
            .sum();
        if cert != cert_der_len {
            out.push(format!(
                "503C: READ BINARY Le values sum to {cert}, the certificate's DER is {cert_der_len} bytes"
            ));
        }
        out
    }
}

#[test]
fn the_plan_check_sees_a_step_by_step_photo_and_an_over_read() {
    // SELECT 3F00, DF01, 4035 one at a time, then a READ BINARY: both seen.
    let log = vec![
        vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x3F, 0x00],
        vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0xDF, 0x01],
        vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x40, 0x35],
        vec![0x00, 0xB0, 0x00, 0x00, 0x00],
        vec![0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x00, 0x50, 0x3C],
        vec![0x00, 0xB0, 0x00, 0x00, 0x00],
        vec![0x00, 0xB0, 0x01, 0x00, 0xF0],
    ];
    let p = plan(&log);
    assert_eq!(
        p.problems(256 + 0xF0 - 1),
        [
            "the photo (4035) was selected",
            "the photo (4035) was read",
            "503C: READ BINARY Le values sum to 496, the certificate's DER is 495 bytes"
        ]
    );
    assert!(p.problems(496).len() == 2);
}

mod direct;
mod through_pcscd;
mod wipe;
