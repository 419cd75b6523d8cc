//! PC/SC plumbing: the real [`Transport`], reading one reader, waiting for the
//! first card (for `card read`), and the doctor's diagnosis.

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use zeroize::Zeroizing;

use crate::apdu::{
    read_card_into, FileSink, RawCard, ReadError, ShapeOf, Transport, TransportError,
};
use crate::card::{assemble_with, CardData};
use crate::verify::{shape_of, CardCheck, TrustStore};

/// The card service (pcscd) cannot be reached.
pub const SERVICE_DOWN: &str = "the card service (pcscd) is not running: start it with \
`systemctl start pcscd` (or `pcscd`), then plug the reader in again";

/// Is this PC/SC error "the card went away"? Through vpcd a pulled card shows
/// as NotTransacted then RemovedCard; real readers say RemovedCard or ResetCard.
pub(crate) fn is_removal(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::RemovedCard
            | pcsc::Error::ResetCard
            | pcsc::Error::NotTransacted
            | pcsc::Error::NoSmartcard
    )
}

/// Is this PC/SC error "pcscd is gone" (re-establish the context)?
pub(crate) fn is_service_loss(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::CommError
            | pcsc::Error::InvalidHandle
            | pcsc::Error::Shutdown
    )
}

struct PcscTransport<'a, 'tx> {
    tx: &'a pcsc::Transaction<'tx>,
    phases: &'a mut Phases,
}

/// When a read's phases happened, for the benchmark's breakdown: the card
/// was there (the read started), the first APDU went out, the last answer
/// came back, the verified data was ready.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    pub start: Instant,
    pub first_apdu: Option<Instant>,
    pub last_answer: Option<Instant>,
    pub done: Option<Instant>,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            start: Instant::now(),
            first_apdu: None,
            last_answer: None,
            done: None,
        }
    }
}

impl Transport for PcscTransport<'_, '_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TransportError> {
        let mut buf = Zeroizing::new([0u8; 258]);
        if self.phases.first_apdu.is_none() {
            self.phases.first_apdu = Some(Instant::now());
        }
        let answer = self.tx.transmit(apdu, &mut buf[..]);
        self.phases.last_answer = Some(Instant::now());
        match answer {
            Ok(resp) => Ok(Zeroizing::new(resp.to_vec())),
            Err(e) if is_removal(e) => Err(TransportError::Removed),
            Err(e) => Err(TransportError::Reader(e.to_string())),
        }
    }
}

/// A successful read.
#[derive(Debug)]
pub struct Read {
    pub data: CardData,
    /// Plain-words notes on rule-breaking values (specimen numbers…), no personal data.
    pub warnings: Vec<String>,
    /// APDUs exchanged.
    pub apdus: u32,
}

fn read_in_transaction<S: FileSink + ?Sized>(
    card: &mut pcsc::Card,
    map: impl Fn(pcsc::Error) -> ReadError,
    sink: &mut S,
    phases: &mut Phases,
) -> Result<RawCard, ReadError> {
    let tx = card.transaction().map_err(map)?;
    let raw = read_card_into(&mut PcscTransport { tx: &tx, phases }, sink)?;
    // Ending the transaction can fail if the card left right after the last
    // APDU: the data is complete, so that is not an error.
    let _ = tx.end(Disposition::LeaveCard);
    Ok(raw)
}

/// Connects to the card in `reader` and reads its raw files in one
/// transaction (the APDU phase only: no parsing, no verification).
pub fn read_raw(ctx: &Context, reader: &CStr) -> Result<RawCard, ReadError> {
    let mut shape: ShapeOf = shape_of;
    read_raw_into(ctx, reader, &mut shape)
}

/// [`read_raw`], handing each file to `sink` as soon as it is read.
pub fn read_raw_into<S: FileSink + ?Sized>(
    ctx: &Context,
    reader: &CStr,
    sink: &mut S,
) -> Result<RawCard, ReadError> {
    read_raw_timed(ctx, reader, sink, &mut Phases::new())
}

fn read_raw_timed<S: FileSink + ?Sized>(
    ctx: &Context,
    reader: &CStr,
    sink: &mut S,
    phases: &mut Phases,
) -> Result<RawCard, ReadError> {
    let map = |e: pcsc::Error| {
        if is_removal(e) {
            ReadError::RemovedTooEarly
        } else if matches!(
            e,
            pcsc::Error::UnresponsiveCard | pcsc::Error::UnpoweredCard
        ) {
            ReadError::NotEid
        } else {
            ReadError::Reader(e.to_string())
        }
    };
    let mut card = ctx
        .connect(reader, ShareMode::Shared, Protocols::ANY)
        .map_err(map)?;
    let raw = read_in_transaction(&mut card, map, sink, phases);
    // Leave the card as it is: the default (reset) on a card pulled mid-read
    // makes vpcd wait for a new card inside the reset and miss the next insertion.
    let _ = card.disconnect(Disposition::LeaveCard);
    raw
}

