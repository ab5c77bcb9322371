use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind, RefSlot};
use crate::validation::{Errors, FieldError};

/// How contacts reach a customer and an agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    #[default]
    Voice,
    Chat,
    Task,
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Channel {
    /// The name as written in requests: `VOICE`, `CHAT`, `TASK`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "VOICE",
            Channel::Chat => "CHAT",
            Channel::Task => "TASK",
        }
    }

    /// Most contacts of this channel one agent may hold at once (Connect's limits).
    pub fn max_concurrency(self) -> u32 {
        match self {
            Channel::Voice => 1,
            Channel::Chat => 10,
            Channel::Task => 10,
        }
    }
}

/// Which queues an agent takes contacts from, in which order, and how many at once.
/// Every agent has exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Channels the agent handles and how many contacts of each at once.
    pub media_concurrencies: Vec<MediaConcurrency>,
    /// Queues per channel, with priority and delay.
    #[serde(default)]
    pub queue_configs: Vec<RoutingProfileQueue>,
    /// Queue (id or name) that outbound calls by these agents belong to.
    pub default_outbound_queue: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaConcurrency {
    pub channel: Channel,
    /// Contacts of this channel at once: voice 1, chat and task 1-10.
    pub concurrency: u32,
    #[serde(default)]
    pub cross_channel_behavior: CrossChannelBehavior,
}

/// Whether an agent busy on one channel may still be offered contacts of another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CrossChannelBehavior {
    #[default]
    RouteCurrentChannelOnly,
    RouteAnyChannel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingProfileQueue {
    /// Queue id or name.
    pub queue: String,
    pub channel: Channel,
    /// 1-99, lower first: an agent gets contacts of priority 1 queues before priority 2.
    pub priority: u32,
    /// 0-9999 seconds a contact must have waited before these agents are offered it.
    #[serde(default)]
    pub delay: u32,
}

impl ConfigSpec for RoutingProfile {
    const KIND: ObjectKind = ObjectKind::RoutingProfile;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        e.check(
            !self.media_concurrencies.is_empty(),
            "media_concurrencies",
            "must list at least one channel",
        );
        for (i, m) in self.media_concurrencies.iter().enumerate() {
            let field = format!("media_concurrencies[{i}]");
            let max = m.channel.max_concurrency();
            e.check(
                (1..=max).contains(&m.concurrency),
                format!("{field}.concurrency"),
                format!(
                    "must be between 1 and {max} for {}, got {}",
                    m.channel.as_str(),
                    m.concurrency
                ),
            );
            e.check(
                !self.media_concurrencies[..i]
                    .iter()
                    .any(|o| o.channel == m.channel),
                format!("{field}.channel"),
                format!("{} is listed twice", m.channel.as_str()),
            );
        }
        for (i, q) in self.queue_configs.iter().enumerate() {
            let field = format!("queue_configs[{i}]");
            e.range(format!("{field}.priority"), q.priority.into(), 1, 99);
            e.range(format!("{field}.delay"), q.delay.into(), 0, 9999);
            e.check(
                self.media_concurrencies
                    .iter()
                    .any(|m| m.channel == q.channel),
                format!("{field}.channel"),
                format!(
                    "{} is not among media_concurrencies; add it there first",
                    q.channel.as_str()
                ),
            );
            e.check(
                !self.queue_configs[..i]
                    .iter()
                    .any(|o| o.queue == q.queue && o.channel == q.channel),
                format!("{field}.queue"),
                format!(
                    "queue '{}' is listed twice for {}",
                    q.queue,
                    q.channel.as_str()
                ),
            );
        }
        e.finish()
    }

    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        let mut slots = vec![RefSlot::new(
            "default_outbound_queue",
            ObjectKind::Queue,
            &mut self.default_outbound_queue,
        )];
        for (i, q) in self.queue_configs.iter_mut().enumerate() {
            slots.push(RefSlot::new(
                format!("queue_configs[{i}].queue"),
                ObjectKind::Queue,
                &mut q.queue,
            ));
        }
        slots
    }
}
