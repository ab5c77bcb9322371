//! What a call starts with ([`NewCall`]) and the contact it opens: an
//! inbound call in its flow, or an agent's outbound call with the agent on
//! it from the first moment.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rsipstack::dialog::invite_dialog::InviteDialog;
use switchboard_contact::{Contact, ContactInit, Outbound};
use switchboard_flow::model::Participant;
use switchboard_flow::ContactData;
use switchboard_model::contact_record::{AgentInfo, Endpoint, InitiationMethod, RoutingProfileRef};
use switchboard_model::objects::routing_profile::Channel;
use tokio::sync::mpsc;

use super::CallInput;
use crate::leg::Leg;
use crate::softphone::Line;

/// A call answered by the SIP side, to be run.
pub struct NewCall {
    pub contact_id: String,
    pub customer_call_id: String,
    pub customer_dialog: InviteDialog,
    pub customer: Leg,
    pub inputs: mpsc::UnboundedReceiver<CallInput>,
    /// The flow the call starts in (none for an agent's outbound call).
    pub flow: Option<Arc<switchboard_flow::Flow>>,
    pub flow_id: Option<String>,
    pub customer_number: String,
    /// The session-timer interval agreed with the caller (RFC 4028).
    pub session_seconds: Option<u32>,
    pub system_number: String,
    /// An agent's outbound call: the agent, connected from the start.
    pub outbound: Option<OutboundAgent>,
}

/// The agent who placed an outbound call, and the queue it counts in (id, name).
pub struct OutboundAgent {
    pub agent: String,
    pub username: String,
    pub line: Arc<crate::softphone::Line>,
    pub queue: (String, String),
}

/// The contact core for `new`, begun at `started_at` (the flow and the
/// outbound agent are taken from `new`; `routing_profile` is that agent's),
/// and the browser line of the agent who placed the call, if an agent did.
pub(super) fn open_contact(
    new: &mut NewCall,
    routing_profile: Option<RoutingProfileRef>,
    started_at: DateTime<Utc>,
    streaming: bool,
) -> (Contact, Option<Arc<Line>>) {
    let initiation_method = if new.outbound.is_some() {
        InitiationMethod::Outbound
    } else {
        InitiationMethod::Inbound
    };
    let mut data = ContactData::voice(&new.contact_id, &new.customer_number, &new.system_number);
    data.media_streaming_available = streaming;
    let mut outbound_line = None;
    let outbound = match new.outbound.take() {
        Some(o) => {
            // Outbound calls are recorded, both sides.
            data.recording = vec![Participant::Agent, Participant::Customer];
            outbound_line = Some(o.line);
            Some(Outbound {
                agent: AgentInfo {
                    id: o.agent,
                    username: o.username,
                    routing_profile,
                    ..Default::default()
                },
                queue: o.queue,
            })
        }
        None => None,
    };
    let telephone = |address: &str| Endpoint {
        kind: "TELEPHONE_NUMBER".into(),
        address: address.to_string(),
    };
    let core = Contact::new(
        ContactInit {
            id: new.contact_id.clone(),
            channel: Channel::Voice,
            initiation_method,
            customer_endpoint: telephone(&new.customer_number),
            customer_name: None,
            system_endpoint: telephone(&new.system_number),
            data,
            flow: new.flow.take(),
            flow_id: new.flow_id.take(),
            outbound,
            seed: rand::random(),
            initial_message: None,
        },
        started_at,
    );
    (core, outbound_line)
}
