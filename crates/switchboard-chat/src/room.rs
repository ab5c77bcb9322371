//! One chat contact: who takes part and everything said, in order.
//!
//! Every item kept (message, join, leave, receipt, end) gets the next
//! sequence number and an id derived from it; a client that lost its
//! connection asks for [`ChatRoom::since`] its last sequence and gets exactly
//! what it missed. A message sent again with the same client token (a
//! client retrying after a drop) returns the item already kept instead of a
//! second one. Typing is passed on but never kept. Time comes in as Unix
//! milliseconds; [`ChatRoom::tick`] runs the idle and duration rules.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::limits::{Bucket, Limits};

/// A participant's part in the chat, as Connect's participant roles
/// (`CUSTOMER`, `AGENT`, `SYSTEM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// The person who started the chat. Their leaving ends it, and the idle
    /// rules wait for their replies.
    Customer,
    /// An agent. Their message starts the customer's idle clock.
    Agent,
    /// The flow, a bot, or Switchboard itself.
    System,
}

/// Which receipt a participant sends for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReceiptKind {
    /// The message reached the participant.
    Delivered,
    /// The participant read the message; a delivery receipt after it is not
    /// kept.
    Read,
}

/// What an item is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemKind {
    /// A message a participant sent, or one of Switchboard's idle texts.
    Message {
        /// `text/plain` or `text/markdown`.
        content_type: String,
        /// The text as sent.
        content: String,
    },
    /// The item's participant joined, or joined again after leaving.
    Joined,
    /// The item's participant left; after the customer, an `Ended` item follows.
    Left,
    /// `message` is the sequence of the message received or read.
    Receipt {
        /// Whether the message was delivered or read.
        kind: ReceiptKind,
        /// The [`Item::seq`] of the message.
        message: u64,
    },
    /// The chat ended; `reason` is a contact record disconnect reason.
    Ended {
        /// `CUSTOMER_DISCONNECT`, `CUSTOMER_IDLE`, `EXPIRED`, or the reason given
        /// to [`ChatRoom::end`].
        reason: String,
    },
}

/// One thing kept in the chat, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// `{chat id}-{seq}`; transcripts use it as the item's id.
    pub id: String,
    /// The item's place in the chat: from 1, with no gaps. A client passes the
    /// last one it saw to [`ChatRoom::since`].
    pub seq: u64,
    /// Who it is from; empty for Switchboard's own items (idle texts, the
    /// end).
    pub participant_id: String,
    /// Their name when the item was kept; `Switchboard` for its own items.
    pub display_name: String,
    /// Their role; [`Role::System`] for Switchboard's own items.
    pub role: Role,
    /// Unix milliseconds.
    pub at_ms: u64,
    /// What the item is, with its content.
    #[serde(flatten)]
    pub kind: ItemKind,
}

/// Why an action was refused; each names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatError {
    /// The chat has ended; it takes nothing more.
    Ended,
    /// No participant with this id has joined the chat.
    UnknownParticipant(String),
    /// The participant has left (or never joined).
    NotInChat(String),
    /// The message is empty or only whitespace.
    EmptyMessage,
    /// The message is longer than [`Limits::max_message_bytes`].
    TooLong {
        /// The limit, in bytes.
        max: usize,
        /// The message's length, in bytes.
        len: usize,
    },
    /// Too many messages: try again after this long.
    RateLimited {
        /// Milliseconds until the next message is allowed (`u64::MAX` when the
        /// rate is 0).
        retry_after_ms: u64,
    },
    /// A receipt for a sequence that is not a message.
    UnknownMessage(u64),
    /// A content type other than `text/plain` or `text/markdown`.
    UnsupportedContentType(String),
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::Ended => write!(f, "the chat has ended"),
            ChatError::UnknownParticipant(p) => write!(f, "no participant '{p}' in this chat"),
            ChatError::NotInChat(p) => write!(f, "participant '{p}' is not in the chat"),
            ChatError::EmptyMessage => write!(f, "the message is empty"),
            ChatError::TooLong { max, len } => {
                write!(f, "the message is {len} bytes; at most {max} are allowed")
            }
            ChatError::RateLimited { retry_after_ms } => {
                write!(f, "too many messages; try again in {retry_after_ms} ms")
            }
            ChatError::UnknownMessage(s) => write!(f, "no message with sequence {s}"),
            ChatError::UnsupportedContentType(t) => {
                write!(
                    f,
                    "content type '{t}' is not supported (text/plain, text/markdown)"
                )
            }
        }
    }
}

impl std::error::Error for ChatError {}

/// What the idle and duration rules did at a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timeout {
    /// The customer was told they will be disconnected (a system message).
    IdleWarning,
    /// The customer said nothing after the warning: the chat ended.
    IdleDisconnect,
    /// The chat reached its longest allowed duration and ended.
    Expired,
}

/// The texts Switchboard says on its own.
const IDLE_WARNING: &str =
    "Are you still there? This chat will close soon if we do not hear from you.";
const IDLE_CLOSED: &str = "This chat was closed because we did not hear from you.";

