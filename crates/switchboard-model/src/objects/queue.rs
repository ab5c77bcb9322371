use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{optional_ref, ConfigSpec, ObjectKind, RefSlot};
use crate::validation::{Errors, FieldError};

/// Where contacts wait for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Hours of operation (id or name): when the queue is open.
    pub hours_of_operation: String,
    /// Most contacts that may wait at once; more are refused with
    /// `QueueAtCapacity`. Absent: no limit.
    #[serde(default)]
    pub max_contacts: Option<u32>,
    /// Flow (id or name) a waiting customer hears. Absent: the default music.
    #[serde(default)]
    pub customer_queue_flow: Option<String>,
    /// Caller name shown on outbound calls from this queue.
    #[serde(default)]
    pub outbound_caller_id_name: Option<String>,
    /// Phone number (id or number) shown on outbound calls from this queue.
    #[serde(default)]
    pub outbound_caller_id_number: Option<String>,
    /// Flow (id or name) run on outbound calls from this queue.
    #[serde(default)]
    pub outbound_flow: Option<String>,
    /// Quick connects (ids or names) offered to agents handling this queue's contacts.
    #[serde(default)]
    pub quick_connects: Vec<String>,
    #[serde(default = "enabled")]
    pub status: QueueStatus,
    /// How an agent is chosen among those who could take a contact.
    #[serde(default)]
    pub routing_strategy: RoutingStrategy,
    /// Seconds an agent must have been idle before this queue's contacts
    /// are offered to them (0-3600).
    #[serde(default)]
    pub min_agent_idle_seconds: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoutingStrategy {
    /// The agent idle longest (Amazon Connect's rule).
    #[default]
    LongestIdle,
    /// The agent with the least talk time so far.
    LeastTalkTime,
    /// The agent who has handled the fewest contacts so far.
    FewestContacts,
    /// Voice: ring every eligible agent; the first to accept takes the call.
    RingAll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueueStatus {
    Enabled,
    /// A disabled queue accepts no new contacts; those waiting are still served.
    Disabled,
}

fn enabled() -> QueueStatus {
    QueueStatus::Enabled
}

impl ConfigSpec for Queue {
    const KIND: ObjectKind = ObjectKind::Queue;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        if let Some(max) = self.max_contacts {
            e.range("max_contacts", max.into(), 1, 1_000_000);
        }
        e.range(
            "min_agent_idle_seconds",
            self.min_agent_idle_seconds.into(),
            0,
            3600,
        );
        if let Some(name) = &self.outbound_caller_id_name {
            e.check(
                name.chars().count() <= 255,
                "outbound_caller_id_name",
                "must be at most 255 characters",
            );
        }
        for (i, qc) in self.quick_connects.iter().enumerate() {
            e.check(
                !self.quick_connects[..i].contains(qc),
                format!("quick_connects[{i}]"),
                format!("'{qc}' is listed twice"),
            );
        }
        e.finish()
    }

    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        let mut slots = vec![RefSlot::new(
            "hours_of_operation",
            ObjectKind::HoursOfOperation,
            &mut self.hours_of_operation,
        )];
        optional_ref(
            &mut slots,
            "customer_queue_flow",
            ObjectKind::Flow,
            &mut self.customer_queue_flow,
        );
        optional_ref(
            &mut slots,
            "outbound_caller_id_number",
            ObjectKind::PhoneNumber,
            &mut self.outbound_caller_id_number,
        );
        optional_ref(
            &mut slots,
            "outbound_flow",
            ObjectKind::Flow,
            &mut self.outbound_flow,
        );
        for (i, qc) in self.quick_connects.iter_mut().enumerate() {
            slots.push(RefSlot::new(
                format!("quick_connects[{i}]"),
                ObjectKind::QuickConnect,
                qc,
            ));
        }
        slots
    }
}
