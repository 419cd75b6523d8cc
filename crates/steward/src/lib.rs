//! The steward's side of the kiosk window, without Tauri: the PIN that guards
//! it, outreach sessions, today's and this session's tallies, "undo last
//! visit", the steward's language, start at login, and the one place where a
//! finished visit is counted.
//!
//! The shell holds one [`Steward`] behind a mutex and calls it from thin
//! commands; everything here is testable without a window. Time is passed in.
//!
//! Why a PIN lockout lives here and not in the tally store: failed attempts
//! are a property of this running window (a resident poking at the steward
//! button), not something worth a disk write; a restart clears them, which
//! costs an attacker a visible restart of the kiosk.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use dps_directory::Directory;
use dps_model::{Code, Language, Municipality, VisitRecord};
use dps_sync::SyncStatus;
use dps_tally::{Site, StoreNotice, TallyError, TallyStore};

pub mod autostart;
pub mod instance;

/// Wrong PINs allowed in a row before the steward area locks for a while.
pub const MAX_PIN_FAILURES: usize = 5;
/// How long the steward area stays locked after [`MAX_PIN_FAILURES`].
pub const LOCKOUT_MINUTES: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum StewardError {
    #[error("the steward area is locked: enter the PIN")]
    Locked,
    #[error("the PIN is not correct ({left} tries left)")]
    PinWrong { left: usize },
    #[error("too many wrong PINs: try again in {minutes} minutes")]
    PinLockedOut { minutes: i64 },
    #[error("the two PINs are not the same")]
    PinMismatch,
    #[error("the visit counts cannot be opened on this kiosk")]
    NoStore,
    #[error("{0:?} is not one of the 19 Brussels municipalities")]
    UnknownMunicipality(String),
    #[error("could not change start at login: {0}")]
    Autostart(std::io::Error),
    #[error(transparent)]
    Tally(#[from] TallyError),
}

impl StewardError {
    /// The stable code the window translates (`error-<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            StewardError::Locked => "steward_locked",
            StewardError::PinWrong { .. } => "pin_wrong",
            StewardError::PinLockedOut { .. } => "pin_locked_out",
            StewardError::PinMismatch => "pin_mismatch",
            StewardError::NoStore => "store_unavailable",
            StewardError::UnknownMunicipality(_) => "site_invalid",
            StewardError::Autostart(_) => "autostart_failed",
            StewardError::Tally(e) => match e {
                TallyError::NoSession => "no_session",
                TallyError::SessionAlreadyOpen => "session_open",
                TallyError::NothingToUndo => "nothing_to_undo",
                TallyError::InvalidSite(_) => "site_invalid",
                TallyError::PinFormat => "pin_format",
                TallyError::PinAlreadySet => "pin_already_set",
                TallyError::PinNotSet => "pin_not_set",
                TallyError::WrongPin => "pin_wrong",
                TallyError::StoreInUse { .. } => "store_in_use",
                TallyError::Damaged(_) => "store_damaged",
                _ => "store_failed",
            },
        }
    }

    /// Named parameters for the translated message.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            StewardError::PinWrong { left } => vec![("left", left.to_string())],
            StewardError::PinLockedOut { minutes } => vec![("minutes", minutes.to_string())],
            _ => Vec::new(),
        }
    }
}

pub type Result<T, E = StewardError> = std::result::Result<T, E>;

/// Where the steward says the session takes place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SiteChoice {
    /// A certified DPS by its directory id.
    Certified { id: String },
    /// A pop-up place and its municipality (slug, e.g. `molenbeek-saint-jean`).
    PopUp { place: String, municipality: String },
}

/// What the steward asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StewardAction {
    /// First start only: choose the PIN (typed twice).
    SetPin {
        pin: String,
        confirm: String,
    },
    Unlock {
        pin: String,
    },
    /// Close the steward area.
    Lock,
    ChangePin {
        current: String,
        pin: String,
        confirm: String,
    },
    StartSession {
        site: SiteChoice,
    },
    EndSession,
    UndoLast,
    SetLanguage {
        language: Language,
    },
    SetTraining {
        on: bool,
    },
    SetAutostart {
        on: bool,
    },
    SyncNow,
    Enrol {
        hub: String,
        code: String,
    },
    /// The steward has read the store notices (a quarantine…).
    AcknowledgeNotices,
    /// Write a support bundle (logs + doctor) to the USB stick.
    SupportBundle,
    /// Leave the kiosk (the only way out for anyone).
    Quit,
}

