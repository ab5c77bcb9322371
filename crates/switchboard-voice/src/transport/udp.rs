//! SIP's UDP socket, with one thing rsipstack cannot do: answering requests
//! whose method it does not know (see [`super::unknown_method`]).
//!
//! rsipstack reads its UDP socket through the `UdpSocket` trait; this type
//! implements it over tokio's socket and looks at each datagram first. A
//! request with an unknown method is answered here and never handed on;
//! everything else goes to rsipstack as it came.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rsipstack::platform::net::UdpSocket as StackSocket;

use super::unknown_method::{judge, Verdict};

pub(crate) struct AnsweringSocket {
    socket: tokio::net::UdpSocket,
    allow: &'static str,
    /// Requests answered 501 (for monitoring and tests).
    answered: Arc<AtomicU64>,
}

impl AnsweringSocket {
    pub(crate) async fn bind(
        address: SocketAddr,
        allow: &'static str,
        answered: Arc<AtomicU64>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            socket: tokio::net::UdpSocket::bind(address).await?,
            allow,
            answered,
        })
    }

    /// The address the socket is bound to (its port, when 0 was asked).
    pub(crate) fn bound(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

#[async_trait::async_trait]
impl StackSocket for AnsweringSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.socket.recv_from(buf).await?;
            let tag = || uuid::Uuid::new_v4().simple().to_string();
            match judge(&buf[..len], self.allow, tag) {
                Verdict::PassOn => return Ok((len, from)),
                Verdict::Answer(answer) => {
                    // Sent to where the request came from, as rport
                    // (RFC 3581) would: that is the address that reaches
                    // a sender behind NAT.
                    if let Err(e) = self.socket.send_to(&answer, from).await {
                        tracing::debug!(%from, "501 not sent: {e}");
                    }
                    self.answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}
