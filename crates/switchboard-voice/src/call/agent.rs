//! The agent side of a call: routing's decisions (offers, connections), the
//! agent's leg (a desk phone rung over SIP, an external number through a
//! trunk, the browser softphone), re-INVITEs, hold, and what the agent does
//! from the CCP.

use super::*;
use switchboard_server::chat::CardState;

impl Call {
    pub(super) async fn route(&mut self, event: RoutingEvent) {
        if let Err(e) = self.voice.app().routing.send(event).await {
            warn!(contact = %self.contact_id, "routing: {e}");
        }
    }

    pub(super) async fn on_routing(&mut self, update: RoutingUpdate) {
        match update {
            RoutingUpdate::Offer { agent, .. }
                if self.phase == Phase::Queued && self.agent.is_none() =>
            {
                self.ring_agent(agent).await;
            }
            offer @ RoutingUpdate::Offer { .. } if self.phase == Phase::InFlow => {
                self.early_offer = Some(offer);
            }
            RoutingUpdate::Rescind { ref agent, .. } if matches!(&self.early_offer, Some(RoutingUpdate::Offer { agent: a, .. }) if a == agent) =>
            {
                self.early_offer = None;
            }
            RoutingUpdate::Rescind { agent, .. } => {
                // The offer timed out (the router marks the agent Missed and
                // puts the contact back in its place): stop ringing.
                if let Some(a) =
                    self.drop_agent_leg(|a| a.agent == agent && a.connected_at.is_none())
                {
                    self.stop_ringing(&a).await;
                }
            }
            RoutingUpdate::Connected { agent, .. } => {
                let now_ms = self.now_ms();
                if let Some(a) = self.agent.as_mut().filter(|a| a.agent == agent) {
                    let at = now();
                    a.connected_at = Some(at);
                    if let AgentMedia::Browser(b) = &mut a.media {
                        b.from_browser = Some(b.line.bridge(&self.contact_id));
                        b.line
                            .set_contact_state(&self.contact_id, CardState::Connected);
                    }
                    if let Some(clip) = a.whisper.take() {
                        let mut whisper = Playout::default();
                        whisper.play(vec![clip], false);
                        a.whispering = Some(whisper);
                        VoiceStats::add(&self.voice.stats().whispers, 1);
                    }
                    self.phase = Phase::Bridged;
                    self.session = None;
                    self.collector = None;
                    self.playout.stop();
                    self.waiting = Waiting::Nothing;
                    self.announcements.stop();
                    if let Some(q) = &self.ctr.queue {
                        self.voice.note_answer(&q.id);
                    }
                    let external_number = match a.media {
                        AgentMedia::Phone(_) => self.ringing_external.take(),
                        _ => None,
                    };
                    self.ctr.connect_agent(
                        AgentInfo {
                            id: a.agent.clone(),
                            username: a.username.clone(),
                            routing_profile: self.ringing_profile.take(),
                            external_number,
                            ..Default::default()
                        },
                        at,
                    );
                    info!(contact = %self.contact_id, agent = %a.username, "connected to agent");
                    self.start_recording(now_ms);
                    self.records.record(&self.ctr);
                }
            }
            _ => {}
        }
    }

    /// Takes the agent (or third-party) leg if `keep` says so, forgetting its
    /// SIP Call-ID, so no entry outlives the leg.
    pub(super) fn drop_agent_leg(
        &mut self,
        drop: impl FnOnce(&AgentLeg) -> bool,
    ) -> Option<AgentLeg> {
        let a = self.agent.take_if(|a| drop(a))?;
        self.voice.unbind_call_id(&a.sip_call_id);
        if let Some(line) = a.media.line() {
            line.unbridge(&self.contact_id);
            if a.connected_at.is_some() {
                line.set_contact_state(&self.contact_id, CardState::Ended);
            } else {
                line.remove_contact(&self.contact_id);
            }
        }
        Some(a)
    }

