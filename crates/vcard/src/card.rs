//! A card description (a synthetic resident and how the card behaves) and the
//! emulated applet that answers APDUs from it.

use std::collections::HashMap;

use crate::pki::{KeyKind, TestPki};
use crate::VcardError;

/// Which applet to emulate. Both answer the same APDUs; they differ in ATR,
/// GET CARD DATA, the identity file's version tag 00 and basic key hash, and
/// in how a READ BINARY past the end is answered (1.7: `6Cxx`; 1.8: a short
/// answer with 9000), so both end-of-file paths of the reader get exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Applet {
    #[serde(rename = "1.7")]
    V17,
    #[default]
    #[serde(rename = "1.8")]
    V18,
}

/// Odd behaviours of real cards and readers, and test faults.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Behaviour {
    /// Answer 6A87 to SELECT by path (P1=08), as some readers do.
    pub reject_path_select: bool,
    /// End reads at end of file with 6282 instead of 6Cxx / short 9000.
    pub eof_6282: bool,
    /// Leave the reader when this APDU (1-based) arrives, without answering it.
    pub remove_at_apdu: Option<u32>,
    /// A slow card: wait this many milliseconds before answering this APDU
    /// (1-based), so a test can see the kiosk in the middle of a read.
    pub pause_at_apdu: Option<(u32, u64)>,
    /// A card as slow as a real one: wait this many microseconds before
    /// answering every APDU (a real eID card over a USB reader takes
    /// milliseconds per APDU; vpcd on loopback, a tenth of one). Used by
    /// `eid-bench --card-latency-us` to show the read at real-card speed.
    pub answer_delay_us: u64,
    /// Not a Belgian eID at all: every command is refused.
    pub not_eid: bool,
    /// Change one byte of the identity file after it was signed.
    pub tamper_identity: bool,
    /// Make the identity file exactly this long (an unknown tag fills it),
    /// e.g. 512: the reader's full 256-byte chunks end exactly at the end of
    /// the file, and its next READ BINARY, past the end, gets 6B00.
    pub identity_size: Option<usize>,
}

/// A synthetic resident and the card carrying them. Every text field is
/// written to the card as given (padding, odd date forms and all).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CardSpec {
    pub applet: Applet,
    pub key: KeyKind,
    pub card_number: String,
    pub valid_from: String,
    pub valid_until: String,
    pub issuing_municipality: String,
    pub national_number: String,
    pub surname: String,
    pub given_names: String,
    pub third_initial: String,
    pub nationality: String,
    pub birth_place: String,
    /// Tag 0C exactly as the card writes it (`"26 AVR  1975"`, `"        1962"`).
    pub birth_date: String,
    /// `M`, `F`, `V` or `W`.
    pub sex: String,
    /// `"1"`, `"01"`, `"11"`…
    pub document_type: String,
    pub street: String,
    pub postcode: String,
    pub municipality: String,
    /// Extra identity elements (tag, value) the reader must skip.
    pub unknown_tags: Vec<(u8, Vec<u8>)>,
    /// Size of the zero-padded address file.
    pub address_file_size: usize,
    pub behaviour: Behaviour,
}

impl Default for CardSpec {
    fn default() -> Self {
        CardSpec {
            applet: Applet::V18,
            key: KeyKind::Ec,
            card_number: "592123456789".into(),
            valid_from: "01.03.2021".into(),
            valid_until: "01.03.2031".into(),
            issuing_municipality: "Schaerbeek".into(),
            national_number: "85073003328".into(),
            surname: "Dupont-Vandermeulen".into(),
            given_names: "Émilie Geneviève".into(),
            third_initial: "J".into(),
            nationality: "Belge".into(),
            birth_place: "Liège".into(),
            birth_date: "30 JUIL 1985".into(),
            sex: "F".into(),
            document_type: "1".into(),
            street: "Chaussée de Haecht 42".into(),
            postcode: "1030".into(),
            municipality: "Schaerbeek".into(),
            unknown_tags: Vec::new(),
            address_file_size: 117,
            behaviour: Behaviour::default(),
        }
    }
}

