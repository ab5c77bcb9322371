//! Runs a flow against this instance's real configuration: hours of
//! operation from the store evaluated at a given time, queues that exist and
//! are enabled, flow modules and transfer flows that exist, and external
//! functions called over HTTP. Only the customer is scripted (keys, bot
//! intents). This is what `POST /api/v1/flows/{id}/simulate` runs, and the
//! part of the voice and chat shells that does not touch media.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchboard_flow::simulate::{name_of, Report, Script};
use switchboard_flow::{ContactData, Effect, Event, QueueRef, Session};
use switchboard_model::{
    ExternalFunction, Flow as FlowObject, HoursOfOperation, Queue, QueueStatus,
};

use crate::AppState;
pub use switchboard_contact::FlowUnavailable;

/// Most events one run may take before it is reported as still running.
const MAX_EVENTS: usize = 500;

/// A store failure, logged in full and reported without its detail (the
/// report goes back to API callers).
fn store_failure(e: switchboard_store::StoreError) -> String {
    LookupError::from(e).to_string()
}

/// Why a flow's question about this instance (a queue, hours) has no
/// answer; the flow takes its error branch with this text.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The store could not be read (logged; the flow sees no details).
    #[error("the store could not be read")]
    Store(switchboard_store::StoreError),
    /// No queue has that id, name or ARN.
    #[error("no queue '{0}'")]
    NoQueue(String),
    /// The queue named as the target was deleted.
    #[error("the target queue is gone")]
    QueueGone,
    /// CheckHoursOfOperation named neither hours nor a queue.
    #[error("no hours and no queue")]
    NothingToCheck,
    /// No hours of operation have that id, name or ARN.
    #[error("no hours of operation '{0}'")]
    NoHours(String),
}

impl From<switchboard_store::StoreError> for LookupError {
    fn from(e: switchboard_store::StoreError) -> Self {
        tracing::error!(error = %e, "flow shell could not read the store");
        LookupError::Store(e)
    }
}

/// The flow language's flow for a stored flow: its newest published version,
/// or its draft if it has never been published. `module` says whether a flow
/// module (for InvokeFlowModule) or a flow to transfer to is wanted.
pub async fn load_flow(
    app: &AppState,
    reference: &str,
    module: bool,
) -> Result<Arc<switchboard_flow::Flow>, FlowUnavailable> {
    let unavailable = |e: switchboard_store::StoreError| {
        tracing::error!(error = %e, "flow shell could not read the store");
        FlowUnavailable::StoreUnavailable
    };
    let name = name_of(reference);
    let record = app
        .store
        .get::<FlowObject>(&name)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| FlowUnavailable::NotFound(name.to_string()))?;
    let is_module = record.spec.flow_type == switchboard_model::FlowType::Module;
    if module != is_module {
        return Err(FlowUnavailable::WrongKind {
            name: record.spec.name,
            is_module,
        });
    }
    let content = match app
        .store
        .flow_version(&record.id, None)
        .await
        .map_err(unavailable)?
    {
        Some(published) => published.content,
        None => record.spec.content,
    };
    let (flow, problems) = switchboard_flow::check(&content.to_string(), record.spec.flow_type);
    match flow {
        Some(f)
            if !problems
                .iter()
                .any(|p| p.severity == switchboard_flow::Severity::Error) =>
        {
            Ok(Arc::new(f))
        }
        _ => Err(FlowUnavailable::DoesNotValidate(record.spec.name)),
    }
}

async fn queue(app: &AppState, reference: &str) -> Result<QueueRef, LookupError> {
    let name = name_of(reference);
    let q = app
        .store
        .get::<Queue>(&name)
        .await?
        .ok_or_else(|| LookupError::NoQueue(name.to_string()))?;
    Ok(QueueRef {
        id: q.id,
        name: q.spec.name,
    })
}

