//! An offer reaching the agent: their registered phones rung over SIP (all
//! at once; the INVITEs themselves are `phone::ring`'s), their external
//! number through a trunk, or their CCP; the answer taken; ringing given up.
//! The same dialling serves the flow's and the CCP's third parties.

use super::phone::other;
use super::*;
use std::time::Duration;

use rsipstack::dialog::invite_dialog::InviteDialog;
use switchboard_contact::Input;
use switchboard_media::playout::Clip;
use switchboard_media::sdp::{self, Direction, RemoteAudio};
use switchboard_model::objects::user::PhoneType;
use switchboard_model::User;
use tracing::{info, warn};

use super::agent::{AgentLeg, AGENT_RING_SECONDS};
use crate::agent_media::{AgentMedia, BrowserLeg};
use crate::leg::Leg;
use crate::softphone::ContactView;

use switchboard_runtime::CardState;

impl Call {
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
                        voice.cancel_invite(&call_id).await;
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
}
