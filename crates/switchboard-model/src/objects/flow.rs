//! Contact flows as stored objects: the draft being edited, in Amazon
//! Connect's flow language. Published versions are kept apart (the store's
//! flow versions) and are what serves traffic; publishing validates.
//!
//! A draft must parse (its structure is sound, every action has an
//! Identifier and Type) but may still fail validation while it is being
//! built; `switchboard_flow::validate` says what is left to fix.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

/// A flow problem as a field error's reason: the action it is in, and what.
pub fn problem_reason(p: &switchboard_flow::Problem) -> String {
    match &p.action {
        Some(a) => format!("action '{a}': {}", p.message),
        None => p.message.clone(),
    }
}

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

/// What a flow is for: the flow language's type, with Connect's names.
pub use switchboard_flow::FlowType;

impl ConfigSpec for Flow {
    const KIND: ObjectKind = ObjectKind::Flow;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        // The stored type decides the rules, so the content is the flow
        // itself, never an export wrapper with a type of its own.
        if self.content.get("Content").is_some() {
            e.add(
                "content.Content",
                "store the flow itself here; import Connect exports with POST /api/v1/flows/import",
            );
            return e.finish();
        }
        // A draft must parse; validation problems are for publishing.
        let parsed = switchboard_flow::parse::parse(&self.content.to_string());
        for p in parsed
            .problems
            .0
            .iter()
            .filter(|p| p.severity == switchboard_flow::Severity::Error)
        {
            e.add(format!("content.{}", p.path), problem_reason(p));
        }
        e.finish()
    }
}
