use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

/// What an agent can set themselves to. `Available` (routable) and `Offline`
/// exist from the start; any number of custom statuses (Lunch, Training, ...)
/// can be added, and none of them receives contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStatus {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "custom", rename = "type")]
    pub status_type: AgentStatusType,
    /// Disabled statuses stay in reports but agents can no longer choose them.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Position in the agent's status menu, 1 first.
    #[serde(default)]
    pub display_order: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentStatusType {
    /// The agent receives contacts (the built-in `Available`).
    Routable,
    /// Not routable: breaks, training, meetings.
    Custom,
    /// Logged out of routing (the built-in `Offline`).
    Offline,
}

fn custom() -> AgentStatusType {
    AgentStatusType::Custom
}

fn yes() -> bool {
    true
}

impl ConfigSpec for AgentStatus {
    const KIND: ObjectKind = ObjectKind::AgentStatus;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        if let Some(order) = self.display_order {
            e.range("display_order", order.into(), 1, 50);
        }
        e.finish()
    }
}
