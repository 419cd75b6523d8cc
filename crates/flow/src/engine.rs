//! The journey: a pure state machine `(flow, journey, input, world) ->
//! (journey, view)`. No clock, no files, no card reader: the shell passes
//! today's date, the DPS directory and the card data in.
//!
//! Personal data (national number, birth date, postcode) lives only in the
//! [`Journey`], in zeroize-on-drop types, and is dropped (so wiped) when the
//! journey ends. The only thing that leaves a journey is one
//! [`VisitRecord`], built from bands and categories.
//!
//! Ending a journey, and what is counted:
//! - `finish` on the outcome screen, or the card pulled / idle timeout / quit
//!   *while on* the outcome screen: the resident reached that outcome (taking
//!   the card back is what the outcome screen asks), so it counts.
//! - card pulled / idle timeout / quit anywhere else: `abandoned` if the
//!   procedure had started (the resident moved past the first screen or
//!   something was typed or read, even if they came back since), otherwise
//!   nothing. A person who taps a
//!   procedure and walks away has not been helped, and counting them would
//!   inflate the figures the coordination reports.
//! - `restart` starts the same procedure again for the same resident: no
//!   record, the journey continues (still counted as started).

use chrono::NaiveDate;
use dps_directory::Directory;
use dps_model::{AgeBand, Channel, Code, Language, Municipality, Residence, VisitRecord};
use dps_person::{NationalNumber, NumberError, PartialDate, SecretString, Zeroizing};

use crate::condition::{Facts, Truth};
use crate::flow::{Flow, Show, StepKind};
use crate::messages;
use crate::view::{
    ErrorCode, Event, IdentifyView, Nearness, Progress, SiteView, View, ViewError, ViewKind,
    ViewOption,
};

/// What the engine needs from outside, passed in so the engine stays pure.
#[derive(Debug, Clone, Copy)]
pub struct World<'a> {
    /// The local date in Brussels.
    pub today: NaiveDate,
    pub directory: &'a Directory,
}

/// Card data, as the eID layer hands it over (Tauri-free).
#[derive(Debug, Default)]
pub struct Identity {
    /// As read from the chip; not re-checked (specimen cards break the
    /// check-digit rule, and the chip's data is signed).
    pub national_number: Option<NationalNumber>,
    pub birth_date: Option<Zeroizing<PartialDate>>,
    /// From the address file, if it was read.
    pub postcode: Option<SecretString>,
}

pub enum Input {
    Event(Event),
    /// A card was read while the journey is on an identify step.
    Card(Identity),
}

impl From<Event> for Input {
    fn from(e: Event) -> Input {
        Input::Event(e)
    }
}

/// The resident as far as this journey needs them.
#[derive(Clone)]
struct Person {
    channel: Channel,
    number: Option<NationalNumber>,
    birth: Option<Zeroizing<PartialDate>>,
    postcode: Option<SecretString>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Person({:?}, ***)", self.channel)
    }
}

#[derive(Debug, Clone)]
struct Frame {
    /// The step that was displayed.
    step: usize,
    /// Who the resident was before leaving it (Back restores it).
    person: Option<Person>,
    /// Whether leaving it was an answer (choice, tick, identification)
    /// rather than "next": Undo goes back to the last answer.
    answer: bool,
}

/// One resident's way through one procedure.
#[derive(Debug, Clone)]
pub struct Journey {
    flow: Code,
    language: Language,
    at: usize,
    history: Vec<Frame>,
    person: Option<Person>,
    error: Option<(ErrorCode, usize)>,
    /// The procedure has started: the resident moved past the first screen
    /// or something was typed or read (even if refused). Sticky: going back
    /// to the first screen does not un-start a visit.
    started: bool,
}

impl Journey {
    pub fn language(&self) -> Language {
        self.language
    }
    pub fn flow_id(&self) -> &Code {
        &self.flow
    }
}

#[derive(Debug)]
pub enum After {
    /// The journey goes on; show this view.
    Continue(Journey, Box<View>),
    /// The journey is over and its personal data dropped; at most one record
    /// to count. The window shows "please take your card", then welcome.
    Ended(Option<VisitRecord>),
}

