//! The router's shell: one tokio task owns the [`Router`](switchboard_routing::Router) state machine and
//! is the only thing that touches it. Everything else talks to it through a
//! [`RoutingHandle`]:
//!
//! - events go in by message, each first appended to the store's event log,
//!   so a restart replays them and rebuilds who is available and who waits;
//! - decisions come out on a broadcast bus ([`RoutingUpdate`]) that the voice,
//!   chat and CCP shells subscribe to;
//! - the task sleeps until the router's next timer and then ticks it;
//! - configuration changes (queues, routing profiles, users, statuses) are
//!   re-read from the store and applied without a restart.
//!
//! The router numbers objects densely; this shell maps the store's ids to
//! those numbers and back, keeping numbers stable for the life of the process.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_model::objects::agent_status::AgentStatusType;
use switchboard_model::objects::queue::RoutingStrategy;
use switchboard_model::objects::routing_profile::CrossChannelBehavior;
use switchboard_model::{
    AgentStatus, Channel as ModelChannel, Queue, QueueStatus, RoutingProfile, User,
};
use switchboard_routing as r;
use switchboard_store::Store;
use tokio::sync::{broadcast, mpsc, oneshot};
use utoipa::ToSchema;

/// What a contact's core tells routing, as the routing event it is.
pub fn from_contact(route: switchboard_contact::Route) -> RoutingEvent {
    use switchboard_contact::Route;
    match route {
        Route::Abandon { contact } => RoutingEvent::Abandon { contact },
        Route::Accept { contact, agent } => RoutingEvent::Accept { contact, agent },
        Route::Reject { contact, agent } => RoutingEvent::Reject { contact, agent },
        Route::AgentError { agent } => RoutingEvent::AgentError { agent },
        Route::ContactEnded { contact } => RoutingEvent::ContactEnded { contact },
    }
}

/// A routing event with the store's ids: what the event log holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoutingEvent {
    Enqueue {
        contact: String,
        queue: String,
        channel: ModelChannel,
        priority: u32,
        time_adjustment_seconds: i64,
    },
    Abandon {
        contact: String,
    },
    /// Move a waiting contact to another queue (by id).
    Transfer {
        contact: String,
        queue: String,
    },
    /// `status` is an agent status id.
    SetStatus {
        agent: String,
        status: String,
    },
    Accept {
        contact: String,
        agent: String,
    },
    Reject {
        contact: String,
        agent: String,
    },
    AgentError {
        agent: String,
    },
    ContactEnded {
        contact: String,
    },
    CloseAcw {
        agent: String,
        contact: String,
    },
    /// The agent calls out: the contact is theirs at once, counted in `queue`.
    Outbound {
        contact: String,
        agent: String,
        queue: String,
        channel: ModelChannel,
    },
}

/// The routing id of a user's own queue (Connect's agent queue): contacts
/// transferred to that agent wait there, and only they are offered them.
pub fn agent_queue(user_id: &str) -> String {
    format!("agent:{user_id}")
}

/// Longest queue-time adjustment accepted: a week either way.
const MAX_ADJUSTMENT_SECONDS: i64 = 7 * 24 * 3600;

impl RoutingEvent {
    /// Refuses values the router cannot order by, before they reach the
    /// event log (where a bad event would be replayed at every start).
    pub fn check(&self) -> Result<(), RoutingError> {
        if let RoutingEvent::Enqueue {
            priority,
            time_adjustment_seconds,
            ..
        } = self
        {
            if !(1..=1000).contains(priority) {
                return Err(RoutingError::Invalid(format!(
                    "priority {priority} must be between 1 and 1000"
                )));
            }
            if time_adjustment_seconds.abs() > MAX_ADJUSTMENT_SECONDS {
                return Err(RoutingError::Invalid(format!(
                    "time adjustment must be within {MAX_ADJUSTMENT_SECONDS} seconds"
                )));
            }
        }
        Ok(())
    }
}

