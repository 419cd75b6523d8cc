//! Test support: a TCP proxy between a kiosk client and the hub that breaks
//! connections on purpose, one planned fault per accepted connection.
//!
//! Faults act at the TCP level (no HTTP parsing), so the client must open one
//! connection per request (no keep-alive) for a fault to hit a given request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways untouched.
    Pass,
    /// Accept, then close at once: the request never reaches the hub.
    Drop,
    /// Forward the first `n` request bytes, then reset both sides: the hub
    /// sees a truncated body, the client a reset.
    ResetRequest(usize),
    /// Forward the whole request, then only `n` bytes of the answer, then
    /// reset: the hub did the work but the client never sees the ack.
    CutResponse(usize),
    /// Forward the request, hold the answer back this long (past the client's
    /// read timeout), then forward it.
    Delay(Duration),
    /// Answer `500 Internal Server Error` without asking the hub.
    Http500,
    /// Forward both ways, but hold every chunk of the hub's answers this
    /// long before passing it on: on a kept-alive connection *each* answer is
    /// late, so a multi-batch sync takes at least this long per batch, and a
    /// test can act while a batch the hub already merged is on its way back
    /// ([`FaultProxy::answer_held`]).
    Slow(Duration),
}

#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub faults: AtomicU64,
    /// Bytes forwarded by `Pass` connections, client to hub and back
    /// (counted when a connection ends).
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

/// A running proxy; dropping it stops accepting.
pub struct FaultProxy {
    pub addr: SocketAddr,
    plan: Arc<Mutex<VecDeque<Fault>>>,
    default: Arc<Mutex<Fault>>,
    pub stats: Arc<Stats>,
    /// Notified (a permit is kept if no one waits) whenever a connection gets
    /// a fault other than `Pass`, so a test can act at that exact moment.
    pub fault_hit: Arc<tokio::sync::Notify>,
    /// Notified (a permit is kept if no one waits) each time a [`Fault::Slow`]
    /// connection starts holding a chunk of an answer: the hub has answered
    /// (for a push: merged it) and the client has not seen it yet.
    pub answer_held: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultProxy {
    /// Listen on a loopback port and forward to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let plan = Arc::new(Mutex::new(VecDeque::new()));
        let default = Arc::new(Mutex::new(Fault::Pass));
        let stats = Arc::new(Stats::default());
        let fault_hit = Arc::new(tokio::sync::Notify::new());
        let answer_held = Arc::new(tokio::sync::Notify::new());
        let (p, d, s, h, held) = (
            plan.clone(),
            default.clone(),
            stats.clone(),
            fault_hit.clone(),
            answer_held.clone(),
        );
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = lock(&p).pop_front().unwrap_or_else(|| lock(&d).clone());
                s.connections.fetch_add(1, Ordering::Relaxed);
                if fault != Fault::Pass {
                    s.faults.fetch_add(1, Ordering::Relaxed);
                    h.notify_one();
                }
                tokio::spawn(handle(client, upstream, fault, s.clone(), held.clone()));
            }
        });
        Ok(FaultProxy {
            addr,
            plan,
            default,
            stats,
            fault_hit,
            answer_held,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Faults for the next connections, in order; then the default applies.
    pub fn plan(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.plan).extend(faults);
    }

    pub fn set_default(&self, f: Fault) {
        *lock(&self.default) = f;
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    stats: Arc<Stats>,
    answer_held: Arc<tokio::sync::Notify>,
) {
    match fault {
        Fault::Drop => drop(client),
        Fault::Http500 => {
            let mut buf = [0u8; 4096];
            let _ = client.read(&mut buf).await;
            let _ = client
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            let _ = client.shutdown().await;
        }
        Fault::Pass => {
            if let Ok(mut up) = TcpStream::connect(upstream).await {
                if let Ok((a, b)) = tokio::io::copy_bidirectional(&mut client, &mut up).await {
                    stats.bytes_up.fetch_add(a, Ordering::Relaxed);
                    stats.bytes_down.fetch_add(b, Ordering::Relaxed);
                }
            }
        }
        Fault::ResetRequest(n) => {
            let Ok(mut up) = TcpStream::connect(upstream).await else {
                return;
            };
            let mut sent = 0;
            let mut buf = vec![0u8; 8192];
            while sent < n {
                let want = (n - sent).min(buf.len());
                match client.read(&mut buf[..want]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        if up.write_all(&buf[..k]).await.is_err() {
                            break;
                        }
                        sent += k;
                    }
                }
            }
            let _ = client.set_zero_linger();
            let _ = up.set_zero_linger();
        }
        Fault::CutResponse(n) => {
            // Only `n` bytes of the answer go back, then both sides reset.
            forward_request_then(&mut client, upstream, async move |mut ur, mut cw| {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while got.len() < n {
                    match ur.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                got.truncate(n);
                let _ = cw.write_all(&got).await;
            })
            .await;
            let _ = client.set_zero_linger();
        }
        Fault::Slow(d) => {
            let Ok(mut up) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut cr, mut cw) = client.split();
            let (mut ur, mut uw) = up.split();
            let request = tokio::io::copy(&mut cr, &mut uw);
            let answers = async {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match ur.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            answer_held.notify_one();
                            tokio::time::sleep(d).await;
                            if cw.write_all(&buf[..k]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            };
            // Either side closing ends the connection.
            tokio::select! { _ = request => {}, _ = answers => {} }
        }
        Fault::Delay(d) => {
            forward_request_then(&mut client, upstream, async move |mut ur, mut cw| {
                tokio::time::sleep(d).await;
                let _ = tokio::io::copy(&mut ur, &mut cw).await;
            })
            .await;
        }
    }
}

/// Connects upstream, forwards the client's request as it comes, and hands the
/// answer's direction (upstream reader, client writer) to `answer`; returns
/// when `answer` does. The request side never "finishes" on its own, because
/// an HTTP client does not half-close.
async fn forward_request_then<F>(client: &mut TcpStream, upstream: SocketAddr, answer: F)
where
    F: AsyncFnOnce(tokio::net::tcp::ReadHalf<'_>, tokio::net::tcp::WriteHalf<'_>),
{
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut cr, cw) = client.split();
    let (ur, mut uw) = up.split();
    let fwd = async {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
        std::future::pending::<()>().await
    };
    tokio::select! { _ = fwd => {}, _ = answer(ur, cw) => {} }
}
