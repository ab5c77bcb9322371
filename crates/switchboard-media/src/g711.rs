//! G.711 (ITU-T) µ-law and A-law.
//!
//! Written here rather than taken from a crate: it is two small formulas
//! from the ITU reference, and the crates that carry it are unmaintained
//! one-file copies of the same code. Tested below against the reference
//! values and round trips.

/// The two G.711 laws; `payload_type` is their static RTP number (RFC 3551).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// PCMU, payload type 0: North America and Japan.
    MuLaw,
    /// PCMA, payload type 8: the rest of the world.
    ALaw,
}

impl Law {
    /// The static RTP payload type: 0 for PCMU, 8 for PCMA.
    pub fn payload_type(self) -> u8 {
        match self {
            Law::MuLaw => 0,
            Law::ALaw => 8,
        }
    }

    /// The law for static payload type 0 or 8; `None` for any other number
    /// (dynamic numbers need the SDP `rtpmap`).
    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::MuLaw),
            8 => Some(Law::ALaw),
            _ => None,
        }
    }

    /// The encoding name in an SDP `rtpmap` (RFC 3551): "PCMU" or "PCMA".
    pub fn encoding_name(self) -> &'static str {
        match self {
            Law::MuLaw => "PCMU",
            Law::ALaw => "PCMA",
        }
    }

    /// One 16-bit linear sample to one G.711 byte.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::MuLaw => linear_to_ulaw(sample),
            Law::ALaw => linear_to_alaw(sample),
        }
    }

    /// One G.711 byte to a 16-bit linear sample.
    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Law::MuLaw => ulaw_to_linear(byte),
            Law::ALaw => alaw_to_linear(byte),
        }
    }

    /// Encodes samples one byte each (160 samples, one 20 ms frame, give 160 bytes).
    pub fn encode_all(self, samples: &[i16]) -> Vec<u8> {
        samples.iter().map(|&s| self.encode(s)).collect()
    }

    /// Decodes a payload to one 16-bit linear sample per byte.
    pub fn decode_all(self, bytes: &[u8]) -> Vec<i16> {
        bytes.iter().map(|&b| self.decode(b)).collect()
    }

    /// The byte that decodes to silence.
    pub fn silence(self) -> u8 {
        self.encode(0)
    }
}

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// µ-law encodes a 16-bit linear sample; magnitudes above 32,635 are clipped.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// µ-law decodes to 16-bit linear, from -32,124 to 32,124.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// A-law encodes a 16-bit linear sample (only its top 13 bits are used),
/// with the even bits inverted as G.711 sends them.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut s = i32::from(sample) >> 3; // A-law works on 13 bits
    let sign = if s >= 0 {
        0x80
    } else {
        s = -s - 1;
        0
    };
    let s = s.min(0x0FFF);
    let byte = if s < 32 {
        (s >> 1) as u8
    } else {
        let exponent = (31 - (s as u32).leading_zeros()) as i32 - 4;
        let mantissa = (s >> exponent) & 0x0F;
        (((exponent) << 4) | mantissa) as u8
    };
    (byte | sign) ^ 0x55
}

/// A-law decodes to 16-bit linear, from -32,256 to 32,256 (silence is 8).
pub fn alaw_to_linear(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // Silence and full scale, from the ITU tables.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(alaw_to_linear(0xAA), 32256);
    }

    #[test]
    fn every_code_round_trips() {
        for law in [Law::MuLaw, Law::ALaw] {
            for code in 0..=255u8 {
                let linear = law.decode(code);
                let again = law.encode(linear);
                // µ-law has two zeros (0x7F and 0xFF); both decode to 0.
                assert_eq!(law.decode(again), linear, "{law:?} code {code:#x}");
            }
        }
    }

    #[test]
    fn quantisation_error_is_small() {
        for law in [Law::MuLaw, Law::ALaw] {
            for s in (-32_000i32..32_000).step_by(37) {
                let back = i32::from(law.decode(law.encode(s as i16)));
                let tolerance = (s.abs() / 16).max(16);
                assert!((back - s).abs() <= tolerance, "{law:?} {s} -> {back}");
            }
        }
    }
}
