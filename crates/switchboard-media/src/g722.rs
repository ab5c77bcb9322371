//! G.722 (RFC 3551 payload type 9) for wideband desk phones, at the edge of
//! a leg: the call runs in G.711, and a leg whose peer chose G.722 turns
//! its audio to and from the call's law here: 16 kHz G.722 <-> 8 kHz
//! through the codec crate's polyphase resampler, which keeps exact sample
//! counts per 20 ms frame (160 <-> 320). A 20 ms G.722 packet is 160 bytes,
//! as a G.711 one, and RFC 3551 clocks G.722 at 8,000 Hz, so packet sizes,
//! packet times and the RTP clock are the same for both.
//!
//! What G.711 loses is the upper band (4-7 kHz). So what a G.722 peer says
//! also comes out as it was sent ([`crate::Wideband`]): a call whose other
//! leg speaks G.722 too passes the payload on untouched (no transcoding, no
//! band lost), one on Opus gets the 16 kHz samples, and the recording keeps
//! them.
//!
//! (G.722's own 8 kHz interworking mode would spare the resampling, but the
//! crate's decoder gives a constant in that mode; the 16 kHz path is the
//! one phones use and is checked below.)

use audio_codec::g722::{G722Decoder, G722Encoder};
use audio_codec::resampler::BoxedResampler;
use audio_codec::{Decoder, Encoder};

use crate::g711::Law;
use crate::SAMPLE_RATE;

/// RTP's static payload type for G.722.
pub const PAYLOAD_TYPE: u8 = 9;

/// G.722's sampling rate.
const WIDEBAND_RATE: usize = crate::WIDEBAND_RATE as usize;

/// One leg's G.722 encoder and decoder and the resamplers beside them
/// (each keeps state between packets: one per leg and direction).
pub struct G722Edge {
    encoder: G722Encoder,
    decoder: G722Decoder,
    up: Option<BoxedResampler>,
    down: Option<BoxedResampler>,
}

impl std::fmt::Debug for G722Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("G722Edge")
    }
}

impl Default for G722Edge {
    fn default() -> Self {
        let narrow = SAMPLE_RATE as usize;
        Self {
            // 64 kbit/s, 16 kHz samples, one code per byte (RTP's layout).
            encoder: G722Encoder::new(),
            decoder: G722Decoder::new(),
            up: BoxedResampler::new(narrow, WIDEBAND_RATE).ok(),
            down: BoxedResampler::new(WIDEBAND_RATE, narrow).ok(),
        }
    }
}

impl G722Edge {
    /// A G.722 payload from the peer, as audio in `law`.
    pub fn to_law(&mut self, payload: &[u8], law: Law) -> Vec<u8> {
        self.decode(payload, law).0
    }

    /// A G.722 payload from the peer: as audio in `law`, and its 16 kHz samples.
    pub fn decode(&mut self, payload: &[u8], law: Law) -> (Vec<u8>, Vec<i16>) {
        let mut wide = vec![0i16; self.decoder.max_decode_samples(payload.len())];
        let n = self.decoder.decode_into(payload, &mut wide).unwrap_or(0);
        wide.truncate(n);
        let narrow = match &mut self.down {
            Some(down) => down.resample(&wide),
            // Only if the resampler could not be built: every other sample.
            None => wide.iter().step_by(2).copied().collect(),
        };
        (law.encode_all(&narrow), wide)
    }

    /// 16 kHz audio (another wideband peer's), as a G.722 payload.
    pub fn encode_wideband(&mut self, samples: &[i16]) -> Vec<u8> {
        let mut out = vec![0u8; self.encoder.max_encode_bytes(samples.len())];
        let n = self.encoder.encode_into(samples, &mut out).unwrap_or(0);
        out.truncate(n);
        out
    }

    /// Audio in `law`, as a G.722 payload for the peer.
    pub fn from_law(&mut self, payload: &[u8], law: Law) -> Vec<u8> {
        let narrow = law.decode_all(payload);
        let wide = match &mut self.up {
            Some(up) => up.resample(&narrow),
            None => narrow.iter().flat_map(|s| [*s, *s]).collect(),
        };
        let mut out = vec![0u8; self.encoder.max_encode_bytes(wide.len())];
        let n = self.encoder.encode_into(&wide, &mut out).unwrap_or(0);
        out.truncate(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_crosses_a_g722_edge_and_comes_back_recognisable() {
        let tone: Vec<i16> = (0..1600)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 8000.0).sin()) as i16
            })
            .collect();
        let law = Law::MuLaw;
        let mut sender = G722Edge::default();
        let mut receiver = G722Edge::default();
        let mut back = Vec::new();
        for frame in tone.chunks(160) {
            let wire = sender.from_law(&law.encode_all(frame), law);
            // One byte per 8 kHz sample: the same packet size as G.711.
            assert_eq!(wire.len(), 160);
            back.extend(law.decode_all(&receiver.to_law(&wire, law)));
        }
        // ADPCM settles within a few ms and delays by a few samples: compare
        // the second half, allowing for that delay.
        let (a, b) = (&tone[800..1400], &back[800..1600]);
        let best = (0..120)
            .map(|lag| {
                let dot: f64 = a
                    .iter()
                    .zip(&b[lag..])
                    .map(|(x, y)| *x as f64 * *y as f64)
                    .sum();
                let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                let nb: f64 = b[lag..lag + a.len()]
                    .iter()
                    .map(|y| (*y as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                dot / (na * nb)
            })
            .fold(f64::MIN, f64::max);
        assert!(best > 0.95, "correlation {best:.3}");
    }
}
