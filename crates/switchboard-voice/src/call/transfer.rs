//! Transfers an agent starts: to an external number (cold) or to a queue
//! (the call goes on as a new contact, linked to this one both ways: the
//! contact core keeps the records).

use super::*;
use std::time::Duration;

use switchboard_contact::Input;
use switchboard_model::contact_record::{DisconnectReason, InitiationMethod};
use switchboard_model::objects::routing_profile::Channel;
use switchboard_routing::Refusal;
use switchboard_runtime::routing::{RoutingEvent, RoutingUpdate};
use tracing::{info, warn};

impl Call {
    /// The agent hands the caller to an external number and moves on to
    /// after-contact work; the caller hears music until the number answers.
    pub(super) async fn cold_transfer(&mut self, number: String) {
        let route = match self.voice.route_out(&number).await {
            Ok(route) => route,
            Err(e) => {
                warn!(contact = %self.core.id(), %number, "transfer not possible: {e}");
                return;
            }
        };
        info!(contact = %self.core.id(), %number, "the agent transfers the caller");
        // The agent's leg goes first (the core's AgentDone), then the number is dialled.
        self.tell(Input::ColdTransfer).await;
        self.play_music();
        let who = format!("third-party:{number}");
        let ring = Duration::from_secs(AGENT_RING_SECONDS);
        if let Err(e) = self
            .dial(who, number, vec![route], ring, None, Some(false))
            .await
        {
            warn!(contact = %self.core.id(), "transfer: RTP socket: {e}");
            self.tell(Input::ThirdPartyFailed { no_answer: false })
                .await;
        }
    }

    /// The agent puts the caller in a queue and moves on to after-contact
    /// work. Routing takes the next contact first; if it refuses, the agent
    /// is told why and the call stays as it is.
    pub(super) async fn transfer_to_queue(&mut self, queue_id: String, queue_name: String) {
        let previous = self.id();
        let next = uuid::Uuid::new_v4().to_string();
        // Routing decisions for the new contact must reach this call from
        // the moment it is queued: the call answers to both ids until the switch.
        self.voice.also_route(&previous, &next);
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
            warn!(contact = %previous, queue = %queue_name, "transfer refused: {reason}");
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
        info!(contact = %previous, next = %next, queue = %queue_name, "the agent transfers the caller to a queue");
        self.core.handle(
            self.at,
            Input::TransferredToQueue {
                next: next.clone(),
                queue: (queue_id, queue_name),
                reason: DisconnectReason::AgentDisconnect,
            },
        );
        self.voice.switch_id(&previous, &next);
        self.voice
            .app()
            .metrics
            .contact_started(Channel::Voice, InitiationMethod::Transfer);
        self.drive().await;
    }
}