/// Why the routing service did not apply an event or a configuration.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// A value the router cannot order by (priority, time adjustment).
    #[error("{0}")]
    Invalid(String),
    /// An id routing does not know (a user, contact, status or queue).
    #[error("{0}")]
    Unknown(String),
    /// The router refused the event in its current state.
    #[error(transparent)]
    Refused(#[from] r::EventError),
    /// The configuration read from the store is not one the router can run.
    #[error("routing configuration: {0}")]
    Config(#[from] r::ConfigError),
    /// The store could not be read or the event log written.
    #[error("could not record the event: {0}")]
    Store(#[from] switchboard_store::StoreError),
    /// A log record could not be written as JSON.
    #[error("routing log: {0}")]
    Log(#[from] serde_json::Error),
    /// The routing task has ended (the process is stopping).
    #[error("the router stopped")]
    Stopped,
}

/// A routing decision or change, with the store's ids: what the bus carries.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoutingUpdate {
    Offer {
        contact: String,
        agent: String,
        queue: String,
        channel: ModelChannel,
    },
    Rescind {
        contact: String,
        agent: String,
    },
    Connected {
        contact: String,
        agent: String,
    },
    /// In JSON `reason` is `unknown_queue`, `queue_disabled`,
    /// `queue_at_capacity` or `duplicate`.
    Refused {
        contact: String,
        #[schema(value_type = String)]
        reason: r::Refusal,
    },
    Requeued {
        contact: String,
    },
    Done {
        contact: String,
    },
    AgentState {
        agent: String,
        #[schema(value_type = String)]
        state: AgentState,
        at: DateTime<Utc>,
    },
}

/// An agent's state, as the API, the CCP and reports name it: the router's
/// state with a custom status by its name. In JSON a string: `Offline`,
/// `Available`, the custom status's name, `Incoming`, `OnContact`,
/// `AfterContactWork`, `Missed`, `Rejected` or `Error`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// Chose Offline, nothing in progress.
    Offline,
    /// Chose Available, nothing in progress: routable.
    Available,
    /// Chose a custom status (Lunch, Training...), nothing in progress.
    Custom(String),
    /// Being offered a contact.
    Incoming,
    /// Connected to a contact.
    OnContact,
    /// Wrapping up an ended contact.
    AfterContactWork,
    /// Did not accept an offer in time.
    Missed,
    /// Rejected an offer.
    Rejected,
    /// The agent's phone or CCP failed.
    Error,
}

impl AgentState {
    /// The name shown and stored.
    pub fn as_str(&self) -> &str {
        match self {
            AgentState::Offline => "Offline",
            AgentState::Available => "Available",
            AgentState::Custom(name) => name,
            AgentState::Incoming => "Incoming",
            AgentState::OnContact => "OnContact",
            AgentState::AfterContactWork => "AfterContactWork",
            AgentState::Missed => "Missed",
            AgentState::Rejected => "Rejected",
            AgentState::Error => "Error",
        }
    }

    /// Busy with a contact: offered, on it, or wrapping it up.
    pub fn is_on_contact(&self) -> bool {
        matches!(
            self,
            AgentState::Incoming | AgentState::OnContact | AgentState::AfterContactWork
        )
    }
}

impl std::fmt::Display for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AgentState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentSnapshot {
    pub agent: String,
    #[schema(value_type = String)]
    pub state: AgentState,
    pub since: Option<DateTime<Utc>>,
}

/// A contact routing holds: `stage` is `waiting`, `offered`, `connected`
/// or `after_contact_work` in JSON; `agent` the agent it is with (or
/// offered to).
#[derive(Debug, Clone, Serialize)]
pub struct ContactSnapshot {
    pub contact: String,
    pub channel: ModelChannel,
    pub stage: r::ContactStage,
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueSnapshot {
    pub queue: String,
    pub channel: ModelChannel,
    pub waiting: usize,
    pub oldest_waiting_seconds: Option<u64>,
}

fn channel(c: ModelChannel) -> r::Channel {
    match c {
        ModelChannel::Voice => r::Channel::Voice,
        ModelChannel::Chat => r::Channel::Chat,
        ModelChannel::Task => r::Channel::Task,
    }
}

fn model_channel(c: r::Channel) -> ModelChannel {
    match c {
        r::Channel::Voice => ModelChannel::Voice,
        r::Channel::Chat => ModelChannel::Chat,
        r::Channel::Task => ModelChannel::Task,
    }
}

/// Stable dense numbers for the store's ids.
#[derive(Default, Clone)]
struct Numbers {
    ids: Vec<String>,
    index: HashMap<String, u32>,
}

impl Numbers {
    fn number(&mut self, id: &str) -> u32 {
        if let Some(n) = self.index.get(id) {
            return *n;
        }
        let n = self.ids.len() as u32;
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), n);
        n
    }

    fn from_ids(ids: Vec<String>) -> Self {
        let index = ids
            .iter()
            .enumerate()
            .map(|(n, id)| (id.clone(), n as u32))
            .collect();
        Numbers { ids, index }
    }

    fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    fn id(&self, n: u32) -> String {
        self.ids.get(n as usize).cloned().unwrap_or_default()
    }
}

