//! `dps-kiosk card read|watch` (owned by the eID work; `doctor` is in doctor.rs).
//!
//! Exit codes of `card read`: 0 read, 1 bad arguments (unreadable
//! `--trust-root`), 2 no reader (or the card service is not running), 3 no card
//! within the wait, 4 not a Belgian eID, 5 read failed (removed too early, error).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dps_eid::{read_first_card, CardData, CardErrorKind, Event, TrustStore, WaitError, Watcher};

use crate::Global;

#[derive(Debug, clap::Subcommand)]
pub enum CardCmd {
    /// Read the first card present (a Belgian eID wins over other cards) and print it.
    Read(ReadArgs),
    /// Print reader and card events as they happen (until interrupted).
    Watch(WatchArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Print JSON (absent values are null; failures print {"error": {...}}).
    #[arg(long)]
    pub json: bool,
    /// Wait up to SECS for a card to be inserted (0: only a card already there).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    /// Only readers whose name contains NAME (several readers: pick one).
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// Also trust this root certificate (PEM file; repeatable). Belgium roots are built in.
    #[arg(long = "trust-root", value_name = "PEM")]
    pub trust_root: Vec<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// One JSON object per line, as the kiosk window receives them.
    #[arg(long)]
    pub json: bool,
    /// Also trust this root certificate (PEM file; repeatable).
    #[arg(long = "trust-root", value_name = "PEM")]
    pub trust_root: Vec<PathBuf>,
}

pub fn run(cmd: CardCmd, _g: &Global) -> ExitCode {
    match cmd {
        CardCmd::Read(a) => {
            let (code, out) = read(&a);
            if code == 0 || a.json {
                println!("{out}");
            } else {
                eprintln!("dps-kiosk: {out}");
            }
            ExitCode::from(code)
        }
        CardCmd::Watch(a) => watch(&a),
    }
}

fn trust(roots: &[PathBuf]) -> Result<TrustStore, String> {
    let mut t = TrustStore::belgium();
    for p in roots {
        let pem = std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the root certificate {}: {e}", p.display()))?;
        t.add_pem(&pem)
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(t)
}

fn error_json(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

/// Runs `card read` and returns (exit code, text to print). With `--json` the
/// text is the card JSON or the error JSON; otherwise plain lines.
pub fn read(a: &ReadArgs) -> (u8, String) {
    let fail = |exit: u8, code: &str, message: &str| {
        let text = if a.json {
            error_json(code, message)
        } else {
            message.to_owned()
        };
        (exit, text)
    };
    let trust = match trust(&a.trust_root) {
        Ok(t) => t,
        Err(m) => return fail(1, "bad_trust_root", &m),
    };
    match read_first_card(a.reader.as_deref(), Duration::from_secs(a.wait), &trust) {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("dps-kiosk: note: {w}");
            }
            if a.json {
                match serde_json::to_string(&r.data) {
                    Ok(s) => (0, s),
                    Err(e) => fail(5, "read_failed", &e.to_string()),
                }
            } else {
                (0, plain(&r.data))
            }
        }
        Err(e) => {
            let message = e.to_string();
            match &e {
                WaitError::ServiceUnavailable => fail(2, "service_unavailable", &message),
                WaitError::NoReader => fail(2, "no_reader", &message),
                WaitError::NoCard => fail(3, "no_card", &message),
                WaitError::Read(r) => match CardErrorKind::of(r) {
                    CardErrorKind::NotEid => fail(4, "not_eid", &message),
                    CardErrorKind::RemovedTooEarly => fail(5, "removed_too_early", &message),
                    CardErrorKind::ReadFailed => fail(5, "read_failed", &message),
                },
            }
        }
    }
}

/// The card as lines for a person at the terminal.
fn plain(d: &CardData) -> String {
    let s = |v: &Option<dps_eid::SecretString>| {
        v.as_ref().map_or("-".to_owned(), |x| x.expose().to_owned())
    };
    let addr = d.address.as_ref();
    format!(
        "reader:        {}\napplet:        {}\ncard number:   {}\ndocument type: {}\nvalid:         {} to {}\nissued by:     {}\nname:          {}, {} {}\nnational nr:   {}\nnationality:   {}\nborn:          {} in {}\nsex:           {}\naddress:       {}, {} {}\nsignature:     {}",
        d.reader,
        d.applet,
        s(&d.card_number),
        s(&d.document_type),
        s(&d.valid_from),
        s(&d.valid_until),
        s(&d.issuing_municipality),
        s(&d.surname),
        s(&d.given_names),
        s(&d.third_initial),
        s(&d.national_number),
        s(&d.nationality),
        d.birth_date.as_deref().map_or("-".to_owned(), |b| b.to_iso()),
        s(&d.birth_place),
        d.sex.as_deref().map_or("-", |x| x.code()),
        addr.map_or("-".to_owned(), |a| s(&a.street)),
        addr.map_or("-".to_owned(), |a| s(&a.postcode)),
        addr.map_or("-".to_owned(), |a| s(&a.municipality)),
        serde_json::to_value(d.signature)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    )
}

fn watch(a: &WatchArgs) -> ExitCode {
    let trust = match trust(&a.trust_root) {
        Ok(t) => t,
        Err(m) => {
            eprintln!("dps-kiosk: {m}");
            return ExitCode::from(1);
        }
    };
    let (watcher, rx) = match Watcher::start_channel(trust) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("dps-kiosk: cannot start the card watcher: {e}");
            return ExitCode::from(5);
        }
    };
    // Blocks on the channel: the watcher thread blocks in pcscd. No polling.
    for event in rx {
        if a.json {
            match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("dps-kiosk: {e}"),
            }
        } else {
            println!("{}", describe(&event));
        }
    }
    watcher.stop();
    ExitCode::SUCCESS
}

