//! `dps-hub`: serve, and the admin commands (enrol, devices, revoke).
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dps_hub::api::AdminEnrolRequest;
use dps_hub::serve::{serve, ServeOptions};
use dps_model::Code;

/// The coordination hub of DPS Kiosk.
#[derive(Debug, Parser)]
#[command(name = "dps-hub", version)]
struct Cli {
    /// Where the hub keeps its embedded store [default: $XDG_DATA_HOME/dps-hub,
    /// else ~/.local/share/dps-hub]. Only `serve` creates it; the other
    /// commands refuse a directory that holds no store.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Use PostgreSQL (postgres://user@host/db) instead of the embedded
    /// store; the hub brings the schema up to date itself, and several hubs
    /// may serve one database.
    #[arg(long, global = true, value_name = "URL", env = "DPS_HUB_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve kiosks (plain HTTP is meant for loopback behind a TLS reverse proxy).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8470")]
        bind: SocketAddr,
        #[arg(long, requires = "tls_key", value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert", value_name = "PEM")]
        tls_key: Option<PathBuf>,
        /// The address browsers use to reach this hub, e.g.
        /// https://hub.example.org behind a TLS reverse proxy: an https://
        /// URL marks the session cookies Secure although this process
        /// serves plain HTTP (X-Forwarded-* headers are never trusted for it).
        #[arg(long, value_name = "URL", value_parser = dps_hub::web::public_url_is_https)]
        public_url: Option<bool>,
        /// On SIGTERM or Ctrl-C, let requests in flight finish for at most
        /// this many seconds, then stop.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        shutdown_grace: u64,
    },
    /// Make a one-time enrolment code for a kiosk at SITE.
    Enrol {
        #[arg(long)]
        site: String,
        /// How long the code stays valid (e.g. 24h, 90m, 7d).
        #[arg(long, default_value = "24h")]
        ttl: String,
        #[arg(long)]
        json: bool,
    },
    /// List enrolled devices.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Cut a device off at once.
    Revoke { device: String },
    /// Coordination accounts (who may log in to the dashboard).
    Admin {
        #[command(subcommand)]
        command: AdminCmd,
    },
    /// Write the tallies as CSV, JSON or XLSX (exact, or --public with
    /// small-cell suppression); works while the hub runs.
    Export {
        #[command(flatten)]
        query: Box<dps_report::QueryArgs>,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCmd {
    /// Add a coordination account NAME; asks for the password twice.
    Add {
        name: String,
        /// Read the password from the first line of standard input (scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The new account's password: from stdin, or typed twice without echo.
fn read_new_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
    let again =
        rpassword::prompt_password("Password again: ").context("cannot read the password")?;
    if first != again {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dps-hub: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dps-hub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = match cli.data_dir {
        Some(d) => d,
        // PostgreSQL needs no data directory.
        None if cli.database_url.is_some() => PathBuf::new(),
        None => dps_hub::admin::default_data_dir().context(
            "no --data-dir given and neither XDG_DATA_HOME nor HOME is set: pass --data-dir",
        )?,
    };
    let loc = dps_hub::admin::Location {
        data_dir: data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    match cli.command {
        Cmd::Serve {
            bind,
            tls_cert,
            tls_key,
            public_url,
            shutdown_grace,
        } => {
            let mut opts = ServeOptions::new(bind, &data_dir);
            opts.database_url = cli.database_url;
            opts.tls = tls_cert.zip(tls_key);
            opts.secure_cookies = public_url == Some(true);
            opts.limits.shutdown_grace = std::time::Duration::from_secs(shutdown_grace);
            let stopping = async move {
                shutdown_signal().await;
                // Tests and operators see the stop begin. Not `println!`: it
                // panics when whoever started the hub closed our stdout.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stdout(),
                    "dps-hub: stopping; requests in flight may finish for up to {shutdown_grace} s"
                );
            };
            serve(opts, stopping, |b| {
                let scheme = if b.tls { "https" } else { "http" };
                // Tests and scripts read this line to find the port.
                println!("dps-hub: listening on {scheme}://{}", b.addr);
            })
            .await?;
        }
        Cmd::Enrol { site, ttl, json } => {
            let site =
                Code::new(&site).context("the site must be a DPS id like 'dps-molenbeek-1'")?;
            let ttl = dps_hub::parse_ttl(&ttl).map_err(anyhow::Error::msg)?;
            let r = dps_hub::admin::enrol(
                &loc,
                AdminEnrolRequest {
                    site: site.clone(),
                    ttl_secs: ttl.as_secs(),
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("Enrolment code for {site}: {}", r.code);
                println!(
                    "Valid until {} (one use).",
                    r.expires.format("%Y-%m-%d %H:%M UTC")
                );
                if let Some(qr) = dps_hub::qr_text(&r.code) {
                    println!("{qr}");
                }
                println!(
                    "On the kiosk: dps-kiosk enrol --hub https://<this hub> {}",
                    r.code
                );
            }
        }
        Cmd::Devices { json } => {
            let list = dps_hub::admin::devices(&loc).await?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("No devices enrolled yet.");
            } else {
                println!(
                    "{:<18} {:<24} {:<22} {:>9} {:>8}  state",
                    "device", "site", "last sync", "skew (s)", "pending"
                );
                for d in list {
                    println!(
                        "{:<18} {:<24} {:<22} {:>9} {:>8}  {}",
                        d.id,
                        d.site.as_str(),
                        d.last_sync.map_or("never".into(), |t| t
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string()),
                        d.clock_skew_secs.map_or("-".into(), |s| s.to_string()),
                        d.pending.map_or("-".into(), |p| p.to_string()),
                        if d.revoked.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                    );
                }
            }
        }
        Cmd::Admin {
            command:
                AdminCmd::Add {
                    name,
                    password_stdin,
                },
        } => {
            if !dps_hub::auth::valid_name(&name) {
                anyhow::bail!("{}", dps_hub::auth::AuthError::BadName);
            }
            let password = read_new_password(password_stdin)?;
            // Hashed here: the password never leaves this process.
            let password_hash =
                tokio::task::spawn_blocking(move || dps_hub::auth::hash_password(&password))
                    .await??;
            dps_hub::admin::add_account(
                &loc,
                dps_hub::api::AdminAccountRequest {
                    name: name.clone(),
                    password_hash,
                },
            )
            .await?;
            println!("Account {name} added: it can log in to the dashboard now.");
        }
        Cmd::Export { query, out } => {
            let req = dps_report::TalliesRequest::try_from(query.as_ref())?;
            let bytes = dps_hub::admin::export(&loc, (&req).into()).await?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "dps-hub: wrote {} ({}, {})",
                        path.display(),
                        req.format.code(),
                        req.disclosure.code()
                    );
                }
                None => {
                    use std::io::Write;
                    let mut o = std::io::stdout().lock();
                    o.write_all(&bytes)?;
                    o.flush()?;
                }
            }
        }
        Cmd::Revoke { device } => {
            dps_hub::admin::revoke(&loc, &device).await?;
            println!("Device {device} is revoked: its next sync will be refused.");
        }
    }
    Ok(())
}