/// The configuration the router ran with from some moment on, with the
/// numbering of the store's ids. Written to the event log at every reload,
/// so a replay runs each event under the configuration it first ran under.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    config: r::RoutingConfig,
    queues: Vec<String>,
    profiles: Vec<String>,
    agents: Vec<String>,
    /// Agent status id -> router status (enabled statuses only).
    statuses: Vec<(String, r::Status)>,
    custom_ids: Vec<String>,
    custom_names: Vec<(u32, String)>,
}

/// One line of the event log.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LogRecord {
    Configure { configure: Box<Snapshot> },
    Event(RoutingEvent),
}

enum Command {
    Event(
        RoutingEvent,
        oneshot::Sender<Result<Vec<RoutingUpdate>, RoutingError>>,
    ),
    Reload(oneshot::Sender<Result<(), RoutingError>>),
    Agents(oneshot::Sender<Vec<AgentSnapshot>>),
    Queues(oneshot::Sender<Vec<QueueSnapshot>>),
    Position(String, oneshot::Sender<Option<(usize, usize)>>),
    Contacts(oneshot::Sender<Vec<ContactSnapshot>>),
}

/// Talks to the routing task. Cheap to clone.
#[derive(Clone)]
pub struct RoutingHandle {
    tx: mpsc::Sender<Command>,
    updates: broadcast::Sender<RoutingUpdate>,
    /// How long each event takes, from here (for `/metrics`).
    latency: prometheus_client::metrics::histogram::Histogram,
}

impl RoutingHandle {
    /// Applies an event; returns what it caused (also sent on the bus).
    pub async fn send(&self, event: RoutingEvent) -> Result<Vec<RoutingUpdate>, RoutingError> {
        event.check()?;
        let started = std::time::Instant::now();
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Event(event, tx))
            .await
            .map_err(|_| RoutingError::Stopped)?;
        let answer = rx.await.map_err(|_| RoutingError::Stopped)?;
        self.latency.observe(started.elapsed().as_secs_f64());
        answer
    }

    /// The event latency histogram (shared, for `/metrics`).
    pub fn latency(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.latency.clone()
    }

    /// Re-reads queues, routing profiles, users and statuses from the store.
    pub async fn reload(&self) -> Result<(), RoutingError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Reload(tx))
            .await
            .map_err(|_| RoutingError::Stopped)?;
        rx.await.map_err(|_| RoutingError::Stopped)?
    }

    pub async fn agents(&self) -> Vec<AgentSnapshot> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Agents(tx)).await;
        rx.await.unwrap_or_default()
    }

    /// One agent's state now (`None` for an agent routing does not know).
    pub async fn agent(&self, agent: &str) -> Option<AgentSnapshot> {
        self.agents().await.into_iter().find(|a| a.agent == agent)
    }

    pub async fn queues(&self) -> Vec<QueueSnapshot> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Queues(tx)).await;
        rx.await.unwrap_or_default()
    }

    /// A waiting contact's place in its queue (1: next) and the queue's
    /// length; `None` once it is no longer waiting.
    pub async fn position(&self, contact: &str) -> Option<(usize, usize)> {
        let (tx, rx) = oneshot::channel();
        let _ = self
            .tx
            .send(Command::Position(contact.to_string(), tx))
            .await;
        rx.await.ok().flatten()
    }

    /// Every contact routing holds now (for recovery after a restart).
    pub async fn contacts(&self) -> Vec<ContactSnapshot> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Contacts(tx)).await;
        rx.await.unwrap_or_default()
    }

    /// Every routing update from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RoutingUpdate> {
        self.updates.subscribe()
    }
}

