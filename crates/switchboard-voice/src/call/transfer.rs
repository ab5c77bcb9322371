//! Transfers an agent starts: to an external number (cold) or to a queue
//! (the call goes on as a new contact, linked to this one both ways).

use super::*;

impl Call {
    /// The agent hands the caller to an external number and moves on to
    /// after-contact work; the caller hears music until the number answers.
    pub(super) async fn cold_transfer(&mut self, number: String) {
        let route = match self.voice.route_out(&number).await {
            Ok(route) => route,
            Err(e) => {
                warn!(contact = %self.contact_id, %number, "transfer not possible: {e}");
                return;
            }
        };
        info!(contact = %self.contact_id, %number, "the agent transfers the caller");
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.agent_done(&a, now()).await;
            self.stop_ringing(&a).await;
        }
        self.phase = Phase::InFlow;
        self.playout
            .play(vec![self.voice.library().hold_music()], true);
        let who = format!("third-party:{number}");
        let ring = Duration::from_secs(AGENT_RING_SECONDS);
        if let Err(e) = self.dial(who, number, route, ring, None, Some(false)).await {
            warn!(contact = %self.contact_id, "transfer: {e}");
            self.end(DisconnectReason::ThirdPartyDisconnect);
        }
    }

    /// The agent puts the caller in a queue and moves on to after-contact
    /// work. As in Connect, the queued part is a new contact (initiation
    /// TRANSFER) linked both ways to this one, which ends here.
    pub(super) async fn transfer_to_queue(&mut self, queue_id: String, queue_name: String) {
        let next = uuid::Uuid::new_v4().to_string();
        // Routing decisions for the new contact must reach this call from
        // the moment it is queued: the call answers to both ids until the switch.
        self.voice.also_route(&self.contact_id, &next);
        let enqueue = RoutingEvent::Enqueue {
            contact: next.clone(),
            queue: queue_id.clone(),
            channel: Channel::Voice,
            priority: 5,
            time_adjustment_seconds: 0,
        };
        let refused = match self.voice.app().routing.send(enqueue).await {
            Ok(updates) => updates.into_iter().find_map(|u| match u {
                RoutingUpdate::Refused { contact, reason } if contact == next => {
                    Some((reason.to_string(), reason == Refusal::QueueAtCapacity))
                }
                _ => None,
            }),
            Err(e) => Some((e.to_string(), false)),
        };
        if let Some((reason, full)) = refused {
            self.voice.forget_id(&next);
            warn!(contact = %self.contact_id, queue = %queue_name, "transfer refused: {reason}");
            if let Some(line) = self.agent.as_ref().and_then(|a| a.media.line()) {
                let why = if full {
                    "is full"
                } else {
                    "cannot take contacts"
                };
                line.notice(format!("Not transferred: {queue_name} {why}."));
            }
            return;
        }
        info!(contact = %self.contact_id, next = %next, queue = %queue_name, "the agent transfers the caller to a queue");
        let ended = now();
        let agent_quality = self.agent.as_ref().map(|a| a.media.quality());
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.agent_done(&a, ended).await;
            self.stop_ringing(&a).await;
        }
        // This contact ends here, pointing at the next.
        self.store_recording(ended).await;
        self.ctr.quality = Some(CallQuality {
            customer: self.customer.quality(),
            agent: agent_quality,
        });
        self.ctr.attributes = self.contact.attributes.clone();
        let continued = self.ctr.transfer_to_queue(
            next.clone(),
            (queue_id, queue_name),
            ended,
            DisconnectReason::AgentDisconnect,
        );
        self.save();
        self.voice.app().metrics.contact_ended(&self.ctr);
        // The caller goes on as the next contact, waiting in the queue.
        let previous = std::mem::replace(&mut self.contact_id, next.clone());
        self.voice.switch_id(&previous, &next);
        self.ctr = continued;
        self.voice
            .app()
            .metrics
            .contact_started(self.ctr.channel, InitiationMethod::Transfer);
        self.contact.contact_id = next;
        self.contact.initiation_method = InitiationMethod::Transfer.as_str().into();
        self.phase = Phase::Queued;
        self.session = None;
        self.collector = None;
        self.early_offer = None;
        self.enqueue_sent = true;
        self.waiting = Waiting::Nothing;
        self.records.record(&self.ctr);
        self.start_queue_audio();
    }
}