/// What the shell must do after an action (the parts that are not the
/// store's: the sync loop, the controller, the window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    SyncNow,
    Enrol {
        hub: String,
        code: String,
    },
    Training(bool),
    /// The shell writes the support bundle and reports where with
    /// [`Steward::bundle_written`].
    SupportBundle,
    Quit,
}

/// Visits by procedure and outcome, net of undos.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SummaryView {
    #[ts(type = "number")]
    pub visits: u64,
    #[ts(type = "number")]
    pub undone: u64,
    pub rows: Vec<SummaryRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SummaryRow {
    pub procedure: Code,
    pub outcome: Code,
    #[ts(type = "number")]
    pub visits: u64,
}

impl From<dps_tally::Summary> for SummaryView {
    fn from(s: dps_tally::Summary) -> Self {
        SummaryView {
            visits: s.visits,
            undone: s.undone,
            rows: s
                .by_procedure
                .into_iter()
                .filter(|r| r.visits > 0)
                .map(|r| SummaryRow {
                    procedure: r.procedure,
                    outcome: r.outcome,
                    visits: r.visits,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionView {
    #[ts(type = "number")]
    pub id: u64,
    /// The site's name (a DPS's name, or "place (municipality)").
    pub site: String,
    pub site_code: Code,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: Option<String>,
    pub summary: SummaryView,
}

/// Why a finished visit was or was not counted, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// A session is open: visits are counted.
    Counting,
    /// No session is open: visits are not counted.
    NoSession,
    /// The store could not be opened.
    StoreUnavailable,
}

/// Always visible: the status bar and the welcome screen's steward notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StewardStatus {
    pub pin_set: bool,
    pub unlocked: bool,
    pub counting: Counting,
    pub session: Option<SessionView>,
    /// Number, within its session, of the last visit confirmed on disk.
    pub last_counted: Option<u32>,
    /// Why the store could not be opened, as an error code the window
    /// translates (`error-<code>`); `None` when it is open.
    pub store_problem: Option<String>,
    /// The steward has notices to read in the steward area (a quarantine…).
    /// Only a flag: the details are behind the PIN, never on a resident's
    /// screen.
    pub notice: bool,
    pub sync: SyncStatus,
    /// Where this status stands among all the statuses sent to the window
    /// (events and command replies), stamped by the shell in the order their
    /// state was read; 0 until stamped. Replies and events can arrive out of
    /// order, so the window never replaces a status with a lower `seq`.
    pub seq: u64,
}

/// A notice for the steward, shown in the steward area until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeView {
    /// The counts could not be read and were set aside in `moved_to`; a new
    /// store counts on (in the same session when `session_resumed`).
    Quarantined {
        /// RFC 3339.
        at: String,
        moved_to: String,
        session_resumed: bool,
    },
    /// The settings could not be read and were set aside; the PIN was set again.
    SettingsReset { at: String, moved_to: String },
}

impl From<&StoreNotice> for NoticeView {
    fn from(n: &StoreNotice) -> NoticeView {
        match n {
            StoreNotice::Quarantined {
                at,
                moved_to,
                session_resumed,
                ..
            } => NoticeView::Quarantined {
                at: at.to_rfc3339(),
                moved_to: moved_to.display().to_string(),
                session_resumed: *session_resumed,
            },
            StoreNotice::SettingsReset { at, moved_to } => NoticeView::SettingsReset {
                at: at.to_rfc3339(),
                moved_to: moved_to.display().to_string(),
            },
        }
    }
}

/// A procedure's title in the steward's language, for the tallies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProcedureTitle {
    pub id: Code,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SiteOption {
    pub id: Code,
    pub name: String,
    pub municipality: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MunicipalityOption {
    pub slug: String,
    pub name_fr: String,
    pub name_nl: String,
}

/// Only while unlocked: the steward area itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StewardArea {
    pub today: SummaryView,
    /// The last session ended, with its summary (shown after "end session").
    pub last_ended: Option<SessionView>,
    pub sites: Vec<SiteOption>,
    pub municipalities: Vec<MunicipalityOption>,
    pub language: Language,
    /// `None` when start at login cannot be managed here (no config dir).
    pub autostart: Option<bool>,
    /// The last visit undone in this session, by its number.
    pub last_undone: Option<u32>,
    /// Store notices not yet acknowledged, oldest first.
    pub notices: Vec<NoticeView>,
    /// The procedures' titles in the steward's language (summaries show
    /// these, not ids; a procedure no longer offered shows its id).
    pub procedures: Vec<ProcedureTitle>,
    /// Where the last support bundle was written (this unlock).
    pub support_bundle: Option<String>,
}

/// What every steward command answers: the status, and the area if unlocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StewardReply {
    pub status: StewardStatus,
    pub area: Option<StewardArea>,
}

/// What happened to a finished visit.
#[derive(Debug)]
pub enum CountOutcome {
    /// On disk (flushed and fsynced), with its number in the session.
    Counted {
        visit_no: u32,
    },
    NotCounted(StewardError),
}

pub struct Steward {
    store: Option<Arc<TallyStore>>,
    store_problem: Option<String>,
    directory: Directory,
    unlocked: bool,
    failures: Vec<DateTime<Utc>>,
    last_counted: Option<u32>,
    last_undone: Option<u32>,
    autostart: Option<autostart::Autostart>,
    /// Procedure id → its title in each language (from the flow files).
    titles: BTreeMap<Code, BTreeMap<Language, String>>,
    support_bundle: Option<String>,
}

impl Steward {
    /// `store_problem` is the store's own message when it was set aside or
    /// could not be opened; `autostart` manages the login desktop entry.
    pub fn new(
        store: Option<Arc<TallyStore>>,
        store_problem: Option<String>,
        directory: Directory,
        autostart: Option<autostart::Autostart>,
    ) -> Steward {
        Steward {
            store,
            store_problem,
            directory,
            unlocked: false,
            failures: Vec::new(),
            last_counted: None,
            last_undone: None,
            autostart,
            titles: BTreeMap::new(),
            support_bundle: None,
        }
    }

