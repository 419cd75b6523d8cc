//! The real `dps-kiosk` binary's headless card commands, `card read --json`
//! and `card watch --json`, against a private pcscd with virtual cards. No
//! display: the subcommands never create a window. Gated on `DPS_E2E=1` like
//! the rest of this suite (it runs the built binary, `DPS_KIOSK_BIN`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use dps_e2e::{app_binary, enabled, Error};
use dps_vcard::harness::{without_pcscd, Pcscd};
use dps_vcard::{Applet, CardImage, CardSpec, KeyKind, TestPki};
use expect_test::expect;
use serde_json::Value;

/// What one run of the binary gave.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} / {}", self.stdout, self.stderr))
    }

    /// `(exit code, error code)` of a failure printed as `{"error": {"code", "message"}}`,
    /// after checking that shape exactly (two keys, a non-empty message).
    fn error(&self) -> (i32, String) {
        let v = self.json();
        let obj = v.as_object().expect("an object");
        assert_eq!(obj.len(), 1, "{v}");
        let e = v["error"].as_object().expect("an error object");
        let mut keys: Vec<&String> = e.keys().collect();
        keys.sort();
        assert_eq!(keys, ["code", "message"], "{v}");
        assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{v}");
        (self.code, e["code"].as_str().unwrap_or("").to_owned())
    }
}

