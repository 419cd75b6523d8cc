//! Reading a Belgian eID with the fewest APDUs, over any [`Transport`].
//!
//! The reading logic is independent of PC/SC so the status-word handling can be
//! tested against scripted cards; `pcsc_io` provides the real transport.

use zeroize::Zeroizing;

/// The card, as far as reading is concerned: send a command APDU, get the
/// response APDU (data followed by SW1 SW2).
pub trait Transport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TransportError>;
}

/// A failed exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The card left the reader (or was reset) during the exchange.
    #[error("the card was removed")]
    Removed,
    #[error("the reader failed: {0}")]
    Reader(String),
}

/// Why a card could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the card was removed before it was fully read")]
    RemovedTooEarly,
    #[error("this card is not a Belgian eID")]
    NotEid,
    #[error("the card answered {sw:04X} to {what}")]
    Status { what: &'static str, sw: u16 },
    #[error("the reader failed: {0}")]
    Reader(String),
    #[error("the card's data is damaged: {0}")]
    Damaged(String),
}

impl From<TransportError> for ReadError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Removed => ReadError::RemovedTooEarly,
            TransportError::Reader(m) => ReadError::Reader(m),
        }
    }
}

/// What the card holds that this project needs, raw. Zeroized on drop.
pub struct RawCard {
    /// GET CARD DATA byte 21: 0x17 or 0x18.
    pub applet: u8,
    pub identity: Zeroizing<Vec<u8>>,
    pub identity_sig: Zeroizing<Vec<u8>>,
    pub address: Zeroizing<Vec<u8>>,
    pub address_sig: Zeroizing<Vec<u8>>,
    /// DER of the RRN certificate (its zero padding not read).
    pub rrn_cert: Vec<u8>,
    /// APDUs exchanged for this read.
    pub apdus: u32,
}

/// The key type of the RRN certificate decides how much of a signature file is
/// meaningful; `reader` only needs this much of it to plan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigShape {
    /// RSA: the signature is exactly the modulus length.
    Rsa {
        len: usize,
    },
    /// ECDSA: a DER signature followed by zeros.
    Ec,
    Unknown,
}

/// Given the RRN certificate DER, how the signature files look. Supplied by the
/// verification module; a function pointer keeps this module crypto-free.
pub type ShapeOf = fn(&[u8]) -> SigShape;

/// The card's files this project reads and checks, in the order [`read_card`]
/// reads them (after the RRN certificate, which goes to
/// [`FileSink::certificate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardFile {
    /// 4034: signs (4033 without trailing zeros) ‖ (4032 as read).
    AddressSig,
    /// 4032: signs 4031.
    IdentitySig,
    /// 4033, up to the start of its zero padding.
    Address,
    /// 4031.
    Identity,
}

/// Receives each file the moment it is read, so that checking it can overlap
/// the rest of the exchange. Called between APDUs: keep it quick.
pub trait FileSink {
    /// The RRN certificate arrived: how do the signature files look?
    fn certificate(&mut self, der: &[u8]) -> SigShape;
    /// Any other file, complete and as read.
    fn file(&mut self, file: CardFile, data: &[u8]);
}

/// Only the shape, nothing overlapped: the reader on its own (tests).
impl FileSink for ShapeOf {
    fn certificate(&mut self, der: &[u8]) -> SigShape {
        self(der)
    }
    fn file(&mut self, _: CardFile, _: &[u8]) {}
}

/// The longest DER ECDSA P-384 signature: SEQUENCE of two INTEGERs of up to
/// 49 bytes (48 + a leading zero), `30 66 02 31 … 02 31 …`.
const P384_DER_MAX: usize = 104;

const GET_CARD_DATA: [u8; 5] = [0x80, 0xE4, 0x00, 0x00, 0x1C];
const DF00: [u8; 2] = [0xDF, 0x00];
const DF01: [u8; 2] = [0xDF, 0x01];

