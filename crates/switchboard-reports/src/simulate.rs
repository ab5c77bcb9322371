//! A routing simulator: a scripted stretch of contacts and agents played
//! through the real router (`switchboard-routing`) on a simulated clock.
//!
//! It writes what the live shells write — one contact record per contact
//! and each agent's state changes — so historical metrics can be checked
//! against hand-computed scenarios without sockets or sleeps, and a whole
//! day of traffic replays in milliseconds.
//!
//! The simulated people behave simply and predictably:
//! - a customer arrives at a queue and waits; they hang up after
//!   `gives_up_after` seconds in the queue, or the queue flow sends them to
//!   an external number after `transferred_out_after` seconds;
//! - an agent answers an offer after `answer_after` seconds (or never, and
//!   the offer is missed), talks for the contact's `talk_seconds`, holds
//!   for its `hold_seconds`, then does `after_contact_work_seconds` of
//!   after-contact work and closes it;
//! - agents change status at the times their script gives.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use switchboard_model::contact_record::{
    AgentInfo, Endpoint, QueueInfo, RoutingProfileRef, TranscriptInfo,
};
use switchboard_model::ContactRecord;
use switchboard_routing::{
    AgentConfig, AgentId, AgentState, Channel, ContactId, Effect, Event, EventError, Millis,
    ProfileConfig, ProfileId, ProfileQueue, QueueConfig, QueueId, Router, RoutingConfig, Status,
};

use crate::historical::AgentTimeline;
use switchboard_model::contact_record::{ContactState, DisconnectReason, InitiationMethod};

/// What an agent sets themselves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimStatus {
    Available,
    Offline,
    /// A custom status, by name (Lunch, Training...).
    Custom(String),
}

#[derive(Debug, Clone)]
pub struct SimQueue {
    pub id: String,
    pub name: String,
}

/// A routing profile taking voice (one at a time) and chat (`chat_slots` at
/// once) from `queues` (indexes into [`Scenario::queues`]), all at one priority.
#[derive(Debug, Clone)]
pub struct SimProfile {
    pub id: String,
    pub name: String,
    pub queues: Vec<usize>,
    pub chat_slots: u32,
}

#[derive(Debug, Clone)]
pub struct SimAgent {
    pub id: String,
    pub username: String,
    /// Index into [`Scenario::profiles`].
    pub profile: usize,
    /// Seconds from an offer to accepting it; `None` never accepts.
    pub answer_after: Option<u64>,
    pub after_contact_work_seconds: u64,
    /// (seconds from the start, status), in any order.
    pub statuses: Vec<(i64, SimStatus)>,
}

#[derive(Debug, Clone)]
pub struct SimContact {
    pub id: String,
    pub channel: Channel,
    /// Index into [`Scenario::queues`].
    pub queue: usize,
    /// Seconds from the start.
    pub arrives: i64,
    /// Seconds in queue before the customer hangs up.
    pub gives_up_after: Option<i64>,
    /// Seconds in queue before the queue flow transfers the customer to an
    /// external number (who then talks for `talk_seconds`).
    pub transferred_out_after: Option<i64>,
    pub talk_seconds: u64,
    pub hold_seconds: u64,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub start: DateTime<Utc>,
    pub queues: Vec<SimQueue>,
    pub profiles: Vec<SimProfile>,
    pub agents: Vec<SimAgent>,
    pub contacts: Vec<SimContact>,
    /// An offer not accepted in this long is missed.
    pub offer_timeout_seconds: u64,
    /// The number customers call (their records' system endpoint).
    pub system_number: String,
}

/// What the shells would have stored.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One final record per contact, in the scenario's order.
    pub records: Vec<ContactRecord>,
    /// Each agent's state changes, in the scenario's order.
    pub timelines: Vec<AgentTimeline>,
    /// Routing decisions the router made.
    pub decisions: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Status(usize, usize),
    Arrive(usize),
    GiveUp(usize),
    TransferOut(usize),
    /// Contact, agent, which offer (stale ones are ignored).
    Answer(usize, usize, u32),
    End(usize),
    CloseAcw(usize, usize),
}

