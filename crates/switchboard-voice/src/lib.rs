//! # switchboard-voice
//!
//! The voice channel: Switchboard as a SIP back-to-back user agent.
//!
//! ```text
//!  carrier ──SIP/RTP──▶ [customer leg] ── call task ── [agent leg] ──SIP/RTP──▶ desk phone
//!                                          │  flow Session (switchboard-flow)
//!                                          │  routing (RoutingHandle)
//!                                          └  media cores (switchboard-media)
//! ```
//!
//! - [`sip`]: the rsipstack endpoint; every request that is not part of a
//!   dialog (INVITE, REGISTER, OPTIONS) is decided here: which trunk it came
//!   over, which number it is for, who registers.
//! - [`transport`]: UDP, TCP and TLS under rsipstack, with what it leaves
//!   to us: 501 for unknown methods, connection caps, a TLS handshake
//!   deadline.
//! - [`registrar`]: desk phones REGISTER with digest authentication;
//!   several devices per agent, each over its own transport.
//! - [`feature_codes`]: what a desk phone dials to set its agent's status.
//! - [`trunk_registration`]: trunks that register with their carrier.
//! - [`call`]: one tokio task per call owns both legs' RTP sockets, the
//!   20 ms media tick, the flow session and the recording. Everything it
//!   decides about time and audio is done by the sans-IO types of
//!   `switchboard-media`; it only moves bytes and awaits.
//! - [`softphone`]: each agent's browser softphone line and its WebRTC
//!   peer connection (str0m, ICE-lite, DTLS-SRTP, Opus or G.711); [`agent_media`]
//!   lets a call talk to a SIP phone or a browser alike.
//! - [`library`]: the audio a flow asks for: uploaded prompts and espeak-ng
//!   text-to-speech, converted to 8 kHz once and cached, with a bounded
//!   number of espeak-ng processes at once.
//! - [`spoken`]: queue announcements as cached pieces (phrases and
//!   numbers), so a caller's place needs no text-to-speech run of its own.
//! - [`speech`]: speech recognition for bots on calls (PocketSphinx on the
//!   box, or an OpenAI-compatible server).
//! - [`streaming`]: a call's audio, live, over a WebSocket to an endpoint
//!   (UpdateContactMediaStreamingBehavior), which may talk back.

pub mod agent_media;
pub mod call;
pub mod dns;
pub mod feature_codes;
pub mod leg;
pub mod library;
pub mod metrics;
pub mod outbound;
pub mod registrar;
pub mod session_timer;
pub mod sip;
pub mod softphone;
pub mod speech;
pub mod spoken;
pub mod srtp;
pub mod streaming;
pub mod transport;
pub mod trunk_registration;

pub use sip::{start, TlsListen, Voice, VoiceConfig, VoiceStats};