/// A file path on the card: (DF, EF).
type Fid = ([u8; 2], [u8; 2]);

/// Everything the emulated card answers from. No PIN, no writes.
#[derive(Clone)]
pub struct CardImage {
    pub atr: Vec<u8>,
    applet: Applet,
    card_data: Vec<u8>,
    files: HashMap<Fid, Vec<u8>>,
    pub behaviour: Behaviour,
}

fn tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    // 7-bit continuation lengths, as eid-mw reads them.
    let len = value.len();
    if len >= 0x80 {
        out.push(0x80 | (len >> 7) as u8);
        out.push((len & 0x7F) as u8);
    } else {
        out.push(len as u8);
    }
    out.extend_from_slice(value);
}

fn sha(kind: KeyKind, data: &[u8]) -> Vec<u8> {
    // The photo hash only needs the right length for the reader's hash hint:
    // 32 bytes (SHA-256) on RSA cards, 48 (SHA-384) on EC cards. A cheap
    // deterministic filler avoids a hash dependency in test support.
    let n = match kind {
        KeyKind::Rsa => 32,
        KeyKind::Ec => 48,
    };
    (0..n)
        .map(|i| data.get(i).copied().unwrap_or(0) ^ (i as u8).wrapping_mul(31))
        .collect()
}

pub const ATR_17: [u8; 13] = [
    0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11,
];
pub const ATR_18: [u8; 20] = [
    0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F,
    0xFF, 0x82, 0x90, 0x00,
];
/// Not a Belgian eID, but an ATR that looks like one (ATRs are not unique).
pub const ATR_OTHER: [u8; 20] = ATR_18;

