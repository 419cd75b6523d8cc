//! Runs a journey from a small script and writes a transcript: one line per
//! screen, so a test reads as "flow + events -> what the resident saw and
//! what was counted".
//!
//! Script lines: `next`, `tick`, `choose ID`, `manual NUMBER POSTCODE` (`-`
//! for empty), `card NUMBER BIRTH POSTCODE` (`-` for absent; BIRTH as
//! YYYY, YYYY-MM or YYYY-MM-DD), `back`, `undo`, `restart`, `finish`,
//! `lang CODE`, `idle`, `pulled`, `quit`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::NaiveDate;
use dps_directory::Directory;
use dps_flow::engine::{self, After, Identity, Input, World};
use dps_flow::view::{AbandonReason, Event, View};
use dps_flow::Flow;
use dps_model::Language;
use dps_person::{NationalNumber, SecretString, Zeroizing};

pub fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets")
}

pub fn directory() -> Directory {
    Directory::load(&assets().join("dps/directory.toml")).unwrap()
}

pub fn pictograms() -> BTreeSet<String> {
    dps_flow::loader::pictograms(&assets().join("pictograms")).0
}

pub fn shipped(id: &str) -> Flow {
    let text = std::fs::read_to_string(assets().join(format!("flows/{id}.toml"))).unwrap();
    dps_flow::parse(&format!("{id}.toml"), &text, &pictograms()).unwrap_or_else(|ps| {
        panic!(
            "{}",
            ps.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// A flow written inline in a test (pictograms: the shipped ones).
pub fn inline(text: &str) -> Flow {
    dps_flow::parse("test.toml", text, &pictograms()).unwrap_or_else(|ps| {
        panic!(
            "{}",
            ps.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn opt(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

fn input(line: &str) -> Input {
    let w: Vec<&str> = line.split_whitespace().collect();
    let e = match w.as_slice() {
        ["next"] => Event::Next,
        ["tick"] => Event::Tick,
        ["choose", id] => Event::Choose {
            option: (*id).to_owned(),
        },
        ["manual", n, pc] => Event::Manual {
            number: SecretString::from(opt(n).unwrap_or("")),
            postcode: SecretString::from(opt(pc).unwrap_or("")),
        },
        ["card", n, birth, pc] => {
            return Input::Card(Identity {
                national_number: opt(n).map(|n| NationalNumber::parse_unchecked(n).unwrap()),
                birth_date: opt(birth).map(|b| Zeroizing::new(b.parse().unwrap())),
                postcode: opt(pc).map(SecretString::from),
            })
        }
        ["back"] => Event::Back,
        ["undo"] => Event::Undo,
        ["restart"] => Event::Restart,
        ["finish"] => Event::Finish,
        ["lang", l] => Event::Language {
            language: l.parse().unwrap(),
        },
        ["idle"] => Event::Abandon {
            reason: AbandonReason::Idle,
        },
        ["pulled"] => Event::Abandon {
            reason: AbandonReason::CardRemoved,
        },
        ["quit"] => Event::Abandon {
            reason: AbandonReason::Quit,
        },
        _ => panic!("bad script line {line:?}"),
    };
    Input::Event(e)
}

pub fn render(v: &View) -> String {
    let mut s = format!(
        "[{}/{}] {:?} {} {:?} pict={}",
        v.progress.step, v.progress.of, v.kind, v.step, v.title, v.pictogram
    )
    .replace("Info ", "info ")
    .replace("Check ", "check ")
    .replace("Choice ", "choice ")
    .replace("Identify ", "identify ")
    .replace("End ", "end ");
    if let Some(n) = &v.national_number {
        s += &format!(" number={n}");
    }
    if let Some(p) = &v.postcode {
        s += &format!(" postcode={p}");
    }
    if v.can_go_back {
        s += " back";
    }
    if v.can_undo {
        s += " undo";
    }
    if let Some(o) = &v.outcome {
        s += &format!(" outcome={o}");
    }
    if !v.options.is_empty() {
        s += &format!(
            "\n    options: {}",
            v.options
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(n) = &v.nearby {
        let own: Vec<String> = n
            .iter()
            .map(|s| {
                format!(
                    "{}:{}",
                    s.id,
                    serde_json::to_string(&s.nearness)
                        .unwrap()
                        .trim_matches('"')
                )
            })
            .collect();
        s += &format!("\n    nearby: {}", own.join(", "));
    }
    if let Some(e) = &v.error {
        s += &format!("\n    error {}: {}", e.code.code(), e.message);
    }
    s
}

/// Runs `script` on `flow` in `lang` on `today`; returns the transcript.
pub fn run(flow: &Flow, lang: &str, today: &str, script: &str) -> String {
    let dir = directory();
    let world = World {
        today: NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap(),
        directory: &dir,
    };
    let lang: Language = lang.parse().unwrap();
    let (mut j, v) = engine::start(flow, lang, &world);
    let mut out = format!("{}\n", render(&v));
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out += &format!("> {line}\n");
        match engine::step(flow, j, input(line), &world) {
            After::Continue(next, v) => {
                out += &format!("{}\n", render(&v));
                j = next;
            }
            After::Ended(visit) => {
                match visit {
                    Some(r) => {
                        out += &format!(
                            "= visit {} {} {} {} {} {}\n",
                            r.procedure,
                            r.outcome,
                            r.language,
                            r.channel.code(),
                            r.age_band.code(),
                            r.residence
                        )
                    }
                    None => out += "= ended, nothing counted\n",
                }
                return out;
            }
        }
    }
    out += "(journey still open)\n";
    out
}
