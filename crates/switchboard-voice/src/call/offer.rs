//! An offer reaching the agent: their registered phones rung over SIP (all
//! at once; the INVITEs themselves are `phone::ring`'s), their external
//! number through a trunk, or their CCP; the answer taken; ringing given up.
//! The same dialling serves the flow's and the CCP's third parties.

use super::phone::other;
use super::*;
use crate::registrar::Transport;
use std::time::Duration;

use rsipstack::dialog::invite_dialog::InviteDialog;
use switchboard_contact::Input;
use switchboard_media::playout::Clip;
use switchboard_media::sdp::{Direction, RemoteAudio};
use switchboard_model::objects::user::PhoneType;
use switchboard_model::User;
use tracing::{info, warn};

use super::agent::{AgentLeg, AGENT_RING_SECONDS};
use super::io::{Dial, Io, RouteFor};
use crate::agent_media::{AgentMedia, BrowserLeg};
use crate::leg::Leg;
use crate::softphone::ContactView;
use switchboard_model::contact_record::RoutingProfileRef;

use switchboard_runtime::CardState;

impl Call {
    /// Stops ringing `a`'s phones, or hangs up the one that answered.
    pub(super) fn stop_ringing(&mut self, a: AgentLeg) {
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
        if let Some(d) = a.dialog {
            self.ask(Io::Bye(d));
        }
    }

    /// The agent an offer is for, looked up (with their routing profile):
    /// their desk phones rung, or their external number, or their CCP
    /// offered the contact.
    pub(super) fn agent_looked_up(
        &mut self,
        agent: String,
        found: Option<(User, RoutingProfileRef)>,
    ) {
        let Some((user, profile)) = found else {
            self.note(Input::Unreachable { agent });
            return;
        };
        self.ringing_profile = Some(profile);
        if user.phone_config.phone_type != PhoneType::DeskPhone {
            self.offer_to_browser(agent, &user);
            return;
        }
        self.ringing_external = None;
        let username = user.username.clone();
        let devices = self.voice.registrar().devices(&username);
        if !devices.is_empty() {
            let routes = devices
                .into_iter()
                .map(|d| PhoneRoute {
                    uri: d.uri.clone(),
                    destination: d.destination,
                    transport: d.transport,
                    credential: None,
                    caller_id: None,
                    fallbacks: vec![],
                })
                .collect();
            return self.ring_phones(agent, username, routes);
        }
        match &user.phone_config.desk_phone_number {
            Some(number) => {
                self.ringing_external = Some(number.clone());
                self.ask(Io::RouteOut {
                    number: number.clone(),
                    then: RouteFor::AgentPhone { agent, username },
                });
            }
            None => self.agent_unreachable(
                agent,
                &username,
                "the desk phone is not registered and the agent has no external number",
            ),
        }
    }

    /// A route out is found (or not): for the agent's external number, or
    /// for their cold transfer.
    pub(super) fn routed(
        &mut self,
        number: String,
        route: Result<PhoneRoute, String>,
        then: RouteFor,
    ) {
        match (then, route) {
            (RouteFor::AgentPhone { agent, username }, Ok(route)) => {
                self.ring_phones(agent, username, vec![route])
            }
            (RouteFor::AgentPhone { agent, username }, Err(e)) => {
                self.agent_unreachable(agent, &username, &e)
            }
            (RouteFor::ColdTransfer, Ok(route)) => self.cold_transfer_routed(number, route),
            (RouteFor::ColdTransfer, Err(e)) => {
                warn!(contact = %self.core.id(), %number, "transfer not possible: {e}");
            }
        }
    }

    fn agent_unreachable(&mut self, agent: String, username: &str, why: &str) {
        warn!(agent = %username, "cannot reach the agent: {why}");
        self.note(Input::Unreachable { agent });
    }

