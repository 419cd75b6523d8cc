//! The card side of the vpcd protocol: connect to the vpcd driver's port
//! ("card inserted"), answer its control messages and APDUs, close ("removed").
//!
//! Framing: u16 big-endian length, then the payload. A 1-byte payload is a
//! control message (0 power off, 1 power on, 2 reset, 4 send ATR); anything
//! else is a command APDU answered with a response APDU.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::card::CardImage;
use crate::VcardError;

/// What the card saw, for assertions (commands only: no personal data).
#[derive(Debug, Clone, Default)]
pub struct CardLog {
    /// Every command APDU received, in order.
    pub apdus: Vec<Vec<u8>>,
    /// True when the card left on its own (`remove_at_apdu`).
    pub removed_itself: bool,
}

/// A virtual card sitting in a vpcd slot. Dropping it (or [`InsertedCard::remove`]) pulls it out.
pub struct InsertedCard {
    stream: TcpStream,
    log: Arc<Mutex<CardLog>>,
    count: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
}

/// Debian's vpcd writes length and body in two segments without TCP_NODELAY:
/// with delayed ACK on this side each APDU costs ~44 ms. QUICKACK is reset by
/// the kernel, so it is set again before every read.
fn quickack(stream: &TcpStream) {
    let one: libc::c_int = 1;
    // SAFETY: valid socket fd, pointer to a live c_int of the given size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    quickack(s);
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    quickack(s);
    s.read_exact(&mut buf)?;
    Ok(buf)
}

fn write_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let mut msg = Vec::with_capacity(payload.len() + 2);
    msg.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    msg.extend_from_slice(payload);
    s.write_all(&msg)
}

/// Inserts `card` into the vpcd slot listening on `127.0.0.1:port`.
pub fn insert(port: u16, card: CardImage) -> Result<InsertedCard, VcardError> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| VcardError::Vpcd(format!("cannot reach vpcd on port {port}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut s2 = stream
        .try_clone()
        .map_err(|e| VcardError::Vpcd(e.to_string()))?;
    let log = Arc::new(Mutex::new(CardLog::default()));
    let count = Arc::new(AtomicU32::new(0));
    let (log2, count2) = (Arc::clone(&log), Arc::clone(&count));
    let thread = std::thread::Builder::new()
        .name(format!("vcard-{port}"))
        .spawn(move || {
            let mut session = card.session();
            while let Ok(msg) = read_frame(&mut s2) {
                let reply = if msg.len() == 1 {
                    match msg[0] {
                        4 => Some(card.atr.clone()),
                        // Power on/off and reset start a fresh session (nothing selected).
                        _ => {
                            session = card.session();
                            None
                        }
                    }
                } else {
                    let n = count2.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Ok(mut l) = log2.lock() {
                        l.apdus.push(msg.clone());
                    }
                    if card.behaviour.remove_at_apdu == Some(n) {
                        if let Ok(mut l) = log2.lock() {
                            l.removed_itself = true;
                        }
                        let _ = s2.shutdown(Shutdown::Both);
                        break;
                    }
                    if let Some((at, ms)) = card.behaviour.pause_at_apdu {
                        if at == n {
                            std::thread::sleep(std::time::Duration::from_millis(ms));
                        }
                    }
                    if card.behaviour.answer_delay_us > 0 {
                        std::thread::sleep(std::time::Duration::from_micros(
                            card.behaviour.answer_delay_us,
                        ));
                    }
                    Some(session.respond(&msg))
                };
                if let Some(r) = reply {
                    if write_frame(&mut s2, &r).is_err() {
                        break;
                    }
                }
            }
        })
        .map_err(|e| VcardError::Vpcd(e.to_string()))?;
    Ok(InsertedCard {
        stream,
        log,
        count,
        thread: Some(thread),
    })
}

impl InsertedCard {
    /// APDUs received so far.
    pub fn apdu_count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// A copy of the log so far.
    pub fn log(&self) -> CardLog {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Pulls the card out and returns what it saw.
    pub fn remove(mut self) -> CardLog {
        self.close();
        self.log()
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for InsertedCard {
    fn drop(&mut self) {
        self.close();
    }
}
