//! Packet times (RFC 4566 `a=ptime`): each leg gets the packet size its
//! peer asked for, whatever size the audio came in. A caller's 30 ms
//! packets relayed unchanged to a phone that asked for 20 ms are played
//! half-cut by many phones; prompts are made in 20 ms frames, and a carrier
//! may want 10 or 40.
//!
//! G.711 has one byte per sample, so repacketising is cutting and joining
//! byte runs: audio in (any length), whole packets of the leg's size out,
//! the rest kept for the next push.

use crate::SAMPLE_RATE;

/// Packet times a leg may ask for, in ms (shorter or longer is brought
/// into this range; anything else is rounded to a whole 10 ms).
pub const PTIME_RANGE_MS: (u32, u32) = (10, 60);

/// At most this much audio waits for a packet to fill: a peer sending
/// more than it should cannot grow a leg's buffer.
const MAX_PENDING_MS: u32 = 200;

/// The packet time for a peer's `a=ptime` value (none: 20 ms, RFC 3551's
/// default for G.711).
pub fn ptime_ms(asked: Option<u32>) -> u32 {
    let (low, high) = PTIME_RANGE_MS;
    match asked {
        None | Some(0) => 20,
        Some(ms) => (((ms + 5) / 10) * 10).clamp(low, high),
    }
}

/// Cuts one leg's outgoing audio into packets of its packet time.
#[derive(Debug, Clone)]
pub struct Repacketizer {
    packet_bytes: usize,
    pending: Vec<u8>,
}

impl Default for Repacketizer {
    fn default() -> Self {
        Self::new(20)
    }
}

impl Repacketizer {
    /// Packets of `ptime_ms` (see [`ptime_ms`]).
    pub fn new(ptime_ms: u32) -> Self {
        Self {
            packet_bytes: (ptime_ms * SAMPLE_RATE / 1000) as usize,
            pending: Vec::new(),
        }
    }

    /// The packet time now in use, in ms.
    pub fn ptime_ms(&self) -> u32 {
        (self.packet_bytes as u32) * 1000 / SAMPLE_RATE
    }

    /// A new packet time (a re-INVITE): what waits is kept.
    pub fn set_ptime(&mut self, ptime_ms: u32) {
        self.packet_bytes = (ptime_ms * SAMPLE_RATE / 1000) as usize;
    }

    /// Takes `payload` and hands every whole packet now ready to `send`.
    pub fn push(&mut self, payload: &[u8], mut send: impl FnMut(&[u8])) {
        if self.pending.is_empty() && payload.len() == self.packet_bytes {
            // The usual case, no copy: audio already in this leg's size.
            send(payload);
            return;
        }
        self.pending.extend_from_slice(payload);
        let mut start = 0;
        while self.pending.len() - start >= self.packet_bytes {
            send(&self.pending[start..start + self.packet_bytes]);
            start += self.packet_bytes;
        }
        self.pending.drain(..start);
        let cap = (MAX_PENDING_MS * SAMPLE_RATE / 1000) as usize;
        if self.pending.len() > cap {
            let excess = self.pending.len() - cap;
            self.pending.drain(..excess);
        }
    }

    /// Audio waiting for its packet to fill (in samples).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Forgets what waits (the peer stopped listening: hold).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(r: &mut Repacketizer, pushes: &[usize]) -> Vec<usize> {
        let mut out = vec![];
        for n in pushes {
            r.push(&vec![0xD5; *n], |p| out.push(p.len()));
        }
        out
    }

    #[test]
    fn thirty_ms_packets_reach_a_twenty_ms_phone_as_twenty_ms_packets() {
        let mut r = Repacketizer::new(20);
        // 4 x 30 ms = 120 ms in: 6 x 20 ms out, nothing left.
        assert_eq!(sizes(&mut r, &[240, 240, 240, 240]), vec![160; 6]);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn twenty_ms_frames_reach_a_thirty_ms_carrier_as_thirty_ms_packets() {
        let mut r = Repacketizer::new(30);
        assert_eq!(sizes(&mut r, &[160, 160, 160]), vec![240, 240]);
        assert_eq!(sizes(&mut r, &[160]), vec![]);
        assert_eq!(r.pending(), 160);
    }

    #[test]
    fn ten_and_forty_ms_legs_split_and_join() {
        assert_eq!(sizes(&mut Repacketizer::new(10), &[160]), vec![80, 80]);
        assert_eq!(
            sizes(&mut Repacketizer::new(40), &[160, 160, 160, 160]),
            vec![320, 320]
        );
    }

    #[test]
    fn asked_packet_times_are_brought_into_range() {
        assert_eq!(ptime_ms(None), 20);
        assert_eq!(ptime_ms(Some(30)), 30);
        assert_eq!(ptime_ms(Some(5)), 10);
        assert_eq!(ptime_ms(Some(1000)), 60);
        assert_eq!(ptime_ms(Some(22)), 20);
        assert_eq!(ptime_ms(Some(0)), 20);
    }

    #[test]
    fn what_waits_is_bounded() {
        let mut r = Repacketizer::new(60);
        // Pushes that never fill a packet (impossible with sane sizes, but
        // the buffer must hold whatever comes).
        r.set_ptime(60);
        r.push(&vec![0; 10_000], |_| {});
        assert!(r.pending() <= (MAX_PENDING_MS * SAMPLE_RATE / 1000) as usize);
    }
}
