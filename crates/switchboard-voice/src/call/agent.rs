//! The agent side of a call: routing's decisions (offers, connections), the
//! agent's leg (a desk phone rung over SIP, an external number through a
//! trunk, the browser softphone), re-INVITEs, hold, and what the agent does
//! from the CCP.

use super::phone::{other, refuse_offer};
use super::*;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode};
use switchboard_contact::{Decision, Input, Phase};
use switchboard_media::playout::{Clip, Playout};
use switchboard_media::sdp::{self, Direction, RemoteAudio};
use switchboard_model::contact_record::AgentInfo;
use switchboard_model::objects::user::PhoneType;
use switchboard_model::User;
use switchboard_runtime::routing::RoutingUpdate;
use tracing::{info, warn};

use crate::agent_media::{AgentMedia, BrowserLeg};
use crate::leg::Leg;
use crate::sip::{Voice, VoiceStats};
use crate::softphone::ContactView;

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
    pub(super) async fn on_routing(&mut self, update: RoutingUpdate) {
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
        self.tell(input).await;
    }

    /// The agent is connected: their leg joins the caller's (after the
    /// whisper, in their ear only), the prompts stop, recording starts.
    pub(super) fn agent_connected(&mut self, agent: &str) {
        let now_ms = self.now_ms();
        let id = self.id();
        let Some(a) = self.agent.as_mut().filter(|a| a.agent == agent) else {
            return;
        };
        a.connected_at = Some(self.at);
        if let AgentMedia::Browser(b) = &mut a.media {
            b.from_browser = Some(b.line.bridge(&id));
            b.line.set_contact_state(&id, CardState::Connected);
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
        let a = self.agent.take_if(|a| drop(a))?;
        let id = contact;
        self.voice.unbind_call_id(&a.sip_call_id);
        for fork in &a.forks {
            self.voice.unbind_call_id(fork);
        }
        if let Some(line) = a.media.line() {
            line.unbridge(id);
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

    pub(super) async fn stop_ringing(&self, a: &AgentLeg) {
        match (&a.ringing, &a.dialog) {
            // Unanswered INVITEs end with the task that awaits them: rsipstack
            // then CANCELs each once it has rung, and stops retransmitting.
            // (A second CANCEL of ours would wait on an answer that may not come.)
            (Some(ringing), None) => ringing.cancel(),
            _ => {
                let voice = self.voice.clone();
                let call_ids: Vec<String> = std::iter::once(&a.sip_call_id)
                    .chain(&a.forks)
                    .cloned()
                    .collect();
                tokio::spawn(async move {
                    for call_id in call_ids {
                        for d in voice.dialogs().get_client_dialog_by_call_id(&call_id) {
                            let _ = d.cancel().await;
                        }
                    }
                });
            }
        }
        if let Some(d) = &a.dialog {
            let _ = d.bye().await;
        }
    }

    /// Calls the agent's desk phone (or their external number) for an offer.
    pub(super) async fn ring_agent(&mut self, agent: String) {
        let user = match self.voice.app().store.get::<User>(&agent).await {
            Ok(Some(u)) => u,
            _ => {
                self.note(Input::Unreachable { agent });
                return;
            }
        };
        self.ringing_profile = Some(
            self.voice
                .app()
                .routing_profile_ref(&user.spec.routing_profile)
                .await,
        );
        if user.spec.phone_config.phone_type != PhoneType::DeskPhone {
            self.offer_to_browser(agent, &user.spec).await;
            return;
        }
        self.ringing_external = None;
        let devices = self.voice.registrar().devices(&user.spec.username);
        let routes = if !devices.is_empty() {
            Ok(devices
                .into_iter()
                .map(|d| PhoneRoute {
                    uri: d.uri.clone(),
                    destination: d.destination,
                    transport: d.transport,
                    credential: None,
                    caller_id: None,
                })
                .collect())
        } else {
            match &user.spec.phone_config.desk_phone_number {
                Some(number) => {
                    self.ringing_external = Some(number.clone());
                    self.voice
                        .route_out(number)
                        .await
                        .map(|r| vec![r])
                        .map_err(|e| e.to_string())
                }
                None => Err(
                    "the desk phone is not registered and the agent has no external number"
                        .to_string(),
                ),
            }
        };
        let routes: Vec<PhoneRoute> = match routes {
            Ok(r) => r,
            Err(e) => {
                warn!(agent = %user.spec.username, "cannot reach the agent: {e}");
                self.note(Input::Unreachable { agent });
                return;
            }
        };
        for route in &routes {
            info!(contact = %self.core.id(), agent = %user.spec.username, phone = %route.destination, transport = route.transport.as_str(), uri = %route.uri, "ringing the agent's phone");
        }
        let ring = Duration::from_secs(AGENT_RING_SECONDS);
        if let Err(e) = self
            .dial(
                agent.clone(),
                user.spec.username.clone(),
                routes,
                ring,
                None,
                None,
            )
            .await
        {
            warn!("agent leg: RTP socket: {e}");
            self.note(Input::Unreachable { agent });
        }
    }

    /// The contact as the agent's CCP shows it, in `state`.
    pub(super) fn view(&self, state: CardState) -> ContactView {
        let record = self.core.record();
        ContactView {
            contact: self.id(),
            channel: record.channel,
            initiation_method: record.initiation_method,
            customer: record.customer_endpoint.address.clone(),
            queue: record.queue.as_ref().map(|q| q.name.clone()),
            attributes: self.core.data().attributes.clone(),
            state,
            muted: false,
            since: self.at,
            chat_token: None,
        }
    }

    /// Offers the contact to a softphone agent's CCP, where they accept or
    /// reject it; the router's offer timeout makes them Missed otherwise.
    pub(super) async fn offer_to_browser(&mut self, agent: String, user: &User) {
        let grace = self.voice.config().ccp_grace;
        let Some(line) = self
            .voice
            .softphones()
            .get(&agent)
            .filter(|l| l.reachable(grace))
        else {
            warn!(agent = %user.username, "the agent's CCP is not open: offer refused");
            self.note(Input::Unreachable { agent });
            return;
        };
        info!(contact = %self.core.id(), agent = %user.username, "offering to the agent's CCP");
        line.put_contact(self.view(CardState::Incoming));
        self.agent = Some(AgentLeg {
            agent: agent.clone(),
            username: user.username.clone(),
            media: AgentMedia::Browser(BrowserLeg::new(line, None, self.customer.law())),
            sip_call_id: String::new(),
            forks: vec![],
            ringing: None,
            dialog: None,
            connected_at: None,
            on_hold_since: None,
            third_party: None,
            whisper: None,
            whispering: None,
            muted: false,
        });
        // Connect's default agent whisper: the queue's name, ready by the time they accept.
        if let Some(text) = self.core.record().queue.as_ref().map(|q| q.name.clone()) {
            let voice = self.voice.clone();
            let contact = self.id();
            let voice_name = self.core.data().voice.clone();
            let agent = agent.clone();
            tokio::spawn(async move {
                if let Ok(clip) = voice.library().speak(&text, &voice_name).await {
                    voice.post(&contact, CallInput::Whisper { agent, clip });
                }
            });
        }
        if user.phone_config.auto_accept {
            self.note(Input::Accept { agent });
        }
    }

    /// Calls a phone for the customer: an agent's (for an offer; every
    /// device they registered rings at once) or a third party's
    /// (`third_party`: the flow's TransferToNumber, with whether the flow
    /// continues after). The answer comes back as AgentAnswered/AgentFailed;
    /// an error here is the leg's RTP socket, which could not be bound.
    pub(super) async fn dial(
        &mut self,
        agent: String,
        username: String,
        routes: Vec<PhoneRoute>,
        ring: Duration,
        caller_id: Option<String>,
        third_party: Option<bool>,
    ) -> std::io::Result<()> {
        // Our media address of the family the phone is reached over.
        let media_ip = match routes.first() {
            Some(r) => self.voice.media_ip_for(r.destination.ip()),
            None => self.voice.config().media_ip,
        };
        let mut leg = Leg::bind(media_ip, self.voice.config().rtp_ports).await?;
        if let [only] = routes.as_slice() {
            leg.set_peer(crate::leg::MediaPeer {
                signalling: Some(only.destination.ip()),
                strict: false,
            });
        }
        let origin = leg.next_sdp_origin();
        let offer = sdp::offer(
            leg.local,
            &[self.customer.law(), other(self.customer.law())],
            Direction::SendRecv,
            origin.0,
            origin.1,
        );
        // One Call-ID per device: each is its own dialog, and the ones
        // that lose the race end without touching the one that answered.
        let base = uuid::Uuid::new_v4().simple().to_string();
        let call_ids: Vec<String> = (0..routes.len())
            .map(|i| match i {
                0 => format!("{base}@switchboard"),
                i => format!("{base}-{i}@switchboard"),
            })
            .collect();
        let invites: Vec<_> = routes
            .iter()
            .zip(&call_ids)
            .map(|(route, call_id)| {
                // The flow's caller ID, else the trunk's, else the caller's own number.
                let shown = caller_id
                    .clone()
                    .or_else(|| route.caller_id.clone())
                    .unwrap_or_else(|| self.core.record().customer_endpoint.address.clone());
                self.voice.bind_call_id(call_id, self.core.id());
                route.invite(&self.voice, shown, offer.clone(), call_id)
            })
            .collect();
        let mut call_ids = call_ids.into_iter();
        self.agent = Some(AgentLeg {
            agent: agent.clone(),
            username,
            media: AgentMedia::Phone(leg),
            sip_call_id: call_ids.next().unwrap_or_default(),
            forks: call_ids.collect(),
            ringing: None,
            dialog: None,
            connected_at: None,
            on_hold_since: None,
            third_party,
            whisper: None,
            whispering: None,
            muted: false,
        });
        // Connect's default agent whisper: the queue's name.
        let whisper = match third_party {
            None => self.core.record().queue.as_ref().map(|q| q.name.clone()),
            Some(_) => None,
        };
        let given_up = tokio_util::sync::CancellationToken::new();
        if let Some(a) = self.agent.as_mut() {
            a.ringing = Some(given_up.clone());
        }
        tokio::spawn(super::phone::ring(
            self.voice.clone(),
            self.id(),
            agent,
            invites,
            ring,
            whisper.map(|text| (text, self.core.data().voice.clone())),
            given_up,
        ));
        Ok(())
    }

    pub(super) async fn agent_answered(
        &mut self,
        agent: String,
        dialog: InviteDialog,
        sdp_body: Vec<u8>,
        whisper: Option<Clip>,
    ) {
        let Some(a) = self
            .agent
            .as_mut()
            .filter(|a| a.agent == agent && a.dialog.is_none())
        else {
            // Rescinded meanwhile: this phone answered too late.
            let _ = dialog.bye().await;
            return;
        };
        // The device that answered is the leg now; the others were cancelled.
        let answered = dialog.id().call_id.clone();
        if let Some(i) = a.forks.iter().position(|f| *f == answered) {
            a.forks[i] = std::mem::replace(&mut a.sip_call_id, answered);
        }
        a.dialog = Some(dialog);
        a.whisper = whisper;
        let remote = RemoteAudio::parse(&sdp_body).and_then(|r| r.negotiated().map(|n| (r, n)));
        match remote {
            Ok((remote, negotiated)) => {
                if let Some(leg) = a.media.phone() {
                    leg.connect(&remote, negotiated)
                }
            }
            Err(e) => {
                warn!(contact = %self.core.id(), "agent SDP: {e}");
                let third_party = match self.drop_agent_leg(|_| true) {
                    Some(a) => {
                        self.stop_ringing(&a).await;
                        a.third_party.is_some()
                    }
                    None => false,
                };
                let input = match third_party {
                    true => Input::ThirdPartyFailed { no_answer: false },
                    false => Input::Unreachable { agent },
                };
                self.tell(input).await;
                return;
            }
        }
        if let Some(a) = self.agent.as_mut().filter(|a| a.third_party.is_some()) {
            a.connected_at = Some(self.at);
            let number = a.username.clone();
            self.collector = None;
            self.playout.stop();
            self.media = Media::Nothing;
            self.start_recording(self.now_ms());
            self.tell(Input::ThirdPartyJoined { number }).await;
            return;
        }
        self.tell(Input::Accept { agent }).await;
    }

    pub(super) async fn reinvite(
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
                let _ = reply.reply(StatusCode::CallTransactionDoesNotExist).await;
                return;
            };
            let origin = leg.next_sdp_origin();
            let offer = sdp::offer(
                leg.local,
                &[leg.law()],
                Direction::SendRecv,
                origin.0,
                origin.1,
            );
            let mut headers = vec![Header::ContentType("application/sdp".into())];
            headers.extend(timer_headers);
            let _ = reply
                .respond(StatusCode::OK, Some(headers), Some(offer))
                .await;
            if call_id == self.customer_call_id {
                self.refresh_session_timer();
            }
            return;
        }
        let remote = match RemoteAudio::parse(body) {
            Ok(r) => r,
            Err(e) => return refuse_offer(&self.voice, &reply, &e.to_string()).await,
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
            let _ = reply.reply(StatusCode::CallTransactionDoesNotExist).await;
            return;
        };
        let origin = leg.next_sdp_origin();
        let answer = remote.answer(leg.local, origin.0, origin.1);
        let (answer, negotiated) = match answer {
            Ok(a) => a,
            Err(e) => return refuse_offer(&self.voice, &reply, &e.to_string()).await,
        };
        leg.connect(&remote, negotiated);
        let mut headers = vec![Header::ContentType("application/sdp".into())];
        headers.extend(timer_headers);
        let _ = reply
            .respond(StatusCode::OK, Some(headers), Some(answer))
            .await;
        if !is_agent {
            self.refresh_session_timer();
            self.customer_held = remote.direction.is_hold();
            self.watchdog
                .restart(self.now_ms(), self.customer.packets_in);
        }
        if is_agent {
            self.tell(Input::Hold(remote.direction.is_hold())).await;
        }
    }

    /// The caller is on hold (music) or back with the agent; the core
    /// counts it in the record.
    pub(super) fn held(&mut self, hold: bool) {
        let id = self.id();
        let Some(a) = &mut self.agent else { return };
        a.on_hold_since = hold.then_some(self.at_ms);
        if let Some(line) = a.media.line() {
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
    pub(super) async fn agent_action(&mut self, agent: &str, action: AgentAction) {
        let connected = self.agent.as_ref().is_some_and(|a| {
            a.agent == agent && a.connected_at.is_some() && a.third_party.is_none()
        });
        if !connected || self.core.phase() != Phase::WithAgent {
            return;
        }
        match action {
            AgentAction::Hold => self.tell(Input::Hold(true)).await,
            AgentAction::Resume => self.tell(Input::Hold(false)).await,
            AgentAction::End => {
                info!(contact = %self.core.id(), "the agent ended the contact");
                self.tell(Input::AgentLeft).await;
            }
            AgentAction::Mute(muted) => {
                let id = self.id();
                if let Some(a) = &mut self.agent {
                    a.muted = muted;
                    if let Some(line) = a.media.line() {
                        line.set_muted(&id, muted);
                    }
                }
            }
            AgentAction::TransferToNumber(number) => self.cold_transfer(number).await,
            AgentAction::TransferToQueue(id, name) => self.transfer_to_queue(id, name).await,
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