    /// Rings the agent's phones (`routes`) for an offer.
    fn ring_phones(&mut self, agent: String, username: String, routes: Vec<PhoneRoute>) {
        for route in &routes {
            info!(contact = %self.core.id(), agent = %username, phone = %route.destination, transport = route.transport.as_str(), uri = %route.uri, "ringing the agent's phone");
        }
        self.dial(Dial {
            agent,
            username,
            routes,
            ring: Duration::from_secs(AGENT_RING_SECONDS),
            caller_id: None,
            third_party: None,
        });
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
            desk_phone: self
                .agent
                .as_ref()
                .is_some_and(|a| matches!(a.media, AgentMedia::Phone(_))),
        }
    }

    /// The CCP line that shows the agent's side of the call: their
    /// browser's, or a desk-phone agent's line when their CCP is open (the
    /// cards only: the audio is on the phone). None for a third party.
    pub(super) fn card_line(&self) -> Option<std::sync::Arc<crate::softphone::Line>> {
        let a = self.agent.as_ref().filter(|a| a.third_party.is_none())?;
        a.media
            .line()
            .cloned()
            .or_else(|| self.voice.softphones().get(&a.agent))
    }

    /// Offers the contact to a softphone agent's CCP, where they accept or
    /// reject it; the router's offer timeout makes them Missed otherwise.
    pub(super) fn offer_to_browser(&mut self, agent: String, user: &User) {
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
    /// continues after). Its RTP socket is bound first ([`Call::leg_bound`]);
    /// the answer comes back as AgentAnswered/AgentFailed.
    pub(super) fn dial(&mut self, dial: Dial) {
        // Our media address of the family the phone is reached over.
        let media_ip = match dial.routes.first() {
            Some(r) => self.voice.media_ip_for(r.destination.ip()),
            None => self.voice.config().media_ip,
        };
        self.ask(Io::BindLeg {
            media_ip,
            dial: Box::new(dial),
        });
    }

    /// The socket for a phone to dial is bound (or could not be): the
    /// phone is rung, or the offer or transfer fails.
    pub(super) fn leg_bound(&mut self, leg: std::io::Result<Box<Leg>>, dial: Dial) {
        let mut leg = match leg {
            Ok(leg) => *leg,
            Err(e) => {
                warn!(contact = %self.core.id(), "{} leg: RTP socket: {e}", dial.username);
                let input = match dial.third_party {
                    Some(_) => Input::ThirdPartyFailed { no_answer: false },
                    None => Input::Unreachable { agent: dial.agent },
                };
                return self.tell(input);
            }
        };
        let Dial {
            agent,
            username,
            routes,
            ring,
            caller_id,
            third_party,
        } = dial;
        // Phones reached over TLS only are offered SRTP (best effort: a
        // phone without it ignores the key).
        let private = routes.iter().all(|r| r.transport == Transport::Tls);
        let signalling = match routes.as_slice() {
            [only] => Some(only.destination.ip()),
            _ => None,
        };
        leg.set_peer(crate::leg::MediaPeer {
            signalling,
            strict: false,
            private,
        });
        let offer = leg.offer(
            &[self.customer.law(), other(self.customer.law())],
            Direction::SendRecv,
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
                let option = route.invite(&self.voice, shown, offer.clone(), call_id);
                (option, route.fallbacks.clone())
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
        // A desk-phone agent with the CCP open sees the call ring there too.
        if let Some(line) = self.card_line() {
            line.put_contact(self.view(CardState::Incoming));
        }
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
    }

    pub(super) fn agent_answered(
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
            return self.ask(Io::Bye(dialog));
        };
        // The device that answered is the leg now; the others were cancelled.
        let answered = dialog.id().call_id.clone();
        if let Some(i) = a.forks.iter().position(|f| *f == answered) {
            a.forks[i] = std::mem::replace(&mut a.sip_call_id, answered);
        }
        a.dialog = Some(dialog);
        a.whisper = whisper;
        let answered = match a.media.phone() {
            Some(leg) => RemoteAudio::parse(&sdp_body)
                .and_then(|r| leg.negotiated(&r).map(|n| (r, n)))
                .map(|(remote, negotiated)| leg.connect(&remote, negotiated)),
            None => Ok(()),
        };
        match answered {
            Ok(()) => {}
            Err(e) => {
                warn!(contact = %self.core.id(), "agent SDP: {e}");
                let third_party = match self.drop_agent_leg(|_| true) {
                    Some(a) => {
                        let third_party = a.third_party.is_some();
                        self.stop_ringing(a);
                        third_party
                    }
                    None => false,
                };
                let input = match third_party {
                    true => Input::ThirdPartyFailed { no_answer: false },
                    false => Input::Unreachable { agent },
                };
                self.tell(input);
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
            self.tell(Input::ThirdPartyJoined { number });
            return;
        }
        self.tell(Input::Accept { agent });
    }
}
