//! `app-bench shim`: what a browser kiosk needs beside the browser to do the
//! app's job, run as its own process so the bench counts it on Chromium's
//! side. It serves the built UI and answers `ui/src/lib/browser.ts` with the
//! real kiosk: the same crates the app's shell wires (controller, card
//! watcher, steward, tally store with its fsync per visit), commands as
//! `POST /api/<command>`, events pushed on one Server-Sent Events stream
//! (`GET /api/events`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use dps_controller::{Command, Kiosk};
use dps_ipc::{AppInfo, IpcError};
use dps_steward::Steward;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct ShimArgs {
    /// The built UI to serve.
    #[arg(long)]
    pub dist: PathBuf,
    /// The kiosk's data dir (store); the bench sets it up like the app's.
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long)]
    pub port: u16,
    /// Extra trusted root (PEM), as the app's DPS_TRUST_ROOTS.
    #[arg(long)]
    pub trust_root: Option<PathBuf>,
}

struct Shim {
    kiosk: Mutex<Kiosk>,
    steward: Mutex<Steward>,
    /// Open event streams.
    subscribers: Mutex<Vec<TcpStream>>,
    dist: PathBuf,
}

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Brussels)
        .date_naive()
}

/// The same loading as the app's `load_kiosk` (src-tauri/lib.rs).
fn load_kiosk() -> Result<(Kiosk, dps_directory::Directory)> {
    let assets = dps_directory::assets_dir();
    let (flows_dir, pictograms_dir) = dps_flow::loader::dirs(&assets);
    let loaded = dps_flow::load_dir(&flows_dir, &pictograms_dir);
    let problems: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
    let directory = dps_directory::Directory::bundled().context("the DPS directory")?;
    Ok((
        Kiosk::new(loaded.flows, problems, directory.clone()),
        directory,
    ))
}

pub fn run(a: ShimArgs) -> Result<()> {
    // Listening first, so the browser started beside it is never refused;
    // requests wait in the backlog until the kiosk below is ready.
    let listener = TcpListener::bind(("127.0.0.1", a.port))
        .with_context(|| format!("cannot listen on port {}", a.port))?;
    let opened = dps_tally::TallyStore::open(&a.data_dir, Utc::now())?;
    let store = Arc::new(opened.store);
    let (kiosk, directory) = load_kiosk()?;
    let steward = Steward::new(Some(store), None, directory, None);
    let shim = Arc::new(Shim {
        kiosk: Mutex::new(kiosk),
        steward: Mutex::new(steward),
        subscribers: Mutex::new(Vec::new()),
        dist: a.dist,
    });
    let mut trust = dps_eid::TrustStore::belgium();
    if let Some(path) = &a.trust_root {
        let pem = std::fs::read_to_string(path)?;
        trust.add_pem(&pem)?;
    }
    let for_watcher = Arc::clone(&shim);
    let _watcher = dps_eid::Watcher::start(trust, move |event| {
        let (view, visit) = {
            let Ok(mut kiosk) = for_watcher.kiosk.lock() else {
                return;
            };
            let visit = kiosk.card_event(event, today());
            (kiosk.view(), visit)
        };
        for_watcher.count(visit);
        for_watcher.publish("kiosk", &json!(view));
    })?;
    for conn in listener.incoming().flatten() {
        let shim = Arc::clone(&shim);
        std::thread::spawn(move || {
            let _ = shim.answer(conn);
        });
    }
    Ok(())
}

impl Shim {
    fn count(&self, visit: Option<dps_model::VisitRecord>) {
        let Some(visit) = visit else { return };
        let status = match self.steward.lock() {
            Ok(mut s) => {
                s.count(visit, Utc::now());
                s.store()
                    .and_then(|st| dps_sync::status(st.as_ref()).ok())
                    .map(|sync| s.status(sync))
            }
            Err(_) => None,
        };
        if let Some(status) = status {
            self.publish("steward", &json!(status));
        }
    }

    /// One Server-Sent Event to every open stream; closed ones are dropped.
    fn publish(&self, event: &str, payload: &Value) {
        let frame = format!("event: {event}\ndata: {payload}\n\n");
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain_mut(|s| s.write_all(frame.as_bytes()).is_ok());
        }
    }

    fn command(&self, name: &str, args: Value) -> Result<Value, IpcError> {
        let generic = || IpcError::new("generic");
        let kiosk_command = |command: Command| -> Result<Value, IpcError> {
            let (view, visit) = {
                let mut kiosk = self.kiosk.lock().map_err(|_| generic())?;
                let visit = kiosk.command(command, today());
                (kiosk.view(), visit)
            };
            self.count(visit);
            let view = json!(view);
            self.publish("kiosk", &view);
            Ok(view)
        };
        match name {
            "app_info" => Ok(json!(AppInfo::current())),
            "kiosk_view" => Ok(json!(self.kiosk.lock().map_err(|_| generic())?.view())),
            "kiosk_command" => {
                let command: Command = serde_json::from_value(args["command"].clone())
                    .map_err(|_| IpcError::new("bad_command"))?;
                kiosk_command(command)
            }
            "set_language" => {
                let language = args["language"].as_str().unwrap_or_default();
                let language = language
                    .parse()
                    .map_err(|_| IpcError::new("unknown_language").with("value", language))?;
                kiosk_command(Command::SetLanguage { language })
            }
            "steward_status" => {
                let steward = self.steward.lock().map_err(|_| generic())?;
                let sync = steward
                    .store()
                    .and_then(|st| dps_sync::status(st.as_ref()).ok())
                    .unwrap_or_default();
                Ok(json!(steward.status(sync)))
            }
            "first_screen" => {
                match args["mark"].as_str() {
                    None => println!("dps-kiosk: first-screen"),
                    Some(m) => println!("dps-kiosk: mark {m}"),
                }
                Ok(Value::Null)
            }
            // The steward area is not part of the bench's journey.
            _ => Err(generic()),
        }
    }

    fn answer(self: Arc<Self>, s: TcpStream) -> Result<()> {
        let mut r = BufReader::new(s.try_clone()?);
        let mut s = s;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let path = parts.next().unwrap_or("/").to_owned();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h)? == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            r.read_exact(&mut body)?;
            let path = path.split('?').next().unwrap_or("/").to_owned();
            if path == "/api/events" {
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n"
                )?;
                s.flush()?;
                if let Ok(mut subs) = self.subscribers.lock() {
                    subs.push(s.try_clone()?);
                }
                // The stream stays open; this connection carries nothing else.
                return Ok(());
            }
            if let (Some(name), "POST") = (path.strip_prefix("/api/"), method.as_str()) {
                let args: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, body) = match self.command(name, args) {
                    Ok(v) => ("200 OK", v.to_string()),
                    Err(e) => ("400 Bad Request", json!(e).to_string()),
                };
                write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                continue;
            }
            serve_file(&mut s, &self.dist, &path)?;
        }
    }
}

fn serve_file(s: &mut TcpStream, dist: &Path, path: &str) -> Result<()> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let file = dist.join(rel);
    match (rel.contains(".."), std::fs::read(&file)) {
        (false, Ok(bytes)) => {
            let mime = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                Some("woff2") => "font/woff2",
                Some("json") => "application/json",
                _ => "application/octet-stream",
            };
            write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: {mime}\r\ncontent-length: {}\r\n\r\n",
                bytes.len()
            )?;
            s.write_all(&bytes)?;
        }
        _ => write!(s, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?,
    }
    Ok(())
}
