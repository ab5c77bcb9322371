//! The chat transcript in the shape of Amazon Connect's (the JSON Connect
//! writes to S3 and returns from GetTranscript): one entry per item, with
//! joins, departures, receipts and the end as `EVENT` entries named by
//! Connect's content types.

use serde::Serialize;

use crate::room::{ChatRoom, Item, ItemKind, ReceiptKind, Role};

/// A chat's transcript in Connect's shape (PascalCase fields).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Transcript {
    /// The transcript format's version: always `2019-08-26`.
    pub version: &'static str,
    /// The chat's id ([`ChatRoom::id`]).
    pub contact_id: String,
    /// One entry per item kept, in order.
    pub transcript: Vec<Entry>,
}

/// One item of the transcript.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    /// The item's id ([`Item::id`]).
    pub id: String,
    /// `MESSAGE` or `EVENT`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// When, in RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.000Z`).
    pub absolute_time: String,
    /// A message's content type, or for an event Connect's event type, e.g.
    /// `application/vnd.amazonaws.connect.event.participant.joined`.
    pub content_type: String,
    /// The message text; for a receipt the id of the message, for the end
    /// its reason; absent for joins and departures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Who it is from; empty for Switchboard's own items.
    pub participant_id: String,
    /// Their name when the item was kept.
    pub display_name: String,
    /// Their role (`CUSTOMER`, `AGENT` or `SYSTEM`).
    pub participant_role: Role,
}

const EVENT: &str = "application/vnd.amazonaws.connect.event";

fn entry(contact: &ChatRoom, item: &Item) -> Entry {
    let (kind, content_type, content) = match &item.kind {
        ItemKind::Message {
            content_type,
            content,
        } => ("MESSAGE", content_type.clone(), Some(content.clone())),
        ItemKind::Joined => ("EVENT", format!("{EVENT}.participant.joined"), None),
        ItemKind::Left => ("EVENT", format!("{EVENT}.participant.left"), None),
        ItemKind::Receipt { kind, message } => (
            "EVENT",
            match kind {
                ReceiptKind::Delivered => format!("{EVENT}.message.delivered"),
                ReceiptKind::Read => format!("{EVENT}.message.read"),
            },
            Some(format!("{}-{message}", contact.id())),
        ),
        ItemKind::Ended { reason } => {
            ("EVENT", format!("{EVENT}.chat.ended"), Some(reason.clone()))
        }
    };
    Entry {
        id: item.id.clone(),
        kind,
        absolute_time: chrono::DateTime::from_timestamp_millis(item.at_ms as i64)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        content_type,
        content,
        participant_id: item.participant_id.clone(),
        display_name: item.display_name.clone(),
        participant_role: item.role,
    }
}

impl ChatRoom {
    /// Everything kept, as Connect's transcript JSON.
    pub fn transcript(&self) -> Transcript {
        Transcript {
            version: "2019-08-26",
            contact_id: self.id().to_string(),
            transcript: self.items().iter().map(|i| entry(self, i)).collect(),
        }
    }
}