/// How far to read a file.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Until the card says the file ends.
    End,
    /// Exactly this many bytes (RSA signatures: the modulus length).
    Exact(usize),
    /// The DER element at the start says its own length (certificate, ECDSA signature).
    Der,
    /// TLV content complete and zero padding reached (the address file: its
    /// signature covers it without the trailing zeros).
    Padding,
}

struct Reader<'t, T: Transport> {
    t: &'t mut T,
    apdus: u32,
    /// Set once the card refused SELECT by path with 6A87: select step by step.
    step_by_step: bool,
}

impl<T: Transport> Reader<'_, T> {
    fn send(&mut self, apdu: &[u8]) -> Result<(Zeroizing<Vec<u8>>, u16), ReadError> {
        self.apdus += 1;
        let mut resp = self.t.transmit(apdu)?;
        // vpcd answers an exchange interrupted by removal with an empty response.
        if resp.len() < 2 {
            return Err(ReadError::RemovedTooEarly);
        }
        let n = resp.len();
        let sw = u16::from_be_bytes([resp[n - 2], resp[n - 1]]);
        resp.truncate(n - 2);
        Ok((resp, sw))
    }

    fn select(&mut self, df: [u8; 2], ef: [u8; 2]) -> Result<(), ReadError> {
        if !self.step_by_step {
            let apdu = [0x00, 0xA4, 0x08, 0x0C, 0x04, df[0], df[1], ef[0], ef[1]];
            match self.send(&apdu)?.1 {
                0x9000 => return Ok(()),
                0x6A87 => self.step_by_step = true,
                0x6A82 => return Err(ReadError::NotEid),
                sw => return Err(ReadError::Status { what: "SELECT", sw }),
            }
        }
        for fid in [[0x3F, 0x00], df, ef] {
            let apdu = [0x00, 0xA4, 0x02, 0x0C, 0x02, fid[0], fid[1]];
            match self.send(&apdu)?.1 {
                0x9000 => {}
                0x6A82 => return Err(ReadError::NotEid),
                sw => return Err(ReadError::Status { what: "SELECT", sw }),
            }
        }
        Ok(())
    }

    /// Chunked READ BINARY of the selected file. `first` is the first Le
    /// (1..=256): a good guess of the size saves a round trip.
    fn read(&mut self, stop: Stop, first: usize) -> Result<Zeroizing<Vec<u8>>, ReadError> {
        let mut data = Zeroizing::new(Vec::with_capacity(match stop {
            Stop::Exact(n) => n,
            _ => first.max(256),
        }));
        let mut le = first.clamp(1, 256);
        let mut told_rest = false;
        let mut target: Option<usize> = match stop {
            Stop::Exact(n) => Some(n),
            _ => None,
        };
        if let Some(n) = target {
            le = le.min(n.max(1));
        }
        loop {
            let offset = data.len();
            if offset > 0x7FFF {
                return Err(ReadError::Status {
                    what: "READ BINARY (file too long)",
                    sw: 0,
                });
            }
            let apdu = [
                0x00,
                0xB0,
                (offset >> 8) as u8,
                offset as u8,
                (le & 0xFF) as u8,
            ];
            let (body, sw) = self.send(&apdu)?;
            match sw {
                0x9000 | 0x6282 => {
                    let short = body.len() < le;
                    append(&mut data, &body);
                    // 6282 (end reached before Le), a short answer, or a read
                    // sized by a 6Cxx all mean the file ends here.
                    if sw == 0x6282 || short || told_rest || body.is_empty() {
                        break;
                    }
                }
                _ if sw >> 8 == 0x6C => {
                    // "Only xx bytes left": read exactly those, and that is the end.
                    if told_rest {
                        return Err(ReadError::Status {
                            what: "READ BINARY",
                            sw,
                        });
                    }
                    told_rest = true;
                    le = match sw & 0xFF {
                        0 => 256,
                        n => usize::from(n as u8),
                    };
                    continue;
                }
                0x6B00 if offset > 0 => break,
                sw => {
                    return Err(ReadError::Status {
                        what: "READ BINARY",
                        sw,
                    })
                }
            }
            if target.is_none() {
                if let Stop::Der = stop {
                    target = der_len(&data);
                }
            }
            if let Some(n) = target {
                if data.len() >= n {
                    data.truncate(n);
                    break;
                }
                le = (n - data.len()).min(256);
            } else {
                if let Stop::Padding = stop {
                    if crate::tlv::reached_padding(&data) {
                        break;
                    }
                }
                le = 256;
            }
        }
        Ok(data)
    }
}