impl CardImage {
    /// Builds the card's files from a description, signing them with `pki`
    /// (whose key kind wins over `spec.key`).
    pub fn build(spec: &CardSpec, pki: &TestPki) -> Result<CardImage, VcardError> {
        let kind = pki.kind;
        let photo: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut id = Vec::new();
        if spec.applet == Applet::V18 {
            tlv(&mut id, 0x00, &[0x01]);
        }
        tlv(&mut id, 0x01, spec.card_number.as_bytes());
        tlv(&mut id, 0x02, &[0x53; 16]);
        tlv(&mut id, 0x03, spec.valid_from.as_bytes());
        tlv(&mut id, 0x04, spec.valid_until.as_bytes());
        tlv(&mut id, 0x05, spec.issuing_municipality.as_bytes());
        tlv(&mut id, 0x06, spec.national_number.as_bytes());
        tlv(&mut id, 0x07, spec.surname.as_bytes());
        tlv(&mut id, 0x08, spec.given_names.as_bytes());
        tlv(&mut id, 0x09, spec.third_initial.as_bytes());
        tlv(&mut id, 0x0A, spec.nationality.as_bytes());
        tlv(&mut id, 0x0B, spec.birth_place.as_bytes());
        tlv(&mut id, 0x0C, spec.birth_date.as_bytes());
        tlv(&mut id, 0x0D, spec.sex.as_bytes());
        tlv(&mut id, 0x0F, spec.document_type.as_bytes());
        tlv(&mut id, 0x10, b"0");
        tlv(&mut id, 0x11, &sha(kind, &photo));
        for (tag, value) in &spec.unknown_tags {
            tlv(&mut id, *tag, value);
        }
        if spec.applet == Applet::V18 {
            tlv(&mut id, 0x1A, &[0x1A; 48]);
        }
        if let Some(size) = spec.behaviour.identity_size {
            // Tag + one length byte below 128 value bytes, two from 128 on.
            let room = size.saturating_sub(id.len());
            let value = if room >= 2 + 128 {
                room - 3
            } else {
                room.saturating_sub(2)
            };
            tlv(&mut id, 0x7E, &vec![b'.'; value]);
            if id.len() != size {
                return Err(VcardError::Setup(format!(
                    "cannot make an identity file of exactly {size} bytes"
                )));
            }
        }

        let mut addr = Vec::new();
        tlv(&mut addr, 0x01, spec.street.as_bytes());
        tlv(&mut addr, 0x02, spec.postcode.as_bytes());
        tlv(&mut addr, 0x03, spec.municipality.as_bytes());
        let size = spec.address_file_size.max(addr.len() + 1);
        addr.resize(size, 0);

        let pad_sig = |sig: Vec<u8>| -> Vec<u8> {
            match kind {
                KeyKind::Rsa => sig,
                // DER signature followed by zeros, as on real EC cards.
                KeyKind::Ec => {
                    let mut s = sig;
                    s.resize(0x70, 0);
                    s
                }
            }
        };
        let id_sig = pad_sig(pki.sign(&id)?);
        let end = addr.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let mut signed = addr[..end].to_vec();
        signed.extend_from_slice(&id_sig);
        let addr_sig = pad_sig(pki.sign(&signed)?);
        if spec.behaviour.tamper_identity {
            // Flip a bit inside the surname: still parses, no longer verifies.
            if let Some(pos) = id
                .windows(spec.surname.len().max(1))
                .position(|w| w == spec.surname.as_bytes())
            {
                id[pos] ^= 0x01;
            }
        }
        let mut cert = pki.rrn_der.clone();
        cert.resize(((cert.len() / 256) + 2) * 256, 0);

        let df00 = [0xDF, 0x00];
        let df01 = [0xDF, 0x01];
        let mut files = HashMap::new();
        files.insert((df01, [0x40, 0x31]), id);
        files.insert((df01, [0x40, 0x32]), id_sig);
        files.insert((df01, [0x40, 0x33]), addr);
        files.insert((df01, [0x40, 0x34]), addr_sig);
        files.insert((df01, [0x40, 0x35]), photo);
        files.insert((df00, [0x50, 0x3C]), cert);
        files.insert((df00, [0x50, 0x3B]), pki.root_pem.as_bytes().to_vec());

        let mut card_data = vec![0u8; 28];
        card_data[..16].copy_from_slice(b"DPSVIRTUALCARD01");
        card_data[16] = 0xA5;
        card_data[21] = match spec.applet {
            Applet::V17 => 0x17,
            Applet::V18 => 0x18,
        };
        card_data[27] = 0x0F;
        let atr = if spec.behaviour.not_eid {
            ATR_OTHER.to_vec()
        } else {
            match spec.applet {
                Applet::V17 => ATR_17.to_vec(),
                Applet::V18 => ATR_18.to_vec(),
            }
        };
        Ok(CardImage {
            atr,
            applet: spec.applet,
            card_data,
            files,
            behaviour: spec.behaviour.clone(),
        })
    }

    /// A fresh session on this card (after power on or reset).
    pub fn session(&self) -> Session<'_> {
        Session {
            card: self,
            df: None,
            ef: None,
        }
    }
}

/// The applet's volatile state: what is selected.
pub struct Session<'c> {
    card: &'c CardImage,
    df: Option<[u8; 2]>,
    ef: Option<Fid>,
}

fn sw(data: &[u8], sw: u16) -> Vec<u8> {
    // Sized up front: a reallocation would leave a copy of the file behind,
    // and the zeroize test checks that reading leaves none.
    let mut v = Vec::with_capacity(data.len() + 2);
    v.extend_from_slice(data);
    v.extend_from_slice(&sw.to_be_bytes());
    v
}

const AID: [u8; 15] = [
    0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF,
];

