//! The kinds of configuration object and the trait they share.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::FieldError;

/// Every kind of configuration object the store keeps. Objects of one kind are
/// unique by name (case-insensitively) and are referenced by id or by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    SecurityProfile,
    User,
    AgentStatus,
    HoursOfOperation,
    Queue,
    RoutingProfile,
    PhoneNumber,
    Prompt,
    QuickConnect,
    Flow,
    ExternalFunction,
    SipTrunk,
    Bot,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 13] = [
        ObjectKind::SecurityProfile,
        ObjectKind::User,
        ObjectKind::AgentStatus,
        ObjectKind::HoursOfOperation,
        ObjectKind::Queue,
        ObjectKind::RoutingProfile,
        ObjectKind::PhoneNumber,
        ObjectKind::Prompt,
        ObjectKind::QuickConnect,
        ObjectKind::Flow,
        ObjectKind::ExternalFunction,
        ObjectKind::SipTrunk,
        ObjectKind::Bot,
    ];

    /// The stable name stored in the database and shown in errors and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::SecurityProfile => "security_profile",
            ObjectKind::User => "user",
            ObjectKind::AgentStatus => "agent_status",
            ObjectKind::HoursOfOperation => "hours_of_operation",
            ObjectKind::Queue => "queue",
            ObjectKind::RoutingProfile => "routing_profile",
            ObjectKind::PhoneNumber => "phone_number",
            ObjectKind::Prompt => "prompt",
            ObjectKind::QuickConnect => "quick_connect",
            ObjectKind::Flow => "flow",
            ObjectKind::ExternalFunction => "external_function",
            ObjectKind::SipTrunk => "sip_trunk",
            ObjectKind::Bot => "bot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Words for people: "routing profile".
    pub fn label(self) -> String {
        self.as_str().replace('_', " ")
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of an object that names another object. Requests may give the
/// target's id or its unique name; the shell resolves it to the id in place
/// before the object is stored, so stored objects always hold ids.
pub struct RefSlot<'a> {
    /// Path of the field in the request body, for errors.
    pub field: String,
    pub kind: ObjectKind,
    pub value: &'a mut String,
}

impl<'a> RefSlot<'a> {
    pub fn new(field: impl Into<String>, kind: ObjectKind, value: &'a mut String) -> Self {
        Self {
            field: field.into(),
            kind,
            value,
        }
    }
}

/// The behaviour every configuration object shares: a kind, a unique name,
/// self-contained validation, and its references to other objects.
pub trait ConfigSpec:
    Serialize + DeserializeOwned + ToSchema + Clone + Send + Sync + 'static
{
    const KIND: ObjectKind;

    /// The object's unique name (for users, the username; for phone numbers, the number).
    fn name(&self) -> &str;

    /// Checks the object on its own, without looking anything up, and
    /// normalises what can be normalised without loss (a phone number written
    /// with spaces becomes E.164). Reports every problem found.
    fn validate(&mut self) -> Result<(), Vec<FieldError>>;

    /// Every field that names another object.
    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        Vec::new()
    }

    /// Fields the server owns (derived or uploaded) are carried over from the
    /// stored object on update, whatever the request said.
    fn keep_server_fields(&mut self, _stored: &Self) {}

    /// Blanks what the API never shows (passwords). An update that leaves
    /// them out keeps the stored ones ([`ConfigSpec::keep_server_fields`]).
    fn hide_secrets(&mut self) {}
}

/// Pushes a slot for an optional reference.
pub fn optional_ref<'a>(
    slots: &mut Vec<RefSlot<'a>>,
    field: &str,
    kind: ObjectKind,
    value: &'a mut Option<String>,
) {
    if let Some(v) = value.as_mut() {
        slots.push(RefSlot::new(field, kind, v));
    }
}
