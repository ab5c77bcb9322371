//! Historical metrics, as Amazon Connect defines them, over intervals of
//! 15 minutes, an hour, a day or the whole period, grouped by queue, agent,
//! routing profile or channel.
//!
//! A contact counts in the interval in which it entered its queue (its
//! start, if it never queued), so its wait, answer and handle time stay
//! together. Per contact:
//! - **handled**: an agent was connected;
//! - **abandoned**: it was queued, no agent was connected, and it ended
//!   without being transferred on;
//! - **transferred out**: it was queued, no agent was connected, and it
//!   left for another queue or an external number;
//! - **handle time**: the agent's talk + hold + after-contact work;
//! - **speed of answer**: time in queue of a handled contact;
//! - **abandon time**: time in queue until the customer left;
//! - **service level X**: handled within X seconds of queuing, as a share of
//!   the contacts that left the queue (handled + abandoned + transferred out).
//!
//! By routing profile, a contact counts under the profile its agent had
//! when connected (kept in its record), and agent time under the profile
//! they had at the time (kept with each state change; older rows without
//! one count under the agent's current profile).
//!
//! Agent time comes from their state changes, cut at interval edges:
//! - time in each state;
//! - **non-productive**: time in custom statuses (neither Available, Offline,
//!   nor a contact state);
//! - **occupancy**: time on contacts (Incoming, OnContact, AfterContactWork)
//!   over that plus Available time.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use switchboard_model::contact_record::{ContactState, InitiationMethod};
use switchboard_model::ContactRecord;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    FifteenMinutes,
    Hour,
    Day,
    Total,
}

