//! One call leg's RTP: a UDP socket and the media cores that read and
//! write it (latching, stream stamping, G.711, telephone-events), and
//! SRTP when the SDP agreed it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchboard_media::rtcp::{self, Block, ReceptionStats, SenderInfo};
use switchboard_model::contact_record::LegQuality;

use switchboard_media::dtmf::{DigitError, DigitSender, EventDetector};
use switchboard_media::g711::Law;
use switchboard_media::g722::G722Edge;
use switchboard_media::packetize::{self, Repacketizer};
use switchboard_media::rtp::{self, Latch, OutStream};
use switchboard_media::sdes::Crypto;
use switchboard_media::sdp::{Direction, Negotiated, RemoteAudio, SdpError};
use switchboard_media::Wideband;
use switchboard_media::FRAME_SAMPLES;
use tokio::net::UdpSocket;

/// What a datagram turned out to be.
pub enum Heard {
    /// Audio in the leg's law, and as the peer sent it when that was
    /// wideband (G.722).
    Audio(Vec<u8>, Option<Wideband>),
    /// A key press (RFC 4733).
    Digit(char),
    /// Nothing to act on: a repeat, RTCP, comfort noise, an unknown payload.
    Nothing,
}

/// How far (8 kHz samples) the RTP clock may fall behind real time before
/// it is set to now: 120 ms, above the longest packet time we send (60 ms)
/// and packets' usual jitter.
const CLOCK_SLACK: u32 = 6 * FRAME_SAMPLES as u32;

/// Why keys cannot be sent on a leg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// The peer's SDP offered no telephone-event (RFC 4733).
    #[error("the other party takes no keys (its SDP has no telephone-event)")]
    NotTaken,
    #[error(transparent)]
    Keys(#[from] DigitError),
}

/// Who is at the far end of a leg, for learning where its media comes from
/// ([`Latch`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaPeer {
    /// The IP address its SIP came from (a NAT's public address).
    pub signalling: Option<IpAddr>,
    /// Media only from its SDP's address (a trunk's `strict_media_source`).
    pub strict: bool,
    /// Its SIP comes over TLS: SDES keys in the SDP stay private, so SRTP
    /// is offered (best effort) and taken.
    pub private: bool,
}

pub struct Leg {
    pub socket: UdpSocket,
    /// RTCP, on the port after RTP's (RFC 3550 section 11).
    pub rtcp_socket: UdpSocket,
    pub local: SocketAddr,
    latch: Option<Latch>,
    rtcp_latch: Option<Latch>,
    /// Who the peer is, for learning where its media comes from.
    peer: MediaPeer,
    /// Loss and jitter of what the peer sends us.
    stats: ReceptionStats,
    /// The peer's last report about what we send.
    peer_report: Option<Block>,
    octets_out: u64,
    created: Instant,
    out: OutStream,
    /// Our audio cut to the packet time the peer asked for.
    packets: Repacketizer,
    /// The peer speaks G.722: its audio turned to and from the call's law.
    g722: Option<G722Edge>,
    negotiated: Option<Negotiated>,
    /// What the peer's last SDP said: it may not want our audio (hold).
    remote_direction: Direction,
    remote_unspecified: bool,
    detector: EventDetector,
    /// Keys we send the peer (RFC 4733), a tick at a time.
    keys: DigitSender,
    /// Samples our RTP clock moved since it was last set to real time,
    /// less the 20 ms ticks since ([`Leg::tick`]).
    clock_balance: i64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub malformed: u64,
    /// Our SDP origin for this leg: one session id, a version that grows
    /// with every new offer or answer (RFC 3264 section 8).
    sdp_id: u64,
    sdp_version: u64,
    /// The master key and salt we encrypt with, should the peer want SRTP.
    srtp_key: [u8; switchboard_media::sdes::KEY_SALT_LEN],
    /// SRTP, when the SDP agreed it.
    srtp: Option<crate::srtp::Srtp>,
    /// Our last offer gave `srtp_key`: an answer with a key of its own
    /// makes the leg SRTP.
    offered_key: bool,
    /// The peer's last SDP was `RTP/SAVP` (an offer of ours again says the same).
    remote_savp: bool,
}

