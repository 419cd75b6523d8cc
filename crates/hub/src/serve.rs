//! `dps-hub serve`: the kiosk-facing listener (plain HTTP or rustls), the
//! loopback admin listener and graceful shutdown.
//!
//! Both listeners run one accept loop ([`run_listener`]) that serves each
//! connection with hyper's HTTP/1 directly, so the same limits hold with and
//! without TLS: a client must send its request headers within
//! [`Limits::header_read`] (hyper only enforces this with a timer, which
//! `axum::serve` does not give it: a client trickling half its headers held a
//! connection forever), a request may take [`Limits::request`] (then a JSON
//! 408), and a stop lets requests in flight finish for at most
//! [`Limits::shutdown_grace`].

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

use crate::api::{admin_app, app, AppState};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

pub struct ServeOptions {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the embedded store in `data_dir`.
    pub database_url: Option<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Browsers reach this hub over HTTPS through a reverse proxy (plain
    /// HTTP here, on loopback): mark session cookies `Secure` anyway.
    pub secure_cookies: bool,
    pub limits: Limits,
}

impl ServeOptions {
    /// Plain HTTP on the embedded store in `data_dir`, default limits.
    pub fn new(bind: SocketAddr, data_dir: &Path) -> ServeOptions {
        ServeOptions {
            bind,
            data_dir: data_dir.to_owned(),
            database_url: None,
            tls: None,
            secure_cookies: false,
            limits: Limits::default(),
        }
    }
}

/// Time limits of the listeners (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A client must have sent a request's headers this long after it
    /// started (or after its previous answer, on a kept-alive connection).
    pub header_read: Duration,
    /// One request, body included; then `408 {"code":"timeout"}`.
    pub request: Duration,
    /// After a stop is asked, requests in flight may finish this long; the
    /// connections still open then are cut.
    pub shutdown_grace: Duration,
    /// A TLS client must finish its handshake this long after connecting.
    pub tls_handshake: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A kiosk sends its headers in one packet; 10 s allows a very
            // poor hotspot and still frees a slow-loris connection quickly.
            header_read: Duration::from_secs(10),
            request: crate::api::REQUEST_TIMEOUT,
            shutdown_grace: Duration::from_secs(10),
            tls_handshake: Duration::from_secs(10),
        }
    }
}

/// Written to the data directory (mode 0600) while `serve` runs, so admin
/// commands can reach it instead of fighting over sled's lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminFile {
    pub url: String,
    pub token: String,
}

pub const ADMIN_FILE: &str = "admin.json";

pub fn admin_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join(ADMIN_FILE)
}

fn write_admin_file(data_dir: &Path, f: &AdminFile) -> Result<(), ServeError> {
    let path = admin_file_path(data_dir);
    let body = serde_json::to_vec(f).map_err(|e| ServeError::Io("admin file".into(), e.into()))?;
    let _ = std::fs::remove_file(&path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The token lets anyone enrol devices: readable by the hub's user only.
        opts.mode(0o600);
    }
    let mut file = opts
        .open(&path)
        .map_err(|e| ServeError::Io(path.display().to_string(), e))?;
    file.write_all(&body)
        .map_err(|e| ServeError::Io(path.display().to_string(), e))
}

/// What `serve` bound, once it is listening.
#[derive(Debug, Clone)]
pub struct Bound {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub tls: bool,
}

/// Run until `shutdown` resolves, then stop accepting, let requests in
/// flight finish (up to `limits.shutdown_grace`) and flush the store. `on_bound` is called once
/// both listeners are up.
pub async fn serve(
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(&Bound),
) -> Result<(), ServeError> {
    let backend = match &opts.database_url {
        Some(url) => crate::store::Backend::Postgres(url.clone()),
        None => crate::store::Backend::Sled(opts.data_dir.clone()),
    };
    let pg = matches!(backend, crate::store::Backend::Postgres(_));
    let store = crate::store::open_async(backend).await?;
    let mut state =
        AppState::new(store.clone()).with_tls(opts.tls.is_some() || opts.secure_cookies);
    state.request_timeout = opts.limits.request;
    let limits = opts.limits;
    let tls = opts
        .tls
        .as_ref()
        .map(|(c, k)| tls_config(c, k))
        .transpose()?;

    let listener = TcpListener::bind(opts.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Io("listener".into(), e))?;
    let admin_bind: SocketAddr = ([127, 0, 0, 1], 0).into();
    let admin_listener =
        TcpListener::bind(admin_bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: admin_bind,
                source,
            })?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|e| ServeError::Io("admin listener".into(), e))?;
    let admin_token = crate::secret::new_secret();
    // On PostgreSQL admin commands open the database themselves (any number
    // of processes may), and several hubs may share one data directory's
    // name: only the embedded store needs the admin file.
    if !pg {
        write_admin_file(
            &opts.data_dir,
            &AdminFile {
                url: format!("http://{admin_addr}"),
                token: admin_token.clone(),
            },
        )?;
    }
    on_bound(&Bound {
        addr,
        admin: admin_addr,
        tls: tls.is_some(),
    });
    tracing::info!(%addr, admin = %admin_addr, tls = tls.is_some(), "dps-hub listening");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };

    let admin_router = admin_app(state.clone(), admin_token);
    let admin_stop = stopped(stop_rx.clone());
    let admin = tokio::spawn(run_listener(
        admin_listener,
        admin_router,
        None,
        limits,
        admin_stop,
    ));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    run_listener(
        listener,
        app(state),
        acceptor,
        limits,
        stopped(stop_rx.clone()),
    )
    .await;
    let _ = admin.await;
    if !pg {
        let _ = std::fs::remove_file(admin_file_path(&opts.data_dir));
    }
    // Flushed, and dropped, off the async threads: the blocking PostgreSQL
    // client runs (and shuts down) a runtime of its own.
    let _ = tokio::task::spawn_blocking(move || store_flush(store)).await;
    tracing::info!("dps-hub stopped");
    Ok(())
}

fn store_flush(store: Arc<dyn Store>) {
    if let Err(e) = store.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
}

fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| ServeError::Io(p.display().to_string(), e));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no certificate found",
            cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServeError::Tls(format!("{}: no private key found", key.display())))?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ServeError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// Accept connections until `shutdown` resolves, then stop accepting (the
/// port is closed at once), let every connection finish the request it is
/// in (idle ones close) for at most `limits.shutdown_grace`, and cut the rest.
pub async fn run_listener(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut conns = tokio::task::JoinSet::new();
    // Tells every connection to finish its request in flight and close.
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (tcp, peer) = match r {
                    Ok(x) => x,
                    // e.g. too many open files: keep serving the others.
                    Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
                };
                let (router, tls, closing) = (router.clone(), tls.clone(), closing_rx.clone());
                conns.spawn(async move {
                    match tls {
                        None => serve_connection(TokioIo::new(tcp), peer, router, limits, closing).await,
                        Some(acceptor) => {
                            match tokio::time::timeout(limits.tls_handshake, acceptor.accept(tcp)).await {
                                Ok(Ok(t)) => serve_connection(TokioIo::new(t), peer, router, limits, closing).await,
                                _ => tracing::debug!(%peer, "TLS handshake failed"),
                            }
                        }
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = conns.len(),
            "requests still running when the shutdown grace ended: cut off"
        );
    }
    conns.abort_all();
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: axum::Router,
    limits: Limits,
    mut closing: tokio::sync::watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper_util::service::TowerToHyperService::new(router);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let conn = http.serve_connection(io, svc);
    tokio::pin!(conn);
    let r = tokio::select! {
        r = conn.as_mut() => r,
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = r {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
