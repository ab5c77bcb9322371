//! # switchboard-model
//!
//! The configuration of a contact centre as plain data: users, security
//! profiles and permissions, agent statuses, hours of operation, queues,
//! routing profiles, phone numbers, prompts, quick connects and flows.
//!
//! Everything here is pure: validation rules, normalisation (E.164 numbers),
//! the permission catalogue and the "is it open now?" rule take values in and
//! give values out. Storage and HTTP live in `switchboard-store` and
//! `switchboard-server`; that split lets the rules be tested exhaustively and
//! reused by the routing engine and flow interpreter later.
//!
//! Each object kind implements [`ConfigSpec`]: its unique name, its
//! self-contained validation, and the fields that reference other objects
//! (given by id or name in requests, always stored as ids).

pub mod contact_record;
pub mod kind;
pub mod objects;
pub mod permissions;
pub mod validation;

pub use contact_record::ContactRecord;
pub use kind::{ConfigSpec, ObjectKind, RefSlot};
pub use objects::{
    agent_status::{AgentStatus, AgentStatusType},
    bot::Bot,
    external_function::ExternalFunction,
    flow::{Flow, FlowType},
    hours::HoursOfOperation,
    phone_number::{PhoneNumber, PhoneNumberType},
    prompt::{AudioInfo, Prompt},
    queue::{Queue, QueueStatus},
    quick_connect::{QuickConnect, QuickConnectTarget},
    routing_profile::{Channel, RoutingProfile},
    security_profile::SecurityProfile,
    sip_trunk::{SipTransport, SipTrunk},
    user::User,
};
pub use validation::FieldError;