impl Leg {
    /// A socket on `ip`: on an even port from `ports` (firewalls open a
    /// range for RTP), or one the system picks when no range is set.
    pub async fn bind(ip: IpAddr, ports: Option<(u16, u16)>) -> io::Result<Leg> {
        let (socket, rtcp_socket) = bind_pair(ip, ports).await?;
        let local = socket.local_addr()?;
        Ok(Leg {
            socket,
            rtcp_socket,
            local,
            latch: None,
            rtcp_latch: None,
            peer: MediaPeer::default(),
            stats: ReceptionStats::default(),
            peer_report: None,
            octets_out: 0,
            created: Instant::now(),
            out: OutStream::new(rand::random()),
            packets: Repacketizer::default(),
            g722: None,
            negotiated: None,
            remote_direction: Direction::SendRecv,
            remote_unspecified: false,
            detector: EventDetector::default(),
            keys: DigitSender::default(),
            clock_balance: 0,
            packets_in: 0,
            packets_out: 0,
            malformed: 0,
            sdp_id: u64::from(rand::random::<u32>()),
            sdp_version: 0,
            srtp_key: rand::random(),
            srtp: None,
            offered_key: false,
            remote_savp: false,
        })
    }

    /// Who the peer is: where its SIP came from, whether its media must
    /// come from its SDP's address only, whether SRTP keys may be given.
    /// Set before the leg's offer or answer.
    pub fn set_peer(&mut self, peer: MediaPeer) {
        self.peer = peer;
    }

    fn new_latch(&self, signalled: SocketAddr) -> Latch {
        match self.peer.strict {
            true => Latch::strict(signalled),
            false => Latch::new(signalled, self.peer.signalling),
        }
    }

    /// The peer's SDP (offer or answer) and what was agreed.
    pub fn connect(&mut self, remote: &RemoteAudio, negotiated: Negotiated) {
        match &mut self.latch {
            Some(latch) => latch.resignal(remote.addr),
            None => self.latch = Some(self.new_latch(remote.addr)),
        }
        let rtcp_port = remote
            .rtcp_port
            .unwrap_or(remote.addr.port().wrapping_add(1));
        let rtcp = SocketAddr::new(remote.addr.ip(), rtcp_port);
        match &mut self.rtcp_latch {
            Some(latch) => latch.resignal(rtcp),
            None => self.rtcp_latch = Some(self.new_latch(rtcp)),
        }
        // A codec state per stream: a new G.722 peer starts afresh.
        match (negotiated.g722, self.negotiated.is_some_and(|n| n.g722)) {
            (true, false) => self.g722 = Some(G722Edge::default()),
            (false, _) => self.g722 = None,
            (true, true) => {}
        }
        // New keys, new contexts; the same keys keep theirs (replay state).
        if self.srtp.as_ref().map(|s| s.agreement()) != negotiated.srtp {
            self.srtp = negotiated.srtp.and_then(crate::srtp::Srtp::new);
        }
        self.negotiated = Some(negotiated);
        self.remote_savp = remote.secure;
        self.packets.set_ptime(packetize::ptime_ms(remote.ptime));
        self.remote_direction = remote.direction;
        self.remote_unspecified = remote.addr.ip().is_unspecified();
    }

    /// Our answer to the peer's offer (SRTP with our key, if it offers
    /// keys over private signalling), and what it agrees; [`Leg::connect`]
    /// then takes it.
    pub fn answer(&mut self, remote: &RemoteAudio) -> Result<(Vec<u8>, Negotiated), SdpError> {
        let origin = self.next_sdp_origin();
        let key = self.peer.private.then_some(self.srtp_key);
        remote.answer(self.local, origin.0, origin.1, key)
    }

