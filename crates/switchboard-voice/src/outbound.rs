//! Calls an agent places from the CCP (Connect's outbound calls).
//!
//! The router is told first (the agent is on the contact at once, counted
//! in their routing profile's default outbound queue), then the number is
//! called through the SIP trunk with the queue's outbound caller ID. While
//! it rings the agent may hang up; once it answers, the call runs as any
//! other with the agent already connected, and is recorded. A call that is
//! not answered still leaves a contact record, and the agent goes to
//! after-contact work, as in Connect.

use std::time::Duration;
use switchboard_runtime::CardState;

use chrono::Utc;
use switchboard_media::g711::Law;
use switchboard_media::sdp::{Direction, RemoteAudio};
use switchboard_model::contact_record::{AgentInfo, Endpoint, QueueInfo};
use switchboard_model::objects::phone_number::parse_e164;
use switchboard_model::objects::routing_profile::Channel;
use switchboard_model::{ContactRecord, PhoneNumber, Queue, RoutingProfile, User};
use switchboard_runtime::routing::RoutingEvent;
use switchboard_store::Record;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::call::{AgentAction, Call, CallInput, NewCall, OutboundAgent, PhoneRoute};
use crate::leg::Leg;
use crate::softphone::ContactView;
use crate::Voice;
use switchboard_model::contact_record::{ContactState, DisconnectReason, InitiationMethod};

/// How long a number may ring before the call is given up.
const RING: Duration = Duration::from_secs(60);

