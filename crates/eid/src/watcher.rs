//! The card watcher: one thread, its own PC/SC context, blocked in
//! `get_status_change` (with the PnP pseudo-reader so plugged and unplugged
//! readers wake it too) until something happens. No polling.

use std::ffi::CString;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use pcsc::{Context, ReaderState, Scope, State, PNP_NOTIFICATION};

use crate::apdu::ReadError;
use crate::card::CardData;
use crate::pcsc_io::{is_service_loss, read_reader, SERVICE_DOWN};
use crate::verify::TrustStore;

/// What went wrong with a card, as a stable code for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum CardErrorKind {
    /// Not a Belgian eID (or a mute card).
    NotEid,
    /// Pulled out before it was fully read.
    RemovedTooEarly,
    /// Any other failure (reader error, damaged data).
    ReadFailed,
}

impl CardErrorKind {
    pub fn of(e: &ReadError) -> Self {
        match e {
            ReadError::NotEid => CardErrorKind::NotEid,
            ReadError::RemovedTooEarly => CardErrorKind::RemovedTooEarly,
            _ => CardErrorKind::ReadFailed,
        }
    }
}

/// Events for the kiosk window (and `card watch --json`), one JSON object each
/// with an `"event"` code in snake_case.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    ReaderAdded {
        reader: String,
    },
    ReaderRemoved {
        reader: String,
    },
    CardInserted {
        reader: String,
    },
    CardRead {
        reader: String,
        data: Box<CardData>,
        /// Plain-words notes (specimen numbers…), never personal data.
        warnings: Vec<String>,
    },
    CardError {
        reader: String,
        kind: CardErrorKind,
        message: String,
    },
    CardRemoved {
        reader: String,
    },
    /// pcscd is not running (or stopped): the watcher keeps trying to reconnect.
    ServiceUnavailable {
        message: String,
    },
    /// pcscd runs but lists no reader at all (said on connecting; a reader
    /// unplugged later is a `ReaderRemoved`). Without it a kiosk started
    /// with no reader plugged in had nothing to say.
    NoReader,
}

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    /// The context the thread is blocked on, to cancel it.
    ctx: Mutex<Option<Context>>,
}

/// A running watcher; dropping it stops the thread.
pub struct Watcher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Calls the sink, so that whatever the sink does (the kiosk redraws its
    /// window on "card inserted") never delays the watcher's next step,
    /// above all the first APDU of a card just inserted.
    dispatcher: Option<JoinHandle<()>>,
}

/// pcsc-lite refuses a `get_status_change` over more than 16 reader states
/// (InvalidParameter). pcscd serves at most 16 readers, so with 16 plugged in
/// no other can appear: the PnP pseudo-reader is left out of the call until
/// one goes (its own state then says so).
const MAX_STATES: usize = 16;

/// How long to wait before retrying to reach pcscd after it went away. This is
/// not state polling: pcscd offers no notification of its own start, and
/// re-trying to connect is the only way to learn it is back.
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

impl Watcher {
    /// Starts watching every reader; `sink` is called for each event, in
    /// order, on a thread of its own (not the one talking to the cards).
    pub fn start<F>(trust: TrustStore, mut sink: F) -> std::io::Result<Watcher>
    where
        F: FnMut(Event) + Send + 'static,
    {
        // The first card should not wait for the verifier's start-up.
        crate::verify::warm_up();
        let shared = Arc::new(Shared {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            ctx: Mutex::new(None),
        });
        let (events, queue) = std::sync::mpsc::channel::<Event>();
        let dispatcher = std::thread::Builder::new()
            .name("eid-events".into())
            .spawn(move || {
                for e in queue {
                    sink(e);
                }
            })?;
        let s2 = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("eid-watcher".into())
            .spawn(move || {
                run(&s2, &trust, |e| {
                    let _ = events.send(e);
                })
            })?;
        Ok(Watcher {
            shared,
            thread: Some(thread),
            dispatcher: Some(dispatcher),
        })
    }

