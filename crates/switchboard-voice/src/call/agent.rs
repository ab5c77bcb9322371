//! The agent side of a call: routing's decisions (offers, connections), the
//! agent's leg once it exists (a desk phone, an external number, the
//! browser softphone; reaching it is `offer.rs`'s), re-INVITEs, hold, and
//! what the agent does from the CCP.

use super::io::Io;
use super::phone::refusal;
use super::*;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode};
use switchboard_contact::{Decision, Input, Phase};
use switchboard_media::playout::{Clip, Playout};
use switchboard_media::sdp::{Direction, RemoteAudio};
use switchboard_model::contact_record::AgentInfo;
use switchboard_runtime::routing::RoutingUpdate;
use tracing::info;

use crate::agent_media::{AgentMedia, BrowserLeg};
use crate::sip::{Voice, VoiceStats};

use switchboard_runtime::CardState;

/// Seconds we ring an agent's phone; the router's offer timeout usually
/// ends the ringing first (the agent is then Missed).
pub(super) const AGENT_RING_SECONDS: u64 = 60;

/// Whoever the caller is bridged to, or being rung for them: a routed
/// agent (desk phone, external number, browser) or the flow's third party.
pub(super) struct AgentLeg {
    pub(super) agent: String,
    pub(super) username: String,
    pub(super) media: AgentMedia,
    /// Empty for a browser softphone.
    pub(super) sip_call_id: String,
    /// The other devices rung with it (their Call-IDs), until one answers.
    pub(super) forks: Vec<String>,
    /// Cancelled when the ringing is given up: every INVITE still out is
    /// dropped (no retransmissions after the offer ends).
    pub(super) ringing: Option<tokio_util::sync::CancellationToken>,
    pub(super) dialog: Option<InviteDialog>,
    pub(super) connected_at: Option<DateTime<Utc>>,
    pub(super) on_hold_since: Option<u64>,
    /// A third party the flow transferred to (not a routed agent); whether
    /// the flow continues when they hang up.
    pub(super) third_party: Option<bool>,
    /// The agent whisper, until it plays when the call connects.
    pub(super) whisper: Option<Clip>,
    /// Plays the whisper to the agent; the legs are joined when it ends.
    pub(super) whispering: Option<Playout>,
    /// The agent muted their microphone: the caller (and the recording) hear silence.
    pub(super) muted: bool,
}

impl Call {
    /// The agent who placed this call is on it from the first moment.
    pub(super) fn connect_outbound(&mut self, line: Arc<crate::softphone::Line>) {
        let id = self.id();
        let Some(agent) = self.core.agent().map(str::to_string) else {
            return;
        };
        let username = self
            .core
            .record()
            .agent
            .as_ref()
            .map(|a| a.username.clone())
            .unwrap_or_default();
        let from_browser = Some(line.bridge(&id));
        line.set_contact_state(&id, CardState::Connected);
        self.agent = Some(AgentLeg {
            agent,
            username,
            media: AgentMedia::Browser(BrowserLeg::new(line, from_browser, self.customer.law())),
            sip_call_id: String::new(),
            forks: vec![],
            ringing: None,
            dialog: None,
            connected_at: Some(self.at),
            on_hold_since: None,
            third_party: None,
            whisper: None,
            whispering: None,
            muted: false,
        });
        self.start_recording(self.now_ms());
    }

    /// Hands `input` to the core without acting on its outputs: for code
    /// that runs while the driver already works through them.
    pub(super) fn note(&mut self, input: Input) {
        self.core.handle(self.at, input);
    }

    /// Routing's decisions, for the core to judge.
    pub(super) fn on_routing(&mut self, update: RoutingUpdate) {
        let input = match update {
            RoutingUpdate::Offer { agent, contact, .. } => {
                Input::Routing(Decision::Offer { contact, agent })
            }
            RoutingUpdate::Rescind { agent, contact } => {
                Input::Routing(Decision::Rescind { contact, agent })
            }
            RoutingUpdate::Connected { agent, contact } => {
                // Only the agent whose phone or CCP this call offered to.
                let Some(a) = self.agent.as_ref().filter(|a| a.agent == agent) else {
                    return;
                };
                let external_number = match a.media {
                    AgentMedia::Phone(_) => self.ringing_external.take(),
                    _ => None,
                };
                Input::Connected {
                    contact,
                    agent: AgentInfo {
                        id: a.agent.clone(),
                        username: a.username.clone(),
                        routing_profile: self.ringing_profile.take(),
                        external_number,
                        ..Default::default()
                    },
                }
            }
            _ => return,
        };
        self.tell(input);
    }

