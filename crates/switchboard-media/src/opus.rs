//! Opus (RFC 6716, RTP payload RFC 7587) at the browser leg's edge: the
//! call runs in G.711, and a browser that chose Opus has its audio turned
//! to and from the call's law here, through Debian's libopus (the `opus`
//! crate's bindings).
//!
//! The edge runs at 16 kHz, wideband, so a browser and a G.722 phone hear
//! each other's upper band (4-7 kHz) and a recording of the two keeps it:
//! what the browser says comes out both as 16 kHz samples
//! ([`OpusEdge::decode`]) and in the call's law, and wideband audio from
//! the call is coded as it is ([`OpusEdge::from_wideband`]); telephone
//! audio goes through the codec crate's polyphase resampler (exact counts
//! per frame, 160 <-> 320, as at the G.722 edge). The RTP clock is 48 kHz
//! whatever the audio's bandwidth (RFC 7587): [`RTP_CLOCK_PER_SAMPLE`]
//! converts from 8 kHz sample counts.
//!
//! The encoder takes whole 20 ms frames only; audio from the call may come
//! in other sizes (a caller's 30 ms packets), so what is short of a frame
//! waits for the next payload.

use audio_codec::resampler::BoxedResampler;
use opus::{Application, Bitrate, Channels, Decoder, Encoder};

use crate::g711::Law;
use crate::{FRAME_SAMPLES, SAMPLE_RATE, WIDEBAND_RATE};

/// RTP clock ticks per 8 kHz sample (RFC 7587: Opus is clocked at 48 kHz).
pub const RTP_CLOCK_PER_SAMPLE: u64 = 6;
/// The longest Opus packet, 120 ms, in 16 kHz samples.
const MAX_DECODED: usize = 1920;
/// 20 ms at 16 kHz.
const WIDE_FRAME: usize = 2 * FRAME_SAMPLES;
/// RFC 6716's largest packet.
const MAX_PACKET: usize = 1275;
/// Enough for wideband speech with in-band FEC.
const BITRATE: i32 = 24_000;

/// Why an Opus edge could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    /// libopus refused its settings.
    #[error("Opus: {0}")]
    Codec(#[from] opus::Error),
    /// The 8 <-> 16 kHz resampler could not be built.
    #[error("Opus edge's resampler: {0}")]
    Resampler(String),
}

/// One browser leg's Opus encoder and decoder (each keeps state between
/// packets).
pub struct OpusEdge {
    encoder: Encoder,
    decoder: Decoder,
    /// 8 kHz <-> 16 kHz, for the call's telephone audio.
    up: BoxedResampler,
    down: BoxedResampler,
    /// Audio from the call (16 kHz) not yet a whole frame.
    pending: Vec<i16>,
}

