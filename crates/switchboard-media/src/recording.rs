//! The stereo call recording: customer on the left, agent on the right,
//! 16-bit 8 kHz WAV (what contact-centre QA tools expect), or 16 kHz when
//! both sides speak wideband (G.722), so the recording keeps what they heard.
//!
//! Each packet is placed by when it arrived, so the two sides stay in step
//! even when one side is silent (no packets) for a while; a packet that
//! arrives early, in a burst after jitter, is appended after the last one
//! rather than overwriting it.

use std::io::Cursor;

use audio_codec::resampler::BoxedResampler;

use crate::SAMPLE_RATE;

pub use crate::WIDEBAND_RATE;

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
pub struct Recorder {
    started_ms: u64,
    /// 8,000 or [`WIDEBAND_RATE`].
    rate: u32,
    left: Vec<i16>,
    right: Vec<i16>,
    /// Per side, what turns audio of the other rate into the recording's
    /// (a running filter: state carries across packets).
    converters: [Option<Box<BoxedResampler>>; 2],
    truncated: bool,
    dropped: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("started_ms", &self.started_ms)
            .field("rate", &self.rate)
            .field("duration_ms", &self.duration_ms())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recording whose start is `started_ms`, on the same ms clock as `push`'s `at_ms`.
    pub fn new(started_ms: u64) -> Self {
        Self {
            started_ms,
            rate: SAMPLE_RATE,
            left: Vec::new(),
            right: Vec::new(),
            converters: [None, None],
            truncated: false,
            dropped: 0,
        }
    }

    /// A 16 kHz recording (both sides wideband).
    pub fn wideband(started_ms: u64) -> Self {
        Self {
            rate: WIDEBAND_RATE,
            ..Self::new(started_ms)
        }
    }

    /// The recording's sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// From now on 16 kHz (a transfer bridged two wideband sides): what is
    /// recorded so far is resampled once.
    pub fn widen(&mut self) {
        if self.rate == WIDEBAND_RATE {
            return;
        }
        for channel in [&mut self.left, &mut self.right] {
            *channel = match BoxedResampler::new(SAMPLE_RATE as usize, WIDEBAND_RATE as usize) {
                Ok(mut up) => up.resample(channel),
                Err(_) => channel.iter().flat_map(|&s| [s, s]).collect(),
            };
        }
        self.rate = WIDEBAND_RATE;
        self.converters = [None, None];
    }

    /// 8 kHz audio heard from `side`, arriving at `at_ms` (resampled when
    /// the recording is wideband).
    pub fn push(&mut self, side: Side, at_ms: u64, samples: &[i16]) {
        self.push_at_rate(side, at_ms, samples, SAMPLE_RATE);
    }

    /// 16 kHz audio heard from `side` (a G.722 peer), arriving at `at_ms`
    /// (resampled when the recording is not wideband).
    pub fn push_wideband(&mut self, side: Side, at_ms: u64, samples: &[i16]) {
        self.push_at_rate(side, at_ms, samples, WIDEBAND_RATE);
    }

