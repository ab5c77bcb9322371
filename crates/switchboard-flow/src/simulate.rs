//! Runs a flow against a script instead of the world: the customer's key
//! presses, what functions return, whether it is open, which queues are full.
//! Used by `switchboard flow simulate` and by tests. Pure like the
//! interpreter: the caller supplies everything, including the hours answer.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::contact::{ContactData, QueueRef};
use crate::import::arn_target;
use crate::interp::{Effect, Event, Outcome, Session, Step};
use crate::model::Flow;

/// One answer to a GetParticipantInput.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keypress {
    /// The keys pressed, or for chat the answer typed.
    Digits(String),
    /// Nothing entered before the time limit.
    Timeout,
}

impl Keypress {
    /// `timeout` (or empty) for no input, anything else as the keys pressed.
    pub fn parse(s: &str) -> Self {
        if s.is_empty() || s.eq_ignore_ascii_case("timeout") {
            Keypress::Timeout
        } else {
            Keypress::Digits(s.to_string())
        }
    }
}

/// How a feature's action answers in the simulator ([`crate::catalog`]).
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureAnswer {
    /// It ran: the result its conditions test (a view's action, a Voice ID
    /// result), and data for its namespace (`$.Customer`, `$.Views`...).
    Ran {
        /// The result, for actions that branch on one.
        result: Option<String>,
        /// What it puts in its namespace.
        data: Option<Value>,
    },
    /// It failed with one of its own errors (`NoneFoundError`...).
    Error(String),
}

/// Says whether the named hours of operation (or, for `None`, the target
/// queue's) are open.
pub type HoursRule = Box<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// Holds a bot conversation for StartBot: given the bot's reference and the
/// session attributes the flow passes, the event the flow hears
/// (`BotResult` or `Failed`).
pub type BotRule = Box<dyn FnMut(&str, &BTreeMap<String, String>) -> Event + Send>;

/// What the simulated world answers.
#[derive(Default)]
pub struct Script {
    /// Answers to successive GetParticipantInput actions; when they run
    /// out, the customer presses nothing.
    pub keypresses: VecDeque<Keypress>,
    /// Intents the bot recognises, in order; when they run out, the bot fails.
    pub intents: VecDeque<String>,
    /// A real bot's conversation; with one, `intents` are not used.
    pub bot: Option<BotRule>,
    /// Function name (or ARN) to response; `None` means it fails.
    pub functions: HashMap<String, Option<BTreeMap<String, Value>>>,
    /// Whether hours are open: by hours name, or `None` for any.
    pub hours: Option<HoursRule>,
    /// Values of real-time metrics by metric name; absent ones are 0.
    pub metrics: HashMap<String, f64>,
    /// Queues that refuse new contacts.
    pub full_queues: HashSet<String>,
    /// Flow modules by name.
    pub modules: HashMap<String, Arc<Flow>>,
    /// Known queue names: with `None` any name is a queue.
    pub queues: Option<HashSet<String>>,
    /// Wait actions see the customer come back (chat) rather than time out.
    pub customer_returns: bool,
    /// How actions of features Switchboard does not have answer, by action
    /// `Type`; one not listed answers as on a Switchboard instance: the
    /// feature is not enabled (its error branch).
    pub features: HashMap<String, FeatureAnswer>,
    /// Events to feed at most before giving up (a queue flow loops for ever).
    pub max_events: usize,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Each action run, with the branch it took.
    pub path: Vec<Step>,
    /// Every effect the flow asked for, in order.
    pub effects: Vec<Effect>,
    /// `None` if the flow was still running when the script ran out.
    pub outcome: Option<Outcome>,
    /// Why it stopped without an outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The contact as the flow left it: attributes, target queue, stored input...
    pub contact: ContactData,
}

/// Why a feature's action took its error branch: the words the server's log
/// and contact record use too.
pub fn not_enabled(action_type: &str, feature: crate::catalog::Feature) -> String {
    format!("{action_type} is not available: {feature} is not enabled on this instance")
}

/// A name from a reference: the ARN's object name, or the value itself.
pub fn name_of(reference: &str) -> String {
    arn_target(reference)
        .map(|t| t.name)
        .unwrap_or_else(|| reference.to_string())
}

