//! Where the agent side of a call sends and hears audio: RTP to a SIP phone
//! (desk phone, external number, third party) or the agent's browser
//! softphone through their [`Line`]. The call relays audio through
//! [`AudioSink`] and does not care which.

use std::sync::Arc;

use switchboard_media::g711::Law;
use switchboard_media::Wideband;
use switchboard_media::FRAME_SAMPLES;
use switchboard_model::contact_record::LegQuality;
use tokio::sync::mpsc;

use crate::leg::Leg;
use crate::softphone::{Frame, Line};

/// Something audio can be sent to, in its law.
pub trait AudioSink {
    fn law(&self) -> Law;
    fn send_payload(&mut self, payload: &[u8]);
    /// Takes wideband audio as it was heard, if it speaks the same codec
    /// (false: it does not, and nothing was sent).
    fn send_wideband(&mut self, _heard: &Wideband) -> bool {
        false
    }
}

impl AudioSink for Leg {
    fn law(&self) -> Law {
        Leg::law(self)
    }
    fn send_payload(&mut self, payload: &[u8]) {
        Leg::send_payload(self, payload)
    }
    fn send_wideband(&mut self, heard: &Wideband) -> bool {
        Leg::send_wideband(self, heard)
    }
}

/// Sends audio heard in `from_law` (and as it was sent, when wideband)
/// out of `to`: a wideband peer's audio goes on untouched to a peer of the
/// same codec; otherwise transcoded only if the laws differ.
pub fn relay(payload: &[u8], from_law: Law, wide: Option<&Wideband>, to: &mut impl AudioSink) {
    if wide.is_some_and(|w| to.send_wideband(w)) {
        return;
    }
    if to.law() == from_law {
        to.send_payload(payload);
    } else {
        let converted = to.law().encode_all(&from_law.decode_all(payload));
        to.send_payload(&converted);
    }
}

/// The agent's browser, reached through their softphone line.
pub struct BrowserLeg {
    pub line: Arc<Line>,
    /// The agent's audio, once the contact is bridged to them.
    pub from_browser: Option<mpsc::Receiver<Frame>>,
    /// We speak to the browser in the caller's law: the peer connection
    /// converts only if the browser chose the other one.
    pub law: Law,
    pub packets_in: u64,
    pub packets_out: u64,
    /// The line's lost count when this leg began (its loss is what came after).
    pub lost_at_start: u64,
}

impl BrowserLeg {
    pub fn new(line: Arc<Line>, from_browser: Option<mpsc::Receiver<Frame>>, law: Law) -> Self {
        let lost_at_start = line.quality().lost_total;
        BrowserLeg {
            line,
            from_browser,
            law,
            packets_in: 0,
            packets_out: 0,
            lost_at_start,
        }
    }
}

// One per call, moved rarely: the size difference between a phone's RTP
// state and a browser's handle does not matter.
#[allow(clippy::large_enum_variant)]
pub enum AgentMedia {
    Phone(Leg),
    Browser(BrowserLeg),
}

impl AgentMedia {
    pub fn phone(&mut self) -> Option<&mut Leg> {
        match self {
            AgentMedia::Phone(leg) => Some(leg),
            AgentMedia::Browser(_) => None,
        }
    }

    /// Whether the agent's side speaks wideband (a G.722 phone, a
    /// browser on Opus).
    pub fn wideband(&self) -> bool {
        match self {
            AgentMedia::Phone(leg) => leg.wideband(),
            AgentMedia::Browser(b) => b.line.wideband(),
        }
    }

    pub fn line(&self) -> Option<&Arc<Line>> {
        match self {
            AgentMedia::Phone(_) => None,
            AgentMedia::Browser(b) => Some(&b.line),
        }
    }

    pub fn send_samples(&mut self, samples: &[i16; FRAME_SAMPLES]) {
        match self {
            AgentMedia::Phone(leg) => leg.send_samples(samples),
            AgentMedia::Browser(b) => {
                let payload = b.law.encode_all(samples);
                b.send_payload(&payload);
            }
        }
    }

    /// A frame from the browser arrived (counted here, as RTP is for phones).
    pub fn heard_browser(&mut self) {
        if let AgentMedia::Browser(b) = self {
            b.packets_in += 1;
        }
    }

    pub fn quality(&self) -> LegQuality {
        match self {
            AgentMedia::Phone(leg) => leg.quality(),
            // str0m's receive statistics (RTCP), across page reloads.
            AgentMedia::Browser(b) => {
                let q = b.line.quality();
                LegQuality {
                    packets_received: b.packets_in,
                    packets_lost: q.lost_total.saturating_sub(b.lost_at_start),
                    jitter_ms: q.jitter_ms,
                    peer_reported_loss_percent: q.browser_loss.map(|f| f64::from(f) * 100.0),
                }
            }
        }
    }

    /// Packets in, out, and refused, for the voice counters.
    pub fn counts(&self) -> (u64, u64, u64) {
        match self {
            AgentMedia::Phone(leg) => (leg.packets_in, leg.packets_out, leg.refused()),
            AgentMedia::Browser(b) => (b.packets_in, b.packets_out, 0),
        }
    }
}

impl AudioSink for BrowserLeg {
    fn law(&self) -> Law {
        self.law
    }
    fn send_payload(&mut self, payload: &[u8]) {
        if self.line.send_audio(self.law, payload) {
            self.packets_out += 1;
        }
    }
    fn send_wideband(&mut self, heard: &Wideband) -> bool {
        if !self.line.wideband() {
            return false;
        }
        if self.line.send_wideband(self.law, &heard.samples) {
            self.packets_out += 1;
        }
        true
    }
}

impl AudioSink for AgentMedia {
    fn law(&self) -> Law {
        match self {
            AgentMedia::Phone(leg) => leg.law(),
            AgentMedia::Browser(b) => b.law,
        }
    }
    fn send_payload(&mut self, payload: &[u8]) {
        match self {
            AgentMedia::Phone(leg) => leg.send_payload(payload),
            AgentMedia::Browser(b) => b.send_payload(payload),
        }
    }
    fn send_wideband(&mut self, heard: &Wideband) -> bool {
        match self {
            AgentMedia::Phone(leg) => leg.send_wideband(heard),
            AgentMedia::Browser(b) => b.send_wideband(heard),
        }
    }
}