    fn push_at_rate(&mut self, side: Side, at_ms: u64, samples: &[i16], rate: u32) {
        let index = match side {
            Side::Customer => 0,
            Side::Agent => 1,
        };
        let converted;
        let samples = if rate == self.rate {
            samples
        } else {
            let converter =
                self.converters[index].get_or_insert_with(|| converter(rate, self.rate));
            converted = converter.resample(samples);
            &converted[..]
        };
        let max = (MAX_SECONDS * u64::from(self.rate)) as usize;
        let position =
            (at_ms.saturating_sub(self.started_ms) * u64::from(self.rate) / 1000) as usize;
        let channel = match side {
            Side::Customer => &mut self.left,
            Side::Agent => &mut self.right,
        };
        let start = position.max(channel.len());
        // More than a second ahead of the clock: the peer sends faster than
        // real time (a flood, or a broken clock). Dropped, so it cannot
        // grow the recording without bound.
        if start > position + self.rate as usize {
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
        (self.left.len().max(self.right.len()) as u64) * 1000 / u64::from(self.rate)
    }

    /// The WAV file.
    pub fn finish(self) -> Vec<u8> {
        let frames = self.left.len().max(self.right.len());
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: self.rate,
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

/// A running resampler between the two rates. The codec crate's polyphase
/// filter keeps exact counts per packet (160 <-> 320), so positions stay
/// where the clock puts them; it is built from two fixed, valid rates.
fn converter(from: u32, to: u32) -> Box<BoxedResampler> {
    Box::new(
        BoxedResampler::new(from as usize, to as usize).expect("8 and 16 kHz are supported rates"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(wav: &[u8]) -> (Vec<i16>, Vec<i16>) {
        read_at(wav, 8000)
    }

    fn read_at(wav: &[u8], rate: u32) -> (Vec<i16>, Vec<i16>) {
        let mut r = hound::WavReader::new(Cursor::new(wav)).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.spec().sample_rate, rate);
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

    /// Energy of `samples` at `hz` (Goertzel), relative to their total.
    fn share_at(samples: &[i16], rate: u32, hz: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        let total: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
        2.0 * power / (samples.len() as f64 * total.max(1.0))
    }

    fn tone(hz: f64, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn a_wideband_recording_keeps_the_upper_band_and_places_narrow_audio_in_time() {
        let mut r = Recorder::wideband(0);
        let high = tone(6_000.0, WIDEBAND_RATE, 16_000);
        let low = tone(440.0, 8_000, 8_000);
        for (i, (h, l)) in high.chunks(320).zip(low.chunks(160)).enumerate() {
            r.push_wideband(Side::Customer, i as u64 * 20, h);
            // The agent's side in G.711: upsampled, in step with the caller's.
            r.push(Side::Agent, i as u64 * 20, l);
        }
        assert_eq!(r.duration_ms(), 1_000);
        let (left, right) = read_at(&r.finish(), WIDEBAND_RATE);
        assert_eq!((left.len(), right.len()), (16_000, 16_000));
        assert!(share_at(&left[1_600..], WIDEBAND_RATE, 6_000.0) > 0.9);
        assert!(share_at(&right[1_600..], WIDEBAND_RATE, 440.0) > 0.9);
    }

    #[test]
    fn widening_keeps_what_was_recorded_at_its_time() {
        let mut r = Recorder::new(0);
        for (i, l) in tone(440.0, 8_000, 8_000).chunks(160).enumerate() {
            r.push(Side::Customer, i as u64 * 20, l);
        }
        r.widen();
        assert_eq!(r.rate(), WIDEBAND_RATE);
        assert_eq!(r.duration_ms(), 1_000);
        let high = tone(6_000.0, WIDEBAND_RATE, 16_000);
        for (i, h) in high.chunks(320).enumerate() {
            r.push_wideband(Side::Customer, 1_000 + i as u64 * 20, h);
        }
        let (left, _) = read_at(&r.finish(), WIDEBAND_RATE);
        assert_eq!(left.len(), 32_000);
        assert!(share_at(&left[1_600..15_000], WIDEBAND_RATE, 440.0) > 0.5);
        assert!(share_at(&left[17_600..], WIDEBAND_RATE, 6_000.0) > 0.9);
    }

    #[test]
    fn wideband_audio_in_a_narrow_recording_is_resampled_not_sped_up() {
        let mut r = Recorder::new(0);
        for (i, h) in tone(1_000.0, WIDEBAND_RATE, 16_000).chunks(320).enumerate() {
            r.push_wideband(Side::Agent, i as u64 * 20, h);
        }
        assert_eq!(r.duration_ms(), 1_000);
        let (_, right) = read(&r.finish());
        assert!(share_at(&right[800..], 8_000, 1_000.0) > 0.9);
    }
}