    pub(super) async fn stop_ringing(&self, a: &AgentLeg) {
        let dialogs = self
            .voice
            .dialogs()
            .get_client_dialog_by_call_id(&a.sip_call_id);
        for d in dialogs {
            let _ = d.cancel().await;
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
                self.route(RoutingEvent::AgentError { agent }).await;
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
        let route = match self.voice.registrar().lookup(&user.spec.username) {
            Some(binding) => Ok(PhoneRoute {
                uri: binding.contact.clone(),
                destination: binding.destination(),
                credential: None,
                caller_id: None,
            }),
            None => match &user.spec.phone_config.desk_phone_number {
                Some(number) => {
                    self.ringing_external = Some(number.clone());
                    self.voice
                        .route_out(number)
                        .await
                        .map_err(|e| e.to_string())
                }
                None => Err(
                    "the desk phone is not registered and the agent has no external number"
                        .to_string(),
                ),
            },
        };
        let route = match route {
            Ok(r) => r,
            Err(e) => {
                warn!(agent = %user.spec.username, "cannot reach the agent: {e}");
                self.route(RoutingEvent::AgentError { agent }).await;
                return;
            }
        };
        info!(contact = %self.contact_id, agent = %user.spec.username, phone = %route.destination, uri = %route.uri, "ringing the agent's phone");
        let ring = Duration::from_secs(AGENT_RING_SECONDS);
        if let Err(e) = self
            .dial(
                agent.clone(),
                user.spec.username.clone(),
                route,
                ring,
                None,
                None,
            )
            .await
        {
            warn!("agent leg: {e}");
            self.route(RoutingEvent::AgentError { agent }).await;
        }
    }

    /// The contact as the agent's CCP shows it, in `state`.
    pub(super) fn view(&self, state: CardState) -> ContactView {
        ContactView {
            contact: self.contact_id.clone(),
            channel: self.ctr.channel,
            initiation_method: self.ctr.initiation_method,
            customer: self.ctr.customer_endpoint.address.clone(),
            queue: self.ctr.queue.as_ref().map(|q| q.name.clone()),
            attributes: self.contact.attributes.clone(),
            state,
            muted: false,
            since: now(),
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
            self.route(RoutingEvent::AgentError { agent }).await;
            return;
        };
        info!(contact = %self.contact_id, agent = %user.username, "offering to the agent's CCP");
        line.put_contact(self.view(CardState::Incoming));
        self.agent = Some(AgentLeg {
            agent: agent.clone(),
            username: user.username.clone(),
            media: AgentMedia::Browser(BrowserLeg::new(line, None, self.customer.law())),
            sip_call_id: String::new(),
            dialog: None,
            connected_at: None,
            on_hold_since: None,
            third_party: None,
            whisper: None,
            whispering: None,
            muted: false,
        });
        // Connect's default agent whisper: the queue's name, ready by the time they accept.
        if let Some(text) = self.ctr.queue.as_ref().map(|q| q.name.clone()) {
            let voice = self.voice.clone();
            let contact = self.contact_id.clone();
            let voice_name = self.contact.voice.clone();
            let agent = agent.clone();
            tokio::spawn(async move {
                if let Ok(clip) = voice.library().speak(&text, &voice_name).await {
                    voice.post(&contact, CallInput::Whisper { agent, clip });
                }
            });
        }
        if user.phone_config.auto_accept {
            self.route(RoutingEvent::Accept {
                contact: self.contact_id.clone(),
                agent,
            })
            .await;
        }
    }

    /// Calls a phone for the customer: an agent's (for an offer) or a third
    /// party's (`third_party`: the flow's TransferToNumber, with whether the
    /// flow continues after). The answer comes back as AgentAnswered/AgentFailed.
    pub(super) async fn dial(
        &mut self,
        agent: String,
        username: String,
        route: PhoneRoute,
        ring: Duration,
        caller_id: Option<String>,
        third_party: Option<bool>,
    ) -> Result<(), String> {
        let mut leg = Leg::bind(self.voice.config().media_ip, self.voice.config().rtp_ports)
            .await
            .map_err(|e| format!("RTP socket: {e}"))?;
        let origin = leg.next_sdp_origin();
        let offer = sdp::offer(
            leg.local,
            &[self.customer.law(), other(self.customer.law())],
            Direction::SendRecv,
            origin.0,
            origin.1,
        );
        let sip_call_id = format!("{}@switchboard", uuid::Uuid::new_v4().simple());
        // The flow's caller ID, else the trunk's, else the caller's own number.
        let shown = caller_id
            .or_else(|| route.caller_id.clone())
            .unwrap_or_else(|| self.ctr.customer_endpoint.address.clone());
        let option = route.invite(&self.voice, shown, offer, &sip_call_id);
        self.voice.bind_call_id(&sip_call_id, &self.contact_id);
        self.agent = Some(AgentLeg {
            agent: agent.clone(),
            username,
            media: AgentMedia::Phone(leg),
            sip_call_id,
            dialog: None,
            connected_at: None,
            on_hold_since: None,
            third_party,
            whisper: None,
            whispering: None,
            muted: false,
        });
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        // Connect's default agent whisper: the queue's name.
        let whisper_text = match third_party {
            None => self.ctr.queue.as_ref().map(|q| q.name.clone()),
            Some(_) => None,
        };
        let voice_name = self.contact.voice.clone();
        tokio::spawn(async move {
            let invite = voice.dialogs().do_invite(option, voice.state_sender());
            let whisper = async {
                match &whisper_text {
                    Some(text) => voice.library().speak(text, &voice_name).await.ok(),
                    None => None,
                }
            };
            let (answer, whisper) = tokio::join!(tokio::time::timeout(ring, invite), whisper);
            let input = match answer {
                Ok(Ok((dialog, Some(resp))))
                    if resp.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful =>
                {
                    CallInput::AgentAnswered {
                        agent,
                        dialog,
                        sdp: resp.body.clone(),
                        whisper,
                    }
                }
                Ok(Ok((_, resp))) => {
                    let status = resp.as_ref().map(|r| u16::from(r.status_code.clone()));
                    CallInput::AgentFailed {
                        agent,
                        status,
                        reason: "refused".into(),
                    }
                }
                Ok(Err(e)) => CallInput::AgentFailed {
                    agent,
                    status: None,
                    reason: e.to_string(),
                },
                Err(_) => CallInput::AgentFailed {
                    agent,
                    status: None,
                    reason: "no answer".into(),
                },
            };
            voice.post(&contact, input);
        });
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
                warn!(contact = %self.contact_id, "agent SDP: {e}");
                if let Some(a) = self.drop_agent_leg(|_| true) {
                    self.stop_ringing(&a).await;
                }
                self.route(RoutingEvent::AgentError { agent }).await;
                return;
            }
        }
        if let Some(a) = self.agent.as_mut().filter(|a| a.third_party.is_some()) {
            let at = now();
            a.connected_at = Some(at);
            self.waiting = Waiting::Nothing;
            self.ctr.transferred_to_endpoint = Some(Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: a.username.clone(),
            });
            self.ctr.transfer_completed_timestamp = Some(at);
            self.ctr.third_party_disconnect_timestamp = None;
            self.phase = Phase::Bridged;
            self.collector = None;
            self.playout.stop();
            self.start_recording(self.now_ms());
            self.records.record(&self.ctr);
            return;
        }
        self.route(RoutingEvent::Accept {
            contact: self.contact_id.clone(),
            agent,
        })
        .await;
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
            self.hold(remote.direction.is_hold());
        }
    }

    /// The agent puts the caller on hold (music, counted in the record) or takes them off it.
    pub(super) fn hold(&mut self, hold: bool) {
        let music = self.voice.library().hold_music();
        let Some(a) = &mut self.agent else { return };
        match (hold, a.on_hold_since) {
            (true, None) => {
                a.on_hold_since = Some(Instant::now());
                self.ctr.hold_started();
                self.playout.play(vec![music], true);
            }
            (false, Some(since)) => {
                a.on_hold_since = None;
                self.ctr.hold_ended(since.elapsed().as_secs_f64());
                self.playout.stop();
            }
            _ => return,
        }
        if let Some(line) = a.media.line() {
            line.set_contact_state(
                &self.contact_id,
                if hold {
                    CardState::OnHold
                } else {
                    CardState::Connected
                },
            );
        }
    }

    /// What the agent did in the CCP to the contact they are connected to.
    pub(super) async fn agent_action(&mut self, agent: &str, action: AgentAction) {
        let connected = self.agent.as_ref().is_some_and(|a| {
            a.agent == agent && a.connected_at.is_some() && a.third_party.is_none()
        });
        if !connected || self.phase != Phase::Bridged {
            return;
        }
        match action {
            AgentAction::Hold => self.hold(true),
            AgentAction::Resume => self.hold(false),
            AgentAction::End => {
                info!(contact = %self.contact_id, "the agent ended the contact");
                self.end(DisconnectReason::AgentDisconnect);
            }
            AgentAction::Mute(muted) => {
                if let Some(a) = &mut self.agent {
                    a.muted = muted;
                    if let Some(line) = a.media.line() {
                        line.set_muted(&self.contact_id, muted);
                    }
                }
            }
            AgentAction::TransferToNumber(number) => self.cold_transfer(number).await,
            AgentAction::TransferToQueue(id, name) => self.transfer_to_queue(id, name).await,
        }
    }
}
