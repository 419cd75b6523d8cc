//! The kiosk's screens as a pure state machine: window commands and card
//! events in, a [`KioskView`] (everything the window shows) and at most one
//! [`VisitRecord`] out. The Tauri shell only forwards inputs and renders the
//! view; this crate is where "card pulled → data gone, back to welcome" and
//! "a finished journey is counted once" are decided, and tested without a
//! window.
//!
//! Personal data held here: the card's national number, birth date, postcode
//! and first given name, in zeroize-on-drop types, from "card read" until the
//! card leaves the reader, the journey ends, or the window goes idle.
//! Only two pieces ever reach the window: the first given name (the
//! greeting) and what a flow step explicitly shows.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use dps_directory::Directory;
use dps_flow::{
    AbandonReason, After, Event, Flow, Identity, Input, Journey, ProcedureView, View, ViewKind,
    World,
};
use dps_model::{Language, VisitRecord};
use dps_person::{NationalNumber, PartialDate, SecretString};

/// The reader's state, always visible in the window's status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReaderState {
    /// Not known yet (the watcher has not reported).
    Starting,
    ServiceUnavailable,
    NoReader,
    InsertCard,
    Reading,
    Read,
    NotEid,
    RemovedTooEarly,
    ReadFailed,
}

/// What the window shows in the middle of the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Screen {
    Welcome,
    Procedures {
        procedures: Vec<ProcedureView>,
    },
    Journey {
        view: Box<View>,
    },
    /// The journey is over and a card is still in the reader.
    TakeCard,
}

/// Everything the window shows, after every input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct KioskView {
    pub language: Language,
    pub reader: ReaderState,
    /// The resident's first given name while their card is in, to greet them.
    pub greeting: Option<String>,
    pub screen: Screen,
    /// Procedures refused because their file is broken, for the steward
    /// ("file:line: problem"); residents never see these.
    pub flow_problems: Vec<String>,
    /// Training mode: sample residents instead of (or besides) cards, and
    /// nothing is counted. The window marks every screen while it is on.
    pub training: bool,
    /// The sample residents offered while training (empty otherwise).
    pub training_residents: Vec<TrainingResident>,
}

/// A made-up resident stewards practise with. Never a real person: the
/// national numbers are synthetic (valid check digits, fictional serials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrainingResident {
    pub first_name: String,
    /// ISO 8601, partial when the sample card's date is.
    pub birth: String,
    pub postcode: String,
}

struct Sample {
    first_name: &'static str,
    number: &'static str,
    birth: (u16, Option<u8>, Option<u8>),
    postcode: &'static str,
}

/// Four residents covering the cases stewards meet most: a senior (BRUVAX
/// appointment), a working-age adult, a young adult, and a card whose birth
/// date holds only the year.
const SAMPLES: [Sample; 4] = [
    Sample {
        first_name: "Marie",
        number: "48051200103",
        birth: (1948, Some(5), Some(12)),
        postcode: "1080",
    },
    Sample {
        first_name: "Youssef",
        number: "86020300180",
        birth: (1986, Some(2), Some(3)),
        postcode: "1210",
    },
    Sample {
        first_name: "Sofia",
        number: "04092100229",
        birth: (2004, Some(9), Some(21)),
        postcode: "1070",
    },
    Sample {
        first_name: "Jan",
        number: "62000000140",
        birth: (1962, None, None),
        postcode: "1000",
    },
];

/// What the window asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    SetLanguage {
        language: Language,
    },
    /// "Start" on the welcome screen.
    ShowProcedures,
    StartProcedure {
        procedure: String,
    },
    Journey {
        event: Event,
    },
    /// Back to welcome: the idle timeout or the steward. Abandons a journey.
    Home {
        reason: AbandonReason,
    },
    /// Training mode only: a sample resident "inserts their card".
    TrainingCardIn {
        index: u32,
    },
    /// Training mode only: the sample card is taken out.
    TrainingCardOut,
}

