//! RTP framing (RFC 3550) on top of `rtp-types`, and symmetric-RTP latching.

use std::net::SocketAddr;

use rtp_types::{RtpPacket, RtpPacketBuilder};

/// An RTP packet we received, copied out of the socket buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The payload type: 0 (PCMU), 8 (PCMA) or a number the SDP mapped, such as
    /// telephone-event's.
    pub payload_type: u8,
    /// The sequence number: one more each packet, wrapping at 65,535.
    pub sequence: u16,
    /// The RTP timestamp, in 8 kHz samples for G.711 and telephone-events; every
    /// packet of one RFC 4733 event carries the event's start.
    pub timestamp: u32,
    /// The SSRC: which of the sender's streams this is.
    pub ssrc: u32,
    /// The marker bit: the first packet of a talk spurt, or of an RFC 4733 event.
    pub marker: bool,
    /// The payload: the bytes after the RTP header.
    pub payload: Vec<u8>,
}

/// Why a datagram is not an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRtp {
    /// An RTCP packet on the RTP port (RFC 5761 multiplexing).
    #[error("RTCP, not RTP")]
    Rtcp,
    /// Not RTP version 2, or cut short; the parser's reason.
    #[error("not RTP: {0}")]
    Malformed(String),
}

/// Reads one datagram as RTP. RTCP (payload types 200-204 in the second
/// byte, RFC 5761) and anything that is not RTP version 2 is refused.
pub fn parse(datagram: &[u8]) -> Result<Received, NotRtp> {
    if datagram.len() >= 2 && (200..=204).contains(&datagram[1]) {
        return Err(NotRtp::Rtcp);
    }
    let packet = RtpPacket::parse(datagram).map_err(|e| NotRtp::Malformed(format!("{e:?}")))?;
    Ok(Received {
        payload_type: packet.payload_type(),
        sequence: packet.sequence_number(),
        timestamp: packet.timestamp(),
        ssrc: packet.ssrc(),
        marker: packet.marker_bit(),
        payload: packet.payload().to_vec(),
    })
}

/// One outgoing stream: our SSRC, sequence numbers and 8 kHz timestamps.
#[derive(Debug, Clone)]
pub struct OutStream {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// The next audio packet starts a talk spurt (marker bit).
    spurt: bool,
}

impl OutStream {
    /// `seed` picks the SSRC and the random starting points RFC 3550 asks for.
    pub fn new(seed: u64) -> Self {
        // splitmix64: spreads one seed over the three starting values.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self {
            ssrc: z as u32,
            sequence: (z >> 32) as u16,
            timestamp: (z >> 16) as u32,
            spurt: true,
        }
    }

    /// The SSRC our packets carry.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// An audio packet covering `samples` samples; the clock moves on.
    pub fn audio(&mut self, payload_type: u8, payload: &[u8], samples: u32) -> Vec<u8> {
        let marker = std::mem::take(&mut self.spurt);
        let packet = self.build(payload_type, payload, marker, self.timestamp);
        self.timestamp = self.timestamp.wrapping_add(samples);
        packet
    }

    /// A packet that does not move the clock by itself (RFC 4733 events
    /// carry the timestamp of the event's start).
    pub fn event(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        marker: bool,
        timestamp: u32,
    ) -> Vec<u8> {
        self.build(payload_type, payload, marker, timestamp)
    }

    /// Nothing was sent for `samples`: the clock still runs, and the next
    /// packet starts a talk spurt.
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.spurt = true;
    }

    /// The RTP timestamp the next audio packet will carry, in 8 kHz samples.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    fn build(&mut self, payload_type: u8, payload: &[u8], marker: bool, timestamp: u32) -> Vec<u8> {
        let packet = RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(payload_type & 0x7F)
            .sequence_number(self.sequence)
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .marker_bit(marker)
            .payload(payload)
            .write_vec_unchecked();
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

/// How long a latched stream must have been silent before packets of a
/// new SSRC from another address may take it over: a media server or SBC
/// that moves a call starts a new stream after the old one stops, while an
/// attacker racing a live stream finds it still talking.
pub const RELATCH_GUARD_MS: u64 = 500;

/// How much a source address is trusted to be the peer's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Trust {
    /// Neither of the addresses signalling gave.
    Elsewhere,
    /// The IP address the peer's SIP came from (its NAT's public address).
    Signalling,
    /// The IP address its SDP names.
    Described,
}