    /// The procedures' titles by language, for the summaries.
    pub fn with_titles(mut self, titles: BTreeMap<Code, BTreeMap<Language, String>>) -> Steward {
        self.titles = titles;
        self
    }

    /// The shell wrote the support bundle at `path`.
    pub fn bundle_written(&mut self, path: String) {
        self.support_bundle = Some(path);
    }

    pub fn store(&self) -> Option<Arc<TallyStore>> {
        self.store.clone()
    }

    fn store_ref(&self) -> Result<&TallyStore> {
        self.store.as_deref().ok_or(StewardError::NoStore)
    }

    pub fn is_unlocked(&self) -> bool {
        self.unlocked
    }

    /// Counts a finished visit; only a session's visits are counted. The
    /// receipt comes back only once the count is flushed and fsynced.
    pub fn count(&mut self, visit: VisitRecord, now: DateTime<Utc>) -> CountOutcome {
        let store = match self.store_ref() {
            Ok(s) => s,
            Err(e) => return CountOutcome::NotCounted(e),
        };
        match store.record(visit, now) {
            Ok(receipt) => {
                self.last_counted = Some(receipt.visit_no);
                self.last_undone = None;
                CountOutcome::Counted {
                    visit_no: receipt.visit_no,
                }
            }
            Err(e) => CountOutcome::NotCounted(e.into()),
        }
    }

    /// The steward's language (the resident's choice never changes it).
    pub fn language(&self) -> Language {
        self.store
            .as_deref()
            .and_then(|s| s.steward_language().ok().flatten())
            .unwrap_or(Language::Fr)
    }

