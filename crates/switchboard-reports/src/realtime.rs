//! Real-time metrics: how many agents are in which kind of state, in all
//! and per routing profile, and how many contacts wait in each queue.
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
    pub routing_profile: String,
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

/// Everything a wallboard shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub agents: AgentCounts,
    pub by_routing_profile: BTreeMap<String, AgentCounts>,
    pub queues: Vec<QueueNow>,
    pub contacts_in_queue: u64,
    pub oldest_contact_age_seconds: Option<u64>,
    /// Each agent, for the status board.
    pub board: Vec<AgentNow>,
}

/// The snapshot at `at` from each agent's state and each queue's waiting contacts.
pub fn snapshot(at: DateTime<Utc>, mut board: Vec<AgentNow>, queues: Vec<QueueNow>) -> Snapshot {
    let mut agents = AgentCounts::default();
    let mut by_routing_profile: BTreeMap<String, AgentCounts> = BTreeMap::new();
    for a in &mut board {
        a.seconds_in_state = a.since.map(|s| (at - s).num_seconds().max(0) as u64);
        agents.add(&a.state);
        by_routing_profile
            .entry(a.routing_profile.clone())
            .or_default()
            .add(&a.state);
    }
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
        board,
    }
}
