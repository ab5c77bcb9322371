//! The HTTP listener: hyper's HTTP/1.1 server under our own accept loop,
//! so that every connection is bounded (`axum::serve` has no knob for any
//! of these):
//!
//! - **Headers** must arrive within [`Limits::header_read`] (hyper's timer),
//!   so a header trickled a byte at a time is cut off.
//! - **Idle**: a connection with no byte either way for [`Limits::idle`] is
//!   closed (a stalled body or answer); between requests hyper's header
//!   deadline applies again, so an idle keep-alive connection goes after
//!   [`Limits::header_read`]. A WebSocket, once upgraded, is held by its own
//!   handler's deadlines (hello within 10 s, silent for 60 s) and keeps its
//!   place in the counts until it closes.
//! - **How many**: at most [`Limits::per_address`] per client address and
//!   [`Limits::total`] in all, below the process's descriptor limit so SIP,
//!   RTP and the database always have descriptors left.
//! - **Beyond those**, a small reserve of *brief* connections still serves
//!   one request each (its headers within a tight deadline, no WebSocket)
//!   and closes: a health check or a sign-in gets through while idle
//!   connections hold the rest.
//!
//! The admission rule is [`Gate`], pure; the rest is the thin driver.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// What every connection is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub per_address: usize,
    pub total: usize,
    /// Brief connections beyond the caps (one request each, then closed).
    pub brief: usize,
    /// A brief connection's deadline for its headers and for idling.
    pub brief_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::for_descriptors(1024)
    }
}

impl Limits {
    /// Limits for a process allowed `descriptors` open files: HTTP takes at
    /// most half (brief ones included), the rest is kept for SIP, RTP
    /// (four sockets a call), the database and files.
    pub fn for_descriptors(descriptors: u64) -> Self {
        let half = usize::try_from(descriptors / 2)
            .unwrap_or(usize::MAX)
            .max(64);
        let brief = (half / 16).clamp(16, 256);
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(120),
            per_address: 512.min(half - brief),
            total: half - brief,
            brief,
            brief_deadline: Duration::from_secs(3),
        }
    }
}

/// How long a brief connection's one request may take to answer.
const BRIEF_ANSWER: Duration = Duration::from_secs(15);

/// How a new connection is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Normal,
    /// Over a cap: one request on a tight deadline.
    Brief,
    Refused,
}

/// Counts open connections per address and in all; decides admissions.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    per_address: HashMap<IpAddr, usize>,
    normal: usize,
    brief: usize,
}

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            per_address: HashMap::new(),
            normal: 0,
            brief: 0,
        }
    }

    pub fn admit(&mut self, address: IpAddr) -> Admission {
        let mine = self.per_address.get(&address).copied().unwrap_or(0);
        let admission = if mine < self.limits.per_address && self.normal < self.limits.total {
            self.normal += 1;
            Admission::Normal
        } else if self.brief < self.limits.brief {
            self.brief += 1;
            Admission::Brief
        } else {
            return Admission::Refused;
        };
        *self.per_address.entry(address).or_insert(0) += 1;
        admission
    }

    pub fn release(&mut self, address: IpAddr, admission: Admission) {
        match admission {
            Admission::Normal => self.normal = self.normal.saturating_sub(1),
            Admission::Brief => self.brief = self.brief.saturating_sub(1),
            Admission::Refused => return,
        }
        if let Some(n) = self.per_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
    }

    /// Connections open now (normal, brief).
    pub fn open(&self) -> (usize, usize) {
        (self.normal, self.brief)
    }
}

/// Raises the soft limit on open files to the hard limit; returns the
/// limit in force. A server holding many connections and RTP sockets
/// needs more than the usual default of 1024.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if limit.maximum.is_some() && limit.current != limit.maximum {
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!("open-file limit not raised: {e}");
            return limit.current.unwrap_or(1024);
        }
        return limit.maximum.unwrap_or(1024);
    }
    limit.current.unwrap_or(u64::from(u32::MAX))
}

/// A [`Gate`] shared by an accept loop and the connections it admitted
/// (HTTP here; SIP over TCP and TLS in the voice shell).
#[derive(Debug, Clone)]
pub struct SharedGate(Arc<Mutex<Gate>>);

impl SharedGate {
    pub fn new(limits: Limits) -> Self {
        Self(Arc::new(Mutex::new(Gate::new(limits))))
    }

    /// A place for a connection from `address` (IPv6 counted by /64), held
    /// until the permit is dropped; `None` when refused.
    pub fn admit(&self, address: IpAddr) -> Option<Permit> {
        let address = crate::throttle::address_key(address);
        let admission = self.lock().admit(address);
        (admission != Admission::Refused).then(|| Permit {
            gate: self.clone(),
            address,
            admission,
        })
    }