/// One plain line per event; a read card is summarised without personal data.
fn describe(e: &Event) -> String {
    match e {
        Event::ReaderAdded { reader } => format!("reader added: {reader}"),
        Event::ReaderRemoved { reader } => format!("reader removed: {reader}"),
        Event::CardInserted { reader } => format!("card inserted in {reader}"),
        Event::CardRead { reader, data, .. } => format!(
            "card read in {reader}: applet {}, signature {:?}",
            data.applet, data.signature
        ),
        Event::CardError {
            reader, message, ..
        } => format!("card error in {reader}: {message}"),
        Event::CardRemoved { reader } => format!("card removed from {reader}"),
        Event::ServiceUnavailable { message } => message.clone(),
        Event::NoReader => "no card reader is plugged in".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dps_vcard::harness::Pcscd;
    use dps_vcard::{Applet, CardImage, CardSpec, KeyKind, TestPki};

    fn args(json: bool, wait: u64, trust_root: Vec<PathBuf>) -> ReadArgs {
        ReadArgs {
            json,
            wait,
            reader: None,
            trust_root,
        }
    }

    #[test]
    fn unreadable_trust_root_is_exit_1_with_error_json() {
        let (code, out) = read(&args(true, 0, vec!["/nonexistent/root.pem".into()]));
        assert_eq!(code, 1);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["error"]["code"], "bad_trust_root");
    }

    #[test]
    fn card_read_json_and_exit_codes_through_pcscd() {
        if std::env::var_os("DPS_TEST_PCSCD").is_none() {
            println!("skipped card_read_json_and_exit_codes_through_pcscd: set DPS_TEST_PCSCD=1");
            return;
        }
        let pki = TestPki::generate(KeyKind::Ec, "DPS Test Root").unwrap();
        let root = vec![pki.root_pem_path()];
        let pcscd = Pcscd::start(2).unwrap();

        let (code, out) = read(&args(true, 0, root.clone()));
        assert_eq!((code, out.contains("\"no_card\"")), (3, true), "{out}");

        let spec = CardSpec {
            applet: Applet::V18,
            key: KeyKind::Ec,
            birth_date: "    MARS 1962".into(),
            ..CardSpec::default()
        };
        let card = pcscd
            .insert(0, CardImage::build(&spec, &pki).unwrap())
            .unwrap();
        let (code, out) = read(&args(true, 10, root.clone()));
        assert_eq!(code, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let want = [
            "reader",
            "applet",
            "card_number",
            "document_type",
            "valid_from",
            "valid_until",
            "issuing_municipality",
            "national_number",
            "surname",
            "given_names",
            "third_initial",
            "nationality",
            "birth_place",
            "birth_date",
            "sex",
            "address",
            "signature",
        ];
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut sorted = want.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "exactly the keys of the issue");
        // And in the order in the printed text.
        let pos: Vec<usize> = want
            .iter()
            .map(|k| out.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{out}");
        assert_eq!(v["birth_date"], "1962-03");
        assert_eq!(v["signature"], "valid");
        assert_eq!(v["address"]["postcode"], "1030");
        assert_eq!(v["reader"], pcscd.reader_names()[0].as_str());
        drop(card);

        // Not a Belgian eID: 4. The reader name filter picks slot 1.
        let mut other = spec.clone();
        other.behaviour.not_eid = true;
        let _c = pcscd
            .insert(1, CardImage::build(&other, &pki).unwrap())
            .unwrap();
        let mut a = args(true, 10, root.clone());
        a.reader = Some(pcscd.reader_names()[1].clone());
        let (code, out) = read(&a);
        assert_eq!((code, out.contains("\"not_eid\"")), (4, true), "{out}");

        // No such reader: 2.
        a.reader = Some("no such reader".into());
        assert_eq!(read(&a).0, 2);

        // The doctor sees the service and both readers, one with a card.
        let data = tempfile::tempdir().unwrap();
        let doctor = || {
            crate::doctor::report(
                data.path(),
                chrono::Utc::now(),
                &dps_eid::diagnose(),
                &crate::doctor::DoctorArgs::default(),
            )
        };
        let r = doctor();
        assert!(r.ok, "{}", r.text());
        assert_eq!(r.checks[0].status, crate::doctor::Status::Ok);
        assert!(
            r.checks[1].message.starts_with("Card readers: 2: ")
                && r.checks[1].message.contains("(card in)"),
            "{}",
            r.text()
        );
        drop(_c);
        drop(pcscd);
        // The card service gone: read says so with exit 2, doctor fails.
        let _turn = dps_vcard::harness::without_pcscd().unwrap();
        let (code, out) = read(&args(true, 0, root));
        assert_eq!(
            (code, out.contains("\"service_unavailable\"")),
            (2, true),
            "{out}"
        );
        let r = doctor();
        assert_eq!(r.checks[0].status, crate::doctor::Status::Fail);
        assert_eq!(
            format!("{:?}", r.exit_code()),
            format!("{:?}", ExitCode::from(2))
        );
    }
}