/// Starts a journey on `flow` in `language`.
pub fn start(flow: &Flow, language: Language, world: &World<'_>) -> (Journey, View) {
    let mut j = Journey {
        flow: flow.id.clone(),
        language,
        at: 0,
        history: Vec::new(),
        person: None,
        error: None,
        started: false,
    };
    j.at = resolve(flow, &j, 0, world);
    let v = view(flow, &j, world);
    (j, v)
}

/// One input. Inputs that do not apply to the current step (a tick on an
/// info screen, a card on a choice) change nothing: the window may race the
/// card reader, and a stray click must not move a resident on.
pub fn step(flow: &Flow, mut j: Journey, input: Input, world: &World<'_>) -> After {
    let kind = &flow.steps[j.at].kind;
    let keep_error = matches!(input, Input::Event(Event::Language { .. }));
    if !keep_error {
        j.error = None;
    }
    match input {
        Input::Card(id) => {
            if let StepKind::Identify {
                number,
                postcode,
                next,
                ..
            } = kind
            {
                j.started = true;
                let has_postcode = id
                    .postcode
                    .as_ref()
                    .is_some_and(|p| !p.expose().trim().is_empty());
                if *number && id.national_number.is_none() {
                    j.error = Some((ErrorCode::CardNoNumber, 0));
                } else if *postcode && !has_postcode {
                    j.error = Some((ErrorCode::CardNoPostcode, 0));
                } else {
                    let birth = id.birth_date.clone().or_else(|| {
                        id.national_number
                            .as_ref()
                            .and_then(|n| n.birth_date())
                            .map(Zeroizing::new)
                    });
                    let person = Person {
                        channel: Channel::Eid,
                        number: id.national_number.clone().filter(|_| *number),
                        birth,
                        postcode: id.postcode.clone().filter(|_| *postcode),
                    };
                    advance(flow, &mut j, *next, true, Some(person), world);
                }
            }
        }
        Input::Event(e) => match e {
            Event::Next => {
                if let StepKind::Info { next, .. } = kind {
                    advance(flow, &mut j, *next, false, None, world);
                }
            }
            Event::Tick => {
                if let StepKind::Check { next, .. } = kind {
                    advance(flow, &mut j, *next, true, None, world);
                }
            }
            Event::Choose { option } => {
                if let StepKind::Choice { options, .. } = kind {
                    if let Some(o) = options.iter().find(|o| o.id == option) {
                        advance(flow, &mut j, o.next, true, None, world);
                    }
                }
            }
            Event::Manual {
                number: typed_number,
                postcode: typed_postcode,
            } => {
                if let StepKind::Identify {
                    number,
                    postcode,
                    manual: true,
                    next,
                    ..
                } = kind
                {
                    j.started = true;
                    match manual_entry(*number, *postcode, &typed_number, &typed_postcode) {
                        Ok(person) => advance(flow, &mut j, *next, true, Some(person), world),
                        Err(e) => j.error = Some(e),
                    }
                }
            }
            Event::Back => {
                if let Some(f) = j.history.pop() {
                    j.at = f.step;
                    j.person = f.person;
                }
            }
            Event::Undo => {
                while let Some(f) = j.history.pop() {
                    j.at = f.step;
                    j.person = f.person;
                    if f.answer {
                        break;
                    }
                }
            }
            Event::Restart => {
                let (mut fresh, v) = start(flow, j.language, world);
                fresh.started = j.started;
                return After::Continue(fresh, Box::new(v));
            }
            Event::Language { language } => j.language = language,
            Event::Finish => {
                if let StepKind::End { outcome, .. } = kind {
                    return After::Ended(Some(record(&j, outcome.clone(), world.today)));
                }
            }
            Event::Abandon { .. } => {
                if let StepKind::End { outcome, .. } = kind {
                    return After::Ended(Some(record(&j, outcome.clone(), world.today)));
                }
                return After::Ended(j.started.then(|| abandoned(&j, world.today)));
            }
        },
    }
    let v = view(flow, &j, world);
    After::Continue(j, Box::new(v))
}