/// Connects to the card in `reader`, reads it in one transaction, parses and
/// verifies it. Verification follows the read file by file ([`CardCheck`])
/// on the verification worker, so most of it happens while the card is
/// still being read, and the last check while the transaction ends and the
/// files are parsed.
pub fn read_reader(ctx: &Context, reader: &CStr, trust: &TrustStore) -> Result<Read, ReadError> {
    read_reader_timed(ctx, reader, trust).0
}

/// [`read_reader`], and when its phases happened (for the benchmark).
pub fn read_reader_timed(
    ctx: &Context,
    reader: &CStr,
    trust: &TrustStore,
) -> (Result<Read, ReadError>, Phases) {
    let mut phases = Phases::new();
    let name = reader.to_string_lossy();
    let read = (|| {
        let mut check = CardCheck::overlapped(trust);
        let raw = read_raw_timed(ctx, reader, &mut check, &mut phases)?;
        let (data, warnings) = assemble_with(&name, &raw, || check.finish())?;
        Ok(Read {
            data,
            warnings,
            apdus: raw.apdus,
        })
    })();
    phases.done = Some(Instant::now());
    (read, phases)
}

/// Why `card read` did not produce a card.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("{SERVICE_DOWN}")]
    ServiceUnavailable,
    #[error("no card reader is connected")]
    NoReader,
    #[error("no card was inserted in time")]
    NoCard,
    #[error(transparent)]
    Read(#[from] ReadError),
}

fn establish() -> Result<Context, WaitError> {
    Context::establish(Scope::User).map_err(|_| WaitError::ServiceUnavailable)
}

fn readers(ctx: &Context, only: Option<&str>) -> Result<Vec<CString>, WaitError> {
    let all = match ctx.list_readers_owned() {
        Ok(r) => r,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) if is_service_loss(e) => return Err(WaitError::ServiceUnavailable),
        Err(e) => return Err(WaitError::Read(ReadError::Reader(e.to_string()))),
    };
    Ok(all
        .into_iter()
        .filter(|r| only.is_none_or(|o| r.to_string_lossy().contains(o)))
        .collect())
}

/// Reads the first card present in any reader (or the readers whose name
/// contains `only`), waiting up to `wait` for one to be inserted. Blocks in
/// `get_status_change` with the remaining time: no polling.
///
/// When several readers hold cards, a Belgian eID wins: each card present is
/// tried in reader order until one reads. If none does, the most telling
/// failure is returned (an eID that failed to read, e.g. pulled too early,
/// before "not a Belgian eID").
pub fn read_first_card(
    only: Option<&str>,
    wait: Duration,
    trust: &TrustStore,
) -> Result<Read, WaitError> {
    let ctx = establish()?;
    let names = readers(&ctx, only)?;
    if names.is_empty() {
        return Err(WaitError::NoReader);
    }
    let deadline = Instant::now() + wait;
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    loop {
        // The first call (UNAWARE) returns at once with the current states.
        let left = deadline.saturating_duration_since(Instant::now());
        match ctx.get_status_change(left, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Err(WaitError::NoCard),
            Err(e) if is_service_loss(e) => return Err(WaitError::ServiceUnavailable),
            Err(e) => return Err(WaitError::Read(ReadError::Reader(e.to_string()))),
        }
        let mut failure: Option<ReadError> = None;
        for rs in &mut states {
            let ev = rs.event_state();
            rs.sync_current_state();
            if !ev.contains(State::PRESENT) {
                continue;
            }
            let e = if ev.contains(State::MUTE) {
                ReadError::NotEid
            } else {
                match read_reader(&ctx, rs.name(), trust) {
                    Ok(read) => return Ok(read),
                    Err(e) => e,
                }
            };
            if failure.as_ref().is_none_or(|f| *f == ReadError::NotEid) {
                failure = Some(e);
            }
        }
        if let Some(e) = failure {
            return Err(WaitError::Read(e));
        }
        if Instant::now() >= deadline {
            return Err(WaitError::NoCard);
        }
    }
}

/// What `doctor` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnosis {
    pub service_running: bool,
    /// (reader name, a card is present)
    pub readers: Vec<(String, bool)>,
}

/// Asks pcscd once for its readers and their states.
pub fn diagnose() -> Diagnosis {
    let Ok(ctx) = Context::establish(Scope::User) else {
        return Diagnosis {
            service_running: false,
            readers: Vec::new(),
        };
    };
    let names = match readers(&ctx, None) {
        Ok(n) => n,
        Err(_) => {
            return Diagnosis {
                service_running: false,
                readers: Vec::new(),
            }
        }
    };
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    let ok = states.is_empty() || ctx.get_status_change(Duration::ZERO, &mut states).is_ok();
    Diagnosis {
        service_running: ok,
        readers: states
            .iter()
            .map(|s| {
                (
                    s.name().to_string_lossy().into_owned(),
                    s.event_state().contains(State::PRESENT),
                )
            })
            .collect(),
    }
}