    /// Our offer of `laws`: with our SRTP key, best effort, when the
    /// signalling is private ([`MediaPeer::private`]).
    pub fn offer(&mut self, laws: &[Law], direction: Direction) -> Vec<u8> {
        let origin = self.next_sdp_origin();
        self.offered_key = self.peer.private;
        let crypto = self.peer.private.then_some((
            Crypto {
                tag: 1,
                suite: switchboard_media::sdes::Suite::AesCm128HmacSha1_80,
                key: self.srtp_key,
            },
            false,
        ));
        switchboard_media::sdp::offer_with(self.local, laws, direction, origin.0, origin.1, crypto)
    }

    /// What the peer's answer to our offer agreed.
    pub fn negotiated(&self, answer: &RemoteAudio) -> Result<Negotiated, SdpError> {
        answer.negotiated_with(self.offered_key.then_some(self.srtp_key))
    }

    /// Our offer of what is in use again (a re-INVITE without SDP): SRTP
    /// with our key, in the profile the peer used, when the leg is SRTP.
    pub fn offer_again(&mut self, direction: Direction) -> Vec<u8> {
        let origin = self.next_sdp_origin();
        let crypto = self.srtp.as_ref().map(|s| {
            let crypto = Crypto {
                tag: 1,
                suite: s.agreement().suite,
                key: self.srtp_key,
            };
            (crypto, self.remote_savp)
        });
        switchboard_media::sdp::offer_with(
            self.local,
            &[self.law()],
            direction,
            origin.0,
            origin.1,
            crypto,
        )
    }

    /// The o= line's session id and the next version, for a new description.
    pub fn next_sdp_origin(&mut self) -> (u64, u64) {
        self.sdp_version += 1;
        (self.sdp_id, self.sdp_version)
    }

    pub fn law(&self) -> Law {
        self.negotiated.map(|n| n.law).unwrap_or(Law::MuLaw)
    }

    pub fn refused(&self) -> u64 {
        self.latch.as_ref().map(Latch::refused).unwrap_or(0)
    }

    /// Sends 20 ms of linear audio.
    pub fn send_samples(&mut self, samples: &[i16; FRAME_SAMPLES]) {
        let law = self.law();
        let payload: Vec<u8> = samples.iter().map(|&s| law.encode(s)).collect();
        self.send_payload(&payload);
    }

    /// Whether the peer speaks wideband (G.722).
    pub fn wideband(&self) -> bool {
        self.g722.is_some()
    }

    /// Sends audio already in this leg's law (a relay needs no
    /// transcoding), in packets of the peer's packet time.
    pub fn send_payload(&mut self, payload: &[u8]) {
        if !self.sending(payload.len()) {
            return;
        }
        let law = self.law();
        match &mut self.g722 {
            Some(edge) => {
                let wide = edge.from_law(payload, law);
                self.send_coded(&wide);
            }
            None => self.send_coded(payload),
        }
    }

    /// Sends what a wideband peer said, when this peer speaks G.722 too:
    /// another G.722 peer's payload untouched, else its 16 kHz samples
    /// coded; false (nothing sent) when this peer is narrowband.
    pub fn send_wideband(&mut self, heard: &Wideband) -> bool {
        let Some(edge) = &mut self.g722 else {
            return false;
        };
        let coded = match &heard.g722 {
            Some(payload) => payload.clone(),
            None => edge.encode_wideband(&heard.samples),
        };
        if self.sending(coded.len()) {
            self.send_coded(&coded);
        }
        true
    }

    /// Whether `len` bytes of audio go out now. A peer that holds
    /// (sendonly, inactive, c=0.0.0.0) gets no audio; the RTP clock still
    /// runs for when it resumes. Nor does one hearing keys we send (or the
    /// pauses between them): their ticks run the clock then
    /// ([`Leg::tick_keys`]).
    fn sending(&mut self, len: usize) -> bool {
        if self.latch.is_none() {
            return false;
        }
        if self.keys.busy() {
            self.packets.clear();
            return false;
        }
        if self.remote_unspecified
            || matches!(
                self.remote_direction,
                Direction::SendOnly | Direction::Inactive
            )
        {
            self.packets.clear();
            self.out.skip(len as u32);
            self.clock_balance += len as i64;
            return false;
        }
        true
    }

