use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{optional_ref, ConfigSpec, ObjectKind, RefSlot};
use crate::objects::phone_number::parse_e164;
use crate::validation::{Errors, FieldError};

/// A transfer destination agents pick from a list: another agent, a queue, or
/// an external number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuickConnect {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub target: QuickConnectTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuickConnectTarget {
    /// Transfer to an agent, through an agent transfer flow.
    User {
        /// User id or username.
        user: String,
        /// Flow (id or name) run before the agent is connected.
        #[serde(default)]
        flow: Option<String>,
    },
    /// Transfer into a queue, through a queue transfer flow.
    Queue {
        /// Queue id or name.
        queue: String,
        #[serde(default)]
        flow: Option<String>,
    },
    /// Transfer to an external number (E.164).
    PhoneNumber { phone_number: String },
}

impl ConfigSpec for QuickConnect {
    const KIND: ObjectKind = ObjectKind::QuickConnect;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        if let QuickConnectTarget::PhoneNumber { phone_number } = &mut self.target {
            match parse_e164(phone_number) {
                Ok(parsed) => *phone_number = parsed.number,
                Err(reason) => e.add("target.phone_number", reason.to_string()),
            }
        }
        e.finish()
    }

    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        let mut slots = Vec::new();
        match &mut self.target {
            QuickConnectTarget::User { user, flow } => {
                slots.push(RefSlot::new("target.user", ObjectKind::User, user));
                optional_ref(&mut slots, "target.flow", ObjectKind::Flow, flow);
            }
            QuickConnectTarget::Queue { queue, flow } => {
                slots.push(RefSlot::new("target.queue", ObjectKind::Queue, queue));
                optional_ref(&mut slots, "target.flow", ObjectKind::Flow, flow);
            }
            QuickConnectTarget::PhoneNumber { .. } => {}
        }
        slots
    }
}