async fn hours_open(
    app: &AppState,
    hours: Option<&str>,
    queue: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, LookupError> {
    let hours_ref = match (hours, queue) {
        (Some(h), _) => name_of(h),
        (None, Some(q)) => {
            let q = app
                .store
                .get::<Queue>(q)
                .await?
                .ok_or(LookupError::QueueGone)?;
            q.spec.hours_of_operation
        }
        (None, None) => return Err(LookupError::NothingToCheck),
    };
    let h = app
        .store
        .get::<HoursOfOperation>(&hours_ref)
        .await?
        .ok_or_else(|| LookupError::NoHours(hours_ref.to_string()))?;
    Ok(h.spec.is_open(now))
}

/// Answers a world effect in a spawned task (store reads and HTTP calls
/// must not hold up a channel's loop) and hands the answer to `reply`.
pub fn answer_later(
    app: &AppState,
    effect: Effect,
    contact: ContactData,
    reply: impl FnOnce(Event) + Send + 'static,
) {
    let app = app.clone();
    tokio::spawn(async move {
        let event = answer_world(&app, &effect, &contact, Utc::now())
            .await
            .unwrap_or_else(|| Event::Failed("not answered".into()));
        reply(event);
    });
}

/// Puts a contact in routing from a spawned task (a channel's loop never
/// waits for the router) and hands what it means to the flow to `reply`.
/// The handle lets a driver wait for the enqueue to land before it
/// abandons the contact.
pub fn enqueue_later(
    app: &AppState,
    contact: String,
    queue: String,
    channel: switchboard_model::Channel,
    priority: u32,
    time_adjustment_seconds: i64,
    reply: impl FnOnce(Event) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        let event = crate::routing::RoutingEvent::Enqueue {
            contact: contact.clone(),
            queue,
            channel,
            priority,
            time_adjustment_seconds,
        };
        let answer = enqueue_answer(&contact, app.routing.send(event).await);
        reply(answer);
    })
}

/// Loads a flow by its reference (a transfer to a flow, a customer queue
/// flow) from a spawned task and hands it, or why not, to `reply`.
pub fn load_later(
    app: &AppState,
    reference: String,
    reply: impl FnOnce(Result<Arc<switchboard_flow::Flow>, FlowUnavailable>) + Send + 'static,
) {
    let app = app.clone();
    tokio::spawn(async move {
        reply(load_flow(&app, &reference, false).await);
    });
}

/// What the router's answer to a contact's Enqueue means to its flow.
pub fn enqueue_answer(
    contact: &str,
    answer: Result<Vec<crate::routing::RoutingUpdate>, crate::routing::RoutingError>,
) -> Event {
    use crate::routing::RoutingUpdate;
    match answer {
        Ok(updates) => match updates.iter().find_map(|u| match u {
            RoutingUpdate::Refused { contact: c, reason } if c == contact => Some(*reason),
            _ => None,
        }) {
            Some(switchboard_routing::Refusal::QueueAtCapacity) => Event::QueueAtCapacity,
            Some(r) => Event::Failed(r.to_string()),
            None => Event::Enqueued,
        },
        Err(e) => Event::Failed(e.to_string()),
    }
}