#[derive(Debug, Clone)]
struct Participant {
    display_name: String,
    role: Role,
    present: bool,
    bucket: Bucket,
}

/// A chat contact's state.
#[derive(Debug, Clone)]
pub struct ChatRoom {
    id: String,
    limits: Limits,
    items: Vec<Item>,
    participants: BTreeMap<String, Participant>,
    /// (participant, client token) -> sequence of the message kept.
    client_tokens: HashMap<(String, String), u64>,
    /// (participant, message, kind) already receipted.
    receipts: HashMap<(String, u64), ReceiptKind>,
    ends_at_ms: u64,
    /// Since when the customer owes a reply (an agent or the system spoke last).
    owed_since_ms: Option<u64>,
    warned: bool,
    ended: bool,
}

impl ChatRoom {
    /// A chat that may last `max_duration_ms` from `now_ms`.
    pub fn new(id: &str, limits: Limits, now_ms: u64, max_duration_ms: u64) -> ChatRoom {
        ChatRoom {
            id: id.to_string(),
            limits,
            items: Vec::new(),
            participants: BTreeMap::new(),
            client_tokens: HashMap::new(),
            receipts: HashMap::new(),
            ends_at_ms: now_ms.saturating_add(max_duration_ms),
            owed_since_ms: None,
            warned: false,
            ended: false,
        }
    }

    /// The chat's id as given to [`ChatRoom::new`]; transcripts use it as the
    /// contact id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the chat has ended. After that, actions fail with
    /// [`ChatError::Ended`], though a retried message still gets its kept item.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The last sequence given (0: nothing yet).
    pub fn last_seq(&self) -> u64 {
        self.items.len() as u64
    }

    /// Everything kept after `seq`, in order.
    pub fn since(&self, seq: u64) -> &[Item] {
        let from = (seq as usize).min(self.items.len());
        &self.items[from..]
    }