    fn session_view(&self, s: &dps_tally::Session) -> SessionView {
        let site = match &s.site {
            Site::Certified { id } => self
                .directory
                .site(id.as_str())
                .map(|d| d.name.clone())
                .unwrap_or_else(|| id.to_string()),
            other => other.label(),
        };
        SessionView {
            id: s.id,
            site,
            site_code: s.site_code.clone(),
            started_at: s.started_at.to_rfc3339(),
            ended_at: s.ended_at.map(|t| t.to_rfc3339()),
            summary: s.summary.clone().map(SummaryView::from).unwrap_or_default(),
        }
    }

    pub fn status(&self, sync: SyncStatus) -> StewardStatus {
        let Some(store) = self.store.as_deref() else {
            return StewardStatus {
                pin_set: false,
                unlocked: self.unlocked,
                counting: Counting::StoreUnavailable,
                session: None,
                last_counted: None,
                store_problem: self.store_problem.clone(),
                notice: false,
                sync,
                seq: 0,
            };
        };
        let session = store.current_session().ok().flatten().map(|s| {
            let mut v = self.session_view(&s);
            if let Ok(Some(sum)) = store.session_summary() {
                v.summary = sum.into();
            }
            v
        });
        StewardStatus {
            pin_set: store.pin_is_set().unwrap_or(false),
            unlocked: self.unlocked,
            counting: if session.is_some() {
                Counting::Counting
            } else {
                Counting::NoSession
            },
            last_counted: session.as_ref().and(self.last_counted),
            session,
            store_problem: self.store_problem.clone(),
            notice: !store.notices().is_empty(),
            sync,
            seq: 0,
        }
    }

    pub fn area(&self, now: DateTime<Utc>) -> Result<StewardArea> {
        if !self.unlocked {
            return Err(StewardError::Locked);
        }
        let store = self.store_ref()?;
        let language = self.language();
        let last_ended = store
            .sessions()?
            .into_iter()
            .rev()
            .find(|s| s.ended_at.is_some())
            .map(|s| self.session_view(&s));
        Ok(StewardArea {
            today: store.today_summary(now)?.into(),
            last_ended,
            sites: self
                .directory
                .sites()
                .iter()
                .map(|s| SiteOption {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    municipality: s.municipality.name_fr().to_owned(),
                })
                .collect(),
            municipalities: Municipality::ALL
                .into_iter()
                .map(|m| MunicipalityOption {
                    slug: m.slug().to_owned(),
                    name_fr: m.name_fr().to_owned(),
                    name_nl: m.name_nl().to_owned(),
                })
                .collect(),
            language,
            autostart: self.autostart.as_ref().map(|a| a.is_on()),
            last_undone: self.last_undone,
            notices: store.notices().iter().map(NoticeView::from).collect(),
            procedures: self
                .titles
                .iter()
                .map(|(id, t)| ProcedureTitle {
                    id: id.clone(),
                    title: t
                        .get(&language)
                        .or_else(|| t.get(&Language::Fr))
                        .cloned()
                        .unwrap_or_else(|| id.to_string()),
                })
                .collect(),
            support_bundle: self.support_bundle.clone(),
        })
    }

    /// Status plus the area when unlocked.
    pub fn reply(&self, sync: SyncStatus, now: DateTime<Utc>) -> Result<StewardReply> {
        Ok(StewardReply {
            status: self.status(sync),
            area: if self.unlocked {
                Some(self.area(now)?)
            } else {
                None
            },
        })
    }

    fn check_pin(&mut self, pin: &str, now: DateTime<Utc>) -> Result<()> {
        let window = Duration::minutes(LOCKOUT_MINUTES);
        self.failures.retain(|t| now - *t < window);
        if self.failures.len() >= MAX_PIN_FAILURES {
            let oldest = self.failures.iter().min().copied().unwrap_or(now);
            let minutes = ((oldest + window - now).num_seconds() + 59) / 60;
            return Err(StewardError::PinLockedOut {
                minutes: minutes.max(1),
            });
        }
        if self.store_ref()?.verify_pin(pin)? {
            self.failures.clear();
            Ok(())
        } else {
            self.failures.push(now);
            let left = MAX_PIN_FAILURES.saturating_sub(self.failures.len());
            if left == 0 {
                Err(StewardError::PinLockedOut {
                    minutes: LOCKOUT_MINUTES,
                })
            } else {
                Err(StewardError::PinWrong { left })
            }
        }
    }