/// Answers the effects that concern this instance; `None` for the ones
/// that concern the customer.
pub async fn answer_world(
    app: &AppState,
    effect: &Effect,
    contact: &ContactData,
    now: DateTime<Utc>,
) -> Option<Event> {
    let failed = |e: String| Event::Failed(e);
    Some(match effect {
        Effect::CheckHours { hours, queue } => {
            match hours_open(app, hours.as_deref(), queue.as_deref(), now).await {
                Ok(open) => Event::HoursChecked { open },
                Err(e) => failed(e.to_string()),
            }
        }
        Effect::ResolveQueue { queue: Some(q), .. } => match queue(app, q).await {
            Ok(q) => Event::QueueFound(q),
            Err(e) => failed(e.to_string()),
        },
        Effect::ResolveQueue { queue: None, .. } => {
            failed("agent queues arrive with the routing engine".into())
        }
        Effect::Enqueue { queue: q, .. } => match app.store.get::<Queue>(&q.id).await {
            Ok(Some(rec)) if rec.spec.status == QueueStatus::Enabled => Event::Enqueued,
            Ok(Some(_)) => failed(format!("queue '{}' is disabled", q.name)),
            Ok(None) => failed(format!("queue '{}' is gone", q.name)),
            Err(e) => failed(store_failure(e)),
        },
        Effect::QueryMetric { metric, queue } => {
            let Some(queue) = queue else {
                return Some(failed(
                    "no queue to read: none named and no target queue".into(),
                ));
            };
            match queue_figures(app, queue, None).await {
                Ok(f) => match f.metric(metric) {
                    Some(v) => Event::MetricValue(v),
                    None => failed(format!("no metric '{metric}'")),
                },
                Err(e) => failed(e.to_string()),
            }
        }
        Effect::GetMetrics {
            queue,
            agent,
            channel,
        } => {
            let queue = match (queue, agent) {
                (Some(q), _) => q.clone(),
                (None, Some(agent)) => crate::routing::agent_queue(agent),
                (None, None) => {
                    return Some(failed(
                        "no queue to read: none named and no target queue".into(),
                    ))
                }
            };
            let channel = channel
                .as_deref()
                .and_then(|c| match c.to_ascii_uppercase().as_str() {
                    "VOICE" => Some(switchboard_model::Channel::Voice),
                    "CHAT" => Some(switchboard_model::Channel::Chat),
                    "TASK" => Some(switchboard_model::Channel::Task),
                    _ => None,
                });
            match queue_figures(app, &queue, channel).await {
                Ok(f) => Event::Metrics(f.as_json()),
                Err(e) => failed(e.to_string()),
            }
        }
        Effect::Feature {
            action_type,
            feature,
            ..
        } => {
            let why = switchboard_flow::simulate::not_enabled(action_type, *feature);
            tracing::warn!(contact = %contact.contact_id, action = %action_type, "{why}");
            failed(why)
        }
        Effect::TransferToFlow { flow } => match load_flow(app, flow, false).await {
            Ok(_) => Event::FlowFound,
            Err(e) => failed(e.to_string()),
        },
        Effect::LoadModule { module } => match load_flow(app, module, true).await {
            Ok(m) => Event::ModuleLoaded(m),
            Err(e) => failed(e.to_string()),
        },
        Effect::InvokeFunction {
            function,
            parameters,
            timeout_seconds,
            json_response,
        } => {
            let name = name_of(function);
            let url = match app.store.get::<ExternalFunction>(&name).await {
                Ok(Some(f)) => f.spec.url,
                Ok(None) => return Some(failed(format!("no external function '{name}'"))),
                Err(e) => return Some(failed(store_failure(e))),
            };
            let timeout = std::time::Duration::from_secs(u64::from(*timeout_seconds));
            match app
                .functions
                .invoke(&url, contact, parameters, timeout, *json_response)
                .await
            {
                Ok(values) => Event::FunctionResult(values),
                Err(e) => failed(format!("function '{name}': {e}")),
            }
        }
        _ => return None,
    })
}

/// A queue's real-time figures, as GetMetricData and CheckMetricData read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFigures {
    /// The queue's name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// Contacts waiting.
    pub waiting: usize,
    /// How long the oldest has waited, in seconds.
    pub oldest_seconds: u64,
    /// Agents serving the queue who are not Offline.
    pub online: usize,
    /// Of those, routable now.
    pub available: usize,
    /// Of those, working: available, offered, on a contact or in after-contact work.
    pub staffed: usize,
    /// On a contact.
    pub busy: usize,
    /// In after-contact work.
    pub after_contact_work: usize,
}

impl QueueFigures {
    /// One figure by CheckMetricData's name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        Some(match name {
            "NumberOfContactsInQueue" => self.waiting as f64,
            "OldestContactInQueueAgeSeconds" => self.oldest_seconds as f64,
            "NumberOfAgentsAvailable" => self.available as f64,
            "NumberOfAgentsStaffed" => self.staffed as f64,
            "NumberOfAgentsOnline" => self.online as f64,
            _ => return None,
        })
    }

    /// As `$.Metrics` reads it (Connect's names).
    pub fn as_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Queue": {
                "Name": self.name,
                "ARN": self.id,
                "Size": self.waiting,
                "OldestContactAge": self.oldest_seconds,
            },
            "Agents": {
                "Online": {"Count": self.online},
                "Available": {"Count": self.available},
                "Staffed": {"Count": self.staffed},
                "AfterContactWork": {"Count": self.after_contact_work},
                "Busy": {"Count": self.busy},
            },
        })
    }
}

