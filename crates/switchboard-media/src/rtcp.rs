//! RTCP (RFC 3550 section 6), sans-IO: reception statistics kept per
//! incoming stream (loss and interarrival jitter, appendix A.3 and A.8),
//! the sender/receiver reports we send every few seconds, and reading the
//! peer's reports, on top of `rtcp-types`.

use rtcp_types::{
    Compound, Packet, ReceiverReport, ReportBlock, RtcpPacketWriterExt, SdesChunk, SdesItem,
    SenderReport,
};
use rtcp_types::{RtcpPacketWriter, Sdes};

use crate::SAMPLE_RATE;

/// Seconds between 1900 (NTP) and 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp for a wall-clock time in Unix milliseconds.
pub fn ntp_from_unix_ms(unix_ms: u64) -> u64 {
    let seconds = unix_ms / 1000 + NTP_UNIX_OFFSET;
    let fraction = ((unix_ms % 1000) << 32) / 1000;
    (seconds << 32) | fraction
}

/// Sources (SSRCs) followed at once; a further one retires the least
/// recently heard, whose counts stay in the totals.
const MAX_SOURCES: usize = 4;

/// What we know of one incoming RTP source (SSRC).
#[derive(Debug, Clone, Default)]
struct Source {
    ssrc: u32,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    last_transit: Option<i64>,
    /// When its last packet came (ms), to retire the quietest.
    last_heard_ms: u64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        Self {
            ssrc,
            base_seq: u32::from(seq),
            max_seq: seq,
            ..Self::default()
        }
    }

    fn on_packet(&mut self, seq: u16, arrival_ms: u64) {
        let delta = seq.wrapping_sub(self.max_seq);
        if delta != 0 && delta < 0x8000 {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
        }
        self.received += 1;
        self.last_heard_ms = arrival_ms;
    }

    fn extended_max(&self) -> u64 {
        u64::from(self.cycles) + u64::from(self.max_seq)
    }

    fn expected(&self) -> u64 {
        self.extended_max() + 1 - u64::from(self.base_seq)
    }

    /// Never negative: duplicates do not make up for losses.
    fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }
}

/// What we know of what one peer sends us: loss (A.3) per source, so a
/// peer that sends its keys (RFC 4733) or a re-routed stream under another
/// SSRC is counted whole, and interarrival jitter (A.8) from audio only: a
/// telephone-event keeps one timestamp for the whole key press, which would
/// read as seconds of jitter.
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    sources: Vec<Source>,
    /// The source of the latest audio: the one reports are about.
    current: Option<u32>,
    /// Counts of sources no longer followed.
    retired_received: u64,
    retired_lost: u64,
    /// Interarrival jitter in timestamp units, times 16 (A.8's fixed point).
    jitter_x16: u64,
    /// Middle 32 bits of the peer's last SR's NTP time, and when it came (ms).
    last_sr: Option<(u32, u64)>,
}

/// The figures a report block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The SSRC of the stream the block is about.
    pub ssrc: u32,
    /// Share of the packets expected since the last report that were lost, in 1/256ths.
    pub fraction_lost: u8,
    /// Packets lost since the stream began (a 24-bit field; `block` caps it at 0x7F_FFFF).
    pub cumulative_lost: u32,
    /// Highest sequence number received, with the count of wraparounds in the top 16 bits.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units (8 kHz samples).
    pub jitter: u32,
    /// LSR: the middle 32 bits of the NTP time in the last sender report from
    /// `ssrc`'s sender; 0 if none has come.
    pub last_sr: u32,
    /// DLSR: time from that sender report's arrival to this report, in units of
    /// 1/65536 s; 0 if none has come.
    pub delay_since_last_sr: u32,
}

