//! Flow text -> checked [`Flow`], or every problem found. Pure: the caller
//! gives the text and the set of pictograms that exist.
//!
//! Problems are collected rather than returned at the first one, so the
//! person editing a flow fixes everything in one go. Only a TOML syntax
//! error (or a misspelt field name) stops the check early, because after it
//! nothing can be located reliably.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use dps_model::{Code, Language};
use serde::Deserialize;
use toml::{Spanned, Value};

use crate::condition::Condition;
use crate::flow::{ChoiceOption, Flow, Screen, Show, Step, StepKind, Texts};
use crate::Problem;

type S<T> = Spanned<T>;
/// A text in several languages. Read as a plain TOML value rather than a
/// map so a wrongly shaped text gets a message saying what to write, not a
/// serde type error. (toml 1.x: 0.8.2 also failed on `title.fr = "…"`.)
type Txt = S<Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    id: S<String>,
    version: S<i64>,
    languages: S<Vec<String>>,
    title: Txt,
    summary: Txt,
    pictogram: S<String>,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: S<String>,
    kind: S<String>,
    title: Option<Txt>,
    body: Option<Txt>,
    pictogram: Option<S<String>>,
    next: Option<S<String>>,
    show: Option<S<Vec<String>>>,
    // identify
    ask: Option<S<Vec<String>>>,
    manual: Option<S<bool>>,
    // choice
    option: Option<Vec<RawOption>>,
    // branch
    rule: Option<Vec<RawRule>>,
    otherwise: Option<S<String>>,
    unknown: Option<S<String>>,
    // end
    outcome: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    id: S<String>,
    label: Txt,
    pictogram: Option<S<String>>,
    next: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    when: S<Value>,
    goto: S<String>,
}

const KINDS: &[&str] = &["info", "check", "choice", "identify", "branch", "end"];

/// Which raw fields each kind may use (besides id and kind).
fn allowed(kind: &str) -> &'static [&'static str] {
    match kind {
        "info" | "check" => &["title", "body", "pictogram", "next", "show"],
        "choice" => &["title", "body", "pictogram", "option"],
        "identify" => &["title", "body", "pictogram", "next", "ask", "manual"],
        "branch" => &["rule", "otherwise", "unknown"],
        "end" => &["title", "body", "pictogram", "outcome", "show"],
        _ => &[],
    }
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    pictograms: &'a BTreeSet<String>,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn bad(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.problems
            .push(Problem::at(self.file, self.text, span, msg));
    }

    /// Every supported language present and non-empty (unless `optional`
    /// text, which may be absent or empty in all languages but not in some).
    fn texts(&mut self, what: &str, t: Option<&Txt>, span: Range<usize>, optional: bool) -> Texts {
        let Some(t) = t else {
            if !optional {
                self.bad(span, format!("{what} is missing"));
            }
            return Texts::default();
        };
        let mut out = BTreeMap::new();
        let Some(table) = t.get_ref().as_table() else {
            self.bad(t.span(), format!("{what} is a table of texts: {{ fr = \"…\", nl = \"…\", en = \"…\", de = \"…\" }}"));
            return Texts::default();
        };
        for (k, v) in table {
            let Some(v) = v.as_str() else {
                self.bad(t.span(), format!("{what}: the {k} text must be a string"));
                continue;
            };
            match k.parse::<Language>() {
                Ok(l) => {
                    out.insert(l, v.trim().to_owned());
                }
                Err(_) => self.bad(
                    t.span(),
                    format!("{what}: unknown language {k:?} (use fr, nl, en, de)"),
                ),
            }
        }
        let all_empty = out.values().all(String::is_empty);
        if !(optional && all_empty) {
            let missing: Vec<&str> = Language::ALL
                .into_iter()
                .filter(|l| out.get(l).is_none_or(String::is_empty))
                .map(Language::code)
                .collect();
            if !missing.is_empty() {
                self.bad(
                    t.span(),
                    format!("{what} has no text in {}", missing.join(", ")),
                );
            }
        }
        Texts(out)
    }

    fn pictogram(&mut self, what: &str, p: Option<&S<String>>, span: Range<usize>) -> String {
        match p {
            None => {
                self.bad(span, format!("{what} needs a pictogram"));
                String::new()
            }
            Some(p) => {
                if !self.pictograms.contains(p.get_ref()) {
                    self.bad(
                        p.span(),
                        format!(
                            "pictogram {:?} does not exist in the pictograms folder",
                            p.get_ref()
                        ),
                    );
                }
                p.get_ref().clone()
            }
        }
    }
}

