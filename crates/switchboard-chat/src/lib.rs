//! # switchboard-chat
//!
//! The chat channel's core, sans-IO like the flow interpreter and the
//! router: no sockets, no clocks, no storage. A [`ChatRoom`] is one chat
//! contact: its participants (customer, agents, the flow or a bot), the
//! ordered log of what was said and done, and the rules around it.
//!
//! - Every kept item (message, join, leave, delivery/read receipt, end) gets
//!   the next sequence number; a client that reconnects asks for what came
//!   after the last one it saw ([`ChatRoom::since`]) and misses nothing and
//!   sees nothing twice. A message retried with the same client token is
//!   not kept twice.
//! - [`Limits`]: message size, a rate per participant (token bucket), and
//!   the customer's idle warning and disconnection.
//! - [`ChatRoom::tick`] ends a chat at its longest duration and handles idle
//!   customers; [`ChatRoom::next_wake`] says when to call it.
//! - [`ChatRoom::transcript`]: the transcript in Amazon Connect's JSON shape.
//!
//! The shell (participant tokens, WebSockets, storage, routing) lives in
//! the server; this crate decides.

// A pure core: documented for its drivers, and deterministic: iterating a
// hash map gives an order that differs run to run (use BTreeMap, or sort).
#![warn(missing_docs, clippy::iter_over_hash_type)]

pub mod limits;
pub mod room;
pub mod transcript;

pub use limits::Limits;
pub use room::{ChatError, ChatRoom, Item, ItemKind, ReceiptKind, Role, Timeout};
pub use transcript::{Entry, Transcript};
