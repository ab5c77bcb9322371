//! The stereo call recording: customer on the left, agent on the right,
//! 16-bit 8 kHz WAV (what contact-centre QA tools expect).
//!
//! Each packet is placed by when it arrived, so the two sides stay in step
//! even when one side is silent (no packets) for a while; a packet that
//! arrives early, in a burst after jitter, is appended after the last one
//! rather than overwriting it.

use std::io::Cursor;

use crate::SAMPLE_RATE;

/// Whose audio it is, and so which channel it goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Left channel.
    Customer,
    /// Right channel.
    Agent,
}

/// Recordings longer than this stop growing (and say so).
pub const MAX_SECONDS: u64 = 6 * 3600;

/// One call's recording, kept in memory until `finish`.
#[derive(Debug)]
pub struct Recorder {
    started_ms: u64,
    left: Vec<i16>,
    right: Vec<i16>,
    truncated: bool,
    dropped: u64,
}

impl Recorder {
    /// A recording whose start is `started_ms`, on the same ms clock as `push`'s `at_ms`.
    pub fn new(started_ms: u64) -> Self {
        Self {
            started_ms,
            left: Vec::new(),
            right: Vec::new(),
            truncated: false,
            dropped: 0,
        }
    }

    /// Audio heard from `side`, arriving at `at_ms`.
    pub fn push(&mut self, side: Side, at_ms: u64, samples: &[i16]) {
        let max = (MAX_SECONDS * u64::from(SAMPLE_RATE)) as usize;
        let position =
            (at_ms.saturating_sub(self.started_ms) * u64::from(SAMPLE_RATE) / 1000) as usize;
        let channel = match side {
            Side::Customer => &mut self.left,
            Side::Agent => &mut self.right,
        };
        let start = position.max(channel.len());
        // More than a second ahead of the clock: the peer sends faster than
        // real time (a flood, or a broken clock). Dropped, so it cannot
        // grow the recording without bound.
        if start > position + SAMPLE_RATE as usize {
            self.dropped += 1;
            return;
        }
        if start + samples.len() > max {
            self.truncated = true;
            return;
        }
        channel.resize(start, 0);
        channel.extend_from_slice(samples);
    }

    /// Whether audio was refused for going past `MAX_SECONDS`.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Packets dropped for running ahead of real time.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The length so far in ms: the longer of the two channels.
    pub fn duration_ms(&self) -> u64 {
        (self.left.len().max(self.right.len()) as u64) * 1000 / u64::from(SAMPLE_RATE)
    }

    /// The WAV file.
    pub fn finish(self) -> Vec<u8> {
        let frames = self.left.len().max(self.right.len());
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::with_capacity(44 + frames * 4));
        {
            // Writing to memory only fails past 4 GiB, which MAX_SECONDS rules out.
            let mut writer = hound::WavWriter::new(&mut out, spec).expect("WAV header to memory");
            for i in 0..frames {
                let _ = writer.write_sample(self.left.get(i).copied().unwrap_or(0));
                let _ = writer.write_sample(self.right.get(i).copied().unwrap_or(0));
            }
            let _ = writer.finalize();
        }
        out.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(wav: &[u8]) -> (Vec<i16>, Vec<i16>) {
        let mut r = hound::WavReader::new(Cursor::new(wav)).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.spec().sample_rate, 8000);
        let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        (
            all.iter().step_by(2).copied().collect(),
            all.iter().skip(1).step_by(2).copied().collect(),
        )
    }

    #[test]
    fn sides_land_in_their_channel_at_their_time() {
        let mut r = Recorder::new(1_000);
        r.push(Side::Customer, 1_000, &[100; 160]);
        r.push(Side::Agent, 1_500, &[-200; 160]);
        r.push(Side::Customer, 1_020, &[101; 160]);
        let (left, right) = read(&r.finish());
        assert_eq!(left.len(), 4_000 + 160);
        assert_eq!(&left[..320], &[[100; 160], [101; 160]].concat()[..]);
        assert!(left[320..].iter().all(|&s| s == 0));
        assert!(right[..4_000].iter().all(|&s| s == 0));
        assert!(right[4_000..].iter().all(|&s| s == -200));
    }

    #[test]
    fn a_flood_faster_than_real_time_is_dropped() {
        let mut r = Recorder::new(0);
        for _ in 0..10_000 {
            r.push(Side::Customer, 10, &[7; 160]);
        }
        // One second's worth (plus the packet that crossed it), no more.
        assert!(r.duration_ms() <= 1_040, "{} ms", r.duration_ms());
        assert!(r.dropped() > 9_000);
    }

    #[test]
    fn a_burst_after_jitter_is_appended_not_overwritten() {
        let mut r = Recorder::new(0);
        r.push(Side::Customer, 40, &[1; 160]);
        r.push(Side::Customer, 41, &[2; 160]);
        let (left, _) = read(&r.finish());
        assert_eq!(left.len(), 320 + 320);
        assert_eq!(left[320], 1);
        assert_eq!(left[480], 2);
    }
}