/// Symmetric RTP (RFC 4961) for peers behind NAT: we send to where the
/// peer's packets come from, not only to what their SDP says.
///
/// - **Learning**: the first packet fixes the address. Until a packet comes
///   from the SDP's IP address, a packet from the IP the peer's SIP came
///   from takes the stream over, and before either, one from anywhere (a
///   phone behind NAT, or on a host with two addresses, names an address
///   in its SDP that its packets never come from).
/// - **Moving**: a stream that moves to a new address with a new SSRC (an
///   SBC re-routing the call) is followed once the old stream has been
///   silent for [`RELATCH_GUARD_MS`].
/// - **Hijack**: otherwise packets from other addresses are refused, so a
///   stranger who guesses our port can neither inject audio into a live
///   stream nor steal it.
/// - **Strict** ([`Latch::strict`]): only the SDP's IP address, on any
///   port, and then only the first port heard, for carriers that want it so.
#[derive(Debug, Clone)]
pub struct Latch {
    signalled: SocketAddr,
    signalling: Option<std::net::IpAddr>,
    strict: bool,
    latched: Option<Latched>,
    refused: u64,
}

#[derive(Debug, Clone, Copy)]
struct Latched {
    from: SocketAddr,
    trust: Trust,
    ssrc: Option<u32>,
    last_ms: u64,
}

impl Latch {
    /// A latch for the address the peer's SDP gave; nothing latched yet.
    /// `signalling`: the IP address the peer's SIP came from, if known.
    pub fn new(signalled: SocketAddr, signalling: Option<std::net::IpAddr>) -> Self {
        Self {
            signalled,
            signalling,
            strict: false,
            latched: None,
            refused: 0,
        }
    }

    /// A latch that takes packets only from the SDP's IP address.
    pub fn strict(signalled: SocketAddr) -> Self {
        Self {
            strict: true,
            ..Self::new(signalled, None)
        }
    }

    fn trust(&self, from: SocketAddr) -> Trust {
        if from.ip() == self.signalled.ip() {
            Trust::Described
        } else if Some(from.ip()) == self.signalling {
            Trust::Signalling
        } else {
            Trust::Elsewhere
        }
    }

    /// Whether a packet from `from` (of `ssrc`, for RTP; `None` for RTCP,
    /// which follows the address only) at `now_ms` belongs to this stream.
    pub fn accept(&mut self, from: SocketAddr, ssrc: Option<u32>, now_ms: u64) -> bool {
        let trust = self.trust(from);
        if self.strict && trust != Trust::Described {
            self.refused += 1;
            return false;
        }
        let take = match self.latched {
            None => true,
            Some(l) if l.from == from => {
                self.latched = Some(Latched {
                    ssrc: ssrc.or(l.ssrc),
                    last_ms: now_ms,
                    ..l
                });
                return true;
            }
            // Strict: the first address from the SDP's IP, for good.
            Some(_) if self.strict => false,
            // A better-founded address takes over a guess.
            Some(l) if trust > l.trust => true,
            // A new stream once the old one went quiet.
            Some(l) => {
                trust == l.trust
                    && ssrc.is_some()
                    && ssrc != l.ssrc
                    && now_ms.saturating_sub(l.last_ms) >= RELATCH_GUARD_MS
            }
        };
        if take {
            self.latched = Some(Latched {
                from,
                trust,
                ssrc,
                last_ms: now_ms,
            });
        } else {
            self.refused += 1;
        }
        take
    }

    /// Where to send: the latched address, or the signalled one until then.
    pub fn destination(&self) -> SocketAddr {
        self.latched.map(|l| l.from).unwrap_or(self.signalled)
    }

    /// The IP address packets are taken from now, once one was.
    pub fn latched_ip(&self) -> Option<std::net::IpAddr> {
        self.latched.map(|l| l.from.ip())
    }

    /// A new offer/answer moved the stream (re-INVITE): start over.
    pub fn resignal(&mut self, signalled: SocketAddr) {
        if signalled != self.signalled {
            self.signalled = signalled;
            self.latched = None;
        }
    }

    /// Counts a packet from elsewhere that was not even RTP.
    pub fn refuse(&mut self) {
        self.refused += 1;
    }