    /// Audio in the negotiated codec, cut to the peer's packet time (G.711
    /// and G.722 both take one byte per 8 kHz sample period).
    fn send_coded(&mut self, payload: &[u8]) {
        let mut packets = std::mem::take(&mut self.packets);
        packets.push(payload, |packet| self.send_packet(packet));
        self.packets = packets;
    }

    fn send_packet(&mut self, payload: &[u8]) {
        let pt = self
            .negotiated
            .map(|n| n.payload_type)
            .unwrap_or(self.law().payload_type());
        let packet = self.out.audio(pt, payload, payload.len() as u32);
        self.clock_balance += payload.len() as i64;
        self.transmit(&packet, payload.len());
    }

    /// Queues keys to send the peer as RFC 4733 events (the agent working
    /// a third party's IVR).
    pub fn send_keys(&mut self, keys: &str) -> Result<(), KeysError> {
        if self.negotiated.and_then(|n| n.event_payload_type).is_none() {
            return Err(KeysError::NotTaken);
        }
        Ok(self.keys.push(keys)?)
    }

    /// Every 20 ms: the keys being sent, and the RTP clock kept to real
    /// time. Audio relayed from the other side comes when that side speaks;
    /// when it is silent (a phone's VAD, a muted agent, a key's pause) no
    /// packet moves the clock, and audio after the silence would carry a
    /// time from before it, which a jitter buffer takes for late and drops.
    /// So once the clock is more than 120 ms behind, it jumps to now (a new
    /// talk spurt); less than that is packets' jitter and packet times,
    /// which even out.
    pub fn tick(&mut self) {
        self.tick_keys();
        self.clock_balance -= FRAME_SAMPLES as i64;
        if self.clock_balance <= -(CLOCK_SLACK as i64) {
            self.out.skip((-self.clock_balance) as u32);
            self.clock_balance = 0;
        }
        // Ahead after a burst: kept to evens out, up to a second.
        self.clock_balance = self.clock_balance.min(8_000);
    }

    /// One 20 ms tick of the keys being sent, if any: their packet, and
    /// the RTP clock moved on for the audio they stand in for.
    fn tick_keys(&mut self) {
        let Some(pt) = self.negotiated.and_then(|n| n.event_payload_type) else {
            // The peer's new SDP takes no keys: those waiting are dropped,
            // or they would hold its audio back for good.
            self.keys = DigitSender::default();
            return;
        };
        if !self.keys.busy() {
            return;
        }
        // A key sounding sends its packet; a pause between keys sends nothing.
        if let Some(event) = self.keys.tick(self.out.timestamp(), FRAME_SAMPLES as u32) {
            // Each copy is a packet of its own (its own sequence number): a
            // receiver's jitter buffer drops a repeated one as a duplicate.
            for _ in 0..event.copies {
                let packet = self
                    .out
                    .event(pt, &event.payload, event.marker, event.timestamp);
                self.transmit(&packet, event.payload.len());
            }
        }
        self.out.skip(FRAME_SAMPLES as u32);
        self.clock_balance += FRAME_SAMPLES as i64;
    }

    /// Protects (SRTP) and sends one RTP packet to the peer.
    fn transmit(&mut self, packet: &[u8], payload_len: usize) {
        let Some(latch) = &self.latch else { return };
        let protected;
        let packet = match &mut self.srtp {
            Some(srtp) => match srtp.protect_rtp(packet) {
                Some(p) => {
                    protected = p;
                    &protected[..]
                }
                None => return,
            },
            None => packet,
        };
        // A full socket buffer drops this packet, as the network would.
        if self.socket.try_send_to(packet, latch.destination()).is_ok() {
            self.packets_out += 1;
            self.octets_out += payload_len as u64;
        }
    }

    /// Nothing to send this tick: keep the RTP clock running.
    pub fn skip(&mut self) {
        self.out.skip(FRAME_SAMPLES as u32);
        self.clock_balance += FRAME_SAMPLES as i64;
    }

