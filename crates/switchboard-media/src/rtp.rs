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

/// Symmetric RTP (RFC 4961) for callers behind NAT: we send to where the
/// caller's packets come from, not only to what their SDP says.
///
/// The first packet from the signalled IP address, on any port, fixes the
/// address; packets from other addresses are refused, so a stranger who
/// guesses our port can neither inject audio nor steal the stream.
#[derive(Debug, Clone)]
pub struct Latch {
    signalled: SocketAddr,
    latched: Option<SocketAddr>,
    refused: u64,
}

impl Latch {
    /// A latch for the address the peer's SDP gave; nothing latched yet.
    pub fn new(signalled: SocketAddr) -> Self {
        Self {
            signalled,
            latched: None,
            refused: 0,
        }
    }

    /// Whether a packet from `from` belongs to this stream.
    pub fn accept(&mut self, from: SocketAddr) -> bool {
        match self.latched {
            Some(addr) if addr == from => true,
            Some(_) => {
                self.refused += 1;
                false
            }
            None if from.ip() == self.signalled.ip() => {
                self.latched = Some(from);
                true
            }
            None => {
                self.refused += 1;
                false
            }
        }
    }

    /// Where to send: the latched address, or the signalled one until then.
    pub fn destination(&self) -> SocketAddr {
        self.latched.unwrap_or(self.signalled)
    }

    /// A new offer/answer moved the stream (re-INVITE): start over.
    pub fn resignal(&mut self, signalled: SocketAddr) {
        if signalled != self.signalled {
            self.signalled = signalled;
            self.latched = None;
        }
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
    fn latch_follows_the_nat_port_but_refuses_strangers() {
        let mut latch = Latch::new("192.0.2.10:4000".parse().unwrap());
        assert!(!latch.accept("198.51.100.1:4000".parse().unwrap()));
        assert!(latch.accept("192.0.2.10:31000".parse().unwrap()));
        assert_eq!(latch.destination(), "192.0.2.10:31000".parse().unwrap());
        assert!(!latch.accept("192.0.2.10:4000".parse().unwrap()));
        assert_eq!(latch.refused(), 2);
    }
}
