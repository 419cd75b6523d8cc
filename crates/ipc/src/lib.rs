//! The typed IPC between the kiosk window and the Rust side.
//!
//! Every type that crosses `invoke` or an event lives here (or is re-exported
//! from the crate that owns it) and derives [`ts_rs::TS`]. [`typescript`]
//! renders them all into one TypeScript module, committed as
//! `ui/src/lib/bindings.ts`; a test fails when that file is stale, so the
//! window and the Rust side cannot drift apart silently.
//!
//! Errors cross as [`IpcError`] `{code, params}`: the window translates the
//! code through Fluent (`error-<code>`), so no English sentence built in Rust
//! ever reaches a resident.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::{Config, TS};

pub use dps_controller::{Command, KioskView, ReaderState, Screen, TrainingResident};
pub use dps_flow::view::{
    AbandonReason, ErrorCode, Event, IdentifyView, Nearness, ProcedureView, Progress, SiteView,
    View, ViewError, ViewKind, ViewOption,
};
pub use dps_model::{AgeBand, Channel, Code, Language, VisitRecord};
pub use dps_steward::{
    Counting, MunicipalityOption, NoticeView, ProcedureTitle, SessionView, SiteChoice, SiteOption,
    StewardAction, StewardArea, StewardReply, StewardStatus, SummaryRow, SummaryView,
};
pub use dps_sync::SyncStatus;

/// An error as the window sees it: a stable code and named parameters for the
/// translated message `error-<code>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IpcError {
    pub code: String,
    pub params: BTreeMap<String, String>,
}

impl IpcError {
    pub fn new(code: impl Into<String>) -> IpcError {
        IpcError {
            code: code.into(),
            params: BTreeMap::new(),
        }
    }
    pub fn with(mut self, key: &str, value: impl ToString) -> IpcError {
        self.params.insert(key.to_owned(), value.to_string());
        self
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        for (k, v) in &self.params {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for IpcError {}

impl From<dps_steward::StewardError> for IpcError {
    fn from(e: dps_steward::StewardError) -> IpcError {
        let mut out = IpcError::new(e.code());
        for (k, v) in e.params() {
            out = out.with(k, v);
        }
        out
    }
}

/// A language offered on the welcome screen, named in itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LanguageInfo {
    pub code: Language,
    pub endonym: String,
}

/// What the window asks for when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AppInfo {
    pub version: String,
    pub languages: Vec<LanguageInfo>,
    /// The language the window opens in.
    pub default_language: Language,
    /// Seconds without interaction before the resident's data is wiped and
    /// the window returns to welcome; a countdown shows for the last
    /// `idle_warning_seconds`.
    pub idle_seconds: u32,
    pub idle_warning_seconds: u32,
}

impl AppInfo {
    pub fn current() -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            languages: Language::ALL
                .into_iter()
                .map(|code| LanguageInfo {
                    code,
                    endonym: code.endonym().to_owned(),
                })
                .collect(),
            default_language: Language::Fr,
            idle_seconds: 60,
            idle_warning_seconds: 15,
        }
    }
}

fn decl<T: TS>(cfg: &Config, out: &mut String) {
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push_str("\n\n");
}

/// The whole IPC surface as one TypeScript module.
pub fn typescript() -> String {
    // u64 counts stay far below 2^53: plain numbers are what the window wants.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from crates/ipc by `make bindings`. Do not edit: a test fails when stale.\n\n",
    );
    decl::<IpcError>(&cfg, &mut out);
    decl::<Language>(&cfg, &mut out);
    decl::<LanguageInfo>(&cfg, &mut out);
    decl::<AppInfo>(&cfg, &mut out);
    decl::<Channel>(&cfg, &mut out);
    decl::<AgeBand>(&cfg, &mut out);
    decl::<Code>(&cfg, &mut out);
    decl::<VisitRecord>(&cfg, &mut out);
    decl::<ReaderState>(&cfg, &mut out);
    decl::<KioskView>(&cfg, &mut out);
    decl::<Screen>(&cfg, &mut out);
    decl::<Command>(&cfg, &mut out);
    decl::<ProcedureView>(&cfg, &mut out);
    decl::<View>(&cfg, &mut out);
    decl::<ViewKind>(&cfg, &mut out);
    decl::<ViewOption>(&cfg, &mut out);
    decl::<Progress>(&cfg, &mut out);
    decl::<IdentifyView>(&cfg, &mut out);
    decl::<ErrorCode>(&cfg, &mut out);
    decl::<ViewError>(&cfg, &mut out);
    decl::<Nearness>(&cfg, &mut out);
    decl::<SiteView>(&cfg, &mut out);
    decl::<Event>(&cfg, &mut out);
    decl::<AbandonReason>(&cfg, &mut out);
    decl::<TrainingResident>(&cfg, &mut out);
    decl::<SyncStatus>(&cfg, &mut out);
    decl::<Counting>(&cfg, &mut out);
    decl::<SummaryRow>(&cfg, &mut out);
    decl::<SummaryView>(&cfg, &mut out);
    decl::<SessionView>(&cfg, &mut out);
    decl::<StewardStatus>(&cfg, &mut out);
    decl::<SiteOption>(&cfg, &mut out);
    decl::<MunicipalityOption>(&cfg, &mut out);
    decl::<NoticeView>(&cfg, &mut out);
    decl::<ProcedureTitle>(&cfg, &mut out);
    decl::<StewardArea>(&cfg, &mut out);
    decl::<StewardReply>(&cfg, &mut out);
    decl::<SiteChoice>(&cfg, &mut out);
    decl::<StewardAction>(&cfg, &mut out);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