    /// Reads one datagram from `from`.
    pub fn heard(&mut self, from: SocketAddr, datagram: &[u8]) -> Heard {
        let (Some(latch), Some(negotiated)) = (&mut self.latch, self.negotiated) else {
            return Heard::Nothing;
        };
        // SRTP: only what authenticates reaches the latch, so a forged
        // packet can neither move the stream nor be heard.
        let decrypted;
        let datagram = match &mut self.srtp {
            Some(srtp) => match srtp.unprotect_rtp(datagram) {
                Ok(plain) => {
                    decrypted = plain;
                    &decrypted[..]
                }
                Err(_) => {
                    match latch.destination() == from {
                        true => self.malformed += 1,
                        false => latch.refuse(),
                    }
                    return Heard::Nothing;
                }
            },
            None => datagram,
        };
        let packet = match rtp::parse(datagram) {
            Ok(p) => p,
            Err(_) => {
                // Junk never moves the stream: malformed from the peer,
                // refused from anyone else.
                match latch.destination() == from {
                    true => self.malformed += 1,
                    false => latch.refuse(),
                }
                return Heard::Nothing;
            }
        };
        let arrival_ms = self.created.elapsed().as_millis() as u64;
        if !latch.accept(from, Some(packet.ssrc), arrival_ms) {
            return Heard::Nothing;
        }
        self.packets_in += 1;
        if Some(packet.payload_type) == negotiated.event_payload_type {
            self.stats
                .on_event(packet.ssrc, packet.sequence, arrival_ms);
            return match self
                .detector
                .packet(packet.ssrc, packet.timestamp, &packet.payload)
            {
                Some(d) => Heard::Digit(d),
                None => Heard::Nothing,
            };
        }
        self.stats
            .on_rtp(packet.ssrc, packet.sequence, packet.timestamp, arrival_ms);
        if packet.payload_type == negotiated.payload_type {
            return match &mut self.g722 {
                Some(edge) => {
                    let (narrow, samples) = edge.decode(&packet.payload, negotiated.law);
                    let wide = Wideband {
                        samples,
                        g722: Some(packet.payload),
                    };
                    Heard::Audio(narrow, Some(wide))
                }
                None => Heard::Audio(packet.payload, None),
            };
        }
        match Law::from_payload_type(packet.payload_type) {
            Some(law) if law == negotiated.law => Heard::Audio(packet.payload, None),
            // The peer switched law mid-call (allowed if both were offered).
            Some(law) => Heard::Audio(
                negotiated.law.encode_all(&law.decode_all(&packet.payload)),
                None,
            ),
            None => Heard::Nothing,
        }
    }
}

impl Leg {
    /// Reads one RTCP datagram from `from` (the peer's reports).
    pub fn heard_rtcp(&mut self, from: SocketAddr, datagram: &[u8]) {
        let Some(latch) = &mut self.rtcp_latch else {
            return;
        };
        let decrypted;
        let datagram = match &mut self.srtp {
            Some(srtp) => match srtp.unprotect_rtcp(datagram) {
                Ok(plain) => {
                    decrypted = plain;
                    &decrypted[..]
                }
                Err(_) => return,
            },
            None => datagram,
        };
        let now_ms = self.created.elapsed().as_millis() as u64;
        if !latch.accept(from, None, now_ms) {
            return;
        }
        let Some(report) = rtcp::parse(datagram, self.out.ssrc()) else {
            self.malformed += 1;
            return;
        };
        if let Some(ntp) = report.sender_ntp {
            self.stats
                .on_sender_report(ntp, self.created.elapsed().as_millis() as u64);
        }
        if let Some(block) = report.about_us {
            self.peer_report = Some(block);
        }
    }