/// The figures of `reference` (a queue's id, name or ARN, or an agent's
/// personal queue), on `channel` or all, from the router and the agents'
/// routing profiles.
pub async fn queue_figures(
    app: &AppState,
    reference: &str,
    channel: Option<switchboard_model::Channel>,
) -> Result<QueueFigures, LookupError> {
    use crate::routing::AgentState;
    let (id, name) = if reference.starts_with(crate::routing::agent_queue("").as_str()) {
        (reference.to_string(), reference.to_string())
    } else {
        let q = queue(app, reference).await?;
        (q.id, q.name)
    };
    let mut f = QueueFigures {
        name,
        id: id.clone(),
        ..QueueFigures::default()
    };
    for q in app.routing.queues().await {
        if q.queue == id && channel.is_none_or(|c| c == q.channel) {
            f.waiting += q.waiting;
            f.oldest_seconds = f.oldest_seconds.max(q.oldest_waiting_seconds.unwrap_or(0));
        }
    }
    let users = app.store.list::<switchboard_model::User>().await?;
    let profiles = app
        .store
        .list::<switchboard_model::RoutingProfile>()
        .await?;
    let serves = |profile: &str| {
        profiles
            .iter()
            .find(|p| p.id == profile || p.spec.name == profile)
            .is_some_and(|p| {
                p.spec.queue_configs.iter().any(|c| {
                    (c.queue == id || c.queue == f.name) && channel.is_none_or(|ch| ch == c.channel)
                })
            })
    };
    let states: std::collections::HashMap<String, AgentState> = app
        .routing
        .agents()
        .await
        .into_iter()
        .map(|a| (a.agent, a.state))
        .collect();
    for u in &users {
        let personal = id == crate::routing::agent_queue(&u.id);
        if !personal && !serves(&u.spec.routing_profile) {
            continue;
        }
        match states.get(&u.id) {
            None | Some(AgentState::Offline) => {}
            Some(state) => {
                f.online += 1;
                match state {
                    AgentState::Available => {
                        f.available += 1;
                        f.staffed += 1;
                    }
                    AgentState::Incoming | AgentState::OnContact => {
                        f.busy += 1;
                        f.staffed += 1;
                    }
                    AgentState::AfterContactWork => {
                        f.after_contact_work += 1;
                        f.staffed += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(f)
}

/// Runs `flow` for `contact`, the customer answering from `customer`.
pub async fn run(
    app: &AppState,
    flow: Arc<switchboard_flow::Flow>,
    contact: ContactData,
    customer: &mut Script,
    now: DateTime<Utc>,
    seed: u64,
) -> Report {
    let (mut session, mut pending) = Session::start(flow, contact, seed);
    let mut effects = Vec::new();
    let mut stopped = None;
    for events in 0.. {
        // Stop before doing anything more: a finished flow's last effects
        // need no answer, and past the limit no more calls are made.
        if session.is_finished() {
            effects.append(&mut pending);
            break;
        }
        if events >= MAX_EVENTS {
            effects.append(&mut pending);
            stopped = Some(format!("still running after {MAX_EVENTS} events"));
            break;
        }
        let mut event = None;
        for e in pending.iter().rev() {
            event = match answer_world(app, e, session.contact(), now).await {
                Some(ev) => Some(ev),
                None => customer.answer(e),
            };
            if event.is_some() {
                break;
            }
        }
        effects.append(&mut pending);
        match event {
            Some(ev) => pending = session.handle(ev),
            None => {
                stopped = Some("waiting: nothing answers the last effect (e.g. looping messages until an agent answers)".into());
                break;
            }
        }
    }
    Report {
        path: session.trace().to_vec(),
        effects,
        outcome: session.outcome().cloned(),
        stopped,
        contact: session.contact().clone(),
    }
}