    fn require_unlocked(&self) -> Result<()> {
        if self.unlocked {
            Ok(())
        } else {
            Err(StewardError::Locked)
        }
    }

    /// Carries out one action; the returned effect is the shell's to do.
    pub fn act(&mut self, action: StewardAction, now: DateTime<Utc>) -> Result<Effect> {
        use StewardAction as A;
        match action {
            A::SetPin { pin, confirm } => {
                if pin != confirm {
                    return Err(StewardError::PinMismatch);
                }
                self.store_ref()?.set_pin(&pin)?;
                self.unlocked = true;
                Ok(Effect::None)
            }
            A::Unlock { pin } => {
                self.check_pin(&pin, now)?;
                self.unlocked = true;
                Ok(Effect::None)
            }
            A::Lock => {
                self.unlocked = false;
                self.support_bundle = None;
                Ok(Effect::None)
            }
            A::ChangePin {
                current,
                pin,
                confirm,
            } => {
                self.require_unlocked()?;
                if pin != confirm {
                    return Err(StewardError::PinMismatch);
                }
                // The current PIN again: an unlocked area left open must not
                // let a passer-by take it over.
                self.check_pin(&current, now)?;
                self.store_ref()?.change_pin(&current, &pin)?;
                Ok(Effect::None)
            }
            A::StartSession { site } => {
                self.require_unlocked()?;
                let site = match site {
                    SiteChoice::Certified { id } => Site::certified(&id, &self.directory)?,
                    SiteChoice::PopUp {
                        place,
                        municipality,
                    } => Site::PopUp {
                        place,
                        municipality: municipality
                            .parse()
                            .map_err(|_| StewardError::UnknownMunicipality(municipality))?,
                    },
                };
                self.store_ref()?.start_session(site, now)?;
                self.last_counted = None;
                self.last_undone = None;
                Ok(Effect::None)
            }
            A::EndSession => {
                self.require_unlocked()?;
                self.store_ref()?.end_session(now)?;
                self.last_counted = None;
                self.last_undone = None;
                // Counts just closed are worth sending now.
                Ok(Effect::SyncNow)
            }
            A::UndoLast => {
                self.require_unlocked()?;
                let r = self.store_ref()?.undo_last()?;
                self.last_undone = Some(r.visit_no);
                Ok(Effect::SyncNow)
            }
            A::SetLanguage { language } => {
                self.require_unlocked()?;
                self.store_ref()?.set_steward_language(language)?;
                Ok(Effect::None)
            }
            A::SetTraining { on } => {
                self.require_unlocked()?;
                Ok(Effect::Training(on))
            }
            A::SetAutostart { on } => {
                self.require_unlocked()?;
                match &self.autostart {
                    Some(a) => a.set(on).map_err(StewardError::Autostart)?,
                    None => {
                        return Err(StewardError::Autostart(std::io::Error::other(
                            "no configuration directory",
                        )))
                    }
                }
                Ok(Effect::None)
            }
            A::SyncNow => {
                self.require_unlocked()?;
                Ok(Effect::SyncNow)
            }
            A::Enrol { hub, code } => {
                self.require_unlocked()?;
                Ok(Effect::Enrol { hub, code })
            }
            A::AcknowledgeNotices => {
                self.require_unlocked()?;
                self.store_ref()?.acknowledge_notices()?;
                Ok(Effect::None)
            }
            A::SupportBundle => {
                self.require_unlocked()?;
                Ok(Effect::SupportBundle)
            }
            A::Quit => {
                self.require_unlocked()?;
                Ok(Effect::Quit)
            }
        }
    }
}

/// Where the desktop entry for start at login goes: `$XDG_CONFIG_HOME` or
/// `~/.config`, as the XDG autostart spec says.
pub fn autostart_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("autostart"))
}
