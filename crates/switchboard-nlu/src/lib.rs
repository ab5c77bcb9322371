//! # switchboard-nlu
//!
//! Bots that run on the box, in Lex V2's terms, as a pure core: no
//! sockets, clocks or storage. A bot's definition ([`model`]) compiles into
//! an [`Engine`] per locale: it ranks intents ([`classify`]), finds slot
//! values with the built-in parsers ([`builtin`]) and custom slot types
//! ([`custom`]), and a [`Dialog`] runs the conversation turn by turn:
//! elicit, re-elicit, confirm, fulfil, fail, with Lex V2's code hooks
//! ([`hook`]). [`lexv2`] reads and writes Lex V2's export format.
//!
//! What is said comes in as text: chat messages as typed, calls through a
//! speech recogniser in the voice crate, which [`grammar`] tells what the
//! bot can understand now.

// A pure core: documented for its drivers, and deterministic: iterating a
// hash map gives an order that differs run to run (use BTreeMap, or sort).
#![warn(missing_docs, clippy::iter_over_hash_type)]

pub mod analyse;
pub mod builtin;
pub mod classify;
pub mod custom;
pub mod dialog;
pub mod engine;
pub mod grammar;
pub mod hook;
pub mod lexicon;
pub mod lexv2;
pub mod model;
pub mod numbers;
pub mod text;
pub mod vocabulary;

pub use builtin::{BuiltIn, Context};
pub use dialog::{Dialog, Effect, Expecting, Input, Outcome};
pub use engine::{Engine, Recognition};
pub use grammar::Grammar;
pub use model::{Bot, Intent, Locale, Problem, Slot, SlotType};
