//! SIP's UDP socket, with two things rsipstack cannot do:
//!
//! - answering requests whose method it does not know (see
//!   [`super::unknown_method`]);
//! - both IP families at once (dual stack). rsipstack sends every UDP
//!   request from its first UDP listener, whatever the destination's
//!   family, and stamps every Via with that listener's address. So one
//!   listener holds two sockets, one per family on the same port: a
//!   datagram goes out of the one of its destination's family, and a
//!   request leaving by the other family's socket has its top Via's
//!   address (ours, as rsipstack wrote it) changed to that socket's, so
//!   the peer answers to an address it can reach (`restamp_via`).
//!
//! rsipstack reads its UDP socket through the `UdpSocket` trait; this type
//! implements it over tokio's sockets and looks at each datagram first. A
//! request with an unknown method is answered here and never handed on;
//! everything else goes to rsipstack as it came.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use rsipstack::platform::net::UdpSocket as StackSocket;
use tokio::io::ReadBuf;

use super::unknown_method::{judge, Verdict};

pub(crate) struct AnsweringSocket {
    socket: tokio::net::UdpSocket,
    /// The socket of the other IP family (dual stack), and the address
    /// text that replaces ours in the Via of requests it sends.
    other: Option<tokio::net::UdpSocket>,
    via_texts: OnceLock<(String, String)>,
    /// Which socket is read first next time, so that a flood on one family
    /// cannot starve the other.
    other_first: AtomicBool,
    allow: &'static str,
    /// Requests answered 501 (for monitoring and tests).
    answered: Arc<AtomicU64>,
}

impl AnsweringSocket {
    /// Binds `address`; for its family alone when the other family gets a
    /// socket of its own (`[::]` would otherwise take IPv4 too).
    pub(crate) async fn bind(
        address: SocketAddr,
        one_family: bool,
        allow: &'static str,
        answered: Arc<AtomicU64>,
    ) -> std::io::Result<Self> {
        let socket = match one_family {
            true => tokio::net::UdpSocket::from_std(bind_one_family(address)?)?,
            false => tokio::net::UdpSocket::bind(address).await?,
        };
        Ok(Self {
            socket,
            other: None,
            via_texts: OnceLock::new(),
            other_first: AtomicBool::new(false),
            allow,
            answered,
        })
    }

    /// Adds the socket of the other IP family at `address` (IPv6 sockets
    /// take IPv6 only, so `[::]` and `0.0.0.0` can share a port).
    pub(crate) fn bind_other(&mut self, address: SocketAddr) -> std::io::Result<SocketAddr> {
        let socket = bind_one_family(address)?;
        let bound = socket.local_addr()?;
        self.other = Some(tokio::net::UdpSocket::from_std(socket)?);
        Ok(bound)
    }