impl Session<'_> {
    /// Answers one command APDU.
    pub fn respond(&mut self, apdu: &[u8]) -> Vec<u8> {
        if apdu.len() < 4 {
            return sw(&[], 0x6700);
        }
        let (cla, ins, p1, p2) = (apdu[0], apdu[1], apdu[2], apdu[3]);
        if self.card.behaviour.not_eid {
            return sw(&[], if ins == 0xA4 { 0x6A82 } else { 0x6D00 });
        }
        match (cla, ins) {
            (0x80, 0xE4) => {
                let le = apdu.get(4).copied().unwrap_or(0);
                if le as usize != self.card.card_data.len() {
                    return sw(&[], 0x6C00 | self.card.card_data.len() as u16);
                }
                sw(&self.card.card_data, 0x9000)
            }
            (0x00, 0xA4) => self.select(p1, p2, apdu),
            (0x00, 0xB0) => self.read(p1, p2, apdu),
            (0x00, _) => sw(&[], 0x6D00),
            _ => sw(&[], 0x6E00),
        }
    }

    fn select(&mut self, p1: u8, p2: u8, apdu: &[u8]) -> Vec<u8> {
        if p2 != 0x0C {
            return sw(&[], 0x6A86);
        }
        let lc = apdu.get(4).copied().unwrap_or(0) as usize;
        let Some(data) = apdu.get(5..5 + lc) else {
            return sw(&[], 0x6700);
        };
        match p1 {
            0x08 => {
                if self.card.behaviour.reject_path_select {
                    return sw(&[], 0x6A87);
                }
                let mut ids: Vec<[u8; 2]> = data
                    .chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| [c[0], c[1]])
                    .collect();
                if ids.first() == Some(&[0x3F, 0x00]) {
                    ids.remove(0);
                }
                if data.len() % 2 != 0 || ids.is_empty() {
                    return sw(&[], 0x6A87);
                }
                match ids.as_slice() {
                    [df] if *df == [0xDF, 0x00] || *df == [0xDF, 0x01] => {
                        self.df = Some(*df);
                        self.ef = None;
                        sw(&[], 0x9000)
                    }
                    [df, ef] if self.card.files.contains_key(&(*df, *ef)) => {
                        self.df = Some(*df);
                        self.ef = Some((*df, *ef));
                        sw(&[], 0x9000)
                    }
                    _ => sw(&[], 0x6A82),
                }
            }
            0x02 => {
                if data.len() != 2 {
                    return sw(&[], 0x6A87);
                }
                let id = [data[0], data[1]];
                if id == [0x3F, 0x00] {
                    self.df = None;
                    self.ef = None;
                    return sw(&[], 0x9000);
                }
                if id == [0xDF, 0x00] || id == [0xDF, 0x01] {
                    self.df = Some(id);
                    self.ef = None;
                    return sw(&[], 0x9000);
                }
                match self.df {
                    Some(df) if self.card.files.contains_key(&(df, id)) => {
                        self.ef = Some((df, id));
                        sw(&[], 0x9000)
                    }
                    _ => sw(&[], 0x6A82),
                }
            }
            0x04 => {
                if data == AID {
                    sw(&[], 0x9000)
                } else {
                    sw(&[], 0x6A82)
                }
            }
            _ => sw(&[], 0x6A86),
        }
    }

    fn read(&mut self, p1: u8, p2: u8, apdu: &[u8]) -> Vec<u8> {
        let Some(file) = self.ef.and_then(|f| self.card.files.get(&f)) else {
            return sw(&[], 0x6986);
        };
        let offset = usize::from(u16::from_be_bytes([p1 & 0x7F, p2]));
        let le = match apdu.get(4).copied().unwrap_or(0) {
            0 => 256,
            n => usize::from(n),
        };
        if offset >= file.len() {
            return sw(&[], 0x6B00);
        }
        let rest = file.len() - offset;
        if le <= rest {
            return sw(&file[offset..offset + le], 0x9000);
        }
        if self.card.behaviour.eof_6282 {
            return sw(&file[offset..], 0x6282);
        }
        match self.card.applet {
            // Ask again with the right Le.
            Applet::V17 => sw(&[], 0x6C00 | (rest as u16 & 0xFF)),
            Applet::V18 => sw(&file[offset..], 0x9000),
        }
    }
}