impl ReceptionStats {
    fn source(&mut self, ssrc: u32, seq: u16) -> &mut Source {
        let found = self.sources.iter().position(|s| s.ssrc == ssrc);
        let index = match found {
            Some(i) => i,
            None => {
                if self.sources.len() >= MAX_SOURCES {
                    let quietest = self
                        .sources
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_heard_ms)
                        .map_or(0, |(i, _)| i);
                    let retired = self.sources.swap_remove(quietest);
                    self.retired_received += retired.received;
                    self.retired_lost += retired.lost();
                }
                // Its first packet is counted by on_packet, as any other.
                self.sources.push(Source::new(ssrc, seq));
                self.sources.len() - 1
            }
        };
        &mut self.sources[index]
    }

    /// An audio RTP packet arrived at `arrival_ms` (any monotonic clock in ms).
    pub fn on_rtp(&mut self, ssrc: u32, seq: u16, rtp_timestamp: u32, arrival_ms: u64) {
        let source = self.source(ssrc, seq);
        source.on_packet(seq, arrival_ms);
        // A.8: transit = arrival (in RTP units) - RTP timestamp; jitter is the
        // smoothed absolute change of transit between packets of one source.
        let arrival_units = (arrival_ms * u64::from(SAMPLE_RATE) / 1000) as i64;
        let transit = arrival_units - i64::from(rtp_timestamp);
        let last = source.last_transit.replace(transit);
        if let Some(last) = last {
            let d = (transit - last).unsigned_abs().min(u64::from(u32::MAX));
            // J += (|D| - J) / 16, kept as 16*J.
            self.jitter_x16 = self.jitter_x16 + d - ((self.jitter_x16 + 8) >> 4);
        }
        self.current = Some(ssrc);
    }

    /// A telephone-event packet (RFC 4733) arrived: counted for loss, not
    /// for jitter.
    pub fn on_event(&mut self, ssrc: u32, seq: u16, arrival_ms: u64) {
        self.source(ssrc, seq).on_packet(seq, arrival_ms);
        if self.current.is_none() {
            self.current = Some(ssrc);
        }
    }

    /// The peer's sender report (its NTP time) arrived at `arrival_ms`.
    pub fn on_sender_report(&mut self, ntp: u64, arrival_ms: u64) {
        self.last_sr = Some(((ntp >> 16) as u32, arrival_ms));
    }

    /// RTP packets received from every source, duplicates included.
    pub fn packets_received(&self) -> u64 {
        self.retired_received + self.sources.iter().map(|s| s.received).sum::<u64>()
    }

    /// Packets expected but not received, over every source.
    pub fn packets_lost(&self) -> u64 {
        self.retired_lost + self.sources.iter().map(Source::lost).sum::<u64>()
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        (self.jitter_x16 >> 4) as f64 * 1000.0 / f64::from(SAMPLE_RATE)
    }

    /// The report block about the current source for the next report
    /// (A.3's interval loss), or `None` before any packet.
    pub fn block(&mut self, now_ms: u64) -> Option<Block> {
        let ssrc = self.current?;
        let jitter = (self.jitter_x16 >> 4) as u32;
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            // DLSR in units of 1/65536 s.
            Some((lsr, at)) => (lsr, (now_ms.saturating_sub(at) * 65_536 / 1000) as u32),
            None => (0, 0),
        };
        let source = self.sources.iter_mut().find(|s| s.ssrc == ssrc)?;
        let expected = source.expected();
        let expected_interval = expected - source.expected_prior;
        let received_interval = source.received - source.received_prior;
        source.expected_prior = expected;
        source.received_prior = source.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        Some(Block {
            ssrc,
            fraction_lost,
            cumulative_lost: source.lost().min(0x7F_FFFF) as u32,
            extended_highest_seq: source.extended_max() as u32,
            jitter,
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// What we sent, for the sender-info part of an SR.
#[derive(Debug, Clone, Copy)]
pub struct SenderInfo {
    /// When the report is sent, as a 64-bit NTP timestamp (see `ntp_from_unix_ms`).
    pub ntp: u64,
    /// The same moment in our outgoing stream's RTP timestamp units (8 kHz).
    pub rtp_timestamp: u32,
    /// The sender's packet count: RTP packets we have sent on this SSRC.
    pub packets: u32,
    /// The sender's octet count: RTP payload bytes we have sent (headers not counted).
    pub octets: u32,
}

/// A compound RTCP packet: SR (if we sent anything) or RR, with the block
/// about the peer's stream, and SDES CNAME (RFC 3550 section 6.1 requires it).
pub fn report(ssrc: u32, sender: Option<SenderInfo>, block: Option<Block>, cname: &str) -> Vec<u8> {
    let block_builder = block.map(|b| {
        ReportBlock::builder(b.ssrc)
            .fraction_lost(b.fraction_lost)
            .cumulative_lost(b.cumulative_lost)
            .extended_sequence_number(b.extended_highest_seq)
            .interarrival_jitter(b.jitter)
            .last_sender_report_timestamp(b.last_sr)
            .delay_since_last_sender_report_timestamp(b.delay_since_last_sr)
    });
    let sdes = Sdes::builder()
        .add_chunk(SdesChunk::builder(ssrc).add_item(SdesItem::builder(SdesItem::CNAME, cname)));
    let compound = match sender {
        Some(info) => {
            let mut sr = SenderReport::builder(ssrc)
                .ntp_timestamp(info.ntp)
                .rtp_timestamp(info.rtp_timestamp)
                .packet_count(info.packets)
                .octet_count(info.octets);
            if let Some(b) = block_builder {
                sr = sr.add_report_block(b);
            }
            Compound::builder().add_packet(sr).add_packet(sdes)
        }
        None => {
            let mut rr = ReceiverReport::builder(ssrc);
            if let Some(b) = block_builder {
                rr = rr.add_report_block(b);
            }
            Compound::builder().add_packet(rr).add_packet(sdes)
        }
    };
    let mut out = vec![0u8; compound.calculate_size().unwrap_or(0)];
    match compound.write_into(&mut out) {
        Ok(n) => {
            out.truncate(n);
            out
        }
        Err(_) => Vec::new(),
    }
}

/// What a peer's RTCP told us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerReport {
    /// The NTP time of its sender report, if it sent one.
    pub sender_ntp: Option<u64>,
    /// Its report about our stream (`our_ssrc`), if it sent one.
    pub about_us: Option<Block>,
    /// It said BYE.
    pub bye: bool,
}

/// Reads a compound RTCP packet; `None` if it is not valid RTCP.
pub fn parse(datagram: &[u8], our_ssrc: u32) -> Option<PeerReport> {
    let compound = Compound::parse(datagram).ok()?;
    let mut out = PeerReport::default();
    let mut blocks = Vec::new();
    for packet in compound {
        match packet.ok()? {
            Packet::Sr(sr) => {
                out.sender_ntp = Some(sr.ntp_timestamp());
                blocks.extend(sr.report_blocks().map(|b| to_block(&b)));
            }
            Packet::Rr(rr) => blocks.extend(rr.report_blocks().map(|b| to_block(&b))),
            Packet::Bye(_) => out.bye = true,
            _ => {}
        }
    }
    out.about_us = blocks.into_iter().find(|b| b.ssrc == our_ssrc);
    Some(out)
}

fn to_block(b: &ReportBlock<'_>) -> Block {
    Block {
        ssrc: b.ssrc(),
        fraction_lost: b.fraction_lost(),
        cumulative_lost: b.cumulative_lost(),
        extended_highest_seq: b.extended_sequence_number(),
        jitter: b.interarrival_jitter(),
        last_sr: b.last_sender_report_timestamp(),
        delay_since_last_sr: b.delay_since_last_sender_report_timestamp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_loss_and_wraps_sequence_numbers() {
        let mut s = ReceptionStats::default();
        let mut ts = 1000u32;
        for (i, seq) in (65_530u16..=65_535).chain(0..10).enumerate() {
            if seq == 3 || seq == 4 {
                continue; // lost
            }
            s.on_rtp(7, seq, ts, 20 * i as u64);
            ts = ts.wrapping_add(160);
        }
        assert_eq!(s.packets_received(), 14);
        assert_eq!(s.packets_lost(), 2);
        let block = s.block(1_000).unwrap();
        assert_eq!(block.extended_highest_seq, (1 << 16) + 9);
        assert_eq!(block.cumulative_lost, 2);
        assert_eq!(block.fraction_lost, (2 * 256 / 16) as u8);
        // The next interval has no new packets: no loss in it.
        assert_eq!(s.block(2_000).unwrap().fraction_lost, 0);
    }

    #[test]
    fn steady_packets_have_no_jitter_and_late_ones_do() {
        let mut s = ReceptionStats::default();
        for i in 0..50u32 {
            s.on_rtp(1, i as u16, i * 160, u64::from(i) * 20);
        }
        assert_eq!(s.jitter_ms(), 0.0);
        for i in 50..100u32 {
            let wobble = if i % 2 == 0 { 15 } else { 0 };
            s.on_rtp(1, i as u16, i * 160, u64::from(i) * 20 + wobble);
        }
        let j = s.jitter_ms();
        assert!((5.0..20.0).contains(&j), "{j} ms");
    }

    #[test]
    fn a_held_key_adds_no_jitter() {
        let mut s = ReceptionStats::default();
        for i in 0..50u32 {
            s.on_rtp(1, i as u16, i * 160, u64::from(i) * 20);
        }
        // A key held 2 s: 100 event packets with the timestamp of its start.
        for i in 50..150u32 {
            s.on_event(1, i as u16, u64::from(i) * 20);
        }
        for i in 150..200u32 {
            s.on_rtp(1, i as u16, i * 160, u64::from(i) * 20);
        }
        assert_eq!(s.jitter_ms(), 0.0);
        assert_eq!(s.packets_received(), 200);
        assert_eq!(s.packets_lost(), 0);
    }

    #[test]
    fn keys_under_another_ssrc_and_a_new_stream_are_counted_whole() {
        let mut s = ReceptionStats::default();
        // Audio on SSRC 1, keys on SSRC 2 in the middle, audio goes on.
        for i in 0..100u32 {
            s.on_rtp(1, i as u16, i * 160, u64::from(i) * 20);
        }
        for i in 0..10u16 {
            s.on_event(2, 500 + i, 2_000 + u64::from(i) * 20);
        }
        for i in 100..200u32 {
            if i == 150 {
                continue; // lost
            }
            s.on_rtp(1, i as u16, i * 160, u64::from(i) * 20);
        }
        assert_eq!(s.packets_received(), 209);
        assert_eq!(s.packets_lost(), 1);
        assert_eq!(s.block(5_000).unwrap().ssrc, 1);
        // More sources than are followed: the retired keep their counts.
        for ssrc in 10..20u32 {
            s.on_rtp(ssrc, 0, 0, 10_000 + u64::from(ssrc));
        }
        assert_eq!(s.packets_received(), 219);
        assert_eq!(s.packets_lost(), 1);
    }

    #[test]
    fn reports_round_trip_through_rtcp_types() {
        let mut stats = ReceptionStats::default();
        for i in 0..10u16 {
            stats.on_rtp(0xAABB, i, u32::from(i) * 160, u64::from(i) * 20);
        }
        stats.on_sender_report(ntp_from_unix_ms(1_700_000_000_000), 100);
        let block = stats.block(600).unwrap();
        let sender = SenderInfo {
            ntp: ntp_from_unix_ms(1_700_000_000_500),
            rtp_timestamp: 4000,
            packets: 25,
            octets: 4000,
        };
        let packet = report(0x1234, Some(sender), Some(block), "switchboard@example");
        let peer = parse(&packet, 0xAABB).unwrap();
        assert_eq!(peer.sender_ntp, Some(sender.ntp));
        let about = peer.about_us.unwrap();
        assert_eq!(about, block);
        assert_eq!(about.delay_since_last_sr, 500 * 65_536 / 1000);
        let rr = report(0x1234, None, None, "x");
        assert_eq!(parse(&rr, 1).unwrap(), PeerReport::default());
        assert!(parse(&[0x80, 200, 0, 1], 1).is_none());
        assert!(parse(b"not rtcp at all", 1).is_none());
    }

    #[test]
    fn ntp_time_of_the_unix_epoch() {
        assert_eq!(ntp_from_unix_ms(0) >> 32, NTP_UNIX_OFFSET);
        assert_eq!(ntp_from_unix_ms(500) & 0xFFFF_FFFF, 1 << 31);
    }
}