    /// Convenience: events through a channel.
    pub fn start_channel(
        trust: TrustStore,
    ) -> std::io::Result<(Watcher, std::sync::mpsc::Receiver<Event>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let w = Watcher::start(trust, move |e| {
            let _ = tx.send(e);
        })?;
        Ok((w, rx))
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Ok(mut s) = self.shared.stop.lock() {
            *s = true;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // SCardCancel only interrupts a call in progress: if the thread was
            // about to enter get_status_change the cancel is lost, so repeat it
            // until the thread has noticed the stop flag (only during shutdown).
            while !t.is_finished() {
                if let Ok(ctx) = self.shared.ctx.lock() {
                    if let Some(c) = ctx.as_ref() {
                        let _ = c.cancel();
                    }
                }
                std::thread::park_timeout(Duration::from_millis(20));
            }
            let _ = t.join();
        }
        // The watcher thread is gone with its end of the queue: the
        // dispatcher delivers what is left, then ends, before stop returns.
        if let Some(d) = self.dispatcher.take() {
            let _ = d.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn stopped(shared: &Shared) -> bool {
    shared.stop.lock().map(|s| *s).unwrap_or(true)
}

fn run<F: FnMut(Event)>(shared: &Shared, trust: &TrustStore, mut sink: F) {
    let mut service_reported = false;
    while !stopped(shared) {
        if let Ok(ctx) = Context::establish(Scope::User) {
            service_reported = false;
            if let Ok(mut slot) = shared.ctx.lock() {
                *slot = Some(ctx.clone());
            }
            // Between establish and storing the context a stop could be missed.
            if stopped(shared) {
                break;
            }
            let lost = watch(&ctx, shared, trust, &mut sink);
            if let Ok(mut slot) = shared.ctx.lock() {
                *slot = None;
            }
            if !lost {
                break;
            }
        }
        if stopped(shared) {
            break;
        }
        if !service_reported {
            sink(Event::ServiceUnavailable {
                message: SERVICE_DOWN.to_owned(),
            });
            service_reported = true;
        }
        // Wait for the backoff or a stop request, whichever comes first.
        if let Ok(guard) = shared.stop.lock() {
            let _ = shared
                .wake
                .wait_timeout_while(guard, RECONNECT_BACKOFF, |s| !*s);
        }
    }
}

/// Watches until the service is lost (returns true) or a stop (false).
fn watch<F: FnMut(Event)>(
    ctx: &Context,
    shared: &Shared,
    trust: &TrustStore,
    sink: &mut F,
) -> bool {
    let mut states = vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)];
    let mut present: Vec<CString> = Vec::new();
    let mut connecting = true;
    let lost = loop {
        // Readers: drop the dead, add the new.
        let mut gone = Vec::new();
        states.retain(|rs| {
            let dead = rs.name() != PNP_NOTIFICATION()
                && rs.event_state().intersects(State::UNKNOWN | State::IGNORE);
            if dead {
                gone.push(rs.name().to_owned());
            }
            !dead
        });
        for name in gone {
            if present.contains(&name) {
                present.retain(|p| p != &name);
                sink(Event::CardRemoved {
                    reader: name.to_string_lossy().into_owned(),
                });
            }
            sink(Event::ReaderRemoved {
                reader: name.to_string_lossy().into_owned(),
            });
        }
        match ctx.list_readers_owned() {
            Ok(names) if names.is_empty() && connecting => sink(Event::NoReader),
            Err(pcsc::Error::NoReadersAvailable) if connecting => sink(Event::NoReader),
            Ok(names) => {
                for name in names {
                    if !states.iter().any(|rs| rs.name() == name.as_c_str()) {
                        sink(Event::ReaderAdded {
                            reader: name.to_string_lossy().into_owned(),
                        });
                        states.push(ReaderState::new(name, State::UNAWARE));
                    }
                }
            }
            Err(pcsc::Error::NoReadersAvailable) => {}
            Err(e) if is_service_loss(e) => break true,
            Err(_) => {}
        }
        connecting = false;
        for rs in &mut states {
            rs.sync_current_state();
        }
        // The PnP pseudo-reader is always first (created first, never removed).
        let watched = if states.len() > MAX_STATES {
            &mut states[1..]
        } else {
            &mut states[..]
        };
        match ctx.get_status_change(None, watched) {
            Ok(()) => {}
            Err(pcsc::Error::Cancelled) if stopped(shared) => break false,
            Err(pcsc::Error::Cancelled) | Err(pcsc::Error::Timeout) => continue,
            // A reader vanished between listing and waiting: list again.
            Err(pcsc::Error::UnknownReader) => continue,
            Err(e) if is_service_loss(e) => break true,
            Err(_) => break true,
        }
        if stopped(shared) {
            break false;
        }
        for rs in &states {
            if rs.name() == PNP_NOTIFICATION() {
                continue;
            }
            let ev = rs.event_state();
            if ev.intersects(State::UNKNOWN | State::IGNORE) {
                continue;
            }
            let name = rs.name().to_owned();
            let reader = name.to_string_lossy().into_owned();
            let was = present.contains(&name);
            let is = ev.contains(State::PRESENT);
            if is && !was {
                present.push(name.clone());
                sink(Event::CardInserted {
                    reader: reader.clone(),
                });
                if ev.contains(State::MUTE) {
                    sink(Event::CardError {
                        reader,
                        kind: CardErrorKind::NotEid,
                        message: ReadError::NotEid.to_string(),
                    });
                    continue;
                }
                match read_reader(ctx, &name, trust) {
                    Ok(r) => sink(Event::CardRead {
                        reader,
                        data: Box::new(r.data),
                        warnings: r.warnings,
                    }),
                    Err(e) => sink(Event::CardError {
                        reader,
                        kind: CardErrorKind::of(&e),
                        message: e.to_string(),
                    }),
                }
            } else if !is && was {
                present.retain(|p| p != &name);
                sink(Event::CardRemoved { reader });
            }
        }
    };
    if lost {
        // Every reader disappears with the service; say so, so the window
        // does not keep showing a card that is no longer readable.
        for rs in &states {
            if rs.name() == PNP_NOTIFICATION() {
                continue;
            }
            let reader = rs.name().to_string_lossy().into_owned();
            if present.iter().any(|p| p.as_c_str() == rs.name()) {
                sink(Event::CardRemoved {
                    reader: reader.clone(),
                });
            }
            sink(Event::ReaderRemoved { reader });
        }
    }
    lost
}