/// A refused dial: the request field at fault and why.
pub type Refusal = (&'static str, String);

/// Places a call from `agent` to `number`; returns the new contact's id.
pub async fn dial(voice: &Voice, agent: &Record<User>, number: &str) -> Result<String, Refusal> {
    let number = parse_e164(number)
        .map_err(|e| ("number", e.to_string()))?
        .number;
    let line = voice
        .softphones()
        .get(&agent.id)
        .filter(|l| l.media_ready())
        .ok_or(("number", "the softphone has no audio path yet".to_string()))?;
    let store = &voice.app().store;
    let profile = store
        .get::<RoutingProfile>(&agent.spec.routing_profile)
        .await
        .map_err(|e| ("number", e.to_string()))?
        .ok_or(("number", "you have no routing profile".to_string()))?;
    let queue = store
        .get::<Queue>(&profile.spec.default_outbound_queue)
        .await
        .map_err(|e| ("number", e.to_string()))?
        .ok_or((
            "number",
            "your routing profile has no outbound queue".to_string(),
        ))?;
    let route = voice
        .route_out(&number)
        .await
        .map_err(|e| ("number", e.to_string()))?;
    let caller_id = match &queue.spec.outbound_caller_id_number {
        Some(n) => Some(match store.get::<PhoneNumber>(n).await {
            Ok(Some(p)) => p.spec.number,
            _ => n.clone(),
        }),
        None => None,
    }
    .or_else(|| route.caller_id.clone());
    let contact = uuid::Uuid::new_v4().to_string();
    voice
        .app()
        .routing
        .send(RoutingEvent::Outbound {
            contact: contact.clone(),
            agent: agent.id.clone(),
            queue: queue.id.clone(),
            channel: Channel::Voice,
        })
        .await
        .map_err(|e| ("number", e.to_string()))?;
    line.put_contact(ContactView {
        contact: contact.clone(),
        channel: switchboard_model::contact_record::Channel::Voice,
        initiation_method: InitiationMethod::Outbound,
        customer: number.clone(),
        queue: Some(queue.spec.name.clone()),
        attributes: Default::default(),
        state: CardState::Dialing,
        muted: false,
        since: Utc::now(),
        chat_token: None,
        desk_phone: false,
    });
    info!(%contact, agent = %agent.spec.username, %number, "calling out");
    let outbound = OutboundAgent {
        agent: agent.id.clone(),
        username: agent.spec.username.clone(),
        line,
        queue: (queue.id.clone(), queue.spec.name.clone()),
    };
    tokio::spawn(ring(
        voice.clone(),
        contact.clone(),
        outbound,
        route,
        number,
        caller_id,
    ));
    Ok(contact)
}

/// Why an outbound call never connected (Connect's disconnect reasons).
enum Failed {
    /// The agent hung up while it rang.
    Cancelled,
    NoAnswer,
    Refused(String),
}

async fn ring(
    voice: Voice,
    contact: String,
    agent: OutboundAgent,
    route: PhoneRoute,
    number: String,
    caller_id: Option<String>,
) {
    let (inputs_tx, mut inputs) = mpsc::unbounded_channel();
    voice.track_call(&contact, inputs_tx);
    let sip_call_id = format!("{}@switchboard", uuid::Uuid::new_v4().simple());
    let started = Utc::now();
    let outcome = async {
        let media_ip = voice.media_ip_for(route.destination.ip());
        let mut leg = Leg::bind(media_ip, voice.config().rtp_ports)
            .await
            .map_err(|e| Failed::Refused(format!("RTP socket: {e}")))?;
        // A trunk over TLS is offered SRTP, best effort.
        leg.set_peer(crate::leg::MediaPeer {
            signalling: Some(route.destination.ip()),
            strict: false,
            private: route.transport == crate::registrar::Transport::Tls,
        });
        let offer = leg.offer(&[Law::MuLaw, Law::ALaw], Direction::SendRecv);
        let shown = caller_id.clone().unwrap_or_else(|| "anonymous".into());
        let option = route.invite(&voice, shown, offer, &sip_call_id);
        voice.bind_call_id(&sip_call_id, &contact);
        let invite = crate::call::invite(&voice, option, &route.fallbacks);
        tokio::pin!(invite);
        let deadline = tokio::time::sleep(RING);
        tokio::pin!(deadline);
        let mut gave_up: Option<Failed> = None;
        let answer = loop {
            tokio::select! {
                answer = &mut invite => break answer,
                _ = &mut deadline, if gave_up.is_none() => {
                    gave_up = Some(Failed::NoAnswer);
                    voice.cancel_invite(&sip_call_id).await;
                }
                input = inputs.recv(), if gave_up.is_none() => {
                    if let Some(CallInput::Agent { action: AgentAction::End, .. }) = input {
                        gave_up = Some(Failed::Cancelled);
                        voice.cancel_invite(&sip_call_id).await;
                    }
                }
            }
        };
        let (dialog, response) = match answer {
            Ok((dialog, Some(r)))
                if r.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful =>
            {
                (dialog, r)
            }
            Ok((_, r)) => {
                return Err(gave_up.unwrap_or_else(|| {
                    Failed::Refused(
                        r.map(|r| r.status_code.to_string())
                            .unwrap_or_else(|| "no answer".into()),
                    )
                }))
            }
            Err(e) => return Err(gave_up.unwrap_or(Failed::Refused(e.to_string()))),
        };
        if let Some(failed) = gave_up {
            // Answered just as we gave up: hang up.
            let _ = dialog.bye().await;
            return Err(failed);
        }
        match RemoteAudio::parse(&response.body).and_then(|r| leg.negotiated(&r).map(|n| (r, n))) {
            Ok((remote, negotiated)) => leg.connect(&remote, negotiated),
            Err(e) => {
                let _ = dialog.bye().await;
                return Err(Failed::Refused(format!("unusable SDP answer: {e}")));
            }
        }
        Ok((dialog, leg))
    }
    .await;
    match outcome {
        Ok((dialog, leg)) => {
            info!(%contact, %number, "the called number answered");
            let customer_dialog = dialog.clone();
            let task = tokio::spawn(Call::run(
                voice.clone(),
                NewCall {
                    contact_id: contact.clone(),
                    customer_call_id: sip_call_id.clone(),
                    customer_dialog: dialog,
                    customer: leg,
                    inputs,
                    flow: None,
                    flow_id: None,
                    customer_number: number,
                    session_seconds: None,
                    system_number: caller_id.unwrap_or_default(),
                    outbound: Some(agent),
                },
            ));
            if let Err(e) = task.await {
                voice
                    .call_task_failed(&contact, &sip_call_id, &customer_dialog, e)
                    .await;
            }
        }
        Err(failed) => {
            let reason = match &failed {
                Failed::Cancelled => DisconnectReason::AgentDisconnect,
                Failed::NoAnswer => DisconnectReason::OutboundAttemptFailed,
                Failed::Refused(why) => {
                    warn!(%contact, %number, "the outbound call failed: {why}");
                    DisconnectReason::OutboundDestinationEndpointError
                }
            };
            never_connected(
                &voice, &contact, &agent, started, &number, caller_id, reason,
            )
            .await;
            voice.forget(&contact, &sip_call_id);
        }
    }
}

/// An outbound call that never connected: the agent moves to after-contact
/// work and the attempt is recorded.
async fn never_connected(
    voice: &Voice,
    contact: &str,
    agent: &OutboundAgent,
    started: chrono::DateTime<Utc>,
    number: &str,
    caller_id: Option<String>,
    reason: switchboard_model::contact_record::DisconnectReason,
) {
    let ended = Utc::now();
    voice.agent_finished(&agent.agent, contact);
    if let Err(e) = voice
        .app()
        .routing
        .send(RoutingEvent::ContactEnded {
            contact: contact.to_string(),
        })
        .await
    {
        warn!(%contact, "routing: {e}");
    }
    agent.line.set_contact_state(contact, CardState::Ended);
    let record = ContactRecord {
        id: contact.to_string(),
        channel: switchboard_model::contact_record::Channel::Voice,
        initiation_method: InitiationMethod::Outbound,
        initiation_timestamp: started,
        customer_endpoint: Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: number.to_string(),
        },
        system_endpoint: Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: caller_id.unwrap_or_default(),
        },
        queue: Some(QueueInfo {
            id: agent.queue.0.clone(),
            name: agent.queue.1.clone(),
            enqueue_timestamp: started,
            dequeue_timestamp: Some(started),
            duration_seconds: Some(0.0),
        }),
        agent: Some(AgentInfo {
            id: agent.agent.clone(),
            username: agent.username.clone(),
            routing_profile: voice.app().routing_profile_of(&agent.agent).await,
            connected_to_agent_timestamp: started,
            ..Default::default()
        }),
        disconnect_timestamp: Some(ended),
        disconnect_reason: Some(reason),
        state: ContactState::Ended,
        ..Default::default()
    };
    if let Err(e) = voice.app().store.put_contact(&record).await {
        warn!(%contact, "contact record not written: {e}");
    }
    let metrics = &voice.app().metrics;
    metrics.contact_started(record.channel, record.initiation_method);
    metrics.contact_ended(&record);
}
