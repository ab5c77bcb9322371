//! Contact flows as stored objects.
//!
//! The flow language itself (typed model, validator, interpreter) is its own
//! crate, still to come; until then a flow is kept as the Connect-format JSON
//! it was given, checked only for the envelope every flow must have.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "type")]
    pub flow_type: FlowType,
    /// The flow in Amazon Connect's flow language (`Version`, `StartAction`, `Actions`).
    #[schema(value_type = Object)]
    pub content: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowType {
    ContactFlow,
    CustomerQueue,
    CustomerHold,
    CustomerWhisper,
    AgentHold,
    AgentWhisper,
    OutboundWhisper,
    AgentTransfer,
    QueueTransfer,
}

/// Connect's limit on actions in one flow.
pub const MAX_ACTIONS: usize = 250;

impl ConfigSpec for Flow {
    const KIND: ObjectKind = ObjectKind::Flow;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        match &self.content {
            Value::Object(flow) => {
                e.check(
                    flow.get("Version").and_then(Value::as_str) == Some("2019-10-30"),
                    "content.Version",
                    "must be \"2019-10-30\"",
                );
                e.check(
                    flow.get("StartAction").is_some_and(Value::is_string),
                    "content.StartAction",
                    "must name the first action",
                );
                match flow.get("Actions").and_then(Value::as_array) {
                    Some(actions) => e.check(
                        actions.len() <= MAX_ACTIONS,
                        "content.Actions",
                        format!("has {} actions; at most {MAX_ACTIONS}", actions.len()),
                    ),
                    None => e.add("content.Actions", "must be a list of actions"),
                }
            }
            _ => e.add("content", "must be a flow object"),
        }
        e.finish()
    }
}
