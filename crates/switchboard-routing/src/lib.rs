//! # switchboard-routing
//!
//! The router (ACD) as a sans-IO state machine: events and the current time
//! go in ([`Router::handle`]), routing decisions come out ([`Effect`]). No
//! clock, no tasks, no storage: the server feeds it events and persists
//! them, and can rebuild the router's state by replaying them.
//!
//! ## The rules (Amazon Connect's)
//! - An agent's routing profile lists queues per channel with a priority
//!   (lower first) and a delay (a contact must have waited that long before
//!   these agents see it).
//! - Within a queue, contacts go oldest first, by contact priority first and
//!   with any queue-time adjustment counted as waiting.
//! - Among agents who can take a contact, the one idle longest; or, per
//!   queue, least talk time, fewest contacts, or ring-all for voice.
//! - Per channel concurrency (voice 1, chat up to 10) and cross-channel
//!   behaviour; an optional minimum idle time per queue.
//! - An offer not accepted in time is missed: the agent leaves routing and
//!   the contact goes back to its place. A queue at capacity refuses.
//!
//! ## How it stays fast
//! For every routing profile and channel the router keeps the agents who
//! could take a contact now, ordered by idle time, and for every queue and
//! channel the waiting contacts, ordered by priority and age. A new contact
//! looks at the first agent of each profile that takes from its queue; a
//! freed agent looks at the head of each of its queues. Both are a handful of
//! B-tree operations, whatever the number of agents or contacts.

// A pure core: documented for its drivers, and deterministic: iterating a
// hash map gives an order that differs run to run (use BTreeMap, or sort).
#![warn(missing_docs, clippy::iter_over_hash_type)]

pub mod config;
pub mod router;

pub use config::*;
pub use router::{AgentState, ContactStage, Effect, Event, EventError, Refusal, Router, Status};
