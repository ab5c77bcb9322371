//! SIP over TCP and TLS under our own accept loops, so that every
//! connection is bounded: rsipstack's listeners accept without limit and
//! run the TLS handshake with no deadline, so idle or half-open sockets
//! could take every descriptor and with them RTP, HTTP and the database.
//!
//! - **How many**: at most [`StreamLimits::per_address`] connections per
//!   source address (IPv6 by /64) and [`StreamLimits::total`] in all, counted
//!   by the same [`SharedGate`] the HTTP listener uses. Over a cap the
//!   socket is closed at once.
//! - **Handshake**: a TLS handshake must finish within
//!   [`StreamLimits::handshake`].
//! - **Idle**: once admitted, a connection is rsipstack's, whose idle
//!   timeout (`VoiceConfig::stream_idle`) closes a silent one.
//!
//! A connection's place is given back when rsipstack retires it: its serve
//! loop ends (closed, idle, broken) and cancels the connection's token.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::connection::SipConnection;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::SipAddr;
use switchboard_runtime::limits::{Limits, Permit, SharedGate};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// What SIP connections over TCP and TLS are held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Open connections one source address (IPv6: one /64) may hold. An
    /// office of desk phones behind one NAT shares an address.
    pub per_address: usize,
    /// Open connections in all, TCP and TLS together.
    pub total: usize,
    /// A TLS handshake's deadline.
    pub handshake: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self::for_descriptors(1024)
    }
}

impl StreamLimits {
    /// Limits for a process allowed `descriptors` open files: SIP streams
    /// take at most an eighth (HTTP takes half; RTP needs four a call).
    pub fn for_descriptors(descriptors: u64) -> Self {
        let total = usize::try_from(descriptors / 8)
            .unwrap_or(usize::MAX)
            .clamp(32, 50_000);
        Self {
            per_address: 200.min(total),
            total,
            handshake: Duration::from_secs(10),
        }
    }

    fn gate(&self) -> SharedGate {
        SharedGate::new(Limits {
            per_address: self.per_address,
            total: self.total,
            brief: 0,
            ..Limits::default()
        })
    }
}

/// The accept loops' shared parts.
#[derive(Clone)]
pub(crate) struct Acceptor {
    endpoint: EndpointInnerRef,
    gate: SharedGate,
    cancel: CancellationToken,
    /// Connections closed at once because a cap was reached.
    refused: Arc<AtomicU64>,
}

impl Acceptor {
    pub(crate) fn new(
        endpoint: EndpointInnerRef,
        limits: StreamLimits,
        cancel: CancellationToken,
        refused: Arc<AtomicU64>,
    ) -> Self {
        Self {
            endpoint,
            gate: limits.gate(),
            cancel,
            refused,
        }
    }

    /// Accepts SIP over TCP on `listener` until cancelled.
    pub(crate) fn tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        let local = stream_address(rsipstack::sip::transport::Transport::Tcp, &listener)?;
        let this = self.clone();
        tokio::spawn(async move {
            // When a refusal was last logged: one line per 10 s, across
            // admissions in between.
            let mut refused_logged = None;
            while let Some((stream, remote, permit)) =
                this.next(&listener, "TCP", &mut refused_logged).await
            {
                let token = this.cancel.child_token();
                match TcpConnection::from_stream(stream, local.clone(), Some(token.clone())) {
                    Ok(connection) => this.hand_over(SipConnection::Tcp(connection), token, permit),
                    Err(e) => debug!(%remote, "SIP TCP connection not set up: {e}"),
                }
            }
        });
        Ok(())
    }

    /// Accepts SIP over TLS on `address` with `config` until cancelled.
    pub(crate) async fn tls(
        &self,
        address: SocketAddr,
        config: Arc<rustls::ServerConfig>,
        handshake: Duration,
    ) -> std::io::Result<()> {
        let listener = TcpListener::bind(address).await?;
        let local = stream_address(rsipstack::sip::transport::Transport::Tls, &listener)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let this = self.clone();
        tokio::spawn(async move {
            // When a refusal was last logged: one line per 10 s, across
            // admissions in between.
            let mut refused_logged = None;
            while let Some((stream, remote, permit)) =
                this.next(&listener, "TLS", &mut refused_logged).await
            {
                let (this, local, acceptor) = (this.clone(), local.clone(), acceptor.clone());
                // The handshake runs beside the accept loop, under its deadline.
                tokio::spawn(async move {
                    let stream =
                        match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => return debug!(%remote, "SIP TLS handshake failed: {e}"),
                            Err(_) => return debug!(%remote, "SIP TLS handshake too slow"),
                        };
                    let remote_address = SipAddr {
                        r#type: Some(rsipstack::sip::transport::Transport::Tls),
                        addr: remote.into(),
                    };
                    let token = this.cancel.child_token();
                    match TlsConnection::from_server_stream(
                        stream,
                        local,
                        remote_address,
                        Some(token.clone()),
                    )
                    .await
                    {
                        Ok(connection) => {
                            this.hand_over(SipConnection::Tls(connection), token, permit)
                        }
                        Err(e) => debug!(%remote, "SIP TLS connection not set up: {e}"),
                    }
                });
            }
        });
        Ok(())
    }

    /// The next admitted connection; `None` once cancelled.
    async fn next(
        &self,
        listener: &TcpListener,
        kind: &str,
        refused_logged: &mut Option<tokio::time::Instant>,
    ) -> Option<(TcpStream, SocketAddr, Permit)> {
        loop {
            let (stream, remote) = tokio::select! {
                _ = self.cancel.cancelled() => return None,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of descriptors, or reset before it was taken:
                        // wait a moment rather than spin.
                        warn!("SIP {kind} accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            match self.gate.admit(remote.ip()) {
                Some(permit) => return Some((stream, remote, permit)),
                None => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        *refused_logged = Some(tokio::time::Instant::now());
                        warn!(address = %remote.ip(), "SIP {kind} connections refused: a connection cap is reached");
                    }
                }
            }
        }
    }

    /// Gives the connection to rsipstack, which serves it until it closes
    /// or idles out and then cancels `token`: the permit goes back then.
    fn hand_over(&self, connection: SipConnection, token: CancellationToken, permit: Permit) {
        self.endpoint.transport_layer.add_connection(connection);
        tokio::spawn(async move {
            token.cancelled().await;
            drop(permit);
        });
    }
}

fn stream_address(
    transport: rsipstack::sip::transport::Transport,
    listener: &TcpListener,
) -> std::io::Result<SipAddr> {
    Ok(SipAddr {
        r#type: Some(transport),
        addr: SipConnection::resolve_bind_address(listener.local_addr()?).into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_take_an_eighth_of_the_descriptors_within_bounds() {
        let small = StreamLimits::for_descriptors(1024);
        assert_eq!((small.per_address, small.total), (128, 128));
        let big = StreamLimits::for_descriptors(1 << 20);
        assert_eq!((big.per_address, big.total), (200, 50_000));
        let tiny = StreamLimits::for_descriptors(10);
        assert_eq!(tiny.total, 32);
    }

    #[test]
    fn the_gate_refuses_past_the_per_address_cap_and_frees_on_drop() {
        let gate = StreamLimits {
            per_address: 2,
            total: 3,
            handshake: Duration::from_secs(1),
        }
        .gate();
        let a: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let b: std::net::IpAddr = "127.0.0.3".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "a third from one address");
        let _third = gate.admit(b).unwrap();
        assert!(gate.admit(b).is_none(), "a fourth in all");
        drop(first);
        assert!(gate.admit(a).is_some(), "a place given back");
    }
}
