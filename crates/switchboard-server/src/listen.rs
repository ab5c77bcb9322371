//! The HTTP listener: hyper's HTTP/1.1 server under our own accept loop,
//! so that every connection is bounded (`axum::serve` has no knob for any
//! of these):
//!
//! - **Headers** must arrive within `Limits::header_read` (hyper's timer),
//!   so a header trickled a byte at a time is cut off.
//! - **Idle**: a connection with no byte either way for `Limits::idle` is
//!   closed (a stalled body or answer); between requests hyper's header
//!   deadline applies again, so an idle keep-alive connection goes after
//!   `Limits::header_read`. A WebSocket, once upgraded, is held by its own
//!   handler's deadlines (hello within 10 s, silent for 60 s) and keeps its
//!   place in the counts until it closes.
//! - **How many**: at most `Limits::per_address` per client address and
//!   `Limits::total` in all, below the process's descriptor limit so SIP,
//!   RTP and the database always have descriptors left.
//! - **Beyond those**, a small reserve of *brief* connections still serves
//!   one request each (its headers within a tight deadline, no WebSocket)
//!   and closes: a health check or a sign-in gets through while idle
//!   connections hold the rest.
//!
//! The admission rule is `switchboard_runtime::limits::Gate`, pure; this is
//! the thin driver.

use std::future::Future;
use std::net::SocketAddr;
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

use switchboard_runtime::limits::{Admission, Limits, Permit, SharedGate};

/// How long a brief connection's one request may take to answer.
const BRIEF_ANSWER: Duration = Duration::from_secs(15);

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
