//! The contact record: what happened to one contact, modelled on Amazon
//! Connect's contact trace record (CTR). Channels write it at every change
//! of state, so a crash loses at most the step in progress.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::objects::routing_profile::Channel;

/// Defines a fieldless enum written in Connect's SCREAMING_SNAKE_CASE, with
/// `as_str` (for SQL parameters and CSV) and `Display` giving that name.
macro_rules! connect_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Connect's name for the value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

connect_enum! {
    /// How the contact began (Connect's `InitiationMethod`).
    #[derive(Default)]
    InitiationMethod {
        /// A customer called or started a chat.
        #[default]
        Inbound => "INBOUND",
        /// An agent called out from the CCP.
        Outbound => "OUTBOUND",
        /// An agent or a flow transferred an earlier contact here.
        Transfer => "TRANSFER",
        /// Started through the API (a chat from the widget).
        Api => "API",
    }
}

connect_enum! {
    /// Why the contact ended (Connect's `DisconnectReason`).
    DisconnectReason {
        /// The customer hung up or left the chat.
        CustomerDisconnect => "CUSTOMER_DISCONNECT",
        /// The agent hung up or ended the chat.
        AgentDisconnect => "AGENT_DISCONNECT",
        /// The third party of a transfer hung up.
        ThirdPartyDisconnect => "THIRD_PARTY_DISCONNECT",
        /// The flow ended the contact (a Disconnect block, or its end).
        ContactFlowDisconnect => "CONTACT_FLOW_DISCONNECT",
        /// The call's media or signalling was lost.
        TelecomProblem => "TELECOM_PROBLEM",
        /// Switchboard failed (or died) while the contact was going.
        SystemError => "SYSTEM_ERROR",
        /// The chat customer stayed silent past the idle limit.
        CustomerIdle => "CUSTOMER_IDLE",
        /// The chat reached its longest allowed life.
        Expired => "EXPIRED",
        /// The contact went on as a new contact (a transfer).
        Transferred => "TRANSFERRED",
        /// An agent's outbound call was not answered.
        OutboundAttemptFailed => "OUTBOUND_ATTEMPT_FAILED",
        /// An agent's outbound call was refused by the far end or the trunk.
        OutboundDestinationEndpointError => "OUTBOUND_DESTINATION_ENDPOINT_ERROR",
        /// A reason this version does not know (written by another one).
        #[serde(other)]
        Other => "OTHER",
    }
}