/// The state the task owns.
struct Service {
    store: Store,
    router: r::Router,
    config: r::RoutingConfig,
    queues: Numbers,
    profiles: Numbers,
    agents: Numbers,
    contacts: Numbers,
    /// Agent status id -> router status, and custom number -> name.
    statuses: HashMap<String, r::Status>,
    /// Custom statuses keep their number for the life of the process, so a
    /// state recorded as "Lunch" stays "Lunch" when statuses are added.
    custom_numbers: Numbers,
    custom_names: HashMap<u32, String>,
    since: HashMap<u32, (r::AgentState, u64)>,
    updates: broadcast::Sender<RoutingUpdate>,
    offer_timeout_ms: u64,
}

/// Tells the router to re-read its configuration after a change to a kind
/// of object it uses. A failure is logged: the change is stored either way,
/// and the next reload picks it up.
pub async fn config_changed(app: &crate::AppState, kind: switchboard_model::ObjectKind) {
    use switchboard_model::ObjectKind as K;
    if matches!(
        kind,
        K::Queue | K::RoutingProfile | K::User | K::AgentStatus
    ) {
        if let Err(e) = app.routing.reload().await {
            tracing::error!(error = %e, "routing could not apply the configuration change");
        }
    }
}

fn now_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}

/// Starts the routing task: builds the router from the store's
/// configuration, replays the event log, and serves the handle.
/// Connect's time for an agent to accept an offer before it is missed.
pub const DEFAULT_OFFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

pub async fn start(store: Store) -> Result<RoutingHandle, RoutingError> {
    start_with(store, DEFAULT_OFFER_TIMEOUT).await
}

/// Like [`start`], with the time agents have to accept an offer.
pub async fn start_with(
    store: Store,
    offer_timeout: std::time::Duration,
) -> Result<RoutingHandle, RoutingError> {
    let (updates, _) = broadcast::channel(4096);
    let empty = r::RoutingConfig {
        queues: vec![],
        profiles: vec![],
        agents: vec![],
        offer_timeout_ms: offer_timeout.as_millis() as u64,
    };
    let mut service = Service {
        store,
        router: r::Router::new(empty.clone())?,
        config: empty,
        queues: Numbers::default(),
        profiles: Numbers::default(),
        agents: Numbers::default(),
        contacts: Numbers::default(),
        statuses: HashMap::new(),
        custom_numbers: Numbers::default(),
        custom_names: HashMap::new(),
        since: HashMap::new(),
        updates: updates.clone(),
        offer_timeout_ms: offer_timeout.as_millis() as u64,
    };
    let log = service.store.routing_events().await?;
    let replayed = log.len();
    for (at, json) in log {
        let at = at.max(0) as u64;
        match serde_json::from_str::<LogRecord>(&json) {
            Ok(LogRecord::Configure { configure }) => {
                if let Err(e) = service.apply_snapshot(*configure, at) {
                    tracing::warn!(error = %e, "a logged configuration could not be replayed");
                }
            }
            Ok(LogRecord::Event(event)) => {
                let _ = service.apply(at, event, false);
            }
            Err(e) => tracing::warn!(error = %e, "an unreadable routing log line was skipped"),
        }
    }
    if replayed > 0 {
        tracing::info!(
            records = replayed,
            "routing state rebuilt from the event log"
        );
    }
    // Then today's configuration, logged like any change.
    service.reload(now_ms()).await?;
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(service.run(rx));
    Ok(RoutingHandle {
        tx,
        updates,
        latency: crate::metrics::routing_histogram(),
    })
}

