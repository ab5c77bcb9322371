//! Switchboard's media core: everything about a call's audio that can be
//! decided without a socket or a clock.
//!
//! The voice shell (`switchboard-voice`) owns the UDP sockets and the 20 ms
//! tick; it hands packets and the current time to the types here and sends
//! what they return. That keeps every timing rule (when a digit counts, when
//! input times out, where a late packet lands in a recording) testable in
//! microseconds, the same way the flow interpreter and the router are.
//!
//! - [`g711`]: µ-law and A-law sample conversion.
//! - [`g722`]: G.722 at a leg's edge, for wideband desk phones.
//! - [`opus`]: Opus at the browser leg's edge.
//! - [`rtp`]: reading incoming RTP and stamping our outgoing streams.
//! - [`rtcp`]: reception statistics and the reports sent and read (RFC 3550).
//! - [`sdp`]: RFC 3264 offer/answer for one audio stream.
//! - [`packetize`]: each leg's packet time (`a=ptime`), whatever the audio came in.
//! - [`endpoint`]: where a caller's utterance starts and ends (voice activity), for bots.
//! - [`dtmf`]: RFC 4733 telephone-events and the digit collector behind
//!   GetParticipantInput.
//! - [`playout`]: what to send in the next 20 ms frame (prompts, loops, music).
//! - [`audio`]: turning WAV files of any rate into 8 kHz telephone audio.
//! - [`recording`]: the stereo call recording (customer left, agent right).
//! - [`sdes`]: SRTP keys in SDP (RFC 4568 `a=crypto`).

// A pure core: documented for its drivers, and deterministic: iterating a
// hash map gives an order that differs run to run (use BTreeMap, or sort).
#![warn(missing_docs, clippy::iter_over_hash_type)]

/// Audio heard from a wideband peer (a G.722 phone, a browser on Opus),
/// as it was before the call's G.711 narrowed it: its 16 kHz samples, and
/// the G.722 payload itself when that is what came (passed on untouched
/// to another G.722 peer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wideband {
    /// 16 kHz samples.
    pub samples: Vec<i16>,
    /// The RTP payload, when the peer spoke G.722.
    pub g722: Option<Vec<u8>>,
}

/// Wideband audio's sampling rate.
pub const WIDEBAND_RATE: u32 = 16_000;

pub mod audio;
pub mod dtmf;
pub mod endpoint;
pub mod g711;
pub mod g722;
pub mod opus;
pub mod packetize;
pub mod playout;
pub mod recording;
pub mod rtcp;
pub mod rtp;
pub mod sdes;
pub mod sdp;

/// Telephone audio: 8,000 samples a second.
pub const SAMPLE_RATE: u32 = 8_000;
/// Samples in one 20 ms packet.
pub const FRAME_SAMPLES: usize = 160;
/// Milliseconds in one packet.
pub const FRAME_MS: u64 = 20;