impl Interval {
    fn millis(self) -> Option<i64> {
        match self {
            Interval::FifteenMinutes => Some(15 * 60_000),
            Interval::Hour => Some(3_600_000),
            Interval::Day => Some(86_400_000),
            Interval::Total => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Queue,
    Agent,
    RoutingProfile,
    Channel,
}

/// An agent's state changes (state, Unix ms), oldest first, with the state
/// they were in when the period began (if known).
#[derive(Debug, Clone, Default)]
pub struct AgentTimeline {
    pub agent: String,
    pub name: String,
    /// The routing profile's id and name.
    pub routing_profile: String,
    pub routing_profile_name: String,
    pub state_at_start: Option<String>,
    pub changes: Vec<(String, i64)>,
    /// When the agent's routing profile was known to change: (Unix ms,
    /// profile id, name), oldest first, the first at or before the period's
    /// start where known. Time before the first entry (or all of it, if
    /// there is none) counts under `routing_profile`.
    pub profiles: Vec<(i64, String, String)>,
}

impl AgentTimeline {
    /// The routing profile (id, name) the agent had at `at`.
    fn profile_at(&self, at: i64) -> (&str, &str) {
        self.profiles
            .iter()
            .rev()
            .find(|(from, _, _)| *from <= at)
            .map_or(
                (
                    self.routing_profile.as_str(),
                    self.routing_profile_name.as_str(),
                ),
                |(_, id, name)| (id.as_str(), name.as_str()),
            )
    }
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct Query {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The present: agents' time stops here when the period runs past it
    /// (an agent online for 15 minutes has no hour of Offline before them).
    pub now: DateTime<Utc>,
    pub interval: Interval,
    pub group_by: GroupBy,
    /// Service level thresholds, in seconds.
    pub service_levels: Vec<u32>,
}

/// One row: a group in one interval.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Row {
    pub interval_start: DateTime<Utc>,
    /// The group's id and name (queue, agent, routing profile or channel).
    pub group: String,
    pub group_name: String,
    pub contacts_queued: u64,
    pub contacts_handled: u64,
    pub contacts_abandoned: u64,
    pub contacts_transferred_out: u64,
    /// Seconds; absent when there is nothing to average.
    pub average_handle_time: Option<f64>,
    pub average_talk_time: Option<f64>,
    pub average_hold_time: Option<f64>,
    pub average_after_contact_work_time: Option<f64>,
    pub average_speed_of_answer: Option<f64>,
    pub average_abandon_time: Option<f64>,
    /// Threshold in seconds -> percent (0-100).
    pub service_level: BTreeMap<u32, f64>,
    /// Percent; agents' groups only.
    pub occupancy: Option<f64>,
    /// Seconds in custom statuses; agents' groups only.
    pub non_productive_time: Option<f64>,
    /// State -> seconds; agents' groups only.
    pub time_in_state: BTreeMap<String, f64>,
}

#[derive(Default)]
struct Acc {
    name: String,
    queued: u64,
    handled: u64,
    abandoned: u64,
    transferred_out: u64,
    handle: Vec<f64>,
    talk: Vec<f64>,
    hold: Vec<f64>,
    acw: Vec<f64>,
    answer: Vec<f64>,
    abandon: Vec<f64>,
    states: BTreeMap<String, f64>,
    has_agents: bool,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Contact states that count as working on contacts.
const ON_CONTACT: [&str; 3] = ["Incoming", "OnContact", "AfterContactWork"];
/// Agent states that are neither productive nor custom.
const NOT_CUSTOM: [&str; 7] = [
    "Available",
    "Offline",
    "Incoming",
    "OnContact",
    "AfterContactWork",
    "Missed",
    "Rejected",
];

/// How a contact left (or is still in) Switchboard, as the historical
/// metrics and the Prometheus counters count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An agent was connected.
    Handled,
    /// Queued, no agent, ended without being transferred on.
    Abandoned,
    /// Queued, no agent, sent to another queue or an external number.
    TransferredOut,
    /// Never queued: the flow ended it (or transferred it straight out).
    EndedInFlow,
    /// An agent's outbound call the called party never answered.
    NotConnected,
    /// Not ended yet.
    Live,
}

impl Outcome {
    pub fn of(r: &ContactRecord) -> Outcome {
        // Sent on from the queue: to another queue, or to a number that
        // answered after the contact queued (a flow's transfer before
        // queuing that came back to the flow does not count).
        let transferred = r.next_contact_id.is_some()
            || matches!(
                (&r.queue, r.transfer_completed_timestamp),
                (Some(q), Some(t)) if t >= q.enqueue_timestamp
            );
        let dialled_unanswered = r.initiation_method == InitiationMethod::Outbound
            && r.connected_to_system_timestamp.is_none();
        match (&r.agent, &r.queue, r.state == ContactState::Ended) {
            (Some(_), _, true) if dialled_unanswered => Outcome::NotConnected,
            (Some(_), _, _) => Outcome::Handled,
            (None, _, false) => Outcome::Live,
            (None, Some(_), true) if transferred => Outcome::TransferredOut,
            (None, Some(_), true) => Outcome::Abandoned,
            (None, None, true) => Outcome::EndedInFlow,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Abandoned => "abandoned",
            Outcome::TransferredOut => "transferred_out",
            Outcome::EndedInFlow => "ended_in_flow",
            Outcome::NotConnected => "not_connected",
            Outcome::Live => "live",
        }
    }
}

/// Computes the rows, ordered by interval then group.
pub fn compute(q: &Query, records: &[ContactRecord], agents: &[AgentTimeline]) -> Vec<Row> {
    let from = q.from.timestamp_millis();
    let to = q.to.timestamp_millis();
    let bucket = |at: i64| -> i64 {
        match q.interval.millis() {
            Some(step) => from + (at - from).div_euclid(step) * step,
            None => from,
        }
    };
    let profile_of: HashMap<&str, (&str, &str)> = agents
        .iter()
        .map(|a| {
            (
                a.agent.as_str(),
                (a.routing_profile.as_str(), a.routing_profile_name.as_str()),
            )
        })
        .collect();
    let mut acc: BTreeMap<(i64, String), Acc> = BTreeMap::new();
    for r in records {
        let counted_at = r
            .queue
            .as_ref()
            .map_or(r.initiation_timestamp, |qi| qi.enqueue_timestamp)
            .timestamp_millis();
        if counted_at < from || counted_at >= to {
            continue;
        }
        let (group, name) = match q.group_by {
            GroupBy::Queue => match &r.queue {
                Some(qi) => (qi.id.clone(), qi.name.clone()),
                None => continue,
            },
            GroupBy::Agent => match &r.agent {
                Some(a) => (a.id.clone(), a.username.clone()),
                None => continue,
            },
            GroupBy::RoutingProfile => match &r.agent {
                Some(a) => match &a.routing_profile {
                    Some(p) => (p.id.clone(), p.name.clone()),
                    // Records from before profiles were kept in them.
                    None => match profile_of.get(a.id.as_str()) {
                        Some((id, name)) => (id.to_string(), name.to_string()),
                        None => continue,
                    },
                },
                None => continue,
            },
            GroupBy::Channel => (
                r.channel.as_str().to_string(),
                r.channel.as_str().to_string(),
            ),
        };
        let a = acc.entry((bucket(counted_at), group)).or_default();
        a.name = name;
        let Some(queue) = &r.queue else { continue };
        let outcome = Outcome::of(r);
        // An unanswered outbound call never waited for anyone.
        if outcome == Outcome::NotConnected {
            continue;
        }
        a.queued += 1;
        match (outcome, &r.agent) {
            (Outcome::Handled, Some(agent)) => {
                a.handled += 1;
                let acw = agent.after_contact_work_duration_seconds.unwrap_or(0.0);
                a.talk.push(agent.talk_duration_seconds);
                a.hold.push(agent.hold_duration_seconds);
                a.acw.push(acw);
                a.handle
                    .push(agent.talk_duration_seconds + agent.hold_duration_seconds + acw);
                let waited = queue.duration_seconds.unwrap_or_else(|| {
                    (agent.connected_to_agent_timestamp - queue.enqueue_timestamp)
                        .num_milliseconds()
                        .max(0) as f64
                        / 1000.0
                });
                a.answer.push(waited);
            }
            (Outcome::TransferredOut, _) => a.transferred_out += 1,
            (Outcome::Abandoned, _) => {
                a.abandoned += 1;
                if let Some(end) = r.disconnect_timestamp {
                    a.abandon.push(
                        (end - queue.enqueue_timestamp).num_milliseconds().max(0) as f64 / 1000.0,
                    );
                }
            }
            _ => {}
        }
    }
    if matches!(q.group_by, GroupBy::Agent | GroupBy::RoutingProfile) {
        // What is known ends at the period's end or now, whichever is first.
        let known = to.min(q.now.timestamp_millis()).max(from);
        for t in agents {
            // Each stretch in one state, cut at interval edges.
            let mut state = t.state_at_start.clone();
            let mut since = from;
            let mut stretches = Vec::new();
            for (next, at) in &t.changes {
                let at = (*at).clamp(from, known);
                if let Some(s) = &state {
                    stretches.push((s.clone(), since, at));
                }
                state = Some(next.clone());
                since = at;
            }
            if let Some(s) = state {
                stretches.push((s, since, known));
            }
            for (s, mut start, end) in stretches {
                while start < end {
                    let b = bucket(start);
                    let mut edge = q.interval.millis().map_or(to, |step| (b + step).min(to));
                    let (group, name) = match q.group_by {
                        GroupBy::Agent => (t.agent.as_str(), t.name.as_str()),
                        _ => {
                            // Also cut where the agent moved to another profile.
                            if let Some((next, _, _)) = t
                                .profiles
                                .iter()
                                .find(|(at, _, _)| *at > start && *at < edge)
                            {
                                edge = *next;
                            }
                            t.profile_at(start)
                        }
                    };
                    let stop = end.min(edge);
                    let a = acc.entry((b, group.to_string())).or_default();
                    a.name = name.to_string();
                    a.has_agents = true;
                    *a.states.entry(s.clone()).or_default() += (stop - start) as f64 / 1000.0;
                    start = stop;
                }
            }
        }
    }
    acc.into_iter()
        .map(|((b, group), a)| {
            let leaving = a.handled + a.abandoned + a.transferred_out;
            let service_level = q
                .service_levels
                .iter()
                .filter(|_| leaving > 0)
                .map(|&x| {
                    let within = a.answer.iter().filter(|w| **w <= f64::from(x)).count();
                    (x, 100.0 * within as f64 / leaving as f64)
                })
                .collect();
            let time = |names: &[&str]| -> f64 {
                a.states
                    .iter()
                    .filter(|(s, _)| names.contains(&s.as_str()))
                    .map(|(_, t)| t)
                    .sum()
            };
            let busy = time(&ON_CONTACT);
            let idle = time(&["Available"]);
            let custom: f64 = a
                .states
                .iter()
                .filter(|(s, _)| !NOT_CUSTOM.contains(&s.as_str()) && s.as_str() != "Error")
                .map(|(_, t)| t)
                .sum();
            Row {
                interval_start: Utc.timestamp_millis_opt(b).single().unwrap_or(q.from),
                group,
                group_name: a.name,
                contacts_queued: a.queued,
                contacts_handled: a.handled,
                contacts_abandoned: a.abandoned,
                contacts_transferred_out: a.transferred_out,
                average_handle_time: mean(&a.handle),
                average_talk_time: mean(&a.talk),
                average_hold_time: mean(&a.hold),
                average_after_contact_work_time: mean(&a.acw),
                average_speed_of_answer: mean(&a.answer),
                average_abandon_time: mean(&a.abandon),
                service_level,
                occupancy: (a.has_agents && busy + idle > 0.0)
                    .then(|| 100.0 * busy / (busy + idle)),
                non_productive_time: a.has_agents.then_some(custom),
                time_in_state: a.states,
            }
        })
        .collect()
}

/// The rows as CSV (RFC 4180), one column per service level threshold and
/// per agent state seen.
pub fn to_csv(rows: &[Row]) -> String {
    let levels: std::collections::BTreeSet<u32> = rows
        .iter()
        .flat_map(|r| r.service_level.keys().copied())
        .collect();
    let states: std::collections::BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.time_in_state.keys().map(String::as_str))
        .collect();
    let mut out = String::from(
        "interval_start,group,group_name,contacts_queued,contacts_handled,contacts_abandoned,\
         contacts_transferred_out,average_handle_time,average_talk_time,average_hold_time,average_after_contact_work_time,\
         average_speed_of_answer,average_abandon_time,occupancy,non_productive_time",
    );
    for l in &levels {
        out.push_str(&format!(",service_level_{l}"));
    }
    for s in &states {
        out.push_str(&format!(",time_in_{}", field(s)));
    }
    out.push_str("\r\n");
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.2}"));
    for r in rows {
        let cells = [
            r.interval_start.to_rfc3339(),
            field(&r.group),
            field(&r.group_name),
            r.contacts_queued.to_string(),
            r.contacts_handled.to_string(),
            r.contacts_abandoned.to_string(),
            r.contacts_transferred_out.to_string(),
            num(r.average_handle_time),
            num(r.average_talk_time),
            num(r.average_hold_time),
            num(r.average_after_contact_work_time),
            num(r.average_speed_of_answer),
            num(r.average_abandon_time),
            num(r.occupancy),
            num(r.non_productive_time),
        ];
        out.push_str(&cells.join(","));
        for l in &levels {
            out.push(',');
            out.push_str(&num(r.service_level.get(l).copied()));
        }
        for s in &states {
            out.push(',');
            out.push_str(&num(r.time_in_state.get(*s).copied()));
        }
        out.push_str("\r\n");
    }
    out
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@`
/// is defused so spreadsheets do not run it as a formula.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
