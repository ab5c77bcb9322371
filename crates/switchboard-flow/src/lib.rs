//! # switchboard-flow
//!
//! Contact flows in Amazon Connect's flow language (`Version` "2019-10-30"),
//! so flows exported from Connect run here unchanged.
//!
//! - [`parse()`] reads JSON (a bare flow or Connect's export wrapper) into a
//!   typed [`Flow`], naming the JSON path and action of every problem.
//! - [`validate()`] checks the flow as a whole: transitions lead somewhere,
//!   every action is reachable, required branches exist, the flow type
//!   allows each action, and no loop can spin without the customer.
//! - [`Session`] runs a contact through a flow as a deterministic state
//!   machine: [`Event`]s in, [`Effect`]s out, no I/O, no clock.
//! - [`import`] maps the instance-specific ARNs of a Connect export to local
//!   objects by name.
//! - [`references`] lists the objects a flow names, and where, so the
//!   shell can check them against the instance before publishing.
//!
//! Nothing here touches the network, the disk or the time: the server's
//! shell carries out effects, and the simulator answers them from a script.

// A pure core: documented for its drivers, and deterministic: iterating a
// hash map gives an order that differs run to run (use BTreeMap, or sort).
#![warn(missing_docs, clippy::iter_over_hash_type)]

pub mod catalog;
pub mod contact;
pub mod import;
pub mod interp;
pub mod model;
pub mod operand;
pub mod parse;
mod phone;
pub mod problem;
pub mod references;
pub mod simulate;
pub mod validate;

pub use contact::{ContactData, QueueRef};
pub use interp::{Effect, Event, Outcome, Rendered, Session, Step};
pub use model::{Action, ActionKind, Flow, FlowType};
pub use parse::parse;
pub use problem::{Problem, Severity};
pub use validate::validate;

/// Parses and validates in one go, as publishing does. The flow type comes
/// from the export wrapper if there was one, else from `default_type`.
pub fn check(text: &str, default_type: FlowType) -> (Option<Flow>, Vec<Problem>) {
    let parsed = parse(text);
    let mut problems = parsed.problems;
    if let Some(flow) = &parsed.flow {
        validate(flow, flow.flow_type.unwrap_or(default_type), &mut problems);
    }
    (parsed.flow, problems.0)
}