/// Appends without leaving a copy behind: a `Vec` that grows frees its old
/// buffer unwiped, so a bigger zeroizing buffer takes over and the old one is
/// wiped as it drops.
fn append(data: &mut Zeroizing<Vec<u8>>, more: &[u8]) {
    let need = data.len() + more.len();
    if need > data.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(need.max(2 * data.capacity())));
        bigger.extend_from_slice(data);
        *data = bigger;
    }
    data.extend_from_slice(more);
}

/// Total length of the DER element at the start of `data`, if its header is there.
pub fn der_len(data: &[u8]) -> Option<usize> {
    let b1 = *data.get(1)?;
    match b1 {
        0..=0x7F => Some(usize::from(b1) + 2),
        0x81 => Some(usize::from(*data.get(2)?) + 3),
        0x82 => Some(usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?])) + 4),
        _ => None,
    }
}

/// Confirms the card is a Belgian eID and reads identity, address, both
/// signatures and the RRN certificate. Call inside one PC/SC transaction.
pub fn read_card<T: Transport>(t: &mut T, shape_of: ShapeOf) -> Result<RawCard, ReadError> {
    let mut sink = shape_of;
    read_card_into(t, &mut sink)
}

/// [`read_card`], handing each file to `sink` as soon as it is complete.
///
/// The order serves both the APDU count and the overlap of checking with
/// reading: the certificate first (its key says how long the signature files
/// are); then both signature files, so the expensive, message-independent
/// part of each check can start while the card is still talking; then the
/// address file (its check needs 4032 as read, already there) and last the
/// identity file, whose check is then all that is left after the last APDU.
/// Sizes: the address file with Le = 117 (the usual padded size), an ECDSA
/// signature with Le = its longest DER form.
pub fn read_card_into<T: Transport, S: FileSink + ?Sized>(
    t: &mut T,
    sink: &mut S,
) -> Result<RawCard, ReadError> {
    let mut r = Reader {
        t,
        apdus: 0,
        step_by_step: false,
    };
    // ATRs are not unique: ask the applet itself. Non-eID cards answer 6D00/6E00.
    let (cd, sw) = r.send(&GET_CARD_DATA)?;
    if sw != 0x9000 || cd.len() < 22 {
        return Err(ReadError::NotEid);
    }
    let applet = cd[21];

    r.select(DF00, [0x50, 0x3C])?;
    let rrn_cert = r.read(Stop::Der, 256)?.to_vec();
    let shape = sink.certificate(&rrn_cert);

    r.select(DF01, [0x40, 0x34])?;
    let address_sig = match shape {
        Shape::Rsa { len } => r.read(Stop::Exact(len), len)?,
        Shape::Ec => r.read(Stop::Der, P384_DER_MAX)?,
        Shape::Unknown => r.read(Stop::End, 256)?,
    };
    sink.file(CardFile::AddressSig, &address_sig);

    r.select(DF01, [0x40, 0x32])?;
    let identity_sig = match shape {
        Shape::Rsa { len } => r.read(Stop::Exact(len), len)?,
        // The address signature covers this file as read, padding included.
        _ => r.read(Stop::End, 256)?,
    };
    sink.file(CardFile::IdentitySig, &identity_sig);

    r.select(DF01, [0x40, 0x33])?;
    let address = r.read(Stop::Padding, 117)?;
    sink.file(CardFile::Address, &address);

    r.select(DF01, [0x40, 0x31])?;
    let identity = r.read(Stop::End, 256)?;
    sink.file(CardFile::Identity, &identity);

    Ok(RawCard {
        applet,
        identity,
        identity_sig,
        address,
        address_sig,
        rrn_cert,
        apdus: r.apdus,
    })
}

use SigShape as Shape;