/// The card in the reader, as far as a journey may need it.
struct HeldCard {
    /// The reader it is in (`None` for a training sample): with several
    /// readers, the kiosk serves this card and ignores the others.
    reader: Option<String>,
    number: Option<SecretString>,
    birth: Option<Zeroizing<PartialDate>>,
    postcode: Option<SecretString>,
    first_name: Option<SecretString>,
}

impl HeldCard {
    fn identity(&self) -> Identity {
        Identity {
            national_number: self
                .number
                .as_ref()
                .and_then(|n| NationalNumber::parse_unchecked(n.expose()).ok()),
            birth_date: self.birth.clone(),
            postcode: self.postcode.clone(),
        }
    }
}

pub struct Kiosk {
    flows: Vec<Flow>,
    flow_problems: Vec<String>,
    directory: Directory,
    language: Language,
    reader: ReaderState,
    readers: Vec<String>,
    card: Option<HeldCard>,
    screen: State,
    training: bool,
    /// The reader state to go back to when a sample card is taken out.
    reader_before_sample: Option<ReaderState>,
}

enum State {
    Welcome,
    Procedures,
    Journey {
        flow: usize,
        journey: Journey,
        view: Box<View>,
    },
    TakeCard,
}

impl Kiosk {
    pub fn new(flows: Vec<Flow>, flow_problems: Vec<String>, directory: Directory) -> Kiosk {
        Kiosk {
            flows,
            flow_problems,
            directory,
            language: Language::Fr,
            reader: ReaderState::Starting,
            readers: Vec::new(),
            card: None,
            screen: State::Welcome,
            training: false,
            reader_before_sample: None,
        }
    }

    pub fn training(&self) -> bool {
        self.training
    }

    /// Turns training mode on or off. Either way whoever is at the kiosk is
    /// sent home and their data wiped, and nothing is counted: a real
    /// resident's journey must not become a training one, nor the reverse.
    pub fn set_training(&mut self, on: bool) {
        self.training = true; // so the abandon below is not counted
        let _ = self.command_inner(
            Command::Home {
                reason: AbandonReason::Quit,
            },
            NaiveDate::MIN,
        );
        if let Some(r) = self.reader_before_sample.take() {
            self.reader = r;
        }
        self.training = on;
    }

    /// Visits end here: none is ever counted in training mode.
    fn counted(&self, visit: Option<VisitRecord>) -> Option<VisitRecord> {
        if self.training {
            None
        } else {
            visit
        }
    }