    /// Packets refused as coming from the wrong place.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_round_trips_through_the_parser() {
        let mut out = OutStream::new(7);
        let first = parse(&out.audio(0, &[0xFF; 160], 160)).unwrap();
        let second = parse(&out.audio(0, &[0x7F; 160], 160)).unwrap();
        assert!(first.marker && !second.marker);
        assert_eq!(second.sequence, first.sequence.wrapping_add(1));
        assert_eq!(second.timestamp, first.timestamp.wrapping_add(160));
        assert_eq!(first.ssrc, second.ssrc);
        assert_eq!(second.payload, vec![0x7F; 160]);
    }

    #[test]
    fn garbage_and_rtcp_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x80]).is_err());
        assert!(parse(&[0x00; 12]).is_err(), "version 0");
        assert!(
            parse(&[0x80, 200, 0, 6, 0, 0, 0, 1]).is_err(),
            "RTCP sender report"
        );
    }

    #[test]
    fn a_strict_latch_follows_the_nat_port_but_refuses_strangers() {
        let mut latch = Latch::strict("192.0.2.10:4000".parse().unwrap());
        assert!(!latch.accept("198.51.100.1:4000".parse().unwrap(), Some(1), 0));
        assert!(latch.accept("192.0.2.10:31000".parse().unwrap(), Some(1), 20));
        assert_eq!(latch.destination(), "192.0.2.10:31000".parse().unwrap());
        assert!(!latch.accept("192.0.2.10:4000".parse().unwrap(), Some(2), 5_000));
        assert_eq!(latch.refused(), 2);
    }

    #[test]
    fn a_caller_behind_nat_is_heard_from_an_address_its_sdp_never_named() {
        // The SDP names the phone's private address; its packets come from
        // its NAT, the address its INVITE came from.
        let nat = "203.0.113.5".parse().unwrap();
        let mut latch = Latch::new("10.0.0.20:4000".parse().unwrap(), Some(nat));
        assert!(latch.accept("203.0.113.5:61000".parse().unwrap(), Some(7), 0));
        assert_eq!(latch.destination(), "203.0.113.5:61000".parse().unwrap());
        // A stranger is refused while the stream lives, even with a new SSRC.
        assert!(!latch.accept("198.51.100.1:4000".parse().unwrap(), Some(8), 20));
        assert!(latch.accept("203.0.113.5:61000".parse().unwrap(), Some(7), 40));
        assert!(!latch.accept("198.51.100.1:4000".parse().unwrap(), Some(8), 2_000));
        assert_eq!(latch.destination(), "203.0.113.5:61000".parse().unwrap());
    }

    #[test]
    fn a_phone_on_a_two_address_host_is_learned_from_anywhere_until_a_better_source_speaks() {
        let mut latch = Latch::new(
            "192.0.2.10:4000".parse().unwrap(),
            Some("192.0.2.10".parse().unwrap()),
        );
        assert!(latch.accept("192.0.2.99:5000".parse().unwrap(), Some(1), 0));
        assert_eq!(latch.destination(), "192.0.2.99:5000".parse().unwrap());
        // The SDP's own address is better founded: it takes the stream.
        assert!(latch.accept("192.0.2.10:4000".parse().unwrap(), Some(1), 20));
        assert!(!latch.accept("192.0.2.99:5000".parse().unwrap(), Some(1), 40));
    }

    #[test]
    fn a_stream_that_moves_with_a_new_ssrc_is_followed_once_the_old_one_is_quiet() {
        let mut latch = Latch::new("192.0.2.10:4000".parse().unwrap(), None);
        assert!(latch.accept("198.51.100.1:4000".parse().unwrap(), Some(1), 0));
        // Too soon: the first stream may still be talking.
        assert!(!latch.accept("198.51.100.2:4000".parse().unwrap(), Some(2), 100));
        // Same SSRC from elsewhere: never (a copy, or a spoof).
        assert!(!latch.accept("198.51.100.2:4000".parse().unwrap(), Some(1), 5_000));
        assert!(latch.accept(
            "198.51.100.2:4000".parse().unwrap(),
            Some(2),
            RELATCH_GUARD_MS + 1
        ));
        assert_eq!(latch.destination(), "198.51.100.2:4000".parse().unwrap());
    }
}