fn abandoned(j: &Journey, today: NaiveDate) -> VisitRecord {
    let outcome = Code::new("abandoned").unwrap_or_else(|_| unreachable!("a constant valid code"));
    record(j, outcome, today)
}

fn manual_entry(
    asks_number: bool,
    asks_postcode: bool,
    typed_number: &SecretString,
    typed_postcode: &SecretString,
) -> Result<Person, (ErrorCode, usize)> {
    let number = if asks_number {
        Some(
            NationalNumber::parse(typed_number.expose()).map_err(|e| match e {
                NumberError::WrongLength { found } => (ErrorCode::NumberLength, found),
                NumberError::NotDigits => (ErrorCode::NumberNotDigits, 0),
                NumberError::CheckDigits => (ErrorCode::NumberCheckDigits, 0),
                NumberError::ImpossibleDate => (ErrorCode::NumberImpossibleDate, 0),
            })?,
        )
    } else {
        None
    };
    let postcode = if asks_postcode {
        let pc = typed_postcode.expose().trim();
        let ok = pc.len() == 4 && pc.bytes().all(|b| b.is_ascii_digit()) && !pc.starts_with('0');
        if !ok {
            return Err((ErrorCode::PostcodeFormat, 0));
        }
        Some(SecretString::from(pc))
    } else {
        None
    };
    let birth = number
        .as_ref()
        .and_then(NationalNumber::birth_date)
        .map(Zeroizing::new);
    Ok(Person {
        channel: Channel::Manual,
        number,
        birth,
        postcode,
    })
}

/// Leaves the current step for `to`, remembering it for Back and Undo.
fn advance(
    flow: &Flow,
    j: &mut Journey,
    to: usize,
    answer: bool,
    person: Option<Person>,
    world: &World<'_>,
) {
    j.history.push(Frame {
        step: j.at,
        person: j.person.clone(),
        answer,
    });
    j.started = true;
    if person.is_some() {
        j.person = person;
    }
    j.at = resolve(flow, j, to, world);
}

/// Follows computed branches (never displayed) to the next displayed step.
/// Terminates: the checker refuses loops.
fn resolve(flow: &Flow, j: &Journey, mut i: usize, world: &World<'_>) -> usize {
    let postcode = j
        .person
        .as_ref()
        .and_then(|p| p.postcode.as_ref())
        .map(SecretString::expose);
    let facts = Facts {
        today: world.today,
        birth: j.person.as_ref().and_then(|p| p.birth.as_deref().copied()),
        postcode,
        channel: j.person.as_ref().map_or(Channel::None, |p| p.channel),
    };
    while let StepKind::Branch {
        rules,
        otherwise,
        unknown,
    } = &flow.steps[i].kind
    {
        let mut to = *otherwise;
        for (cond, target) in rules {
            match cond.eval(&facts) {
                Truth::Yes => {
                    to = *target;
                    break;
                }
                // An earlier rule we cannot decide must not be skipped in
                // favour of a later one: ask instead.
                Truth::Unknown => {
                    to = unknown.unwrap_or(*otherwise);
                    break;
                }
                Truth::No => {}
            }
        }
        i = to;
    }
    i
}

/// The one thing that leaves the journey.
fn record(j: &Journey, outcome: Code, today: NaiveDate) -> VisitRecord {
    let p = j.person.as_ref();
    let age_band = p
        .and_then(|p| p.birth.as_deref())
        .and_then(|b| b.age_range_at(today))
        .map_or(AgeBand::Unknown, |(min, max)| {
            AgeBand::of_age_range(min, max)
        });
    let residence = p
        .and_then(|p| p.postcode.as_ref())
        .map_or(Residence::Unknown, |pc| {
            Residence::from_postcode(pc.expose())
        });
    VisitRecord {
        procedure: j.flow.clone(),
        outcome,
        language: j.language,
        channel: p.map_or(Channel::None, |p| p.channel),
        age_band,
        residence,
    }
}

