//! What the router needs to know about queues, routing profiles and agents.
//! Objects are numbered densely (the shell maps its ids to these numbers), so
//! the router can keep its state in vectors.

use serde::{Deserialize, Serialize};

/// Milliseconds on the shell's clock. The router never reads a clock.
pub type Millis = u64;

/// A contact, by the number the shell gives it. Unlike the other ids it
/// need not be dense, but no two contacts routing holds may share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContactId(pub u64);
/// An agent: an index into [`RoutingConfig::agents`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentId(pub u32);
/// A queue: an index into [`RoutingConfig::queues`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueueId(pub u32);
/// A routing profile: an index into [`RoutingConfig::profiles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProfileId(pub u32);

/// The kind of contact. Per-channel arrays are indexed by [`Channel::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    /// Phone calls; the only channel [`Strategy::RingAll`] rings all agents for.
    Voice = 0,
    /// Chats; a profile may let an agent take several at once.
    Chat = 1,
    /// Tasks: work items (Connect's task channel).
    Task = 2,
}

impl Channel {
    /// Every channel, in index order.
    pub const ALL: [Channel; 3] = [Channel::Voice, Channel::Chat, Channel::Task];

    /// The channel's place in per-channel arrays such as
    /// [`ProfileConfig::concurrency`]: voice 0, chat 1, task 2.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a queue picks among agents who could take its contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Connect's rule: the agent idle longest.
    #[default]
    LongestIdle,
    /// The agent with the least talk time so far (spreads the work).
    LeastTalkTime,
    /// The agent who has handled the fewest contacts so far.
    FewestContacts,
    /// Voice: offer to every eligible agent at once; the first to accept
    /// takes it and the others' offers are withdrawn.
    RingAll,
}

/// How a queue admits contacts and picks agents for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Most contacts waiting at once; more are refused.
    pub max_contacts: Option<u32>,
    /// A disabled queue refuses new contacts; those waiting are still served.
    pub enabled: bool,
    /// An agent must have been idle this long before this queue's contacts are offered to them.
    pub min_agent_idle_ms: Millis,
    /// Which of the agents able to take a contact is offered it. Ignored for
    /// an agent's own queue (see `owner`).
    pub strategy: Strategy,
    /// An agent's own queue (Connect's agent queue: transfers to that
    /// agent wait here): only its owner is offered its contacts, before any
    /// queue of their routing profile, whatever the profile says.
    #[serde(default)]
    pub owner: Option<AgentId>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_contacts: None,
            enabled: true,
            min_agent_idle_ms: 0,
            strategy: Strategy::LongestIdle,
            owner: None,
        }
    }
}

/// One queue in a routing profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileQueue {
    /// The queue these agents take contacts from.
    pub queue: QueueId,
    /// The channel taken from this queue; the profile's concurrency for it
    /// must be above 0 ([`RoutingConfig::check`] refuses it otherwise).
    pub channel: Channel,
    /// 1-99, lower first.
    pub priority: u32,
    /// A contact must have waited this long before these agents see it.
    pub delay_ms: Millis,
}

/// A routing profile: which channels and queues its agents handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// Contacts at once per channel (index by `Channel::index`); 0: not handled.
    pub concurrency: [u32; 3],
    /// Per channel: while working a contact of this channel, may the agent
    /// be offered contacts of other channels (Connect's ROUTE_ANY_CHANNEL)?
    pub route_any_channel: [bool; 3],
    /// The queues its agents take from, each on one channel, with its
    /// priority and delay.
    pub queues: Vec<ProfileQueue>,
}

/// One agent's routing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// The routing profile the agent works under.
    pub profile: ProfileId,
    /// After-contact work ends by itself after this long; 0 waits for the agent.
    pub acw_timeout_ms: Millis,
}

/// Everything the router is configured with. [`RoutingConfig::check`] must
/// pass before the router takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingConfig {
    /// Every queue, indexed by [`QueueId`].
    pub queues: Vec<QueueConfig>,
    /// Every routing profile, indexed by [`ProfileId`].
    pub profiles: Vec<ProfileConfig>,
    /// Every agent, indexed by [`AgentId`].
    pub agents: Vec<AgentConfig>,
    /// An offer not accepted within this long is missed (Connect: 20 s).
    pub offer_timeout_ms: Millis,
}

impl RoutingConfig {
    /// Checks that every reference points at something, so the router can
    /// index without checking.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (i, p) in self.profiles.iter().enumerate() {
            for pq in &p.queues {
                if pq.queue.0 as usize >= self.queues.len() {
                    return Err(ConfigError::ProfileQueue {
                        profile: i,
                        queue: pq.queue,
                        queues: self.queues.len(),
                    });
                }
                if p.concurrency[pq.channel.index()] == 0 {
                    return Err(ConfigError::ProfileChannel {
                        profile: i,
                        queue: pq.queue,
                        channel: pq.channel,
                    });
                }
            }
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.owner.is_some_and(|a| a.0 as usize >= self.agents.len()) {
                return Err(ConfigError::QueueOwner { queue: i });
            }
        }
        for (i, a) in self.agents.iter().enumerate() {
            if a.profile.0 as usize >= self.profiles.len() {
                return Err(ConfigError::AgentProfile {
                    agent: i,
                    profile: a.profile,
                    profiles: self.profiles.len(),
                });
            }
        }
        Ok(())
    }
}

/// A configuration the router cannot run: a reference to nothing, or a
/// change it cannot make while contacts are waiting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A routing profile names a queue past the end of the queue list.
    #[error("profile {profile} names queue {} of {queues}", queue.0)]
    ProfileQueue {
        /// The profile's index.
        profile: usize,
        /// The queue it names.
        queue: QueueId,
        /// How many queues there are.
        queues: usize,
    },
    /// A routing profile routes a channel it allows no contacts of.
    #[error("profile {profile} routes {channel:?} from queue {} but takes no {channel:?}", queue.0)]
    ProfileChannel {
        /// The profile's index.
        profile: usize,
        /// The queue it routes from.
        queue: QueueId,
        /// The channel with a concurrency of 0.
        channel: Channel,
    },
    /// An agent's own queue belongs to an agent who does not exist.
    #[error("queue {queue} belongs to an agent who does not exist")]
    QueueOwner {
        /// The queue's index.
        queue: usize,
    },
    /// An agent has a routing profile past the end of the profile list.
    #[error("agent {agent} has profile {} of {profiles}", profile.0)]
    AgentProfile {
        /// The agent's index.
        agent: usize,
        /// The profile it names.
        profile: ProfileId,
        /// How many profiles there are.
        profiles: usize,
    },
    /// A new configuration drops queues or agents (they keep their numbers,
    /// so they can only be added or changed).
    #[error("queues and agents can be added or changed, not removed")]
    Shrunk,
}