impl std::fmt::Debug for OpusEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEdge")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl OpusEdge {
    /// A mono edge for speech, with in-band FEC so the browser can mend a
    /// lost packet from the next one.
    pub fn new() -> Result<Self, OpusError> {
        let mut encoder = Encoder::new(WIDEBAND_RATE, Channels::Mono, Application::Voip)?;
        encoder.set_bitrate(Bitrate::Bits(BITRATE))?;
        encoder.set_inband_fec(true)?;
        encoder.set_packet_loss_perc(5)?;
        let decoder = Decoder::new(WIDEBAND_RATE, Channels::Mono)?;
        let resampler = |from: u32, to: u32| {
            BoxedResampler::new(from as usize, to as usize)
                .map_err(|e| OpusError::Resampler(format!("{e:?}")))
        };
        Ok(OpusEdge {
            encoder,
            decoder,
            up: resampler(SAMPLE_RATE, WIDEBAND_RATE)?,
            down: resampler(WIDEBAND_RATE, SAMPLE_RATE)?,
            pending: Vec::with_capacity(2 * WIDE_FRAME),
        })
    }

    /// An Opus packet from the browser (mono or stereo, any frame length),
    /// as audio in `law`. A packet libopus cannot read gives nothing.
    pub fn to_law(&mut self, packet: &[u8], law: Law) -> Vec<u8> {
        self.decode(packet, law)
            .map(|(narrow, _)| narrow)
            .unwrap_or_default()
    }

    /// An Opus packet from the browser: in `law`, and its 16 kHz samples.
    /// None when libopus cannot read it.
    pub fn decode(&mut self, packet: &[u8], law: Law) -> Option<(Vec<u8>, Vec<i16>)> {
        let mut pcm = vec![0i16; MAX_DECODED];
        let n = self.decoder.decode(packet, &mut pcm, false).ok()?;
        pcm.truncate(n);
        let narrow = self.down.resample(&pcm);
        Some((law.encode_all(&narrow), pcm))
    }

    /// Audio in `law` from the call, as the Opus packets (one per whole
    /// 20 ms) it completes, each with its length in 8 kHz samples.
    pub fn from_law(&mut self, payload: &[u8], law: Law) -> Vec<(Vec<u8>, usize)> {
        let wide = self.up.resample(&law.decode_all(payload));
        self.from_wideband(&wide)
    }

    /// 16 kHz audio from the call (a wideband peer's), as the Opus packets
    /// it completes, each with its length in 8 kHz samples.
    pub fn from_wideband(&mut self, samples: &[i16]) -> Vec<(Vec<u8>, usize)> {
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / WIDE_FRAME * WIDE_FRAME;
        let mut packets = Vec::with_capacity(whole / WIDE_FRAME);
        for frame in self.pending[..whole].chunks_exact(WIDE_FRAME) {
            let mut out = vec![0u8; MAX_PACKET];
            if let Ok(n) = self.encoder.encode(frame, &mut out) {
                out.truncate(n);
                packets.push((out, FRAME_SAMPLES));
            }
        }
        self.pending.drain(..whole);
        packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(samples: usize, hz: f64) -> Vec<i16> {
        (0..samples)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    /// The best normalised correlation of `a` against `b` shifted by up to `lags`.
    fn best_correlation(a: &[i16], b: &[i16], lags: usize) -> f64 {
        (0..lags)
            .map(|lag| {
                let b = &b[lag..lag + a.len()];
                let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
                let na = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                let nb = b.iter().map(|y| (*y as f64).powi(2)).sum::<f64>().sqrt();
                dot / (na * nb)
            })
            .fold(f64::MIN, f64::max)
    }

    #[test]
    fn a_tone_crosses_an_opus_edge_and_comes_back_recognisable() {
        let law = Law::MuLaw;
        let source = tone(8000, 440.0);
        let mut sender = OpusEdge::new().unwrap();
        let mut receiver = OpusEdge::new().unwrap();
        let mut back = Vec::new();
        for frame in source.chunks(FRAME_SAMPLES) {
            let packets = sender.from_law(&law.encode_all(frame), law);
            assert_eq!(packets.len(), 1, "one packet per 20 ms");
            let (packet, samples) = &packets[0];
            assert_eq!(*samples, FRAME_SAMPLES);
            // 24 kbit/s is 60 bytes per 20 ms; far below G.711's 160.
            assert!(packet.len() < 120, "{} bytes", packet.len());
            let heard = receiver.to_law(packet, law);
            assert_eq!(heard.len(), FRAME_SAMPLES, "decoded at 8 kHz");
            back.extend(law.decode_all(&heard));
        }
        // The codec's look-ahead delays the audio by a few ms: compare the
        // second half, allowing for it.
        let best = best_correlation(&source[4000..7000], &back[4000..], 400);
        assert!(best > 0.9, "correlation {best:.3}");
    }

    #[test]
    fn audio_in_odd_sizes_waits_for_whole_frames() {
        let law = Law::ALaw;
        let mut edge = OpusEdge::new().unwrap();
        // A caller's 30 ms packets: 240 samples make one frame, then 80 wait.
        let thirty = law.encode_all(&tone(240, 300.0));
        assert_eq!(edge.from_law(&thirty, law).len(), 1);
        assert_eq!(edge.from_law(&thirty, law).len(), 2);
        assert_eq!(edge.from_law(&law.encode_all(&[0; 100]), law).len(), 0);
        assert_eq!(edge.pending.len(), 200, "16 kHz");
    }

    #[test]
    fn a_stereo_packet_from_a_browser_is_heard_in_mono_and_garbage_is_dropped() {
        let mut stereo = Encoder::new(48_000, Channels::Stereo, Application::Voip).unwrap();
        let pcm: Vec<i16> = tone(960, 440.0 / 6.0)
            .into_iter()
            .flat_map(|s| [s, s])
            .collect();
        let mut packet = vec![0u8; MAX_PACKET];
        let n = stereo.encode(&pcm, &mut packet).unwrap();
        let mut edge = OpusEdge::new().unwrap();
        assert_eq!(edge.to_law(&packet[..n], Law::MuLaw).len(), FRAME_SAMPLES);
        // A TOC byte asking for more frames than the packet holds.
        assert!(edge.to_law(&[0xff, 0xff], Law::MuLaw).is_empty());
    }

    #[test]
    fn the_upper_band_crosses_an_opus_edge_both_ways() {
        let tone16: Vec<i16> = (0..16_000)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * 6_000.0 * i as f64 / 16_000.0).sin()) as i16
            })
            .collect();
        let mut sender = OpusEdge::new().unwrap();
        let mut receiver = OpusEdge::new().unwrap();
        let mut wide = Vec::new();
        let mut narrow = Vec::new();
        for frame in tone16.chunks(WIDE_FRAME) {
            for (packet, samples) in sender.from_wideband(frame) {
                assert_eq!(samples, FRAME_SAMPLES);
                let (law, pcm) = receiver.decode(&packet, Law::MuLaw).unwrap();
                assert_eq!((law.len(), pcm.len()), (FRAME_SAMPLES, WIDE_FRAME));
                narrow.extend(Law::MuLaw.decode_all(&law));
                wide.extend(pcm);
            }
        }
        let rms = |s: &[i16]| {
            (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        // 6 kHz is kept at 16 kHz, and gone (filtered, not aliased) at 8.
        assert!(
            rms(&wide[8_000..]) > 3_000.0,
            "wide {:.0}",
            rms(&wide[8_000..])
        );
        assert!(
            rms(&narrow[4_000..]) < 500.0,
            "narrow {:.0}",
            rms(&narrow[4_000..])
        );
    }
}