    /// Sends our periodic report: SR (we send audio) with a block about
    /// the peer's stream, and our CNAME.
    pub fn send_rtcp(&mut self) {
        let Some(latch) = &self.rtcp_latch else {
            return;
        };
        if self.remote_unspecified {
            return;
        }
        // Until the peer's own RTCP shows where it comes from: beside its
        // RTP (the next port) when its RTP came from elsewhere than its
        // SDP said (behind NAT), else where its SDP said.
        let destination = match (latch.latched_ip(), &self.latch) {
            (None, Some(rtp))
                if rtp
                    .latched_ip()
                    .is_some_and(|ip| ip != latch.destination().ip()) =>
            {
                let media = rtp.destination();
                SocketAddr::new(media.ip(), media.port().wrapping_add(1))
            }
            _ => latch.destination(),
        };
        let now_ms = self.created.elapsed().as_millis() as u64;
        let block = self.stats.block(now_ms);
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let sender = (self.packets_out > 0).then(|| SenderInfo {
            ntp: rtcp::ntp_from_unix_ms(wall_ms),
            rtp_timestamp: self.out.timestamp(),
            packets: self.packets_out as u32,
            octets: self.octets_out as u32,
        });
        let cname = format!("switchboard@{}", self.local.ip());
        let mut packet = rtcp::report(self.out.ssrc(), sender, block, &cname);
        if let Some(srtp) = &mut self.srtp {
            match srtp.protect_rtcp(&packet) {
                Some(protected) => packet = protected.to_vec(),
                None => return,
            }
        }
        let _ = self.rtcp_socket.try_send_to(&packet, destination);
    }

    /// How the peer's audio reached us, and what the peer said of ours.
    pub fn quality(&self) -> LegQuality {
        LegQuality {
            packets_received: self.stats.packets_received(),
            packets_lost: self.stats.packets_lost(),
            jitter_ms: (self.stats.jitter_ms() * 10.0).round() / 10.0,
            peer_reported_loss_percent: self
                .peer_report
                .map(|b| (f64::from(b.fraction_lost) * 1000.0 / 256.0).round() / 10.0),
        }
    }
}

/// Binds RTP on an even port and RTCP on the next (RFC 3550 section 11):
/// from `ports` if given, else from what the system hands out.
pub(crate) async fn bind_pair(
    ip: IpAddr,
    ports: Option<(u16, u16)>,
) -> io::Result<(UdpSocket, UdpSocket)> {
    for _ in 0..64 {
        let rtp = match ports {
            Some((low, high)) => bind_in_range(ip, low, high.saturating_sub(1)).await?,
            None => UdpSocket::bind(SocketAddr::new(ip, 0)).await?,
        };
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)).await {
            return Ok((rtp, rtcp));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free pair of RTP/RTCP ports",
    ))
}

/// Tries random even ports in `low..=high` (RTP on even ports, RFC 3550
/// section 11), a bounded number of times.
async fn bind_in_range(ip: IpAddr, low: u16, high: u16) -> io::Result<UdpSocket> {
    let first_even = u32::from(low) + u32::from(low % 2);
    if first_even <= u32::from(high) {
        let evens = (u32::from(high) - first_even) / 2 + 1;
        for _ in 0..64 {
            let port = (first_even + 2 * (rand::random::<u32>() % evens)) as u16;
            if let Ok(socket) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
                return Ok(socket);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free RTP port in {low}-{high}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rtp_ports_come_from_the_configured_range_and_are_even() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // Ranges no other test or process can be using (fixed ones could be).
        let low = switchboard_testkit::ports::block(101);
        let high = low + 100;
        let mut held = Vec::new();
        for _ in 0..8 {
            let leg = Leg::bind(ip, Some((low, high))).await.unwrap();
            assert!((low..=high).contains(&leg.local.port()) && leg.local.port() % 2 == 0);
            held.push(leg);
        }
        // A range with one pair, already taken: a clear error.
        let pair = switchboard_testkit::ports::block(2);
        let only = Leg::bind(ip, Some((pair, pair + 1))).await.unwrap();
        assert_eq!(only.local.port(), pair);
        assert_eq!(only.rtcp_socket.local_addr().unwrap().port(), pair + 1);
        let err = Leg::bind(ip, Some((pair, pair + 1))).await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
