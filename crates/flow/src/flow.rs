//! A checked flow: every step reachable, every target existing, every text in
//! every language. Built only by [`crate::parse`].

use std::collections::BTreeMap;

use dps_model::{Code, Language};

use crate::condition::Condition;

/// A text in every supported language (checked at load).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Texts(pub(crate) BTreeMap<Language, String>);

impl Texts {
    pub fn get(&self, lang: Language) -> &str {
        self.0.get(&lang).map_or("", String::as_str)
    }
}

/// What a screen shows besides its text, from the resident's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Show {
    /// The national register number, large and grouped as on the card.
    NationalNumber,
    Postcode,
    /// The certified DPSs near the resident's postcode.
    NearbyDps,
}

impl Show {
    pub const ALL: [Show; 3] = [Show::NationalNumber, Show::Postcode, Show::NearbyDps];
    pub fn code(self) -> &'static str {
        match self {
            Show::NationalNumber => "national_number",
            Show::Postcode => "postcode",
            Show::NearbyDps => "nearby_dps",
        }
    }
}

/// The text of a displayed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub title: Texts,
    /// May be empty in every language (an optional body).
    pub body: Texts,
    pub pictogram: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOption {
    pub id: String,
    pub label: Texts,
    pub pictogram: Option<String>,
    pub next: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Text and pictogram; the resident goes on.
    Info {
        screen: Screen,
        show: Vec<Show>,
        next: usize,
    },
    /// A checklist item: only the steward's tick goes on.
    Check {
        screen: Screen,
        show: Vec<Show>,
        next: usize,
    },
    Choice {
        screen: Screen,
        options: Vec<ChoiceOption>,
    },
    /// Read the eID card, or the steward types the number and/or postcode.
    Identify {
        screen: Screen,
        number: bool,
        postcode: bool,
        manual: bool,
        next: usize,
    },
    /// Not displayed: the first rule that holds decides; if a rule cannot be
    /// decided (a partial birth date) before one holds, `unknown` decides.
    Branch {
        rules: Vec<(Condition, usize)>,
        otherwise: usize,
        unknown: Option<usize>,
    },
    End {
        screen: Screen,
        show: Vec<Show>,
        outcome: Code,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
}

impl Step {
    pub fn screen(&self) -> Option<&Screen> {
        match &self.kind {
            StepKind::Info { screen, .. }
            | StepKind::Check { screen, .. }
            | StepKind::Choice { screen, .. }
            | StepKind::Identify { screen, .. }
            | StepKind::End { screen, .. } => Some(screen),
            StepKind::Branch { .. } => None,
        }
    }

    /// Every step this one can lead to.
    pub fn targets(&self) -> Vec<usize> {
        match &self.kind {
            StepKind::Info { next, .. }
            | StepKind::Check { next, .. }
            | StepKind::Identify { next, .. } => {
                vec![*next]
            }
            StepKind::Choice { options, .. } => options.iter().map(|o| o.next).collect(),
            StepKind::Branch {
                rules,
                otherwise,
                unknown,
            } => rules
                .iter()
                .map(|r| r.1)
                .chain([*otherwise])
                .chain(*unknown)
                .collect(),
            StepKind::End { .. } => Vec::new(),
        }
    }
}

/// A checked procedure. The first step is where a journey starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: Code,
    pub version: u32,
    pub title: Texts,
    /// One line under the title on the procedure-choice screen.
    pub summary: Texts,
    pub pictogram: String,
    pub steps: Vec<Step>,
    /// The file it came from, for messages.
    pub file: String,
    /// For each step, the most displayed steps left until an end, itself
    /// included (branches are not displayed): the "of n" of the progress.
    pub(crate) remaining: Vec<u32>,
}

impl Flow {
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Every outcome code an end step of this flow can give (for the tally UI).
    pub fn outcomes(&self) -> Vec<Code> {
        let mut v: Vec<Code> = self
            .steps
            .iter()
            .filter_map(|s| match &s.kind {
                StepKind::End { outcome, .. } => Some(outcome.clone()),
                _ => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