    /// The address the socket is bound to (its port, when 0 was asked).
    pub(crate) fn bound(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Our address as rsipstack writes it in Vias (`ours`), and what the
    /// other family's socket writes instead (`other`). Set once.
    pub(crate) fn set_via_texts(&self, ours: String, other: String) {
        let _ = self.via_texts.set((ours, other));
    }

    /// Reads the next datagram from either socket.
    async fn next(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        let Some(other) = &self.other else {
            return self.socket.recv_from(buf).await;
        };
        let other_first = self.other_first.fetch_xor(true, Ordering::Relaxed);
        std::future::poll_fn(|cx| {
            let order = match other_first {
                true => [other, &self.socket],
                false => [&self.socket, other],
            };
            for socket in order {
                let mut read = ReadBuf::new(buf);
                if let Poll::Ready(r) = socket.poll_recv_from(cx, &mut read) {
                    return Poll::Ready(r.map(|from| (read.filled().len(), from)));
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// A UDP socket on `address` for its family alone.
fn bind_one_family(address: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let socket = super::one_family(address, socket2::Type::DGRAM, socket2::Protocol::UDP)?;
    socket.bind(&address.into())?;
    Ok(socket.into())
}

#[async_trait::async_trait]
impl StackSocket for AnsweringSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.next(buf).await?;
            let tag = || uuid::Uuid::new_v4().simple().to_string();
            match judge(&buf[..len], self.allow, tag) {
                Verdict::PassOn => return Ok((len, from)),
                Verdict::Answer(answer) => {
                    // Sent to where the request came from, as rport
                    // (RFC 3581) would: that is the address that reaches
                    // a sender behind NAT.
                    if let Err(e) = self.send(&answer, from).await {
                        tracing::debug!(%from, "501 not sent: {e}");
                    }
                    self.answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.send(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}

impl AnsweringSocket {
    async fn send(&self, buf: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        let ours = self.socket.local_addr()?;
        match &self.other {
            Some(other) if ours.is_ipv4() != to.is_ipv4() => {
                let restamped = self
                    .via_texts
                    .get()
                    .and_then(|(ours, theirs)| restamp_via(buf, ours, theirs));
                let datagram = restamped.as_deref().unwrap_or(buf);
                other.send_to(datagram, to).await?;
                Ok(buf.len())
            }
            _ => self.socket.send_to(buf, to).await,
        }
    }
}

/// `datagram` with `ours` replaced by `theirs` in its top Via, when it is
/// a request whose top Via names `ours`; None when nothing changes
/// (responses carry the peer's Vias, which are never touched).
pub(crate) fn restamp_via(datagram: &[u8], ours: &str, theirs: &str) -> Option<Vec<u8>> {
    if datagram.starts_with(b"SIP/2.0") {
        return None;
    }
    let text = std::str::from_utf8(datagram).ok()?;
    let headers_end = text.find("\r\n\r\n").unwrap_or(text.len());
    let mut at = text.find("\r\n")? + 2;
    while at < headers_end {
        let end = text[at..].find("\r\n").map_or(text.len(), |n| at + n);
        let line = &text[at..end];
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v") {
            // The top Via's sent-by follows its transport: "SIP/2.0/UDP ours;...".
            let sent_by = line.find(ours)?;
            let mut out = String::with_capacity(text.len() + theirs.len());
            out.push_str(&text[..at + sent_by]);
            out.push_str(theirs);
            out.push_str(&text[at + sent_by + ours.len()..]);
            return Some(out.into_bytes());
        }
        at = end + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYE: &str = "BYE sip:caller@[::1]:5070 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1;rport\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0\r\n\
        Contact: <sip:switchboard@127.0.0.1:5060>\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn a_request_leaving_by_the_other_family_names_that_family_in_its_top_via_only() {
        let out = restamp_via(BYE.as_bytes(), "127.0.0.1:5060", "[::1]:5060").unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("Via: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1;rport\r\n"));
        // The next Via and everything else stay as they were.
        assert!(out.contains("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0\r\n"));
        assert!(out.contains("Contact: <sip:switchboard@127.0.0.1:5060>"));
        assert_eq!(out.len(), BYE.len() + "[::1]".len() - "127.0.0.1".len());
    }

    #[test]
    fn responses_and_other_vias_are_left_alone() {
        let response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\r\n";
        assert_eq!(
            restamp_via(response.as_bytes(), "127.0.0.1:5060", "[::1]:5060"),
            None
        );
        let compact = BYE.replace(
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
            "v: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1",
        );
        assert_eq!(
            restamp_via(compact.as_bytes(), "127.0.0.1:5060", "[::1]:5060"),
            None
        );
        assert_eq!(restamp_via(b"\xff\xfe", "a", "b"), None);
    }

    #[test]
    fn a_compact_via_is_restamped_too() {
        let compact = BYE.replace(
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
            "v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
        );
        let out = restamp_via(compact.as_bytes(), "127.0.0.1:5060", "[::1]:5060").unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("v: SIP/2.0/UDP [::1]:5060;branch"));
    }
}
