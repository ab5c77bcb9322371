//! How a call ends: who left, the agent's times, the recording kept, and
//! the final record.

use super::*;
use switchboard_server::chat::CardState;

impl Call {
    /// Stores the recording (if one runs) and notes where in the record.
    pub(super) async fn store_recording(&mut self, ended: DateTime<Utc>) {
        if let Some(recorder) = self.recorder.take() {
            let duration = recorder.duration_ms() as f64 / 1000.0;
            let key = format!(
                "recordings/{}/{}.wav",
                ended.format("%Y/%m/%d"),
                self.contact_id
            );
            let wav = tokio::task::spawn_blocking(move || recorder.finish())
                .await
                .unwrap_or_default();
            self.ctr.recording = Some(match self.voice.app().blobs.put(&key, wav.into()).await {
                Ok(()) => RecordingInfo {
                    location: key,
                    duration_seconds: duration,
                    status: "AVAILABLE".into(),
                    status_reason: None,
                },
                Err(e) => {
                    warn!(contact = %self.contact_id, "recording not stored: {e}");
                    RecordingInfo {
                        location: key,
                        duration_seconds: duration,
                        status: "FAILED".into(),
                        status_reason: Some(e.to_string()),
                    }
                }
            });
        }
    }

    /// A routed agent's part of the contact is over (hang-up, transfer):
    /// the router moves them to after-contact work; the record gets their
    /// talk and hold time.
    pub(super) async fn agent_done(&mut self, a: &AgentLeg, at: DateTime<Utc>) {
        if a.connected_at.is_none() || a.third_party.is_some() {
            return;
        }
        self.voice.agent_finished(&a.agent, &self.contact_id);
        self.route(RoutingEvent::ContactEnded {
            contact: self.contact_id.clone(),
        })
        .await;
        if let Some(since) = a.on_hold_since {
            self.ctr.hold_ended(since.elapsed().as_secs_f64());
        }
        self.ctr.agent_left(at);
    }

    /// Ends the call; the first reason given is the one recorded.
    pub(super) fn end(&mut self, reason: switchboard_model::contact_record::DisconnectReason) {
        self.ctr.disconnect_for(reason);
        self.phase = Phase::Ended;
    }

    pub(super) async fn customer_left(&mut self, reason: &str) {
        info!(contact = %self.contact_id, "customer left ({reason})");
        self.end(DisconnectReason::CustomerDisconnect);
    }

    pub(super) async fn agent_left(&mut self) {
        if let Some(a) = &self.agent {
            if a.third_party.is_some() && a.connected_at.is_none() {
                // Busy or unanswered: AgentFailed reports it to the flow.
                return;
            }
        }
        if let Some(continue_flow) = self.agent.as_ref().and_then(|a| a.third_party) {
            // The third party hung up: back to the flow, which goes on or ends.
            self.drop_agent_leg(|_| true);
            self.ctr.third_party_disconnect_timestamp = Some(now());
            self.phase = Phase::InFlow;
            self.waiting = Waiting::Nothing;
            if !continue_flow || self.session.is_none() {
                self.ctr
                    .disconnect_reason
                    .get_or_insert(DisconnectReason::ThirdPartyDisconnect);
            }
            if self.session.is_none() {
                // Transferred by the agent: no flow to go back to.
                self.end(DisconnectReason::ThirdPartyDisconnect);
                return;
            }
            self.feed(Event::TransferEnded);
            return;
        }
        if self.phase == Phase::Bridged {
            self.end(DisconnectReason::AgentDisconnect);
        }
    }

    /// Hangs up what is still up, tells the router, stores the recording
    /// and the final contact record.
    pub(super) async fn finish(&mut self) {
        let ended = now();
        self.ctr.quality = Some(CallQuality {
            customer: self.customer.quality(),
            agent: self
                .agent
                .as_ref()
                .filter(|a| a.connected_at.is_some())
                .map(|a| a.media.quality()),
        });
        let stats = self.voice.stats();
        let counts = std::iter::once((
            self.customer.packets_in,
            self.customer.packets_out,
            self.customer.refused(),
        ))
        .chain(self.agent.as_ref().map(|a| a.media.counts()));
        for (packets_in, packets_out, refused) in counts {
            VoiceStats::add(&stats.rtp_packets_in, packets_in);
            VoiceStats::add(&stats.rtp_packets_out, packets_out);
            VoiceStats::add(&stats.rtp_packets_refused, refused);
        }
        // An Enqueue still on its way to the router must land before the
        // Abandon, or the router would keep a contact nobody handles.
        if let Some(enqueue) = self.enqueue_task.take() {
            let _ = enqueue.await;
        }
        let connected = self
            .agent
            .as_ref()
            .is_some_and(|a| a.connected_at.is_some() && a.third_party.is_none());
        let queued_or_ringing = self.enqueue_sent && !connected && self.ctr.agent.is_none();
        if queued_or_ringing {
            let offered = self.drop_agent_leg(|_| true);
            if let Some(a) = &offered {
                self.stop_ringing(a).await;
            }
            // Refused if the queue had refused the contact: nothing to undo then.
            let abandon = RoutingEvent::Abandon {
                contact: self.contact_id.clone(),
            };
            match self.voice.app().routing.send(abandon).await {
                Ok(updates) => {
                    // The agent accepted just as the caller hung up: the router
                    // had connected them, and now puts them in after-contact work.
                    let accepted = offered.filter(|a| {
                        updates.iter().any(|u| matches!(u, RoutingUpdate::AgentState { agent, state, .. } if *agent == a.agent && *state == switchboard_server::routing::AgentState::AfterContactWork))
                    });
                    if let Some(a) = accepted {
                        self.voice.agent_finished(&a.agent, &self.contact_id);
                        if let Some(line) = a.media.line() {
                            line.put_contact(self.view(CardState::Ended));
                        }
                    }
                }
                Err(e) => tracing::debug!(contact = %self.contact_id, "abandon: {e}"),
            }
            self.ctr.leave_queue(ended);
        }
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.agent_done(&a, ended).await;
            if self.ctr.disconnect_reason != Some(DisconnectReason::AgentDisconnect) {
                self.stop_ringing(&a).await;
            }
        }
        if self.ctr.disconnect_reason != Some(DisconnectReason::CustomerDisconnect) {
            crate::sip::hang_up_once_acknowledged(&self.customer_dialog).await;
        }
        self.store_recording(ended).await;
        // The reason was given when the call began to end (`end`).
        self.ctr.close(ended, DisconnectReason::Other);
        self.save();
        self.voice.app().metrics.contact_ended(&self.ctr);
        self.voice.forget(&self.contact_id, &self.customer_call_id);
        info!(contact = %self.contact_id, reason = ?self.ctr.disconnect_reason, "call ended");
    }
}