    /// The agent is connected: their leg joins the caller's (after the
    /// whisper, in their ear only), the prompts stop, recording starts.
    pub(super) fn agent_connected(&mut self, agent: &str) {
        let now_ms = self.now_ms();
        let id = self.id();
        let card_line = self.card_line();
        let Some(a) = self.agent.as_mut().filter(|a| a.agent == agent) else {
            return;
        };
        a.connected_at = Some(self.at);
        if let AgentMedia::Browser(b) = &mut a.media {
            b.from_browser = Some(b.line.bridge(&id));
        }
        if let Some(line) = card_line {
            line.set_contact_state(&id, CardState::Connected);
        }
        if let Some(clip) = a.whisper.take() {
            let mut whisper = Playout::default();
            whisper.play(vec![clip], false);
            a.whispering = Some(whisper);
            VoiceStats::add(&self.voice.stats().whispers, 1);
        }
        info!(contact = %id, agent = %a.username, "connected to agent");
        self.collector = None;
        self.playout.stop();
        self.media = Media::Nothing;
        self.announcements.stop();
        if let Some(q) = &self.core.record().queue {
            self.voice.note_answer(&q.id);
        }
        self.start_recording(now_ms);
    }

    /// Takes the agent (or third-party) leg if `drop` says so, forgetting its
    /// SIP Call-ID, so no entry outlives the leg.
    pub(super) fn drop_agent_leg(
        &mut self,
        drop: impl FnOnce(&AgentLeg) -> bool,
    ) -> Option<AgentLeg> {
        let id = self.id();
        self.drop_agent_leg_of(&id, drop)
    }

    /// As [`Call::drop_agent_leg`], for the leg's part in `contact` (the
    /// contact a transfer ended, when the call has the next id already).
    pub(super) fn drop_agent_leg_of(
        &mut self,
        contact: &str,
        drop: impl FnOnce(&AgentLeg) -> bool,
    ) -> Option<AgentLeg> {
        let card_line = self.card_line();
        let a = self.agent.take_if(|a| drop(a))?;
        let id = contact;
        self.voice.unbind_call_id(&a.sip_call_id);
        for fork in &a.forks {
            self.voice.unbind_call_id(fork);
        }
        if let Some(line) = a.media.line() {
            line.unbridge(id);
        }
        // The line of the leg being dropped: card_line names the one leg.
        if let Some(line) = card_line {
            if a.connected_at.is_some() {
                line.set_contact_state(id, CardState::Ended);
            } else {
                line.remove_contact(id);
            }
        }
        // Their figures outlive the leg: the record's quality, the counters.
        if a.connected_at.is_some() {
            self.last_agent_quality = Some(a.media.quality());
        }
        count_packets(&self.voice, a.media.counts());
        Some(a)
    }