connect_enum! {
    /// Where a contact record stands.
    #[derive(Default)]
    ContactState {
        /// Running its flow.
        #[default]
        InFlow => "IN_FLOW",
        /// Waiting in a queue for an agent.
        Queued => "QUEUED",
        /// With an agent.
        Connected => "CONNECTED",
        /// Over: `disconnect_timestamp` and `disconnect_reason` are set.
        Ended => "ENDED",
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContactRecord {
    pub id: String,
    pub channel: Channel,
    pub initiation_method: InitiationMethod,
    /// The contact this one continues (an agent transferred it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_contact_id: Option<String>,
    /// The contact that continued this one (the agent transferred it on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_contact_id: Option<String>,
    pub initiation_timestamp: DateTime<Utc>,
    /// When the call was answered by Switchboard (the flow started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_to_system_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_timestamp: Option<DateTime<Utc>>,
    /// Why it ended; the first reason written wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<DisconnectReason>,
    /// The caller (voice: an E.164 number or a SIP URI user part).
    pub customer_endpoint: Endpoint,
    /// The name the customer gave (a chat's display name), where there is
    /// no number to know them by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// The number dialled.
    pub system_endpoint: Endpoint,
    /// Where the flow or the agent transferred the customer (an external number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_to_endpoint: Option<Endpoint>,
    /// When that number answered: the third party's leg (metered as an
    /// outbound call) runs from here to their hang-up or the disconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_completed_timestamp: Option<DateTime<Utc>>,
    /// When that number hung up, if the flow went on after it (otherwise
    /// its leg ends with the contact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_disconnect_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// The actions the contact went through, in order, with the branch taken.
    #[serde(default)]
    pub flow_path: Vec<FlowStep>,
    /// Keypad input collected by the flow, in order.
    #[serde(default)]
    pub dtmf_inputs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The contact's name, set by the flow (UpdateContactData).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its description, set by the flow (UpdateContactData).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// References (name to value: a URL, a ticket number), set by the flow
    /// (UpdateContactData).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub references: BTreeMap<String, String>,
    /// User-defined tags (TagContact, UntagContact); contacts are searched by them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The number a callback would ring, in E.164 form (UpdateContactCallbackNumber).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_callback_number: Option<String>,
    /// The customer's id in the company's own systems (UpdateContactData).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingInfo>,
    /// Chat: the transcript kept at the end of the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<TranscriptInfo>,
    /// Voice: how each leg's audio arrived (from RTP and RTCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<CallQuality>,
    /// Where this record stands.
    pub state: ContactState,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    /// `TELEPHONE_NUMBER` or `SIP_URI`.
    #[serde(rename = "type")]
    pub kind: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlowStep {
    pub action: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub branch: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueInfo {
    pub id: String,
    pub name: String,
    pub enqueue_timestamp: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dequeue_timestamp: Option<DateTime<Utc>>,
    /// Seconds in queue, once dequeued (answered or abandoned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentInfo {
    pub id: String,
    pub username: String,
    /// The agent's routing profile when they were connected (reports group
    /// by it, whatever profile the agent has later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_profile: Option<RoutingProfileRef>,
    /// The external number the agent took the call on (a desk phone on the
    /// public network): their leg is metered as an outbound call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_number: Option<String>,
    pub connected_to_agent_timestamp: DateTime<Utc>,
    #[serde(default)]
    pub talk_duration_seconds: f64,
    #[serde(default)]
    pub hold_count: u32,
    #[serde(default)]
    pub hold_duration_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_start_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_end_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_contact_work_duration_seconds: Option<f64>,
    /// Offers this agent missed before answering are not counted here; see
    /// the routing log.
    #[serde(default)]
    pub number_of_offers: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoutingProfileRef {
    pub id: String,
    pub name: String,
}

/// Where a chat's transcript (Connect's JSON shape) was stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TranscriptInfo {
    /// Object-storage key of the transcript JSON.
    pub location: String,
    /// Messages in it (not counting joins, receipts and other events).
    pub message_count: u64,
    /// `AVAILABLE`, or `FAILED` with the reason in `status_reason`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordingInfo {
    /// Object-storage key of the stereo WAV (customer left, agent right).
    pub location: String,
    pub duration_seconds: f64,
    /// `AVAILABLE`, or `FAILED` with the reason in `status_reason`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallQuality {
    pub customer: LegQuality,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<LegQuality>,
}

/// One leg's audio: what reached Switchboard, and what the far end reported
/// of Switchboard's audio (RTCP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LegQuality {
    pub packets_received: u64,
    pub packets_lost: u64,
    /// Interarrival jitter (RFC 3550 A.8), milliseconds.
    pub jitter_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_reported_loss_percent: Option<f64>,
}

/// Why a contact ended when the process that ran it died (Connect's reason
/// for a contact the service itself dropped).
pub const LOST_IN_RESTART: DisconnectReason = DisconnectReason::SystemError;

/// The record rules every channel follows, as plain functions of the record
/// and the time: the shells (calls, chats) say what happened and when, and
/// the record is kept the same way for all of them.
impl ContactRecord {
    /// The contact starts waiting in a queue at `at`.
    pub fn enter_queue(&mut self, id: String, name: String, at: DateTime<Utc>) {
        self.state = ContactState::Queued;
        self.queue = Some(QueueInfo {
            id,
            name,
            enqueue_timestamp: at,
            ..Default::default()
        });
    }

    /// The contact leaves its queue at `at` (answered or abandoned): the
    /// wait is counted up to then.
    pub fn leave_queue(&mut self, at: DateTime<Utc>) {
        if let Some(q) = &mut self.queue {
            q.dequeue_timestamp = Some(at);
            q.duration_seconds = Some(seconds(q.enqueue_timestamp, at));
        }
    }

    /// An agent takes the contact at `at`: the queue wait ends, and the
    /// offers made before (to agents who missed them) are counted with this
    /// one. `agent` says who; its times and counts are set here.
    pub fn connect_agent(&mut self, agent: AgentInfo, at: DateTime<Utc>) {
        self.leave_queue(at);
        let number_of_offers = self.agent.as_ref().map_or(0, |a| a.number_of_offers) + 1;
        self.agent = Some(AgentInfo {
            connected_to_agent_timestamp: at,
            number_of_offers,
            talk_duration_seconds: 0.0,
            hold_count: 0,
            hold_duration_seconds: 0.0,
            ..agent
        });
        self.state = ContactState::Connected;
    }

    /// The agent put the customer on hold.
    pub fn hold_started(&mut self) {
        if let Some(agent) = &mut self.agent {
            agent.hold_count += 1;
        }
    }

    /// A hold that began at `since` ended at `at`.
    pub fn hold_ended(&mut self, since: DateTime<Utc>, at: DateTime<Utc>) {
        if let Some(agent) = &mut self.agent {
            agent.hold_duration_seconds += seconds(since, at);
        }
    }

    /// The agent's part ended at `at`: talk time is the time connected less
    /// the time on hold.
    pub fn agent_left(&mut self, at: DateTime<Utc>) {
        if let Some(agent) = &mut self.agent {
            let total = seconds(agent.connected_to_agent_timestamp, at);
            agent.talk_duration_seconds = (total - agent.hold_duration_seconds).max(0.0);
        }
    }

    /// Notes why the contact ends; the first reason given is the one kept.
    pub fn disconnect_for(&mut self, reason: DisconnectReason) {
        self.disconnect_reason.get_or_insert(reason);
    }

    /// The contact ends at `at` (its reason given before, or `reason`).
    pub fn close(&mut self, at: DateTime<Utc>, reason: DisconnectReason) {
        self.disconnect_for(reason);
        self.disconnect_timestamp = Some(at);
        self.state = ContactState::Ended;
    }

    /// An agent transferred the customer to a queue at `at`: this contact
    /// ends (for `reason`), pointing at `next`, and the customer goes on as
    /// the returned contact, waiting in the queue and pointing back here. The
    /// next contact keeps the channel, endpoints, flow and attributes.
    pub fn transfer_to_queue(
        &mut self,
        next: String,
        queue: (String, String),
        at: DateTime<Utc>,
        reason: DisconnectReason,
    ) -> ContactRecord {
        self.next_contact_id = Some(next.clone());
        self.close(at, reason);
        let mut continued = ContactRecord {
            id: next,
            channel: self.channel,
            initiation_method: InitiationMethod::Transfer,
            previous_contact_id: Some(self.id.clone()),
            initiation_timestamp: at,
            connected_to_system_timestamp: Some(at),
            customer_endpoint: self.customer_endpoint.clone(),
            system_endpoint: self.system_endpoint.clone(),
            flow_id: self.flow_id.clone(),
            attributes: self.attributes.clone(),
            ..Default::default()
        };
        continued.enter_queue(queue.0, queue.1, at);
        continued
    }

    /// Whether the contact is still going (not yet `ENDED`).
    pub fn is_open(&self) -> bool {
        self.state != ContactState::Ended
    }

    /// Closes a contact whose process died while it was going (in a flow,
    /// queued, with an agent): found open at the next start, at `now`.
    /// What the record already says is kept (a reason or time written just
    /// before the crash); what was still running ends now: the queue wait,
    /// the agent's talk. Returns false for a record already ended.
    pub fn close_lost(&mut self, now: DateTime<Utc>) -> bool {
        if !self.is_open() {
            return false;
        }
        let ended = *self.disconnect_timestamp.get_or_insert(now);
        self.disconnect_reason.get_or_insert(LOST_IN_RESTART);
        self.state = ContactState::Ended;
        if self
            .queue
            .as_ref()
            .is_some_and(|q| q.dequeue_timestamp.is_none())
        {
            self.leave_queue(ended);
        }
        if let Some(agent) = &mut self.agent {
            if agent.talk_duration_seconds == 0.0 {
                agent.talk_duration_seconds = seconds(agent.connected_to_agent_timestamp, ended);
            }
        }
        true
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn an_answered_contact_counts_its_wait_offers_holds_and_talk() {
        let mut r = ContactRecord::default();
        r.enter_queue("q".into(), "Sales".into(), at(10));
        assert_eq!(r.state, ContactState::Queued);
        // A first agent missed the offer: counted when someone answers.
        r.agent = Some(AgentInfo {
            number_of_offers: 1,
            ..Default::default()
        });
        r.connect_agent(
            AgentInfo {
                id: "a".into(),
                username: "ana".into(),
                ..Default::default()
            },
            at(40),
        );
        assert_eq!(r.state, ContactState::Connected);
        let q = r.queue.as_ref().unwrap();
        assert_eq!(
            (q.dequeue_timestamp, q.duration_seconds),
            (Some(at(40)), Some(30.0))
        );
        let a = r.agent.as_ref().unwrap();
        assert_eq!((a.username.as_str(), a.number_of_offers), ("ana", 2));
        r.hold_started();
        r.hold_ended(at(50), at(65));
        r.agent_left(at(100));
        let a = r.agent.as_ref().unwrap();
        assert_eq!((a.hold_count, a.hold_duration_seconds), (1, 15.0));
        assert_eq!(a.talk_duration_seconds, 45.0);
    }

    #[test]
    fn the_first_disconnect_reason_wins() {
        let mut r = ContactRecord::default();
        r.disconnect_for(DisconnectReason::AgentDisconnect);
        r.close(at(5), DisconnectReason::CustomerDisconnect);
        assert_eq!(r.disconnect_reason, Some(DisconnectReason::AgentDisconnect));
        assert_eq!(r.disconnect_timestamp, Some(at(5)));
        assert_eq!(r.state, ContactState::Ended);
    }

    #[test]
    fn a_transfer_to_a_queue_links_both_contacts_and_the_next_waits() {
        let mut r = ContactRecord {
            id: "first".into(),
            channel: Channel::Chat,
            flow_id: Some("f".into()),
            customer_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: "+447700900123".into(),
            },
            ..Default::default()
        };
        r.attributes.insert("tier".into(), "gold".into());
        let next = r.transfer_to_queue(
            "second".into(),
            ("q2".into(), "Billing".into()),
            at(60),
            DisconnectReason::Transferred,
        );
        assert_eq!(r.next_contact_id.as_deref(), Some("second"));
        assert_eq!(r.state, ContactState::Ended);
        assert_eq!(r.disconnect_reason, Some(DisconnectReason::Transferred));
        assert_eq!(next.previous_contact_id.as_deref(), Some("first"));
        assert_eq!(next.initiation_method, InitiationMethod::Transfer);
        assert_eq!(next.state, ContactState::Queued);
        assert_eq!(next.channel, Channel::Chat);
        assert_eq!(next.flow_id.as_deref(), Some("f"));
        assert_eq!(next.customer_endpoint.address, "+447700900123");
        assert_eq!(next.attributes["tier"], "gold");
        let q = next.queue.as_ref().unwrap();
        assert_eq!((q.name.as_str(), q.enqueue_timestamp), ("Billing", at(60)));
    }

    #[test]
    fn a_contact_lost_in_a_flow_ends_as_a_system_error_at_recovery() {
        let mut r = ContactRecord {
            id: "c".into(),
            state: ContactState::InFlow,
            initiation_timestamp: at(0),
            ..Default::default()
        };
        assert!(r.close_lost(at(30)));
        assert_eq!(r.state, ContactState::Ended);
        assert_eq!(r.disconnect_reason, Some(DisconnectReason::SystemError));
        assert_eq!(r.disconnect_timestamp, Some(at(30)));
        assert!(!r.close_lost(at(40)), "an ended record is left alone");
        assert_eq!(r.disconnect_timestamp, Some(at(30)));
    }

    #[test]
    fn a_queued_contact_leaves_its_queue_and_a_connected_one_its_agent() {
        let mut r = ContactRecord {
            state: ContactState::Connected,
            queue: Some(QueueInfo {
                enqueue_timestamp: at(10),
                ..Default::default()
            }),
            agent: Some(AgentInfo {
                connected_to_agent_timestamp: at(20),
                ..Default::default()
            }),
            ..Default::default()
        };
        r.close_lost(at(20) + Duration::milliseconds(12_500));
        let q = r.queue.as_ref().unwrap();
        assert_eq!(q.duration_seconds, Some(22.5));
        assert_eq!(r.agent.as_ref().unwrap().talk_duration_seconds, 12.5);
    }

    #[test]
    fn what_was_written_before_the_crash_is_kept() {
        let mut r = ContactRecord {
            state: ContactState::Connected,
            disconnect_timestamp: Some(at(5)),
            disconnect_reason: Some(DisconnectReason::CustomerDisconnect),
            ..Default::default()
        };
        r.close_lost(at(99));
        assert_eq!(r.disconnect_timestamp, Some(at(5)));
        assert_eq!(
            r.disconnect_reason,
            Some(DisconnectReason::CustomerDisconnect)
        );
    }
}