/// Parses and checks one flow. `file` labels problems; `pictograms` are the
/// ids (file stems) of the pictograms that exist.
pub fn parse(file: &str, text: &str, pictograms: &BTreeSet<String>) -> Result<Flow, Vec<Problem>> {
    let raw: RawFlow =
        toml::from_str(text).map_err(|e| vec![Problem::from_toml(file, text, &e)])?;
    let mut cx = Ctx {
        file,
        text,
        pictograms,
        problems: Vec::new(),
    };

    let id = Code::new(raw.id.get_ref()).unwrap_or_else(|_| {
        cx.bad(
            raw.id.span(),
            format!(
                "flow id {:?} must be lowercase letters, digits, '-' or '_'",
                raw.id.get_ref()
            ),
        );
        Code::new("invalid").unwrap_or_else(|_| unreachable!("a constant valid code"))
    });
    let version = u32::try_from(*raw.version.get_ref()).unwrap_or_else(|_| {
        cx.bad(raw.version.span(), "version is a whole number from 0");
        0
    });
    let langs: BTreeSet<&str> = raw.languages.get_ref().iter().map(String::as_str).collect();
    let missing: Vec<&str> = Language::ALL
        .iter()
        .map(|l| l.code())
        .filter(|l| !langs.contains(l))
        .collect();
    if !missing.is_empty() {
        cx.bad(
            raw.languages.span(),
            format!(
                "the kiosk speaks fr, nl, en and de; languages lacks {}",
                missing.join(", ")
            ),
        );
    }
    if let Some(extra) = langs.iter().find(|l| l.parse::<Language>().is_err()) {
        cx.bad(
            raw.languages.span(),
            format!("unknown language {extra:?} (use fr, nl, en, de)"),
        );
    }
    let whole = 0..0;
    let title = cx.texts("the flow's title", Some(&raw.title), whole.clone(), false);
    let summary = cx.texts(
        "the flow's summary",
        Some(&raw.summary),
        whole.clone(),
        false,
    );
    let pictogram = cx.pictogram("the flow", Some(&raw.pictogram), whole.clone());

    if raw.step.is_empty() {
        cx.bad(whole.clone(), "the flow has no steps");
        return Err(cx.problems);
    }

    // Step ids first, so targets can be resolved whatever their order.
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in raw.step.iter().enumerate() {
        if Code::new(s.id.get_ref()).is_err() {
            cx.bad(
                s.id.span(),
                format!(
                    "step id {:?} must be lowercase letters, digits, '-' or '_'",
                    s.id.get_ref()
                ),
            );
        }
        if index.insert(s.id.get_ref().clone(), i).is_some() {
            cx.bad(
                s.id.span(),
                format!("step id {:?} is used twice", s.id.get_ref()),
            );
        }
    }
    let target = |cx: &mut Ctx<'_>, from: &str, t: &S<String>| -> usize {
        match index.get(t.get_ref()) {
            Some(&i) => i,
            None => {
                cx.bad(
                    t.span(),
                    format!(
                        "step {from:?} goes to {:?}, which is not a step of this flow",
                        t.get_ref()
                    ),
                );
                usize::MAX
            }
        }
    };

    let mut steps = Vec::new();
    for s in &raw.step {
        let sid = s.id.get_ref().as_str();
        let kind = s.kind.get_ref().as_str();
        if !KINDS.contains(&kind) {
            cx.bad(
                s.kind.span(),
                format!(
                    "step {sid:?} has unknown kind {kind:?} (known: {})",
                    KINDS.join(", ")
                ),
            );
            // A stand-in keeps step numbers aligned so the graph checks
            // below still run and report their own problems.
            steps.push(Step {
                id: sid.to_owned(),
                kind: StepKind::Branch {
                    rules: Vec::new(),
                    otherwise: usize::MAX,
                    unknown: None,
                },
            });
            continue;
        }
        let present: [(&str, Option<Range<usize>>); 12] = [
            ("title", s.title.as_ref().map(Spanned::span)),
            ("body", s.body.as_ref().map(Spanned::span)),
            ("pictogram", s.pictogram.as_ref().map(Spanned::span)),
            ("next", s.next.as_ref().map(Spanned::span)),
            ("show", s.show.as_ref().map(Spanned::span)),
            ("ask", s.ask.as_ref().map(Spanned::span)),
            ("manual", s.manual.as_ref().map(Spanned::span)),
            (
                "option",
                s.option
                    .as_ref()
                    .and_then(|o| o.first())
                    .map(|o| o.id.span()),
            ),
            (
                "rule",
                s.rule
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| r.when.span()),
            ),
            ("otherwise", s.otherwise.as_ref().map(Spanned::span)),
            ("unknown", s.unknown.as_ref().map(Spanned::span)),
            ("outcome", s.outcome.as_ref().map(Spanned::span)),
        ];
        for (field, span) in present {
            if let Some(span) = span {
                if !allowed(kind).contains(&field) {
                    let a = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    };
                    cx.bad(
                        span,
                        format!("{a} {kind} step has no {field:?} (step {sid:?})"),
                    );
                }
            }
        }
        let at = s.id.span();
        let screen = |cx: &mut Ctx<'_>| Screen {
            title: cx.texts(
                &format!("step {sid:?}: title"),
                s.title.as_ref(),
                at.clone(),
                false,
            ),
            body: cx.texts(
                &format!("step {sid:?}: body"),
                s.body.as_ref(),
                at.clone(),
                true,
            ),
            pictogram: cx.pictogram(&format!("step {sid:?}"), s.pictogram.as_ref(), at.clone()),
        };
        let no_way_out = |cx: &mut Ctx<'_>, how: &str| {
            cx.bad(
                at.clone(),
                format!("step {sid:?} has no way out: give it {how}"),
            );
            usize::MAX
        };
        let next = |cx: &mut Ctx<'_>| match &s.next {
            Some(t) => target(cx, sid, t),
            None => no_way_out(cx, "next = \"...\""),
        };
        let show = |cx: &mut Ctx<'_>| -> Vec<Show> {
            let Some(list) = &s.show else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for name in list.get_ref() {
                match Show::ALL.into_iter().find(|w| w.code() == name) {
                    Some(w) => out.push(w),
                    None => cx.bad(list.span(), format!("step {sid:?}: cannot show {name:?} (known: national_number, postcode, nearby_dps)")),
                }
            }
            out
        };
        let kind = match kind {
            "info" => StepKind::Info {
                screen: screen(&mut cx),
                show: show(&mut cx),
                next: next(&mut cx),
            },
            "check" => StepKind::Check {
                screen: screen(&mut cx),
                show: show(&mut cx),
                next: next(&mut cx),
            },
            "identify" => {
                let (mut number, mut postcode) = (false, false);
                match &s.ask {
                    None => {
                        cx.bad(at.clone(), format!("identify step {sid:?} must say what it asks: ask = [\"number\", \"postcode\"]"));
                    }
                    Some(ask) => {
                        for a in ask.get_ref() {
                            match a.as_str() {
                                "number" => number = true,
                                "postcode" => postcode = true,
                                other => cx.bad(ask.span(), format!("identify step {sid:?} cannot ask {other:?} (known: number, postcode)")),
                            }
                        }
                    }
                }
                let manual = s.manual.as_ref().is_none_or(|m| *m.get_ref());
                StepKind::Identify {
                    screen: screen(&mut cx),
                    number,
                    postcode,
                    manual,
                    next: next(&mut cx),
                }
            }
            "choice" => {
                let screen = screen(&mut cx);
                let mut options = Vec::new();
                let mut seen = BTreeSet::new();
                for o in s.option.iter().flatten() {
                    if !seen.insert(o.id.get_ref().clone()) {
                        cx.bad(
                            o.id.span(),
                            format!("step {sid:?}: option {:?} is listed twice", o.id.get_ref()),
                        );
                    }
                    let label = cx.texts(
                        &format!("step {sid:?}: option {:?}", o.id.get_ref()),
                        Some(&o.label),
                        o.id.span(),
                        false,
                    );
                    let pictogram = o
                        .pictogram
                        .as_ref()
                        .map(|p| cx.pictogram("option", Some(p), o.id.span()));
                    let next = target(&mut cx, sid, &o.next);
                    options.push(ChoiceOption {
                        id: o.id.get_ref().clone(),
                        label,
                        pictogram,
                        next,
                    });
                }
                if options.is_empty() {
                    no_way_out(&mut cx, "options: [[step.option]]");
                }
                StepKind::Choice { screen, options }
            }
            "branch" => {
                let mut rules = Vec::new();
                for r in s.rule.iter().flatten() {
                    let goto = target(&mut cx, sid, &r.goto);
                    match Condition::from_toml(r.when.get_ref()) {
                        Ok(c) => rules.push((c, goto)),
                        Err(msg) => cx.bad(r.when.span(), format!("step {sid:?}: {msg}")),
                    }
                }
                let otherwise = match &s.otherwise {
                    Some(t) => target(&mut cx, sid, t),
                    None => no_way_out(
                        &mut cx,
                        "otherwise = \"...\" (where to go when no rule holds)",
                    ),
                };
                let unknown = s.unknown.as_ref().map(|t| target(&mut cx, sid, t));
                if unknown.is_none() && rules.iter().any(|r| r.0.may_be_unknown()) {
                    cx.bad(at.clone(), format!("step {sid:?} looks at the birth date, which may be partial or missing: give it unknown = \"...\""));
                }
                StepKind::Branch {
                    rules,
                    otherwise,
                    unknown,
                }
            }
            _ => {
                let screen = screen(&mut cx);
                let outcome = match &s.outcome {
                    None => {
                        cx.bad(
                            at.clone(),
                            format!("end step {sid:?} needs an outcome code"),
                        );
                        Code::new("invalid")
                            .unwrap_or_else(|_| unreachable!("a constant valid code"))
                    }
                    Some(o) => Code::new(o.get_ref()).unwrap_or_else(|_| {
                        cx.bad(
                            o.span(),
                            format!(
                                "outcome {:?} must be lowercase letters, digits, '-' or '_'",
                                o.get_ref()
                            ),
                        );
                        Code::new("invalid")
                            .unwrap_or_else(|_| unreachable!("a constant valid code"))
                    }),
                };
                if outcome.as_str() == "abandoned" {
                    cx.bad(
                        at.clone(),
                        "the outcome \"abandoned\" is the engine's own; an end step cannot use it",
                    );
                }
                StepKind::End {
                    screen,
                    show: show(&mut cx),
                    outcome,
                }
            }
        };
        steps.push(Step {
            id: sid.to_owned(),
            kind,
        });
    }

    // Graph checks. Targets that do not exist were reported above and are
    // skipped here (usize::MAX), so these problems are listed too.
    let n = steps.len();
    let mut reached = vec![false; n];
    let mut stack = vec![0];
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut reached[i], true) {
            stack.extend(steps[i].targets().into_iter().filter(|&t| t < n));
        }
    }
    for (i, r) in reached.iter().enumerate() {
        if !r {
            let s = &raw.step[i];
            cx.bad(
                s.id.span(),
                format!(
                    "step {:?} cannot be reached from the first step {:?}",
                    s.id.get_ref(),
                    steps[0].id
                ),
            );
        }
    }
    // The engine's Back button means a flow never needs a loop; refusing
    // loops also guarantees every journey ends and the progress "of n" exists.
    let remaining = match longest_paths(&steps) {
        Ok(r) => r,
        Err(i) => {
            cx.bad(raw.step[i].id.span(), format!("step {:?} is part of a loop: a flow must always move forward (the Back button goes back)", steps[i].id));
            Vec::new()
        }
    };
    let shows_number = steps.iter().any(|s| match &s.kind {
        StepKind::Info { show, .. } | StepKind::Check { show, .. } => {
            show.contains(&Show::NationalNumber)
        }
        _ => false,
    });
    let asks_number = steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Identify { number: true, .. }));
    if shows_number && !asks_number {
        cx.bad(
            whole,
            "a step shows the national number but no identify step asks for it",
        );
    }
    if !cx.problems.is_empty() {
        // In file order, as the person will fix them.
        cx.problems.sort_by_key(|p| (p.line, p.column));
        return Err(cx.problems);
    }
    Ok(Flow {
        id,
        version,
        title,
        summary,
        pictogram,
        steps,
        file: file.to_owned(),
        remaining,
    })
}

/// For each step, the most displayed steps from it to an end (itself
/// included); `Err(step)` if a loop goes through `step`.
fn longest_paths(steps: &[Step]) -> Result<Vec<u32>, usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done(u32),
    }
    fn visit(i: usize, steps: &[Step], marks: &mut [Mark]) -> Result<u32, usize> {
        match marks[i] {
            Mark::Done(n) => return Ok(n),
            Mark::Open => return Err(i),
            Mark::New => {}
        }
        marks[i] = Mark::Open;
        let mut best = 0;
        for t in steps[i].targets().into_iter().filter(|&t| t < steps.len()) {
            best = best.max(visit(t, steps, marks)?);
        }
        let own = u32::from(steps[i].screen().is_some());
        marks[i] = Mark::Done(best + own);
        Ok(best + own)
    }
    let mut marks = vec![Mark::New; steps.len()];
    (0..steps.len())
        .map(|i| visit(i, steps, &mut marks))
        .collect()
}