    pub(super) fn reinvite(
        &mut self,
        call_id: &str,
        body: &[u8],
        reply: rsipstack::dialog::dialog::TransactionHandle,
    ) {
        let timer_headers = if call_id == self.customer_call_id {
            self.session_timer_headers()
        } else {
            vec![]
        };
        let no_dialog = |reply| Io::Respond {
            reply,
            status: StatusCode::CallTransactionDoesNotExist,
            headers: vec![],
            body: None,
        };
        if body.is_empty() {
            // A re-INVITE without an offer (often a session refresh): we
            // offer what is in use; the answer comes in the ACK.
            let leg = if call_id == self.customer_call_id {
                Some(&mut self.customer)
            } else {
                self.agent
                    .as_mut()
                    .filter(|a| a.sip_call_id == call_id)
                    .and_then(|a| a.media.phone())
            };
            let Some(leg) = leg else {
                return self.ask(no_dialog(reply));
            };
            let offer = leg.offer_again(Direction::SendRecv);
            let mut headers = vec![Header::ContentType("application/sdp".into())];
            headers.extend(timer_headers);
            self.ask(Io::Respond {
                reply,
                status: StatusCode::OK,
                headers,
                body: Some(offer),
            });
            if call_id == self.customer_call_id {
                self.refresh_session_timer();
            }
            return;
        }
        let remote = match RemoteAudio::parse(body) {
            Ok(r) => r,
            Err(e) => return self.ask(refusal(&self.voice, reply, &e.to_string())),
        };
        let (leg, is_agent) = if call_id == self.customer_call_id {
            (&mut self.customer, false)
        } else if let Some(leg) = self
            .agent
            .as_mut()
            .filter(|a| a.sip_call_id == call_id)
            .and_then(|a| a.media.phone())
        {
            (leg, true)
        } else {
            return self.ask(no_dialog(reply));
        };
        let (answer, negotiated) = match leg.answer(&remote) {
            Ok(a) => a,
            Err(e) => return self.ask(refusal(&self.voice, reply, &e.to_string())),
        };
        leg.connect(&remote, negotiated);
        let mut headers = vec![Header::ContentType("application/sdp".into())];
        headers.extend(timer_headers);
        self.ask(Io::Respond {
            reply,
            status: StatusCode::OK,
            headers,
            body: Some(answer),
        });
        if !is_agent {
            self.refresh_session_timer();
            self.customer_held = remote.direction.is_hold();
            self.watchdog
                .restart(self.now_ms(), self.customer.packets_in);
        }
        if is_agent {
            self.tell(Input::Hold(remote.direction.is_hold()));
        }
    }

    /// The caller is on hold (music) or back with the agent; the core
    /// counts it in the record.
    pub(super) fn held(&mut self, hold: bool) {
        let id = self.id();
        let card_line = self.card_line();
        let Some(a) = &mut self.agent else { return };
        a.on_hold_since = hold.then_some(self.at_ms);
        if let Some(line) = card_line {
            let state = if hold {
                CardState::OnHold
            } else {
                CardState::Connected
            };
            line.set_contact_state(&id, state);
        }
        if hold {
            self.play_music();
        } else {
            self.playout.stop();
            self.media = Media::Nothing;
        }
    }

    /// What the agent did in the CCP to the contact they are connected to.
    pub(super) fn agent_action(&mut self, agent: &str, action: AgentAction) {
        let connected = self.agent.as_ref().is_some_and(|a| {
            a.agent == agent && a.connected_at.is_some() && a.third_party.is_none()
        });
        if !connected || self.core.phase() != Phase::WithAgent {
            return;
        }
        match action {
            AgentAction::Hold => self.tell(Input::Hold(true)),
            AgentAction::Resume => self.tell(Input::Hold(false)),
            AgentAction::End => {
                info!(contact = %self.core.id(), "the agent ended the contact");
                self.ended_in_ccp = true;
                self.tell(Input::AgentLeft);
            }
            AgentAction::Mute(muted) => {
                let id = self.id();
                let card_line = self.card_line();
                if let Some(a) = &mut self.agent {
                    a.muted = muted;
                }
                if let Some(line) = card_line {
                    line.set_muted(&id, muted);
                }
            }
            AgentAction::TransferToNumber(number) => self.cold_transfer(number),
            AgentAction::TransferToQueue(id, name) => self.transfer_to_queue(id, name),
            AgentAction::SendKeys(keys) => {
                if let Err(e) = self.customer.send_keys(&keys) {
                    if let Some(line) = self.card_line() {
                        line.notice(format!("Keys not sent: {e}."));
                    }
                }
            }
        }
    }
}

/// Adds a leg's packet counts (in, out, refused) to the voice statistics.
pub(super) fn count_packets(voice: &Voice, (packets_in, packets_out, refused): (u64, u64, u64)) {
    let stats = voice.stats();
    VoiceStats::add(&stats.rtp_packets_in, packets_in);
    VoiceStats::add(&stats.rtp_packets_out, packets_out);
    VoiceStats::add(&stats.rtp_packets_refused, refused);
}