impl Service {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let wake = self.router.next_wake();
            let sleep = async {
                match wake {
                    Some(at) => {
                        tokio::time::sleep(std::time::Duration::from_millis(
                            at.saturating_sub(now_ms()),
                        ))
                        .await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = rx.recv() => {
                    let Some(command) = command else { return };
                    self.command(command).await;
                }
                _ = sleep => {
                    let mut out = Vec::new();
                    let _ = self.router.handle(now_ms(), r::Event::Tick, &mut out);
                    let updates = self.publish(out, true);
                    self.persist_states(&updates).await;
                }
            }
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Event(event, reply) => {
                let at = now_ms();
                let result = match serde_json::to_string(&LogRecord::Event(event.clone())) {
                    Ok(json) => match self.store.append_routing_event(at as i64, &json).await {
                        Ok(()) => self.apply(at, event, true),
                        Err(e) => Err(RoutingError::Store(e)),
                    },
                    Err(e) => Err(RoutingError::Log(e)),
                };
                if let Ok(updates) = &result {
                    self.persist_states(updates).await;
                }
                let _ = reply.send(result);
            }
            Command::Reload(reply) => {
                let _ = reply.send(self.reload(now_ms()).await);
            }
            Command::Agents(reply) => {
                let snapshot = (0..self.agents.ids.len() as u32)
                    .map(|n| {
                        let state = self
                            .router
                            .agent_state(r::AgentId(n))
                            .unwrap_or(r::AgentState::Offline);
                        AgentSnapshot {
                            agent: self.agents.id(n),
                            state: self.state_name(state),
                            since: self
                                .since
                                .get(&n)
                                .and_then(|(_, at)| DateTime::from_timestamp_millis(*at as i64)),
                        }
                    })
                    .collect();
                let _ = reply.send(snapshot);
            }
            Command::Contacts(reply) => {
                let list = self
                    .router
                    .contacts()
                    .into_iter()
                    .map(|(c, channel, stage, agent)| ContactSnapshot {
                        contact: self.contacts.id(c.0 as u32),
                        channel: model_channel(channel),
                        stage,
                        agent: agent.map(|a| self.agents.id(a.0)),
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Command::Position(contact, reply) => {
                let position = self
                    .contacts
                    .get(&contact)
                    .and_then(|n| self.router.position(r::ContactId(u64::from(n))));
                let _ = reply.send(position);
            }
            Command::Queues(reply) => {
                let now = now_ms();
                let mut snapshot = Vec::new();
                for n in 0..self.queues.ids.len() as u32 {
                    for c in r::Channel::ALL {
                        let (waiting, oldest) = self.router.queue_depth(r::QueueId(n), c);
                        snapshot.push(QueueSnapshot {
                            queue: self.queues.id(n),
                            channel: model_channel(c),
                            waiting,
                            oldest_waiting_seconds: oldest.map(|t| now.saturating_sub(t) / 1000),
                        });
                    }
                }
                let _ = reply.send(snapshot);
            }
        }
    }

    /// Keeps every agent state change for reports. Replayed events are not
    /// recorded again: their changes were recorded when they first happened.
    async fn persist_states(&self, updates: &[RoutingUpdate]) {
        for u in updates {
            if let RoutingUpdate::AgentState { agent, state, at } = u {
                // The profile the router runs this agent under (0: none).
                let profile = self
                    .agents
                    .get(agent)
                    .and_then(|n| self.config.agents.get(n as usize))
                    .map(|a| a.profile.0)
                    .filter(|p| *p != 0)
                    .map(|p| self.profiles.id(p));
                if let Err(e) = self
                    .store
                    .record_agent_state(
                        agent,
                        state.as_str(),
                        at.timestamp_millis(),
                        profile.as_deref(),
                    )
                    .await
                {
                    tracing::error!(error = %e, %agent, "could not record an agent state change");
                }
            }
        }
    }

    fn state_name(&self, s: r::AgentState) -> AgentState {
        match s {
            r::AgentState::Offline => AgentState::Offline,
            r::AgentState::Available => AgentState::Available,
            r::AgentState::Custom(n) => AgentState::Custom(
                self.custom_names
                    .get(&n)
                    .cloned()
                    .unwrap_or_else(|| format!("Custom {n}")),
            ),
            r::AgentState::Incoming => AgentState::Incoming,
            r::AgentState::OnContact => AgentState::OnContact,
            r::AgentState::AfterContactWork => AgentState::AfterContactWork,
            r::AgentState::Missed => AgentState::Missed,
            r::AgentState::Rejected => AgentState::Rejected,
            r::AgentState::Error => AgentState::Error,
        }
    }

    /// Turns a store-id event into a router event and applies it.
    fn apply(
        &mut self,
        at: u64,
        event: RoutingEvent,
        publish: bool,
    ) -> Result<Vec<RoutingUpdate>, RoutingError> {
        let agent = |s: &Self, id: &str| {
            s.agents.get(id).map(r::AgentId).ok_or_else(|| {
                RoutingError::Unknown(format!("'{id}' is not a user known to routing"))
            })
        };
        let contact = |s: &Self, id: &str| {
            s.contacts
                .get(id)
                .map(|n| r::ContactId(u64::from(n)))
                .ok_or_else(|| RoutingError::Unknown(format!("no contact '{id}' in routing")))
        };
        let e = match &event {
            RoutingEvent::Enqueue {
                contact: c,
                queue,
                channel: ch,
                priority,
                time_adjustment_seconds,
            } => {
                let queue = self
                    .queues
                    .get(queue)
                    .map(r::QueueId)
                    .unwrap_or(r::QueueId(u32::MAX));
                let c = r::ContactId(u64::from(self.contacts.number(c)));
                r::Event::Enqueue {
                    contact: c,
                    queue,
                    channel: channel(*ch),
                    priority: *priority,
                    time_adjustment_ms: time_adjustment_seconds.saturating_mul(1000),
                }
            }
            RoutingEvent::Abandon { contact: c } => r::Event::Abandon {
                contact: contact(self, c)?,
            },
            RoutingEvent::Transfer { contact: c, queue } => r::Event::Transfer {
                contact: contact(self, c)?,
                queue: self
                    .queues
                    .get(queue)
                    .map(r::QueueId)
                    .unwrap_or(r::QueueId(u32::MAX)),
            },
            RoutingEvent::SetStatus { agent: a, status } => {
                let status = *self
                    .statuses
                    .get(status)
                    .ok_or_else(|| RoutingError::Unknown(format!("no agent status '{status}'")))?;
                r::Event::SetStatus {
                    agent: agent(self, a)?,
                    status,
                }
            }
            RoutingEvent::Accept {
                contact: c,
                agent: a,
            } => r::Event::Accept {
                contact: contact(self, c)?,
                agent: agent(self, a)?,
            },
            RoutingEvent::Reject {
                contact: c,
                agent: a,
            } => r::Event::Reject {
                contact: contact(self, c)?,
                agent: agent(self, a)?,
            },
            RoutingEvent::AgentError { agent: a } => r::Event::AgentError {
                agent: agent(self, a)?,
            },
            RoutingEvent::ContactEnded { contact: c } => r::Event::ContactEnded {
                contact: contact(self, c)?,
            },
            RoutingEvent::CloseAcw {
                agent: a,
                contact: c,
            } => r::Event::CloseAcw {
                agent: agent(self, a)?,
                contact: contact(self, c)?,
            },
            RoutingEvent::Outbound {
                contact: c,
                agent: a,
                queue,
                channel: ch,
            } => r::Event::Outbound {
                agent: agent(self, a)?,
                queue: self.queues.get(queue).map(r::QueueId).ok_or_else(|| {
                    RoutingError::Unknown(format!("no queue '{queue}' in routing"))
                })?,
                contact: r::ContactId(u64::from(self.contacts.number(c))),
                channel: channel(*ch),
            },
        };
        let mut out = Vec::new();
        self.router.handle(at, e, &mut out)?;
        Ok(self.publish(out, publish))
    }

    fn publish(&mut self, effects: Vec<r::Effect>, send: bool) -> Vec<RoutingUpdate> {
        let contact = |s: &Self, c: r::ContactId| s.contacts.id(c.0 as u32);
        let updates: Vec<RoutingUpdate> = effects
            .into_iter()
            .map(|e| match e {
                r::Effect::Offer {
                    contact: c,
                    agent,
                    queue,
                    channel: ch,
                } => RoutingUpdate::Offer {
                    contact: contact(self, c),
                    agent: self.agents.id(agent.0),
                    queue: self.queues.id(queue.0),
                    channel: model_channel(ch),
                },
                r::Effect::Rescind { contact: c, agent } => RoutingUpdate::Rescind {
                    contact: contact(self, c),
                    agent: self.agents.id(agent.0),
                },
                r::Effect::Connected { contact: c, agent } => RoutingUpdate::Connected {
                    contact: contact(self, c),
                    agent: self.agents.id(agent.0),
                },
                r::Effect::Refused { contact: c, reason } => RoutingUpdate::Refused {
                    contact: contact(self, c),
                    reason,
                },
                r::Effect::Requeued { contact: c } => RoutingUpdate::Requeued {
                    contact: contact(self, c),
                },
                r::Effect::Done { contact: c } => RoutingUpdate::Done {
                    contact: contact(self, c),
                },
                r::Effect::AgentState { agent, state, at } => {
                    self.since.insert(agent.0, (state, at));
                    RoutingUpdate::AgentState {
                        agent: self.agents.id(agent.0),
                        state: self.state_name(state),
                        at: DateTime::from_timestamp_millis(at as i64).unwrap_or_default(),
                    }
                }
            })
            .collect();
        if send {
            for u in &updates {
                // Nobody listening is fine: the router does not wait for anyone.
                let _ = self.updates.send(u.clone());
            }
        }
        updates
    }

    /// Builds the routing configuration from the store and applies it.
    /// Reads the configuration from the store, logs it, and applies it.
    async fn reload(&mut self, now: u64) -> Result<(), RoutingError> {
        let snapshot = self.read_snapshot().await?;
        let json = serde_json::to_string(&LogRecord::Configure {
            configure: Box::new(snapshot.clone()),
        })?;
        self.store.append_routing_event(now as i64, &json).await?;
        let updates = self.apply_snapshot(snapshot, now)?;
        self.persist_states(&updates).await;
        Ok(())
    }

    /// Puts a configuration and its numbering in force.
    fn apply_snapshot(
        &mut self,
        snap: Snapshot,
        now: u64,
    ) -> Result<Vec<RoutingUpdate>, RoutingError> {
        let mut out = Vec::new();
        if self.config.agents.is_empty() && self.config.queues.is_empty() {
            self.router = r::Router::new(snap.config.clone())?;
        } else {
            self.router
                .reconfigure(now, snap.config.clone(), &mut out)?;
        }
        self.config = snap.config;
        self.queues = Numbers::from_ids(snap.queues);
        self.profiles = Numbers::from_ids(snap.profiles);
        self.agents = Numbers::from_ids(snap.agents);
        self.statuses = snap.statuses.into_iter().collect();
        self.custom_numbers = Numbers::from_ids(snap.custom_ids);
        self.custom_names = snap.custom_names.into_iter().collect();
        Ok(self.publish(out, true))
    }

    /// Builds the routing configuration from the store. Numbers already
    /// given keep their meaning; new objects get new numbers.
    async fn read_snapshot(&mut self) -> Result<Snapshot, RoutingError> {
        let queues = self.store.list::<Queue>().await?;
        let profiles = self.store.list::<RoutingProfile>().await?;
        let users = self.store.list::<User>().await?;
        let statuses = self.store.list::<AgentStatus>().await?;

        let mut statuses_now: HashMap<String, r::Status> = HashMap::new();
        let mut custom_names_now: HashMap<u32, String> = HashMap::new();
        for s in &statuses {
            let status = match s.spec.status_type {
                AgentStatusType::Routable => r::Status::Available,
                AgentStatusType::Offline => r::Status::Offline,
                AgentStatusType::Custom => {
                    let n = self.custom_numbers.number(&s.id) + 1;
                    custom_names_now.insert(n, s.spec.name.clone());
                    r::Status::Custom(n)
                }
            };
            if s.spec.enabled {
                statuses_now.insert(s.id.clone(), status);
            }
        }

        for q in &queues {
            self.queues.number(&q.id);
        }
        // Profile 0 takes nothing: users without a (live) profile, and
        // deleted users, sit there and are never offered a contact.
        self.profiles.number("");
        for p in &profiles {
            self.profiles.number(&p.id);
        }
        for u in &users {
            self.agents.number(&u.id);
            self.queues.number(&agent_queue(&u.id));
        }
        // Everything keeps its number; what was deleted stays, disabled.
        let mut config = r::RoutingConfig {
            queues: vec![
                r::QueueConfig {
                    enabled: false,
                    ..Default::default()
                };
                self.queues.ids.len()
            ],
            profiles: vec![
                r::ProfileConfig {
                    concurrency: [0; 3],
                    route_any_channel: [false; 3],
                    queues: vec![]
                };
                self.profiles.ids.len()
            ],
            agents: vec![
                r::AgentConfig {
                    profile: r::ProfileId(0),
                    acw_timeout_ms: 0
                };
                self.agents.ids.len()
            ],
            offer_timeout_ms: self.offer_timeout_ms,
        };
        for q in &queues {
            config.queues[self.queues.number(&q.id) as usize] = r::QueueConfig {
                max_contacts: q.spec.max_contacts,
                enabled: q.spec.status == QueueStatus::Enabled,
                min_agent_idle_ms: u64::from(q.spec.min_agent_idle_seconds) * 1000,
                strategy: match q.spec.routing_strategy {
                    RoutingStrategy::LongestIdle => r::Strategy::LongestIdle,
                    RoutingStrategy::LeastTalkTime => r::Strategy::LeastTalkTime,
                    RoutingStrategy::FewestContacts => r::Strategy::FewestContacts,
                    RoutingStrategy::RingAll => r::Strategy::RingAll,
                },
                owner: None,
            };
        }
        for p in &profiles {
            let mut pc = r::ProfileConfig {
                concurrency: [0; 3],
                route_any_channel: [false; 3],
                queues: vec![],
            };
            for m in &p.spec.media_concurrencies {
                let c = channel(m.channel).index();
                pc.concurrency[c] = m.concurrency;
                pc.route_any_channel[c] =
                    m.cross_channel_behavior == CrossChannelBehavior::RouteAnyChannel;
            }
            for qc in &p.spec.queue_configs {
                if let Some(q) = self.queues.get(&qc.queue) {
                    pc.queues.push(r::ProfileQueue {
                        queue: r::QueueId(q),
                        channel: channel(qc.channel),
                        priority: qc.priority,
                        delay_ms: u64::from(qc.delay) * 1000,
                    });
                }
            }
            config.profiles[self.profiles.number(&p.id) as usize] = pc;
        }
        // Every agent ever numbered keeps their own queue's owner, so a
        // contact waiting there is never offered to someone else; a deleted
        // user's queue refuses new contacts.
        let live: std::collections::HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
        for (n, id) in self.agents.ids.clone().iter().enumerate() {
            if let Some(q) = self.queues.get(&agent_queue(id)) {
                config.queues[q as usize] = r::QueueConfig {
                    owner: Some(r::AgentId(n as u32)),
                    enabled: live.contains(id.as_str()),
                    ..Default::default()
                };
            }
        }
        for u in &users {
            let profile = self.profiles.get(&u.spec.routing_profile).unwrap_or(0);
            config.agents[self.agents.number(&u.id) as usize] = r::AgentConfig {
                profile: r::ProfileId(profile),
                acw_timeout_ms: u64::from(u.spec.phone_config.after_contact_work_timeout_seconds)
                    * 1000,
            };
        }
        Ok(Snapshot {
            config,
            queues: self.queues.ids.clone(),
            profiles: self.profiles.ids.clone(),
            agents: self.agents.ids.clone(),
            statuses: statuses_now.into_iter().collect(),
            custom_ids: self.custom_numbers.ids.clone(),
            custom_names: custom_names_now.into_iter().collect(),
        })
    }
}