#[derive(Default)]
struct Live {
    /// The agent offered the contact now, and which offer that is.
    offer: Option<(usize, u32)>,
    offers: u32,
    connected: Option<usize>,
    ended: bool,
}

/// The simulation gives up after this many steps (a scenario that loops).
const MAX_STEPS: usize = 10_000_000;

/// The longest stretch a scenario may script, so no time overflows.
const MAX_SECONDS: i64 = 10 * 366 * 86_400;

/// Why a scenario cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// A field of the scenario is out of bounds or names nothing.
    #[error("{field}: {reason}")]
    Field {
        /// Where in the scenario, as the API names it (`contacts[0].queue`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The router rejected the scenario's configuration.
    #[error("the routing configuration: {0}")]
    Config(#[from] switchboard_routing::ConfigError),
    /// The router refused an event the scenario scripted.
    #[error("at {at}: {error}")]
    Routing {
        /// When, in the scenario's time.
        at: String,
        /// The router's reason.
        error: EventError,
    },
    /// The scenario kept producing events past the step limit.
    #[error("the scenario did not end in {0} steps")]
    Endless(usize),
}

impl ScenarioError {
    fn field(field: impl Into<String>, reason: String) -> Self {
        ScenarioError::Field {
            field: field.into(),
            reason,
        }
    }
}

/// Every scripted time and duration within bounds, or the first that is not.
fn check(s: &Scenario) -> Result<(), ScenarioError> {
    let year = chrono::Datelike::year(&s.start);
    if !(1970..=9000).contains(&year) {
        return Err(ScenarioError::field(
            "start",
            format!("must be between 1970 and 9000, got {year}"),
        ));
    }
    let within = |field: String, v: i64| {
        if (0..=MAX_SECONDS).contains(&v) {
            Ok(())
        } else {
            Err(ScenarioError::field(
                field,
                format!("must be 0 to {MAX_SECONDS} seconds, got {v}"),
            ))
        }
    };
    let unsigned = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    within(
        "offer_timeout_seconds".into(),
        unsigned(s.offer_timeout_seconds),
    )?;
    for (i, a) in s.agents.iter().enumerate() {
        within(
            format!("agents[{i}].after_contact_work_seconds"),
            unsigned(a.after_contact_work_seconds),
        )?;
        if let Some(v) = a.answer_after {
            within(format!("agents[{i}].answer_after"), unsigned(v))?;
        }
        for (j, (when, _)) in a.statuses.iter().enumerate() {
            within(format!("agents[{i}].statuses[{j}]"), *when)?;
        }
    }
    for (i, c) in s.contacts.iter().enumerate() {
        within(format!("contacts[{i}].arrives"), c.arrives)?;
        within(
            format!("contacts[{i}].talk_seconds"),
            unsigned(c.talk_seconds),
        )?;
        within(
            format!("contacts[{i}].hold_seconds"),
            unsigned(c.hold_seconds),
        )?;
        if let Some(v) = c.gives_up_after {
            within(format!("contacts[{i}].gives_up_after"), v)?;
        }
        if let Some(v) = c.transferred_out_after {
            within(format!("contacts[{i}].transferred_out_after"), v)?;
        }
    }
    Ok(())
}

/// Plays `s` to its end: until nothing is scheduled and the router has no
/// timer due. A contact nobody takes and whose customer never gives up is
/// still `QUEUED` then.
pub fn run(s: &Scenario) -> Result<Outcome, ScenarioError> {
    check(s)?;
    let start_ms = s.start.timestamp_millis();
    let at = |ms: Millis| {
        Utc.timestamp_millis_opt(ms as i64)
            .single()
            .unwrap_or(s.start)
    };
    let ms_of = |seconds: i64| -> Result<Millis, ScenarioError> {
        u64::try_from(start_ms + seconds * 1000)
            .map_err(|_| ScenarioError::field("start", format!("{seconds} s is before 1970")))
    };
    let mut custom: Vec<String> = Vec::new();
    let mut timers: BinaryHeap<Reverse<(Millis, u64, Action)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |timers: &mut BinaryHeap<_>, when: Millis, action: Action| {
        seq += 1;
        timers.push(Reverse((when, seq, action)));
    };
    for (i, a) in s.agents.iter().enumerate() {
        if a.profile >= s.profiles.len() {
            return Err(ScenarioError::field(
                format!("agents[{i}].profile"),
                format!("no profile {}", a.profile),
            ));
        }
        for (when, status) in &a.statuses {
            let n = match status {
                SimStatus::Available => usize::MAX,
                SimStatus::Offline => usize::MAX - 1,
                SimStatus::Custom(name) => match custom.iter().position(|c| c == name) {
                    Some(n) => n,
                    None => {
                        custom.push(name.clone());
                        custom.len() - 1
                    }
                },
            };
            push(&mut timers, ms_of(*when)?, Action::Status(i, n));
        }
    }
    for (i, c) in s.contacts.iter().enumerate() {
        if c.queue >= s.queues.len() {
            return Err(ScenarioError::field(
                format!("contacts[{i}].queue"),
                format!("no queue {}", c.queue),
            ));
        }
        push(&mut timers, ms_of(c.arrives)?, Action::Arrive(i));
    }
    let mut profiles = Vec::new();
    for (i, p) in s.profiles.iter().enumerate() {
        let mut queues = Vec::new();
        for &q in &p.queues {
            if q >= s.queues.len() {
                return Err(ScenarioError::field(
                    format!("profiles[{i}].queues"),
                    format!("no queue {q}"),
                ));
            }
            for channel in [Channel::Voice, Channel::Chat] {
                queues.push(ProfileQueue {
                    queue: QueueId(q as u32),
                    channel,
                    priority: 1,
                    delay_ms: 0,
                });
            }
        }
        profiles.push(ProfileConfig {
            concurrency: [1, p.chat_slots, 0],
            route_any_channel: [false, false, false],
            queues,
        });
    }
    let mut router = Router::new(RoutingConfig {
        queues: vec![QueueConfig::default(); s.queues.len()],
        profiles,
        agents: s
            .agents
            .iter()
            .map(|a| AgentConfig {
                profile: ProfileId(a.profile as u32),
                // The script closes after-contact work itself.
                acw_timeout_ms: 0,
            })
            .collect(),
        offer_timeout_ms: s.offer_timeout_seconds * 1000,
    })?;

    let mut records: Vec<ContactRecord> = s
        .contacts
        .iter()
        .map(|c| ContactRecord {
            id: c.id.clone(),
            channel: match c.channel {
                Channel::Chat => switchboard_model::contact_record::Channel::Chat,
                _ => switchboard_model::contact_record::Channel::Voice,
            },
            initiation_method: if c.channel == Channel::Chat {
                InitiationMethod::Api
            } else {
                InitiationMethod::Inbound
            },
            initiation_timestamp: s.start + Duration::seconds(c.arrives),
            connected_to_system_timestamp: Some(s.start + Duration::seconds(c.arrives)),
            customer_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: format!("+4477009{:05}", c.arrives.rem_euclid(100_000)),
            },
            system_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: s.system_number.clone(),
            },
            state: ContactState::InFlow,
            ..Default::default()
        })
        .collect();
    let mut live: Vec<Live> = s.contacts.iter().map(|_| Live::default()).collect();
    let mut timelines: Vec<AgentTimeline> = s
        .agents
        .iter()
        .map(|a| {
            let p = &s.profiles[a.profile];
            AgentTimeline {
                agent: a.id.clone(),
                name: a.username.clone(),
                routing_profile: p.id.clone(),
                routing_profile_name: p.name.clone(),
                state_at_start: Some("Offline".into()),
                changes: vec![],
                profiles: vec![],
            }
        })
        .collect();

    let mut out = Vec::new();
    let mut steps = 0usize;
    loop {
        steps += 1;
        if steps > MAX_STEPS {
            return Err(ScenarioError::Endless(MAX_STEPS));
        }
        let next_action = timers.peek().map(|Reverse((when, _, _))| *when);
        let (now, action) = match (next_action, router.next_wake()) {
            (None, None) => break,
            // The router's due timers (offer timeouts) go before the
            // script's actions at the same moment, as they would live.
            (Some(a), Some(w)) if w <= a => (w, None),
            (None, Some(w)) => (w, None),
            _ => {
                let Some(Reverse((when, _, action))) = timers.pop() else {
                    break;
                };
                (when, Some(action))
            }
        };
        out.clear();
        let event = match action {
            None => Some(Event::Tick),
            Some(action) => {
                let at_now = at(now);
                match action {
                    Action::Status(a, n) => Some(Event::SetStatus {
                        agent: AgentId(a as u32),
                        status: match n {
                            usize::MAX => Status::Available,
                            n if n == usize::MAX - 1 => Status::Offline,
                            n => Status::Custom(n as u32),
                        },
                    }),
                    Action::Arrive(c) => {
                        let sc = &s.contacts[c];
                        let q = &s.queues[sc.queue];
                        let r = &mut records[c];
                        r.queue = Some(QueueInfo {
                            id: q.id.clone(),
                            name: q.name.clone(),
                            enqueue_timestamp: at_now,
                            ..Default::default()
                        });
                        r.state = ContactState::Queued;
                        if let Some(w) = sc.gives_up_after {
                            push(&mut timers, now + w.max(0) as u64 * 1000, Action::GiveUp(c));
                        }
                        if let Some(w) = sc.transferred_out_after {
                            push(
                                &mut timers,
                                now + w.max(0) as u64 * 1000,
                                Action::TransferOut(c),
                            );
                        }
                        Some(Event::Enqueue {
                            contact: ContactId(c as u64),
                            queue: QueueId(sc.queue as u32),
                            channel: sc.channel,
                            priority: 5,
                            time_adjustment_ms: 0,
                        })
                    }
                    Action::GiveUp(c) | Action::TransferOut(c) => {
                        let l = &mut live[c];
                        if l.connected.is_some() || l.ended {
                            None
                        } else {
                            l.ended = true;
                            l.offer = None;
                            let r = &mut records[c];
                            leave_queue(r, at_now);
                            r.state = ContactState::Ended;
                            if matches!(action, Action::TransferOut(_)) {
                                let talk = s.contacts[c].talk_seconds as i64;
                                r.transferred_to_endpoint = Some(Endpoint {
                                    kind: "TELEPHONE_NUMBER".into(),
                                    address: "+442079460999".into(),
                                });
                                r.transfer_completed_timestamp = Some(at_now);
                                r.disconnect_timestamp = Some(at_now + Duration::seconds(talk));
                                r.disconnect_reason = Some(DisconnectReason::ThirdPartyDisconnect);
                            } else {
                                r.disconnect_timestamp = Some(at_now);
                                r.disconnect_reason = Some(DisconnectReason::CustomerDisconnect);
                            }
                            Some(Event::Abandon {
                                contact: ContactId(c as u64),
                            })
                        }
                    }
                    Action::Answer(c, a, offer) => {
                        (live[c].offer == Some((a, offer))).then_some(Event::Accept {
                            contact: ContactId(c as u64),
                            agent: AgentId(a as u32),
                        })
                    }
                    Action::End(c) => {
                        let sc = &s.contacts[c];
                        live[c].ended = true;
                        let r = &mut records[c];
                        if let Some(agent) = &mut r.agent {
                            agent.talk_duration_seconds = sc.talk_seconds as f64;
                            agent.hold_duration_seconds = sc.hold_seconds as f64;
                            agent.hold_count = u32::from(sc.hold_seconds > 0);
                            agent.after_contact_work_start_timestamp = Some(at_now);
                        }
                        r.disconnect_timestamp = Some(at_now);
                        r.disconnect_reason = Some(DisconnectReason::CustomerDisconnect);
                        r.state = ContactState::Ended;
                        if r.channel == switchboard_model::contact_record::Channel::Chat {
                            r.transcript = Some(TranscriptInfo {
                                location: format!("transcripts/{}.json", r.id),
                                message_count: 2 + sc.talk_seconds / 30,
                                status: "AVAILABLE".into(),
                                status_reason: None,
                            });
                        }
                        if let Some(a) = live[c].connected {
                            let acw = s.agents[a].after_contact_work_seconds;
                            push(&mut timers, now + acw * 1000, Action::CloseAcw(c, a));
                        }
                        Some(Event::ContactEnded {
                            contact: ContactId(c as u64),
                        })
                    }
                    Action::CloseAcw(c, a) => {
                        if let Some(agent) = &mut records[c].agent {
                            agent.after_contact_work_end_timestamp = Some(at_now);
                            agent.after_contact_work_duration_seconds = agent
                                .after_contact_work_start_timestamp
                                .map(|st| (at_now - st).num_milliseconds() as f64 / 1000.0);
                        }
                        Some(Event::CloseAcw {
                            agent: AgentId(a as u32),
                            contact: ContactId(c as u64),
                        })
                    }
                }
            }
        };
        let Some(event) = event else { continue };
        match router.handle(now, event, &mut out) {
            Ok(()) => {}
            // The agent accepted just as the offer was withdrawn: as live.
            Err(
                EventError::WrongStage(_)
                | EventError::UnknownContact(_)
                | EventError::NotOffered(..),
            ) => {}
            Err(e) => {
                return Err(ScenarioError::Routing {
                    at: at(now).to_string(),
                    error: e,
                })
            }
        }
        for effect in out.drain(..) {
            match effect {
                Effect::Offer { contact, agent, .. } => {
                    let (c, a) = (contact.0 as usize, agent.0 as usize);
                    let l = &mut live[c];
                    l.offers += 1;
                    l.offer = Some((a, l.offers));
                    if let Some(after) = s.agents[a].answer_after {
                        push(
                            &mut timers,
                            now + after * 1000,
                            Action::Answer(c, a, l.offers),
                        );
                    }
                }
                Effect::Rescind { contact, agent } => {
                    let l = &mut live[contact.0 as usize];
                    if l.offer.map(|(a, _)| a) == Some(agent.0 as usize) {
                        l.offer = None;
                    }
                }
                Effect::Requeued { contact } => live[contact.0 as usize].offer = None,
                Effect::Connected { contact, agent } => {
                    let (c, a) = (contact.0 as usize, agent.0 as usize);
                    let sa = &s.agents[a];
                    let p = &s.profiles[sa.profile];
                    let at_now = at(now);
                    let l = &mut live[c];
                    l.offer = None;
                    l.connected = Some(a);
                    let r = &mut records[c];
                    leave_queue(r, at_now);
                    r.agent = Some(AgentInfo {
                        id: sa.id.clone(),
                        username: sa.username.clone(),
                        routing_profile: Some(RoutingProfileRef {
                            id: p.id.clone(),
                            name: p.name.clone(),
                        }),
                        connected_to_agent_timestamp: at_now,
                        number_of_offers: l.offers,
                        ..Default::default()
                    });
                    r.state = ContactState::Connected;
                    let sc = &s.contacts[c];
                    push(
                        &mut timers,
                        now + (sc.talk_seconds + sc.hold_seconds) * 1000,
                        Action::End(c),
                    );
                }
                Effect::Refused { contact, .. } => {
                    let c = contact.0 as usize;
                    live[c].ended = true;
                    let r = &mut records[c];
                    r.queue = None;
                    r.state = ContactState::Ended;
                    r.disconnect_timestamp = Some(at(now));
                    r.disconnect_reason = Some(DisconnectReason::ContactFlowDisconnect);
                }
                Effect::AgentState { agent, state, at } => {
                    let name = match state {
                        AgentState::Custom(n) => custom
                            .get(n as usize)
                            .cloned()
                            .unwrap_or_else(|| format!("Custom{n}")),
                        other => format!("{other:?}"),
                    };
                    timelines[agent.0 as usize].changes.push((name, at as i64));
                }
                Effect::Done { .. } => {}
            }
        }
    }
    Ok(Outcome {
        records,
        timelines,
        decisions: router.decisions(),
    })
}

fn leave_queue(r: &mut ContactRecord, at: DateTime<Utc>) {
    if let Some(q) = &mut r.queue {
        if q.dequeue_timestamp.is_none() {
            q.dequeue_timestamp = Some(at);
            q.duration_seconds =
                Some((at - q.enqueue_timestamp).num_milliseconds().max(0) as f64 / 1000.0);
        }
    }
}
