//! What the window shows and sends: the view model of one step and the
//! events of the buttons. `serde` (snake_case) + `ts_rs::TS` so the window's
//! TypeScript types are generated from these and cannot drift.
//!
//! Texts are already resolved in the journey's language; the window adds
//! only its own chrome (Fluent) around them.

use std::collections::BTreeMap;

use dps_model::Language;
use dps_person::SecretString;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ViewKind {
    Info,
    /// A checklist item: the steward's "done" button, not the resident's.
    Check,
    Choice,
    Identify,
    /// The outcome screen; "finish" (or the card leaving) ends the journey.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ViewOption {
    pub id: String,
    pub label: String,
    pub pictogram: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Progress {
    /// 1-based: "step `step` of `of`".
    pub step: u32,
    /// The longest way left from here, so it never shrinks backwards.
    pub of: u32,
}

/// What an identify step accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IdentifyView {
    /// The steward may type instead of reading the card.
    pub manual_entry: bool,
    pub asks_number: bool,
    pub asks_postcode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Params: `found` (how many digits were typed).
    NumberLength,
    NumberNotDigits,
    /// The mod-97 check digits do not match: a typo.
    NumberCheckDigits,
    NumberImpossibleDate,
    /// Params: none. A postcode is four digits, 1000-9999.
    PostcodeFormat,
    /// The card gave no usable national number: type it.
    CardNoNumber,
    /// The card gave no address (postcode): type it.
    CardNoPostcode,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::NumberLength => "number_length",
            ErrorCode::NumberNotDigits => "number_not_digits",
            ErrorCode::NumberCheckDigits => "number_check_digits",
            ErrorCode::NumberImpossibleDate => "number_impossible_date",
            ErrorCode::PostcodeFormat => "postcode_format",
            ErrorCode::CardNoNumber => "card_no_number",
            ErrorCode::CardNoPostcode => "card_no_postcode",
        }
    }
}

/// A problem with what was typed or read, said plainly. Never echoes the
/// number itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ViewError {
    pub code: ErrorCode,
    pub params: BTreeMap<String, String>,
    /// Already in the journey's language.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Nearness {
    Own,
    Neighbouring,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub addresses: Vec<String>,
    pub postcode: String,
    pub municipality: String,
    pub phone: Option<String>,
    pub nearness: Nearness,
}

/// One screen of a journey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct View {
    pub procedure: String,
    pub procedure_title: String,
    pub language: Language,
    pub step: String,
    pub kind: ViewKind,
    pub title: String,
    /// Paragraphs (the flow separates them with a blank line).
    pub body: Vec<String>,
    pub pictogram: String,
    pub options: Vec<ViewOption>,
    pub identify: Option<IdentifyView>,
    /// Formatted as on the card (`85.07.30-033.28`), and only on a step that
    /// shows it: every other view leaves it out.
    pub national_number: Option<String>,
    pub postcode: Option<String>,
    pub nearby: Option<Vec<SiteView>>,
    /// On the end step: the outcome code that will be counted.
    pub outcome: Option<String>,
    pub error: Option<ViewError>,
    pub can_go_back: bool,
    /// The steward can undo the last answer (choice, tick, identification).
    pub can_undo: bool,
    pub progress: Progress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AbandonReason {
    /// No interaction for the idle limit (the window counts down).
    Idle,
    CardRemoved,
    /// The steward or resident left to the welcome screen.
    Quit,
}

/// What the window sends. Card data does not come from the window but from
/// the card reader, as [`crate::Input::Card`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Go on from an info step.
    Next,
    /// The steward ticks a checklist item.
    Tick,
    Choose {
        option: String,
    },
    /// The steward typed the number and/or postcode (empty if not asked).
    Manual {
        #[ts(type = "string")]
        number: SecretString,
        #[ts(type = "string")]
        postcode: SecretString,
    },
    /// One screen back.
    Back,
    /// Undo the last answer, skipping the screens shown since.
    Undo,
    /// Start this procedure again from its first step, forgetting answers.
    Restart,
    /// Leave the outcome screen: the journey is over.
    Finish,
    Language {
        language: Language,
    },
    Abandon {
        reason: AbandonReason,
    },
}

/// A procedure on the choice screen (pictogram + words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProcedureView {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub pictogram: String,
}

impl ProcedureView {
    /// The procedures offered, in the order given, in `lang`.
    pub fn list(flows: &[crate::Flow], lang: Language) -> Vec<ProcedureView> {
        flows
            .iter()
            .map(|f| ProcedureView {
                id: f.id.to_string(),
                title: f.title.get(lang).to_owned(),
                summary: f.summary.get(lang).to_owned(),
                pictogram: f.pictogram.clone(),
            })
            .collect()
    }
}
