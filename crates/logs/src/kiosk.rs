//! What the shell logs about the kiosk, as one-line summaries without
//! personal data.
//!
//! A [`KioskView`] carries the greeting (first given name) and, on one step,
//! the formatted national number: its `Debug` must never be logged, so the
//! shell logs [`view`] instead. Commands and card events are safe in `Debug`
//! (their personal fields are `dps-person` types that print `***`), but they
//! get summaries too, so a field added later is not logged by accident.

use dps_controller::{Command, KioskView, Screen};
use dps_eid::Event;
use dps_model::VisitRecord;

/// Logs the view the window is about to show (TRACE: one per input).
pub fn view(v: &KioskView) {
    tracing::trace!(target: "dps_kiosk::view", "{}", view_line(v));
}

/// Logs a command from the window (DEBUG).
pub fn command(c: &Command) {
    tracing::debug!(target: "dps_kiosk::command", "{}", command_line(c));
}

/// Logs an event from the card watcher (DEBUG; INFO for readers coming and
/// going and for the card service, which a steward may ask about).
pub fn card_event(e: &Event) {
    match e {
        Event::ReaderAdded { .. }
        | Event::ReaderRemoved { .. }
        | Event::ServiceUnavailable { .. }
        | Event::NoReader => {
            tracing::info!(target: "dps_kiosk::card", "{}", card_line(e));
        }
        _ => tracing::debug!(target: "dps_kiosk::card", "{}", card_line(e)),
    }
}

/// Logs a counted visit (INFO). A visit record is anonymous by design: bands
/// and codes.
pub fn visit(r: &VisitRecord) {
    tracing::info!(target: "dps_kiosk::visit", "{}", visit_line(r));
}

/// `language reader screen[:procedure:step kind]`, e.g. `fr read journey:bruvax-registration:type-number check`.
pub fn view_line(v: &KioskView) -> String {
    let screen = match &v.screen {
        Screen::Welcome => "welcome".to_owned(),
        Screen::Procedures { procedures } => format!("procedures ({})", procedures.len()),
        Screen::Journey { view } => format!(
            "journey:{}:{} {:?}{}",
            view.procedure,
            view.step,
            view.kind,
            view.error
                .as_ref()
                .map(|e| format!(" error={:?}", e.code))
                .unwrap_or_default()
        ),
        Screen::TakeCard => "take-card".to_owned(),
    };
    format!(
        "view {} reader={:?} greeting={} {screen}",
        v.language.code(),
        v.reader,
        if v.greeting.is_some() { "yes" } else { "no" }
    )
}

pub fn command_line(c: &Command) -> String {
    use dps_flow::Event as J;
    match c {
        Command::SetLanguage { language } => format!("command set-language {}", language.code()),
        Command::ShowProcedures => "command show-procedures".to_owned(),
        Command::StartProcedure { procedure } => format!("command start {procedure}"),
        Command::Home { reason } => format!("command home {reason:?}"),
        Command::Journey { event } => {
            let e = match event {
                J::Next => "next".to_owned(),
                J::Tick => "tick".to_owned(),
                J::Choose { option } => format!("choose {option}"),
                // What was typed is the resident's: only whether it was.
                J::Manual { number, postcode } => format!(
                    "manual number={} postcode={}",
                    if number.expose().is_empty() {
                        "empty"
                    } else {
                        "typed"
                    },
                    if postcode.expose().is_empty() {
                        "empty"
                    } else {
                        "typed"
                    }
                ),
                J::Back => "back".to_owned(),
                J::Undo => "undo".to_owned(),
                J::Restart => "restart".to_owned(),
                J::Finish => "finish".to_owned(),
                J::Language { language } => format!("language {}", language.code()),
                J::Abandon { reason } => format!("abandon {reason:?}"),
            };
            format!("command journey {e}")
        }
        // A command added later: its name only (the serde tag), never its
        // fields, until someone writes its summary here.
        other => format!("command {}", tag(other)),
    }
}

/// The `type` tag a value serialises with (`"?"` if it has none).
fn tag(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

pub fn card_line(e: &Event) -> String {
    match e {
        Event::ReaderAdded { reader } => format!("reader added: {reader}"),
        Event::ReaderRemoved { reader } => format!("reader removed: {reader}"),
        Event::CardInserted { reader } => format!("card inserted in {reader}"),
        Event::CardRead {
            reader,
            data,
            warnings,
        } => format!(
            "card read in {reader}: applet {}, signature {:?}, {} warning(s)",
            data.applet,
            data.signature,
            warnings.len()
        ),
        Event::CardError { reader, kind, .. } => {
            format!("card error in {reader}: {kind:?}")
        }
        Event::CardRemoved { reader } => format!("card removed from {reader}"),
        Event::ServiceUnavailable { message } => format!("card service unavailable: {message}"),
        Event::NoReader => "no card reader".to_owned(),
    }
}

pub fn visit_line(r: &VisitRecord) -> String {
    format!(
        "visit counted: procedure={} outcome={} language={} channel={} age_band={} residence={}",
        r.procedure,
        r.outcome,
        r.language.code(),
        r.channel.code(),
        r.age_band.code(),
        r.residence
    )
}