impl Script {
    /// The scripted answer to an effect, if it needs one.
    pub fn answer(&mut self, effect: &Effect) -> Option<Event> {
        Some(match effect {
            Effect::Play { .. } => Event::PromptFinished,
            Effect::GetInput { .. } => match self.keypresses.pop_front() {
                Some(Keypress::Digits(d)) => Event::Input(d),
                Some(Keypress::Timeout) | None => Event::InputTimeout,
            },
            Effect::PlayLoop {
                interrupt_seconds, ..
            } => {
                interrupt_seconds.as_ref()?;
                Event::TimerFired
            }
            Effect::StartBot {
                bot,
                session_attributes,
                ..
            } if self.bot.is_some() => match self.bot.as_mut() {
                Some(rule) => rule(bot, session_attributes),
                None => Event::Failed("no bot".into()),
            },
            Effect::StartBot { .. } => match self.intents.pop_front() {
                Some(intent) => Event::BotResult {
                    intent,
                    slots: BTreeMap::new(),
                    session_attributes: BTreeMap::new(),
                },
                None => Event::Failed("the bot did not understand".into()),
            },
            Effect::InvokeFunction { function, .. } => {
                let response = self
                    .functions
                    .get(function)
                    .or_else(|| self.functions.get(&name_of(function)));
                match response {
                    Some(Some(values)) => Event::FunctionResult(values.clone()),
                    Some(None) => Event::Failed(format!("function {function} failed")),
                    None => Event::Failed(format!(
                        "no response scripted for function {}",
                        name_of(function)
                    )),
                }
            }
            Effect::CheckHours { hours, .. } => {
                let name = hours.as_deref().map(name_of);
                let open = self.hours.as_ref().is_none_or(|f| f(name.as_deref()));
                Event::HoursChecked { open }
            }
            Effect::QueryMetric { metric, .. } => {
                Event::MetricValue(self.metrics.get(metric).copied().unwrap_or(0.0))
            }
            Effect::GetMetrics { .. } => {
                let m = |name: &str| self.metrics.get(name).copied().unwrap_or(0.0);
                Event::Metrics(serde_json::json!({
                    "Queue": {
                        "Size": m("NumberOfContactsInQueue"),
                        "OldestContactAge": m("OldestContactInQueueAgeSeconds"),
                    },
                    "Agents": {
                        "Online": {"Count": m("NumberOfAgentsOnline")},
                        "Available": {"Count": m("NumberOfAgentsAvailable")},
                        "Staffed": {"Count": m("NumberOfAgentsStaffed")},
                    },
                }))
            }
            Effect::Feature {
                action_type,
                feature,
                ..
            } => match self.features.get(action_type) {
                Some(FeatureAnswer::Ran { result, data }) => Event::FeatureResult {
                    result: result.clone(),
                    data: data.clone(),
                },
                Some(FeatureAnswer::Error(e)) => Event::FeatureError(e.clone()),
                None => Event::Failed(not_enabled(action_type, *feature)),
            },
            Effect::ResolveQueue { queue, agent } => {
                let name = name_of(queue.as_deref().or(agent.as_deref()).unwrap_or_default());
                match &self.queues {
                    Some(known) if !known.contains(&name) => {
                        Event::Failed(format!("no queue named '{name}'"))
                    }
                    _ => Event::QueueFound(QueueRef {
                        id: name.clone(),
                        name,
                    }),
                }
            }
            Effect::Enqueue { queue, .. } => {
                if self.full_queues.contains(&queue.name) {
                    Event::QueueAtCapacity
                } else {
                    Event::Enqueued
                }
            }
            Effect::TransferToNumber { .. } => Event::TransferEnded,
            Effect::TransferToFlow { .. } => Event::FlowFound,
            Effect::LoadModule { module } => match self.modules.get(&name_of(module)) {
                Some(flow) => Event::ModuleLoaded(flow.clone()),
                None => Event::Failed(format!("no module named '{}'", name_of(module))),
            },
            Effect::StartTimer {
                customer_returned, ..
            } => {
                if self.customer_returns && *customer_returned {
                    Event::CustomerReturned
                } else {
                    Event::TimerFired
                }
            }
            Effect::SetVoice { .. }
            | Effect::ContactDataChanged
            | Effect::SetRecording { .. }
            | Effect::SetMediaStreaming { .. }
            | Effect::SetEventHook { .. }
            | Effect::SetRoutingBehavior { .. }
            | Effect::SetLogging { .. }
            | Effect::Disconnect
            | Effect::End => return None,
        })
    }
}

/// Runs `flow` for `contact` against `script`.
pub fn simulate(flow: Arc<Flow>, contact: ContactData, script: &mut Script, seed: u64) -> Report {
    let max_events = if script.max_events == 0 {
        500
    } else {
        script.max_events
    };
    let (mut session, mut pending) = Session::start(flow, contact, seed);
    let mut all = Vec::new();
    let mut stopped = None;
    let mut events = 0;
    loop {
        let event = pending.iter().rev().find_map(|e| script.answer(e));
        all.append(&mut pending);
        if session.is_finished() {
            break;
        }
        let Some(event) = event else {
            stopped = Some("waiting: nothing in the script answers the last effect (e.g. looping messages until an agent answers)".to_string());
            break;
        };
        events += 1;
        if events > max_events {
            stopped = Some(format!("still running after {max_events} events"));
            break;
        }
        pending = session.handle(event);
    }
    Report {
        path: session.trace().to_vec(),
        effects: all,
        outcome: session.outcome().cloned(),
        stopped,
        contact: session.contact().clone(),
    }
}