fn municipality_name(m: Municipality, lang: Language) -> &'static str {
    match lang {
        Language::Nl => m.name_nl(),
        _ => m.name_fr(),
    }
}

/// The view of the journey's current step.
pub fn view(flow: &Flow, j: &Journey, world: &World<'_>) -> View {
    let lang = j.language;
    let step = &flow.steps[j.at];
    let empty = Vec::new();
    let (kind, show) = match &step.kind {
        StepKind::Info { show, .. } => (ViewKind::Info, show),
        StepKind::Check { show, .. } => (ViewKind::Check, show),
        StepKind::Choice { .. } => (ViewKind::Choice, &empty),
        StepKind::Identify { .. } => (ViewKind::Identify, &empty),
        StepKind::End { show, .. } => (ViewKind::End, show),
        // resolve() never stops on a branch.
        StepKind::Branch { .. } => (ViewKind::Info, &empty),
    };
    let screen = step.screen();
    let options = match &step.kind {
        StepKind::Choice { options, .. } => options
            .iter()
            .map(|o| ViewOption {
                id: o.id.clone(),
                label: o.label.get(lang).to_owned(),
                pictogram: o.pictogram.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let identify = match &step.kind {
        StepKind::Identify {
            number,
            postcode,
            manual,
            ..
        } => Some(IdentifyView {
            manual_entry: *manual,
            asks_number: *number,
            asks_postcode: *postcode,
        }),
        _ => None,
    };
    let person = j.person.as_ref();
    let postcode = person
        .and_then(|p| p.postcode.as_ref())
        .map(|p| p.expose().to_owned());
    let national_number = show
        .contains(&Show::NationalNumber)
        .then(|| {
            person
                .and_then(|p| p.number.as_ref())
                .map(NationalNumber::formatted)
        })
        .flatten();
    let nearby = show.contains(&Show::NearbyDps).then(|| {
        let n = world.directory.nearby(postcode.as_deref().unwrap_or(""));
        let site = |s: &&dps_directory::Site, nearness| SiteView {
            id: s.id.to_string(),
            name: s.name.clone(),
            addresses: s.addresses.clone(),
            postcode: s.postcode.clone(),
            municipality: municipality_name(s.municipality, lang).to_owned(),
            phone: s.phone.clone(),
            nearness,
        };
        let mut v: Vec<SiteView> = n.own.iter().map(|s| site(s, Nearness::Own)).collect();
        v.extend(
            n.neighbouring
                .iter()
                .map(|s| site(s, Nearness::Neighbouring)),
        );
        // Someone from outside the Region (or with no postcode) sees them all.
        if v.is_empty() {
            v.extend(n.others.iter().map(|s| site(s, Nearness::Other)));
        }
        v
    });
    let outcome = match &step.kind {
        StepKind::End { outcome, .. } => Some(outcome.to_string()),
        _ => None,
    };
    let error = j.error.map(|(code, found)| ViewError {
        code,
        params: if code == ErrorCode::NumberLength {
            [("found".to_owned(), found.to_string())]
                .into_iter()
                .collect()
        } else {
            Default::default()
        },
        message: messages::error(code, lang, found),
    });
    let done = u32::try_from(j.history.len()).unwrap_or(u32::MAX);
    View {
        procedure: flow.id.to_string(),
        procedure_title: flow.title.get(lang).to_owned(),
        language: lang,
        step: step.id.clone(),
        kind,
        title: screen.map_or("", |s| s.title.get(lang)).to_owned(),
        body: screen
            .map_or("", |s| s.body.get(lang))
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        pictogram: screen.map_or("", |s| s.pictogram.as_str()).to_owned(),
        options,
        identify,
        national_number,
        postcode: show.contains(&Show::Postcode).then_some(postcode).flatten(),
        nearby,
        outcome,
        error,
        can_go_back: !j.history.is_empty(),
        can_undo: j.history.iter().any(|f| f.answer),
        progress: Progress {
            step: done.saturating_add(1),
            of: done.saturating_add(flow.remaining[j.at]),
        },
    }
}
