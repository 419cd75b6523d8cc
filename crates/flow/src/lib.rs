//! Guided procedures as data.
//!
//! A procedure ("flow") is a TOML file in `assets/flows/`: an id, a version,
//! its languages and its steps. Procedures change faster than releases
//! (BRUVAX opened age group after age group; a waiting list opened and
//! closed), so the coordination edits files, and [`parse`] checks them before
//! they are offered, listing every problem with its file and line.
//!
//! TOML was chosen over YAML and JSON because the people editing these files
//! are not developers: comments are allowed (JSON has none), indentation
//! carries no meaning (a YAML pitfall), multi-line text is easy, and the
//! parser gives byte spans for every value, which is what lets every problem
//! be reported with its line.
//!
//! Layout:
//! - [`flow`]: the checked flow (steps, texts, conditions).
//! - [`parse`]: text -> [`Flow`] or every [`Problem`]. Pure.
//! - [`loader`]: the only module touching files (flows and pictograms dirs).
//! - [`engine`]: the pure state machine `(flow, journey, input, world) ->
//!   (journey, view)`, and the one [`dps_model::VisitRecord`] a journey yields.
//! - [`view`]: the view model and events the window speaks (serde + ts-rs).

pub mod condition;
pub mod engine;
pub mod flow;
pub mod loader;
mod messages;
pub mod parse;
pub mod view;

pub use condition::{Condition, Truth};
pub use dps_directory::Problem;
pub use engine::{start, step, view as render, After, Identity, Input, Journey, World};
pub use flow::{Flow, Show, Step, StepKind, Texts};
pub use loader::{load_dir, Loaded};
pub use parse::parse;
pub use view::{AbandonReason, ErrorCode, Event, ProcedureView, View, ViewError, ViewKind};
