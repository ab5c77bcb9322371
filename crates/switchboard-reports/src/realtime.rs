//! Real-time metrics: how many agents are in which kind of state and how
//! many contacts wait (and the oldest's age), in all, per queue and per
//! routing profile. A queue's agents are those whose routing profile takes
//! from it; a profile's contacts are those waiting in the queues (and
//! channels) it takes from.
//!
//! An agent's routing state falls in one bucket:
//! - Offline: not online;
//! - Available;
//! - on contact: Incoming (being offered) or OnContact;
//! - after-contact work;
//! - error: Missed, Rejected or Error (not routable until they act);
//! - non-productive: a custom status (Lunch, Training...).
//!
//! **Online** counts everyone not Offline; **staffed** counts those online
//! and not in error.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// One agent now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgentNow {
    pub agent: String,
    pub name: String,
    /// The routing profile's name (and its id).
    pub routing_profile: String,
    pub routing_profile_id: String,
    pub state: String,
    pub since: Option<DateTime<Utc>>,
    /// Seconds in this state.
    pub seconds_in_state: Option<u64>,
}

/// One queue on one channel now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueueNow {
    pub queue: String,
    pub name: String,
    pub channel: String,
    pub in_queue: u64,
    pub oldest_contact_age_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AgentCounts {
    pub online: u64,
    pub staffed: u64,
    pub available: u64,
    pub on_contact: u64,
    pub after_contact_work: u64,
    pub non_productive: u64,
    pub error: u64,
    pub offline: u64,
}

impl AgentCounts {
    fn merge(&mut self, o: &AgentCounts) {
        self.online += o.online;
        self.staffed += o.staffed;
        self.available += o.available;
        self.on_contact += o.on_contact;
        self.after_contact_work += o.after_contact_work;
        self.non_productive += o.non_productive;
        self.error += o.error;
        self.offline += o.offline;
    }

    fn add(&mut self, state: &str) {
        match bucket(state) {
            Bucket::Offline => self.offline += 1,
            b => {
                self.online += 1;
                match b {
                    Bucket::Available => self.available += 1,
                    Bucket::OnContact => self.on_contact += 1,
                    Bucket::AfterContactWork => self.after_contact_work += 1,
                    Bucket::Error => self.error += 1,
                    _ => self.non_productive += 1,
                }
                if b != Bucket::Error {
                    self.staffed += 1;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Offline,
    Available,
    OnContact,
    AfterContactWork,
    Error,
    NonProductive,
}

fn bucket(state: &str) -> Bucket {
    match state {
        "Offline" => Bucket::Offline,
        "Available" => Bucket::Available,
        "Incoming" | "OnContact" => Bucket::OnContact,
        "AfterContactWork" => Bucket::AfterContactWork,
        "Missed" | "Rejected" | "Error" => Bucket::Error,
        _ => Bucket::NonProductive,
    }
}

/// A routing profile as the shell knows it: which queues it takes from, on which channels.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileServes {
    pub id: String,
    pub name: String,
    /// (queue id, channel as in [`QueueNow::channel`]).
    pub queues: Vec<(String, String)>,
}

/// One queue now, all channels together, with the agents who take from it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueueSummary {
    pub queue: String,
    pub name: String,
    pub in_queue: u64,
    pub oldest_contact_age_seconds: Option<u64>,
    pub agents: AgentCounts,
}

/// One routing profile now: its agents, and the contacts waiting for them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProfileNow {
    pub routing_profile: String,
    pub name: String,
    pub agents: AgentCounts,
    pub in_queue: u64,
    pub oldest_contact_age_seconds: Option<u64>,
}

/// Everything a wallboard shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub agents: AgentCounts,
    /// Per routing profile, by name.
    pub by_routing_profile: Vec<ProfileNow>,
    /// Per queue on each channel.
    pub queues: Vec<QueueNow>,
    /// Per queue, channels together, with its agents.
    pub by_queue: Vec<QueueSummary>,
    pub contacts_in_queue: u64,
    pub oldest_contact_age_seconds: Option<u64>,
    /// Each agent, for the status board.
    pub board: Vec<AgentNow>,
}

/// The snapshot at `at` from each agent's state, each queue's waiting
/// contacts and what each routing profile takes from.
pub fn snapshot(
    at: DateTime<Utc>,
    mut board: Vec<AgentNow>,
    queues: Vec<QueueNow>,
    profiles: &[ProfileServes],
) -> Snapshot {
    let mut agents = AgentCounts::default();
    let mut per_profile: BTreeMap<String, AgentCounts> = BTreeMap::new();
    for a in &mut board {
        a.seconds_in_state = a.since.map(|s| (at - s).num_seconds().max(0) as u64);
        agents.add(&a.state);
        per_profile
            .entry(a.routing_profile_id.clone())
            .or_default()
            .add(&a.state);
    }
    let mut by_queue: BTreeMap<&str, QueueSummary> = BTreeMap::new();
    for q in &queues {
        let row = by_queue
            .entry(q.queue.as_str())
            .or_insert_with(|| QueueSummary {
                queue: q.queue.clone(),
                name: q.name.clone(),
                in_queue: 0,
                oldest_contact_age_seconds: None,
                agents: AgentCounts::default(),
            });
        row.in_queue += q.in_queue;
        row.oldest_contact_age_seconds = row
            .oldest_contact_age_seconds
            .max(q.oldest_contact_age_seconds);
    }
    let mut by_routing_profile = Vec::new();
    for p in profiles {
        let counts = per_profile.get(&p.id).cloned().unwrap_or_default();
        let mut row = ProfileNow {
            routing_profile: p.id.clone(),
            name: p.name.clone(),
            agents: counts.clone(),
            in_queue: 0,
            oldest_contact_age_seconds: None,
        };
        for q in queues.iter().filter(|q| {
            p.queues
                .iter()
                .any(|(id, ch)| *id == q.queue && *ch == q.channel)
        }) {
            row.in_queue += q.in_queue;
            row.oldest_contact_age_seconds = row
                .oldest_contact_age_seconds
                .max(q.oldest_contact_age_seconds);
        }
        // The profile's agents count once in each queue it takes from.
        let mut served: Vec<&str> = p.queues.iter().map(|(id, _)| id.as_str()).collect();
        served.sort_unstable();
        served.dedup();
        for id in served {
            if let Some(q) = by_queue.get_mut(id) {
                q.agents.merge(&counts);
            }
        }
        by_routing_profile.push(row);
    }
    // Agents whose profile the shell did not list (deleted meanwhile) still count.
    for (id, counts) in &per_profile {
        if !profiles.iter().any(|p| p.id == *id) {
            let name = board
                .iter()
                .find(|a| a.routing_profile_id == *id)
                .map_or_else(|| id.clone(), |a| a.routing_profile.clone());
            by_routing_profile.push(ProfileNow {
                routing_profile: id.clone(),
                name,
                agents: counts.clone(),
                in_queue: 0,
                oldest_contact_age_seconds: None,
            });
        }
    }
    by_routing_profile.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_queue: Vec<QueueSummary> = by_queue.into_values().collect();
    by_queue.sort_by(|a, b| a.name.cmp(&b.name));
    board.sort_by(|a, b| a.name.cmp(&b.name));
    Snapshot {
        at,
        contacts_in_queue: queues.iter().map(|q| q.in_queue).sum(),
        oldest_contact_age_seconds: queues
            .iter()
            .filter_map(|q| q.oldest_contact_age_seconds)
            .max(),
        agents,
        by_routing_profile,
        queues,
        by_queue,
        board,
    }
}