    /// Connections open now (normal, brief).
    pub fn open(&self) -> (usize, usize) {
        self.lock().open()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's place in a [`SharedGate`], given back when dropped: for
/// HTTP with the stream, after the response, or, for a WebSocket, when the
/// socket ends (the upgraded stream carries it along).
#[derive(Debug)]
pub struct Permit {
    gate: SharedGate,
    address: IpAddr,
    admission: Admission,
}

impl Permit {
    pub fn admission(&self) -> Admission {
        self.admission
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.lock().release(self.address, self.admission);
    }
}

/// A stream that notes when a byte last went either way.
struct Watched {
    inner: TcpStream,
    last: Arc<Mutex<Instant>>,
    _permit: Permit,
}

impl Watched {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// requests finish (up to 10 s). The handlers see the client's address as
/// `ConnectInfo<SocketAddr>`, as with `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let gate = SharedGate::new(limits);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused_logged = Instant::now() - Duration::from_secs(60);
    loop {
        let (stream, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // taken: wait a moment rather than spin.
                    tracing::warn!("HTTP accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(permit) = gate.admit(remote.ip()) else {
            if refused_logged.elapsed() > Duration::from_secs(10) {
                refused_logged = Instant::now();
                tracing::warn!(address = %remote.ip(), "HTTP connections refused: every slot is taken");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            permit,
            remote,
            app.clone(),
            limits,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && gate.open() != (0, 0) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connection(
    stream: TcpStream,
    permit: Permit,
    remote: SocketAddr,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let brief = permit.admission() == Admission::Brief;
    // A brief connection must send its request at once, but its one
    // request may take as long as any (a busy database, a queued password
    // check) before the answer goes out.
    let (header_read, idle) = if brief {
        (
            limits.brief_deadline,
            limits.brief_deadline.max(BRIEF_ANSWER),
        )
    } else {
        (limits.header_read, limits.idle)
    };
    let last = Arc::new(Mutex::new(Instant::now()));
    let io = TokioIo::new(Watched {
        inner: stream,
        last: last.clone(),
        _permit: permit,
    });
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            let app = app.clone();
            // A brief slot serves one request: a WebSocket would hold it.
            let refuse_upgrade = brief && req.headers().contains_key(axum::http::header::UPGRADE);
            async move {
                use axum::response::IntoResponse;
                use tower::ServiceExt;
                let mut response = if refuse_upgrade {
                    crate::error::ApiError::busy(
                        "connection",
                        "every connection slot is taken; try again shortly",
                        5,
                    )
                    .into_response()
                } else {
                    app.oneshot(req).await?
                };
                // Every response: never sniffed into another type (a JSON
                // error or an uploaded prompt must not run as a script).
                response.headers_mut().insert(
                    axum::http::header::X_CONTENT_TYPE_OPTIONS,
                    axum::http::HeaderValue::from_static("nosniff"),
                );
                Ok::<_, std::convert::Infallible>(response)
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read)
        .keep_alive(!brief);
    let conn = builder.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    loop {
        let quiet_until = *last.lock().unwrap_or_else(|p| p.into_inner()) + idle;
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(quiet_until) => {
                let since = *last.lock().unwrap_or_else(|p| p.into_inner());
                if since.elapsed() >= idle {
                    tracing::debug!(%remote, "HTTP connection idle: closed");
                    return;
                }
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(10), conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            per_address: 2,
            total: 3,
            brief: 1,
            ..Limits::for_descriptors(1024)
        }
    }

    #[test]
    fn one_address_takes_its_share_and_then_a_brief_slot() {
        let mut gate = Gate::new(limits());
        let a: IpAddr = "203.0.113.9".parse().unwrap();
        let b: IpAddr = "198.51.100.4".parse().unwrap();
        assert_eq!(gate.admit(a), Admission::Normal);
        assert_eq!(gate.admit(a), Admission::Normal);
        assert_eq!(gate.admit(a), Admission::Brief, "over its own cap");
        assert_eq!(gate.admit(a), Admission::Refused, "no brief slot left");
        assert_eq!(gate.admit(b), Admission::Normal, "others still get in");
        assert_eq!(
            gate.admit(b),
            Admission::Refused,
            "total reached, brief taken"
        );
        gate.release(a, Admission::Brief);
        assert_eq!(gate.admit(b), Admission::Brief);
        gate.release(a, Admission::Normal);
        assert_eq!(gate.admit(b), Admission::Refused, "b holds its two");
        let c: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(gate.admit(c), Admission::Normal);
        assert_eq!(gate.open(), (3, 1));
    }

    #[test]
    fn limits_leave_half_the_descriptors_to_calls() {
        let l = Limits::for_descriptors(20_000);
        assert!(l.total + l.brief <= 10_000, "{l:?}");
        assert_eq!(l.per_address, 512);
        let small = Limits::for_descriptors(256);
        assert!(
            small.total + small.brief <= 128 && small.total > 0,
            "{small:?}"
        );
    }
}
