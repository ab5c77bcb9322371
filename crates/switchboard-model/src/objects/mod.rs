//! One module per kind of configuration object.

pub mod agent_status;
pub mod bot;
pub mod external_function;
pub mod flow;
pub mod hours;
pub mod phone_number;
pub mod prompt;
pub mod queue;
pub mod quick_connect;
pub mod routing_profile;
pub mod security_profile;
pub mod sip_trunk;
pub mod user;