fn kiosk(args: &[&str]) -> Command {
    let mut cmd = Command::new(app_binary());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().expect("the binary ran");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn card_read(args: &[&str]) -> Run {
    let mut all = vec!["card", "read", "--json"];
    all.extend_from_slice(args);
    finish(kiosk(&all).spawn().expect("dps-kiosk starts"))
}

/// A bench of two readers, a throw-away PKI and its root as a PEM file.
struct Bench {
    pcscd: Pcscd,
    pki: TestPki,
    root: String,
}

impl Bench {
    fn open() -> Result<Bench, Error> {
        let app = app_binary();
        if !app.exists() {
            return Err(
                format!("{} not built (cargo build --bin dps-kiosk)", app.display()).into(),
            );
        }
        let pcscd = Pcscd::start(2)?;
        let pki = TestPki::generate(KeyKind::Ec, "DPS CLI Test Root")?;
        let root = pki.root_pem_path().to_string_lossy().into_owned();
        Ok(Bench { pcscd, pki, root })
    }

    fn insert(&self, slot: usize, spec: &CardSpec) -> Result<dps_vcard::InsertedCard, Error> {
        Ok(self
            .pcscd
            .insert(slot, CardImage::build(spec, &self.pki)?)?)
    }

    fn reader(&self, slot: usize) -> String {
        self.pcscd.reader_names()[slot].clone()
    }

    /// `card read --json --wait 10 --reader <slot's reader> --trust-root <root>`,
    /// for a card just inserted (vpcd reports it within 400 ms).
    fn read(&self, slot: usize) -> Run {
        let reader = self.reader(slot);
        card_read(&[
            "--wait",
            "10",
            "--reader",
            &reader,
            "--trust-root",
            &self.root,
        ])
    }
}

#[test]
fn card_read_json_prints_the_issue_shape() -> Result<(), Error> {
    if !enabled("card_read_json_prints_the_issue_shape") {
        return Ok(());
    }
    let b = Bench::open()?;
    let card = b.insert(0, &CardSpec::default())?;
    let r = b.read(0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Every key of the issue, in its order, nothing else, on one line.
    expect![[r#"
        {"reader":"DPS Virtual 0 00 00","applet":"1.8","card_number":"592123456789","document_type":"1","valid_from":"2021-03-01","valid_until":"2031-03-01","issuing_municipality":"Schaerbeek","national_number":"85073003328","surname":"Dupont-Vandermeulen","given_names":"Émilie Geneviève","third_initial":"J","nationality":"Belge","birth_place":"Liège","birth_date":"1985-07-30","sex":"F","address":{"street":"Chaussée de Haecht 42","postcode":"1030","municipality":"Schaerbeek"},"signature":"valid"}
    "#]]
    .assert_eq(&r.stdout);
    drop(card);

    // Absent values are null; an applet 1.7 RSA card; "01" → "1".
    let pki_rsa = TestPki::generate(KeyKind::Rsa, "DPS CLI Test Root RSA")?;
    let sparse = CardSpec {
        applet: Applet::V17,
        key: KeyKind::Rsa,
        third_initial: String::new(),
        birth_place: String::new(),
        issuing_municipality: String::new(),
        valid_from: "not a date".into(),
        document_type: "01".into(),
        street: String::new(),
        ..CardSpec::default()
    };
    let card = b.pcscd.insert(1, CardImage::build(&sparse, &pki_rsa)?)?;
    let root_rsa = pki_rsa.root_pem_path().to_string_lossy().into_owned();
    let reader = b.reader(1);
    let r = card_read(&[
        "--wait",
        "10",
        "--reader",
        &reader,
        "--trust-root",
        &root_rsa,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    expect![[r#"
        {"reader":"DPS Virtual 0 00 01","applet":"1.7","card_number":"592123456789","document_type":"1","valid_from":null,"valid_until":"2031-03-01","issuing_municipality":null,"national_number":"85073003328","surname":"Dupont-Vandermeulen","given_names":"Émilie Geneviève","third_initial":null,"nationality":"Belge","birth_place":null,"birth_date":"1985-07-30","sex":"F","address":{"street":null,"postcode":"1030","municipality":"Schaerbeek"},"signature":"valid"}
    "#]]
    .assert_eq(&r.stdout);
    drop(card);
    Ok(())
}

#[test]
fn card_read_sex_and_partial_birth_dates() -> Result<(), Error> {
    if !enabled("card_read_sex_and_partial_birth_dates") {
        return Ok(());
    }
    let b = Bench::open()?;
    let mut got = Vec::new();
    for (sex, birth) in [
        ("V", "08 MAAR 1980"),
        ("W", "12 MÄR 1950"),
        ("M", "        1962"),
        ("F", "    MARS 1962"),
    ] {
        let spec = CardSpec {
            sex: sex.into(),
            birth_date: birth.into(),
            ..CardSpec::default()
        };
        let card = b.insert(0, &spec)?;
        let r = b.read(0);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = r.json();
        got.push(format!(
            "{sex} {birth:?} -> sex={} birth_date={}",
            v["sex"], v["birth_date"]
        ));
        // Pulled out, and seen gone, before the next one goes in.
        drop(card);
        b.pcscd.wait_card(0, false, Duration::from_secs(10))?;
    }
    expect![[r#"
        V "08 MAAR 1980" -> sex="F" birth_date="1980-03-08"
        W "12 MÄR 1950" -> sex="F" birth_date="1950-03-12"
        M "        1962" -> sex="M" birth_date="1962"
        F "    MARS 1962" -> sex="F" birth_date="1962-03"
    "#]]
    .assert_eq(&(got.join("\n") + "\n"));
    Ok(())
}

#[test]
fn card_read_exit_codes_reader_choice_and_roots() -> Result<(), Error> {
    if !enabled("card_read_exit_codes_reader_choice_and_roots") {
        return Ok(());
    }
    let b = Bench::open()?;
    // 3: no card within the wait.
    let r = card_read(&["--wait", "1", "--trust-root", &b.root]);
    assert_eq!(r.error(), (3, "no_card".into()));
    // 2: no such reader.
    let r = card_read(&["--reader", "no such reader"]);
    assert_eq!(r.error(), (2, "no_reader".into()));
    // 1: an unreadable root.
    let r = card_read(&["--trust-root", "/nonexistent/root.pem"]);
    assert_eq!(r.error(), (1, "bad_trust_root".into()));

    // 4: not a Belgian eID in reader 0; an eID in reader 1.
    let mut other = CardSpec::default();
    other.behaviour.not_eid = true;
    let _c0 = b.insert(0, &other)?;
    let r = b.read(0);
    assert_eq!(r.error(), (4, "not_eid".into()));
    let _c1 = b.insert(1, &CardSpec::default())?;
    // --reader selects; without it the eID wins over the other card.
    let r = b.read(1);
    assert_eq!(
        (r.code, r.json()["reader"].clone()),
        (0, b.reader(1).into())
    );
    let r = card_read(&["--trust-root", &b.root]);
    assert_eq!(
        (r.code, r.json()["reader"].clone()),
        (0, b.reader(1).into())
    );
    assert_eq!(r.json()["signature"], "valid");
    // Without the test root the same card is untrusted_root, still exit 0.
    let r = card_read(&["--reader", &b.reader(1)]);
    assert_eq!(
        (r.code, r.json()["signature"].clone()),
        (0, "untrusted_root".into())
    );
    drop((_c0, _c1));
    b.pcscd.wait_card(0, false, Duration::from_secs(10))?;
    b.pcscd.wait_card(1, false, Duration::from_secs(10))?;

    // 5: the card leaves during the read (after its 5th APDU).
    let mut early = CardSpec::default();
    early.behaviour.remove_at_apdu = Some(5);
    let _c = b.insert(0, &early)?;
    let r = b.read(0);
    assert_eq!(r.error(), (5, "removed_too_early".into()));
    drop(_c);
    b.pcscd.wait_card(0, false, Duration::from_secs(10))?;

    // A card inserted while `--wait` is waiting.
    let child = kiosk(&[
        "card",
        "read",
        "--json",
        "--wait",
        "20",
        "--trust-root",
        &b.root,
    ])
    .spawn()?;
    let mut child = child;
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait()?.is_none(), "still waiting for a card");
    let _c = b.insert(1, &CardSpec::default())?;
    let r = finish(child);
    assert_eq!(
        (r.code, r.json()["reader"].clone()),
        (0, b.reader(1).into())
    );
    drop(_c);

    // 2: the card service is not running.
    drop(b);
    let _turn = without_pcscd()?;
    let r = card_read(&[]);
    assert_eq!(r.error(), (2, "service_unavailable".into()));
    Ok(())
}

/// Lines of a child's stdout, as they come.
fn lines(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = channel();
    let out = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn card_watch_json_prints_one_object_per_line() -> Result<(), Error> {
    if !enabled("card_watch_json_prints_one_object_per_line") {
        return Ok(());
    }
    let b = Bench::open()?;
    let mut child = kiosk(&["card", "watch", "--json", "--trust-root", &b.root]).spawn()?;
    let rx = lines(&mut child);
    let mut events = Vec::new();
    let mut next = |what: &str| -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        let mut summary = format!("{} {}", v["event"].as_str().unwrap_or("?"), v["reader"]);
        if v["event"] == "card_read" {
            summary.push_str(&format!(
                " given_names={} signature={}",
                v["data"]["given_names"], v["data"]["signature"]
            ));
        }
        events.push(summary);
        v
    };
    next("reader 0");
    next("reader 1");
    let card = b.insert(0, &CardSpec::default())?;
    next("insertion");
    let read = next("the read");
    // The read event carries the same card object as `card read --json`.
    assert_eq!(read["data"]["reader"], read["reader"]);
    assert_eq!(read["data"]["birth_date"], "1985-07-30");
    drop(card);
    next("removal");
    let _ = child.kill();
    let _ = child.wait();
    events[..2].sort();
    expect![[r#"
        [
            "reader_added \"DPS Virtual 0 00 00\"",
            "reader_added \"DPS Virtual 0 00 01\"",
            "card_inserted \"DPS Virtual 0 00 00\"",
            "card_read \"DPS Virtual 0 00 00\" given_names=\"Émilie Geneviève\" signature=\"valid\"",
            "card_removed \"DPS Virtual 0 00 00\"",
        ]
    "#]]
    .assert_debug_eq(&events);
    Ok(())
}