    pub fn view(&self) -> KioskView {
        let screen = match &self.screen {
            State::Welcome => Screen::Welcome,
            State::Procedures => Screen::Procedures {
                procedures: ProcedureView::list(&self.flows, self.language),
            },
            State::Journey { view, .. } => Screen::Journey { view: view.clone() },
            State::TakeCard => Screen::TakeCard,
        };
        KioskView {
            language: self.language,
            reader: self.reader,
            greeting: self
                .card
                .as_ref()
                .and_then(|c| c.first_name.as_ref())
                .map(|n| n.expose().to_owned()),
            screen,
            flow_problems: self.flow_problems.clone(),
            training: self.training,
            training_residents: if self.training {
                SAMPLES
                    .iter()
                    .map(|s| TrainingResident {
                        first_name: s.first_name.to_owned(),
                        birth: sample_birth(s).to_iso(),
                        postcode: s.postcode.to_owned(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Whether a resident's journey is on screen (sync waits until it is not).
    pub fn in_journey(&self) -> bool {
        matches!(self.screen, State::Journey { .. })
    }

    fn world(&self, today: NaiveDate) -> World<'_> {
        World {
            today,
            directory: &self.directory,
        }
    }

    /// A window command. Returns the visit to count, if one ended.
    pub fn command(&mut self, cmd: Command, today: NaiveDate) -> Option<VisitRecord> {
        let visit = self.command_inner(cmd, today);
        self.counted(visit)
    }

    fn command_inner(&mut self, cmd: Command, today: NaiveDate) -> Option<VisitRecord> {
        match cmd {
            Command::TrainingCardIn { index } => {
                let sample = SAMPLES.get(usize::try_from(index).ok()?)?;
                if !self.training {
                    return None;
                }
                if self.reader_before_sample.is_none() {
                    self.reader_before_sample = Some(self.reader);
                }
                self.reader = ReaderState::Read;
                self.card = Some(HeldCard {
                    reader: None,
                    first_name: Some(SecretString::from(sample.first_name)),
                    number: Some(SecretString::from(sample.number)),
                    birth: Some(Zeroizing::new(sample_birth(sample))),
                    postcode: Some(SecretString::from(sample.postcode)),
                });
                self.feed_card_if_identifying(None, today)
            }
            Command::TrainingCardOut => {
                if !self.training || self.reader_before_sample.is_none() {
                    return None;
                }
                if let Some(r) = self.reader_before_sample.take() {
                    self.reader = r;
                }
                self.card_gone(today)
            }
            Command::SetLanguage { language } => {
                self.language = language;
                if matches!(self.screen, State::Journey { .. }) {
                    return self.journey_input(Input::Event(Event::Language { language }), today);
                }
                None
            }
            Command::ShowProcedures => {
                if !matches!(self.screen, State::Journey { .. }) {
                    self.screen = State::Procedures;
                }
                None
            }
            Command::StartProcedure { procedure } => {
                let index = self.flows.iter().position(|f| f.id.as_str() == procedure)?;
                if matches!(self.screen, State::Journey { .. }) {
                    return None;
                }
                let (journey, view) =
                    dps_flow::start(&self.flows[index], self.language, &self.world(today));
                self.screen = State::Journey {
                    flow: index,
                    journey,
                    view: Box::new(view),
                };
                self.feed_card_if_identifying(None, today)
            }
            Command::Journey { event } => self.journey_input(Input::Event(event), today),
            Command::Home { reason } => {
                let visit = if matches!(self.screen, State::Journey { .. }) {
                    self.journey_input(Input::Event(Event::Abandon { reason }), today)
                } else {
                    None
                };
                // Idle or the steward sending everyone home: nothing of the
                // resident stays, even if their card is still in.
                self.card = None;
                self.screen = State::Welcome;
                visit
            }
        }
    }

    fn journey_input(&mut self, input: Input, today: NaiveDate) -> Option<VisitRecord> {
        let State::Journey {
            flow,
            journey,
            view,
        } = std::mem::replace(&mut self.screen, State::Welcome)
        else {
            return None;
        };
        let before = view.step.clone();
        match dps_flow::step(
            &self.flows[flow],
            journey,
            input,
            &World {
                today,
                directory: &self.directory,
            },
        ) {
            After::Continue(journey, view) => {
                self.screen = State::Journey {
                    flow,
                    journey,
                    view,
                };
                self.feed_card_if_identifying(Some(before), today)
            }
            After::Ended(visit) => {
                self.screen = if self.card.is_some() {
                    State::TakeCard
                } else {
                    State::Welcome
                };
                visit
            }
        }
    }

    /// A card already in the reader identifies the resident as soon as an
    /// identify step is shown (once per arrival on the step, so a refused
    /// card shows its message instead of looping).
    fn feed_card_if_identifying(
        &mut self,
        came_from: Option<String>,
        today: NaiveDate,
    ) -> Option<VisitRecord> {
        let State::Journey { view, .. } = &self.screen else {
            return None;
        };
        if view.kind != ViewKind::Identify || came_from.as_deref() == Some(view.step.as_str()) {
            return None;
        }
        let identity = self.card.as_ref()?.identity();
        self.journey_input(Input::Card(identity), today)
    }

    /// A card watcher event.
    ///
    /// Several readers: the kiosk serves the card that identified the
    /// resident. While it holds one, events from the other readers change
    /// nothing (a card read there is dropped at once, its removal wipes no
    /// one); only that card's removal, its reader's or the card service's
    /// loss, the idle timeout or the steward end the visit. With no card
    /// held, the latest event of any reader is shown.
    pub fn card_event(&mut self, event: dps_eid::Event, today: NaiveDate) -> Option<VisitRecord> {
        let visit = self.card_event_inner(event, today);
        self.counted(visit)
    }

    /// A resident is being served with a card from another reader than `reader`.
    fn serving_other(&self, reader: &str) -> bool {
        self.card
            .as_ref()
            .is_some_and(|c| c.reader.as_deref() != Some(reader))
    }

    fn card_event_inner(&mut self, event: dps_eid::Event, today: NaiveDate) -> Option<VisitRecord> {
        use dps_eid::Event as E;
        match event {
            E::ServiceUnavailable { .. } => {
                self.readers.clear();
                self.reader = ReaderState::ServiceUnavailable;
                self.card_gone(today)
            }
            E::NoReader => {
                self.readers.clear();
                self.reader = ReaderState::NoReader;
                self.card_gone(today)
            }
            E::ReaderAdded { reader } => {
                if !self.readers.contains(&reader) {
                    self.readers.push(reader);
                }
                if matches!(
                    self.reader,
                    ReaderState::Starting | ReaderState::NoReader | ReaderState::ServiceUnavailable
                ) {
                    self.reader = ReaderState::InsertCard;
                }
                None
            }
            E::ReaderRemoved { reader } => {
                self.readers.retain(|r| r != &reader);
                if self.readers.is_empty() {
                    self.reader = ReaderState::NoReader;
                    return self.card_gone(today);
                }
                if self
                    .card
                    .as_ref()
                    .is_some_and(|c| c.reader.as_deref() == Some(reader.as_str()))
                {
                    // The watcher reports the card's removal first; this is
                    // for a reader that vanished with its card.
                    self.reader = ReaderState::InsertCard;
                    return self.card_gone(today);
                }
                None
            }
            E::CardInserted { reader } => {
                if !self.serving_other(&reader) {
                    self.reader = ReaderState::Reading;
                }
                None
            }
            E::CardRead { reader, data, .. } => {
                if self.serving_other(&reader) {
                    // Someone is being served: this card's data is not kept
                    // (`data` is dropped, and zeroized, here).
                    return None;
                }
                self.reader = ReaderState::Read;
                self.card = Some(HeldCard {
                    reader: Some(reader),
                    first_name: data.first_given_name().map(SecretString::from),
                    number: data.national_number.clone(),
                    birth: data.birth_date.clone(),
                    postcode: data.address.as_ref().and_then(|a| a.postcode.clone()),
                });
                // `data` (the whole card) is dropped, and zeroized, here.
                drop(data);
                self.feed_card_if_identifying(None, today)
            }
            E::CardError { reader, kind, .. } => {
                if self.serving_other(&reader) {
                    return None;
                }
                self.reader = match kind {
                    dps_eid::CardErrorKind::NotEid => ReaderState::NotEid,
                    dps_eid::CardErrorKind::RemovedTooEarly => ReaderState::RemovedTooEarly,
                    dps_eid::CardErrorKind::ReadFailed => ReaderState::ReadFailed,
                };
                None
            }
            E::CardRemoved { reader } => {
                if self.serving_other(&reader) {
                    return None;
                }
                // A failed read keeps saying why until the next card.
                if matches!(self.reader, ReaderState::Read | ReaderState::Reading) {
                    self.reader = ReaderState::InsertCard;
                }
                self.card_gone(today)
            }
        }
    }

    /// The card left: its data goes, and a journey that used or awaited it
    /// ends (counted as abandoned if it had started, by the flow's rules).
    fn card_gone(&mut self, today: NaiveDate) -> Option<VisitRecord> {
        let had_card = self.card.take().is_some();
        match self.screen {
            State::Journey { .. } if had_card => {
                let visit = self.journey_input(
                    Input::Event(Event::Abandon {
                        reason: AbandonReason::CardRemoved,
                    }),
                    today,
                );
                self.screen = State::Welcome;
                visit
            }
            State::TakeCard => {
                self.screen = State::Welcome;
                None
            }
            _ => None,
        }
    }
}

fn sample_birth(s: &Sample) -> PartialDate {
    let (year, month, day) = s.birth;
    PartialDate { year, month, day }
}