    /// Everything kept, in order: index `i` holds sequence `i + 1`.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    fn push(&mut self, participant: &str, kind: ItemKind, now_ms: u64) -> &Item {
        let seq = self.items.len() as u64 + 1;
        let (display_name, role) = self
            .participants
            .get(participant)
            .map(|p| (p.display_name.clone(), p.role))
            .unwrap_or_else(|| ("Switchboard".into(), Role::System));
        self.items.push(Item {
            id: format!("{}-{seq}", self.id),
            seq,
            participant_id: participant.to_string(),
            display_name,
            role,
            at_ms: now_ms,
            kind,
        });
        self.items.last().expect("just pushed")
    }

    fn open(&self) -> Result<(), ChatError> {
        if self.ended {
            Err(ChatError::Ended)
        } else {
            Ok(())
        }
    }

    fn present(&self, participant: &str) -> Result<&Participant, ChatError> {
        match self.participants.get(participant) {
            None => Err(ChatError::UnknownParticipant(participant.into())),
            Some(p) if !p.present => Err(ChatError::NotInChat(participant.into())),
            Some(p) => Ok(p),
        }
    }

    /// `participant` joins (again, after leaving). Joining while present
    /// keeps nothing new.
    pub fn join(
        &mut self,
        participant: &str,
        display_name: &str,
        role: Role,
        now_ms: u64,
    ) -> Result<Option<&Item>, ChatError> {
        self.open()?;
        if self
            .participants
            .get(participant)
            .is_some_and(|p| p.present)
        {
            return Ok(None);
        }
        self.participants.insert(
            participant.to_string(),
            Participant {
                display_name: display_name.to_string(),
                role,
                present: true,
                bucket: Bucket::full(&self.limits, now_ms),
            },
        );
        Ok(Some(self.push(participant, ItemKind::Joined, now_ms)))
    }

    /// `participant` leaves; a customer leaving ends the chat.
    pub fn leave(&mut self, participant: &str, now_ms: u64) -> Result<Vec<u64>, ChatError> {
        self.open()?;
        let role = self.present(participant)?.role;
        if let Some(p) = self.participants.get_mut(participant) {
            p.present = false;
        }
        let agents_left = !self
            .participants
            .values()
            .any(|p| p.present && p.role == Role::Agent);
        if agents_left {
            // Nobody is waiting for the customer any more (a transfer, say).
            self.owed_since_ms = None;
            self.warned = false;
        }
        let mut kept = vec![self.push(participant, ItemKind::Left, now_ms).seq];
        if role == Role::Customer {
            kept.push(self.end_with("CUSTOMER_DISCONNECT", now_ms).seq);
        }
        Ok(kept)
    }

    /// A message from `participant`. With a `client_token` already used by
    /// them, the message kept the first time is returned and nothing is added.
    pub fn send(
        &mut self,
        participant: &str,
        content_type: &str,
        content: &str,
        client_token: Option<&str>,
        now_ms: u64,
    ) -> Result<&Item, ChatError> {
        if let Some(token) = client_token {
            if let Some(seq) = self
                .client_tokens
                .get(&(participant.to_string(), token.to_string()))
            {
                return Ok(&self.items[*seq as usize - 1]);
            }
        }
        self.open()?;
        let role = self.present(participant)?.role;
        if !matches!(content_type, "text/plain" | "text/markdown") {
            return Err(ChatError::UnsupportedContentType(content_type.into()));
        }
        if content.trim().is_empty() {
            return Err(ChatError::EmptyMessage);
        }
        if content.len() > self.limits.max_message_bytes {
            return Err(ChatError::TooLong {
                max: self.limits.max_message_bytes,
                len: content.len(),
            });
        }
        let limits = self.limits;
        // The flow's own messages are not throttled: a flow may say several
        // things in a row, and a runaway one is stopped by the step limit.
        if let Some(p) = self
            .participants
            .get_mut(participant)
            .filter(|p| p.role != Role::System)
        {
            p.bucket
                .take(&limits, now_ms)
                .map_err(|retry_after_ms| ChatError::RateLimited { retry_after_ms })?;
        }
        match role {
            Role::Customer => {
                self.owed_since_ms = None;
                self.warned = false;
            }
            // Only an agent waits for an answer: the flow's messages ("an
            // agent will be with you") ask nothing of a queued customer.
            Role::Agent => {
                self.owed_since_ms.get_or_insert(now_ms);
            }
            Role::System => {}
        }
        let seq = self
            .push(
                participant,
                ItemKind::Message {
                    content_type: content_type.into(),
                    content: content.into(),
                },
                now_ms,
            )
            .seq;
        if let Some(token) = client_token {
            self.client_tokens
                .insert((participant.to_string(), token.to_string()), seq);
        }
        Ok(&self.items[seq as usize - 1])
    }

    /// `participant` received or read message `message`. Each is kept once;
    /// a read after a delivery is kept, a delivery after a read is not.
    pub fn receipt(
        &mut self,
        participant: &str,
        message: u64,
        kind: ReceiptKind,
        now_ms: u64,
    ) -> Result<Option<&Item>, ChatError> {
        self.open()?;
        self.present(participant)?;
        let is_message = self
            .items
            .get((message as usize).wrapping_sub(1))
            .is_some_and(|i| matches!(i.kind, ItemKind::Message { .. }));
        if !is_message {
            return Err(ChatError::UnknownMessage(message));
        }
        let key = (participant.to_string(), message);
        match (self.receipts.get(&key), kind) {
            (Some(ReceiptKind::Read), _)
            | (Some(ReceiptKind::Delivered), ReceiptKind::Delivered) => return Ok(None),
            _ => {}
        }
        self.receipts.insert(key, kind);
        Ok(Some(self.push(
            participant,
            ItemKind::Receipt { kind, message },
            now_ms,
        )))
    }

    /// Whether `participant` may say they are typing (it is passed on, not kept).
    pub fn typing(&self, participant: &str) -> Result<(), ChatError> {
        self.open()?;
        self.present(participant).map(|_| ())
    }

    /// Ends the chat (an agent or the flow closed it).
    pub fn end(&mut self, reason: &str, now_ms: u64) -> Result<&Item, ChatError> {
        self.open()?;
        Ok(self.end_with(reason, now_ms))
    }

    fn end_with(&mut self, reason: &str, now_ms: u64) -> &Item {
        self.ended = true;
        for p in self.participants.values_mut() {
            p.present = false;
        }
        self.push(
            "",
            ItemKind::Ended {
                reason: reason.into(),
            },
            now_ms,
        )
    }

    fn system_says(&mut self, text: &str, now_ms: u64) {
        self.push(
            "",
            ItemKind::Message {
                content_type: "text/plain".into(),
                content: text.into(),
            },
            now_ms,
        );
    }

    /// When [`ChatRoom::tick`] next has something to do.
    pub fn next_wake(&self) -> Option<u64> {
        if self.ended {
            return None;
        }
        let idle = self.owed_since_ms.map(|t| {
            if self.warned {
                t.saturating_add(self.limits.idle_disconnect_ms)
            } else {
                t.saturating_add(self.limits.idle_warning_ms)
            }
        });
        Some(idle.map_or(self.ends_at_ms, |i| i.min(self.ends_at_ms)))
    }

    /// Runs the rules due at `now_ms`: the longest duration, then the
    /// customer's idle warning and disconnection (counted from when an agent
    /// or the flow spoke and the customer did not answer).
    pub fn tick(&mut self, now_ms: u64) -> Option<Timeout> {
        if self.ended {
            return None;
        }
        if now_ms >= self.ends_at_ms {
            self.end_with("EXPIRED", now_ms);
            return Some(Timeout::Expired);
        }
        let owed = self.owed_since_ms?;
        if !self.warned && now_ms >= owed.saturating_add(self.limits.idle_warning_ms) {
            self.warned = true;
            self.system_says(IDLE_WARNING, now_ms);
            return Some(Timeout::IdleWarning);
        }
        if self.warned && now_ms >= owed.saturating_add(self.limits.idle_disconnect_ms) {
            self.system_says(IDLE_CLOSED, now_ms);
            self.end_with("CUSTOMER_IDLE", now_ms);
            return Some(Timeout::IdleDisconnect);
        }
        None
    }
}
