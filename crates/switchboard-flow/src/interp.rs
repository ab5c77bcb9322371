//! The flow interpreter: a deterministic state machine with no I/O.
//!
//! A [`Session`] runs one contact through a flow. The shell feeds it
//! [`Event`]s (a prompt finished, digits arrived, a function answered) and
//! carries out the [`Effect`]s it returns (play this, collect digits, call
//! that function, put the contact in this queue). Anything the flow needs
//! from outside (hours, metrics, queues, other flows) is asked for with an
//! effect and answered with an event, so the interpreter never blocks, never
//! reads a clock, and replays identically given the same events and seed.
//!
//! ```text
//!   shell                      Session
//!   start(flow, contact) ───▶  runs until it must wait
//!                         ◀─── [Play{..}]          (awaiting PromptFinished)
//!   handle(PromptFinished) ─▶  runs on
//!                         ◀─── [GetInput{..}]      (awaiting Input / InputTimeout)
//!   handle(Input("2"))    ───▶ ...
//!                         ◀─── [Enqueue{queue}]    (awaiting Enqueued / QueueAtCapacity)
//!   handle(Enqueued)      ───▶ finished: Outcome::Queued
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::contact::{ContactData, QueueRef};
use crate::model::*;

/// Most actions run between two events. A flow that gets this far without
/// waiting for anything is looping; it is stopped with [`Outcome::Failed`].
/// High enough for a Loop of 100 over a body of up to 100 actions.
pub const MAX_STEPS_PER_EVENT: u32 = 20_000;
/// Most actions one session may run in all.
pub const MAX_STEPS: u32 = 1_000_000;
/// Connect's limit on a contact's user-defined tags.
pub const MAX_TAGS: usize = 6;

/// A terminal feature action that ran (TransferContactToAgent): the flow
/// is over; what follows is the feature's.
fn feature_ends_flow() -> Next {
    Next::Finish(Outcome::Ended)
}

/// A message ready to play or send: references filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Rendered {
    /// Plain text: spoken by text to speech, or sent as a chat message.
    Text(String),
    /// SSML for text to speech.
    Ssml(String),
    /// A prompt, by the id, name or ARN the flow gave.
    Prompt(String),
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Play (voice) or send (chat) a message; answer `PromptFinished`.
    Play {
        /// What to play or send.
        message: Rendered,
        /// The text-to-speech voice to speak it in.
        voice: String,
    },
    /// Play the prompt, then collect DTMF: at most `max_digits`, ending early
    /// on `terminator`; answer `Input(digits)` or `InputTimeout`.
    GetInput {
        /// What to play first; `None` to listen at once.
        prompt: Option<Rendered>,
        /// The text-to-speech voice for the prompt.
        voice: String,
        /// How long to wait for input, in seconds, before answering `InputTimeout`.
        timeout_seconds: u32,
        /// Most digits to take: 1 for a menu choice; when storing input, the
        /// validation's maximum length, else 20.
        max_digits: u32,
        /// The key that ends entry (`#` unless the flow says); `None` for a menu choice.
        terminator: Option<String>,
    },
    /// Play the messages round and round; with `interrupt_seconds`, answer
    /// `TimerFired` after that long. Without, this plays until the contact
    /// leaves (a hold or queue flow).
    PlayLoop {
        /// The messages to play in turn.
        messages: Vec<Rendered>,
        /// The text-to-speech voice to speak them in.
        voice: String,
        /// When to answer `TimerFired`, in seconds; `None` to play until the contact leaves.
        interrupt_seconds: Option<u32>,
    },
    /// Hand the customer to a bot; answer `BotResult` or `Failed`.
    StartBot {
        /// The bot, by the name or alias ARN the flow gave.
        bot: String,
        /// What to play or send first; `None` for nothing.
        prompt: Option<Rendered>,
        /// The text-to-speech voice for the prompt.
        voice: String,
        /// Session attributes to pass to the bot, references filled in.
        session_attributes: BTreeMap<String, String>,
    },
    /// Call an external function; answer `FunctionResult` or `Failed`.
    InvokeFunction {
        /// The function, by the reference the flow gave (a name or ARN).
        function: String,
        /// The parameters to send, references filled in.
        parameters: BTreeMap<String, String>,
        /// How long to wait for the answer, in seconds (1 to 8), before answering `Failed`.
        timeout_seconds: u32,
        /// Whether the response may nest (`JSON`). Without, every value must be
        /// text (`STRING_MAP`), or the action takes its error branch.
        json_response: bool,
    },
    /// Is it open? `hours` names hours of operation; `None` means the target
    /// queue's. Answer `HoursChecked` or `Failed`.
    CheckHours {
        /// The hours of operation, by the reference the flow gave; `None` for the queue's.
        hours: Option<String>,
        /// The contact's target queue, by id; `None` if it has none.
        queue: Option<String>,
    },
    /// Read a real-time metric; answer `MetricValue` or `Failed`.
    QueryMetric {
        /// The metric's name, e.g. `NumberOfContactsInQueue`.
        metric: String,
        /// The queue to measure: the one the flow named, else the target queue's
        /// id; `None` if neither.
        queue: Option<String>,
    },
    /// Find a queue (or an agent's personal queue); answer `QueueFound` or `Failed`.
    ResolveQueue {
        /// The queue, by the reference the flow gave; `None` when it names an agent.
        queue: Option<String>,
        /// The agent whose queue is wanted; `None` when the flow names a queue.
        agent: Option<String>,
    },
    /// Put the contact in its target queue; answer `Enqueued`, `QueueAtCapacity` or `Failed`.
    Enqueue {
        /// The queue to join.
        queue: QueueRef,
        /// Priority in the queue (lower goes first); `None` for the default.
        priority: Option<u32>,
        /// Seconds the contact counts as having already waited (may be
        /// negative); `None` for no adjustment.
        time_adjustment_seconds: Option<i64>,
    },
    /// Call a number and connect the customer; answer `TransferEnded`,
    /// `ConnectionTimeout`, `CallFailed` or `Failed`.
    TransferToNumber {
        /// The number to call, in E.164 form.
        number: String,
        /// How long to ring, in seconds, before answering `ConnectionTimeout`.
        timeout_seconds: u32,
        /// The number to show the callee; `None` if the flow gave none.
        caller_id_number: Option<String>,
        /// The name to show the callee; `None` if the flow gave none.
        caller_id_name: Option<String>,
        /// Whether the flow goes on after `TransferEnded`; if not, the session
        /// ends with `Outcome::TransferredToNumber`.
        continue_flow: bool,
    },
    /// Continue in another flow; answer `FlowFound` (this session ends) or `Failed`.
    TransferToFlow {
        /// The flow, by the reference the action gave, references filled in.
        flow: String,
    },
    /// Load a flow module to run now; answer `ModuleLoaded` or `Failed`.
    LoadModule {
        /// The module, by the reference the action gave, references filled in.
        module: String,
    },
    /// Answer `TimerFired` after this long, or `CustomerReturned` when the
    /// customer writes first and the Wait listens for it (chat).
    StartTimer {
        /// How long to wait, in seconds.
        seconds: u32,
        /// Whether a customer message ends the wait early with `CustomerReturned`.
        customer_returned: bool,
    },
    /// The flow changed the text-to-speech voice. A notice: the session's
    /// contact already has it, and no answer is due.
    SetVoice {
        /// The new voice's name, e.g. `Joanna`.
        voice: String,
    },
    /// The flow changed who is recorded; a notice, no answer is due.
    SetRecording {
        /// `Agent`, `Customer`, both, or none (recording off).
        participants: Vec<String>,
    },
    /// The flow started (`Some`) or stopped (`None`) streaming the
    /// customer's audio; a notice, no answer is due.
    SetMediaStreaming {
        /// The directions streamed from now on.
        directions: Option<crate::model::StreamDirections>,
    },
    /// The flow set the flow to run on a contact event; a notice, no answer is due.
    SetEventHook {
        /// The event, e.g. `CustomerQueue` or `AgentWhisper`.
        hook: String,
        /// The flow to run, by the reference the action gave, references filled in.
        flow: String,
    },
    /// The flow changed the contact's queue priority or time adjustment; a
    /// notice, no answer is due. The fields hold the contact's values now.
    SetRoutingBehavior {
        /// Priority in queue (lower goes first); `None` if never set.
        priority: Option<u32>,
        /// Seconds the contact counts as having already waited; `None` if never set.
        time_adjustment_seconds: Option<i64>,
    },
    /// The flow turned flow logging on or off; a notice, no answer is due.
    SetLogging {
        /// Whether logging is now on.
        enabled: bool,
    },
    /// Read the real-time figures of a queue; answer `Metrics` or `Failed`.
    /// The session keeps them as `$.Metrics`.
    GetMetrics {
        /// The queue: the one the flow named, else the target queue's id;
        /// `None` if neither (the shell answers `Failed`).
        queue: Option<String>,
        /// The agent whose personal queue is meant, when the flow names one.
        agent: Option<String>,
        /// `Voice` or `Chat`; `None` counts every channel.
        channel: Option<String>,
    },
    /// An action of a Connect feature Switchboard does not have yet
    /// ([`crate::catalog`]). Answer `FeatureResult` as if it ran, or
    /// `Failed` (the feature is not enabled: its error branch).
    Feature {
        /// The action's `Type`.
        action_type: String,
        /// The feature it belongs to.
        feature: crate::catalog::Feature,
        /// Its parameters as written.
        parameters: serde_json::Map<String, Value>,
    },
    /// The flow changed the contact's name, description, references,
    /// language, customer id, tags or callback number; a notice, no answer
    /// is due: the session's contact holds the new values.
    ContactDataChanged,
    /// Hang up or end the chat.
    Disconnect,
    /// The flow is done; whatever ran it carries on (a whisper ends, a hold resumes).
    End,
}

/// What the shell reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The message from `Play` has played, or been sent.
    PromptFinished,
    /// What the customer entered for `GetInput`: the digits, or in chat the message typed.
    Input(String),
    /// Nothing came in time for `GetInput` (or for a bot): the InputTimeLimitExceeded branch.
    InputTimeout,
    /// The bot from `StartBot` finished.
    BotResult {
        /// The intent it recognised; the action's conditions test it.
        intent: String,
        /// The slot values it filled, by slot name.
        slots: BTreeMap<String, String>,
        /// The session attributes it ended with.
        session_attributes: BTreeMap<String, String>,
    },
    /// What the function from `InvokeFunction` returned; the flow reads it as `$.External`.
    FunctionResult(BTreeMap<String, Value>),
    /// The answer to `CheckHours`.
    HoursChecked {
        /// Whether it is open now.
        open: bool,
    },
    /// The metric's value, for `QueryMetric`.
    MetricValue(f64),
    /// The queue for `ResolveQueue`; it becomes the contact's target queue.
    QueueFound(QueueRef),
    /// The contact is in the queue from `Enqueue`; the session ends with `Outcome::Queued`.
    Enqueued,
    /// The queue from `Enqueue` is full: the QueueAtCapacity branch.
    QueueAtCapacity,
    /// The third party from `TransferToNumber` answered and the call has ended.
    TransferEnded,
    /// Nobody answered the `TransferToNumber` call in time.
    ConnectionTimeout,
    /// The `TransferToNumber` call could not be made (busy, refused, no route).
    CallFailed,
    /// The flow from `TransferToFlow` exists; this session ends and the shell runs that flow.
    FlowFound,
    /// The module from `LoadModule`. The session runs it, then goes on to the
    /// InvokeFlowModule action's next action.
    ModuleLoaded(Arc<Flow>),
    /// The `StartTimer` wait, or `PlayLoop`'s `interrupt_seconds`, has passed.
    TimerFired,
    /// The chat customer wrote during a `StartTimer` wait that listens for it.
    CustomerReturned,
    /// What was asked for could not be done (no such queue, the function
    /// failed or timed out...): the action's error branch.
    Failed(String),
    /// The figures for `GetMetrics`, read as `$.Metrics` (Connect's shape:
    /// `Queue.Size`, `Queue.OldestContactAge`, `Agents.Available.Count`...).
    Metrics(Value),
    /// What a `Feature` action gave, as if the feature ran: the condition
    /// result it returns (a view's action, a Voice ID result), if any, and
    /// data for its namespace (`$.Customer`, `$.Views`, `$.Case`...).
    FeatureResult {
        /// The result its conditions test; `None` for actions without.
        result: Option<String>,
        /// What it puts in its namespace.
        data: Option<Value>,
    },
    /// A `Feature` action failed with one of its own error types
    /// (`NoneFoundError`, `TimeLimitExceeded`...).
    FeatureError(String),
    /// The customer left: the session ends at once.
    Hangup,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The flow disconnected the contact (DisconnectParticipant).
    Disconnected,
    /// EndFlowExecution (or the end of a module run on its own).
    Ended,
    /// The contact joined a queue.
    Queued {
        /// The queue it joined.
        queue: QueueRef,
    },
    /// The customer was transferred to a number and the flow did not go on.
    TransferredToNumber {
        /// The number called.
        number: String,
    },
    /// The contact went on in another flow.
    TransferredToFlow {
        /// The flow, by the reference the action gave, references filled in.
        flow: String,
    },
    /// The customer left (`Event::Hangup`) before the flow finished.
    CustomerHungUp,
    /// The flow could not go on: an error with no branch, or the step limit.
    Failed {
        /// The identifier of the action that failed; `None` if the flow could not start.
        action: Option<String>,
        /// What went wrong, for people to read.
        reason: String,
    },
}

/// One action run, and which way it went: the path taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The action's identifier.
    pub action: String,
    /// The action's `Type` as written, e.g. `MessageParticipant`.
    #[serde(rename = "type")]
    pub action_type: String,
    /// `next`, `condition Equals 1`, `error NoMatchingError`, or `end`.
    pub branch: String,
}

/// What the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Prompt,
    Input,
    Loop,
    Bot,
    Function,
    Hours,
    Metric,
    Queue,
    Enqueue,
    Transfer,
    Flow,
    Module,
    Timer,
    Metrics,
    Feature,
}

/// One flow on the stack: the main flow, or a module it invoked.
struct Frame {
    flow: Arc<Flow>,
    /// The action running (or awaited), by position.
    at: usize,
    /// For a module: where the caller goes on when it ends.
    return_to: Option<String>,
    loops: HashMap<String, u32>,
}

/// Where the flow goes after an action.
enum Next {
    Goto(String),
    /// Carry on where the current frame points (a module just started).
    Continue,
    Wait(Awaiting),
    Finish(Outcome),
}

/// A contact running through a flow.
pub struct Session {
    frames: Vec<Frame>,
    contact: ContactData,
    awaiting: Option<Awaiting>,
    outcome: Option<Outcome>,
    trace: Vec<Step>,
    steps: u32,
    steps_since_event: u32,
    rng: u64,
}

impl Session {
    /// Starts `flow` for `contact`. `seed` drives DistributeByPercentage,
    /// so a run can be replayed exactly.
    pub fn start(flow: Arc<Flow>, contact: ContactData, seed: u64) -> (Self, Vec<Effect>) {
        let mut s = Session {
            frames: vec![],
            contact,
            awaiting: None,
            outcome: None,
            trace: vec![],
            steps: 0,
            steps_since_event: 0,
            rng: seed,
        };
        let mut effects = Vec::new();
        match flow.position(&flow.start) {
            Some(at) => {
                s.frames.push(Frame {
                    flow,
                    at,
                    return_to: None,
                    loops: HashMap::new(),
                });
                s.run(&mut effects);
            }
            None => s.finish(
                Outcome::Failed {
                    action: None,
                    reason: format!("StartAction '{}' is not in the flow", flow.start),
                },
                &mut effects,
            ),
        }
        (s, effects)
    }

    /// The contact as the flow has left it so far (attributes, target queue...).
    pub fn contact(&self) -> &ContactData {
        &self.contact
    }

    /// How the session ended; `None` while it runs.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether the session has ended; it then ignores every event.
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// The actions run so far, with the branch each took.
    pub fn trace(&self) -> &[Step] {
        &self.trace
    }

    /// Whether the session waits for something and so can take an event.
    pub fn is_waiting(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Feeds an event. Events the session is not waiting for are ignored
    /// (no effects), except `Hangup`, which always ends it.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.outcome.is_some() {
            return effects;
        }
        if event == Event::Hangup {
            self.awaiting = None;
            self.outcome = Some(Outcome::CustomerHungUp);
            return effects;
        }
        let Some(waiting) = self.awaiting else {
            return effects;
        };
        let Some(next) = self.resume(waiting, event) else {
            return effects; // not what we wait for
        };
        self.awaiting = None;
        self.steps_since_event = 0;
        self.apply(next, &mut effects);
        if self.outcome.is_none() && self.awaiting.is_none() {
            self.run(&mut effects);
        }
        effects
    }
}

/// splitmix64: a tiny, well-known generator, written out so that a seed
/// gives the same sequence forever (a library's generator may change its
/// algorithm between versions, which would change replayed flows).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn render_message(contact: &ContactData, m: &Message) -> Rendered {
    match m {
        Message::Text(o) => Rendered::Text(contact.render(o)),
        Message::Ssml(o) => Rendered::Ssml(contact.render(o)),
        Message::Prompt(o) => Rendered::Prompt(contact.render(o)),
    }
}

impl Session {
    fn frame(&self) -> &Frame {
        self.frames.last().expect("a running session has a frame")
    }

    fn action(&self) -> Action {
        let f = self.frame();
        f.flow.actions[f.at].clone()
    }

    fn finish(&mut self, outcome: Outcome, effects: &mut Vec<Effect>) {
        if matches!(outcome, Outcome::Failed { .. }) {
            // A failed flow must not leave the customer in silence.
            effects.push(Effect::Disconnect);
        }
        self.awaiting = None;
        self.outcome = Some(outcome);
    }

    fn record(&mut self, branch: String) {
        let a = {
            let f = self.frame();
            &f.flow.actions[f.at]
        };
        let step = Step {
            action: a.id.clone(),
            action_type: a.type_name.clone(),
            branch,
        };
        self.trace.push(step);
    }

    /// Runs actions until the flow waits or finishes.
    fn run(&mut self, effects: &mut Vec<Effect>) {
        while self.outcome.is_none() && self.awaiting.is_none() {
            self.steps += 1;
            self.steps_since_event += 1;
            if self.steps_since_event > MAX_STEPS_PER_EVENT || self.steps > MAX_STEPS {
                let action = Some(self.action().id);
                let reason = format!("step limit: more than {MAX_STEPS_PER_EVENT} actions without waiting for the customer, or {MAX_STEPS} in all");
                self.finish(Outcome::Failed { action, reason }, effects);
                return;
            }
            let next = self.exec(effects);
            self.apply(next, effects);
        }
    }

    fn apply(&mut self, next: Next, effects: &mut Vec<Effect>) {
        match next {
            Next::Goto(id) => {
                let frame = self.frames.last_mut().expect("frame");
                match frame.flow.position(&id) {
                    Some(at) => frame.at = at,
                    None => {
                        let action = Some(frame.flow.actions[frame.at].id.clone());
                        self.finish(
                            Outcome::Failed {
                                action,
                                reason: format!("transition to '{id}', which is not in the flow"),
                            },
                            effects,
                        );
                    }
                }
            }
            Next::Continue => {}
            Next::Wait(w) => self.awaiting = Some(w),
            Next::Finish(outcome) => self.finish(outcome, effects),
        }
    }

    /// Follows the success transition.
    fn next(&mut self) -> Next {
        let a = self.action();
        match a.transitions.next {
            Some(id) => {
                self.record("next".into());
                Next::Goto(id)
            }
            None => self.error_on(&a, "NoMatchingError", "no NextAction"),
        }
    }

    /// Follows an error branch; an error with no branch of its own falls to
    /// NoMatchingError, and with neither the flow fails.
    fn error_on(&mut self, a: &Action, error_type: &str, why: &str) -> Next {
        let branch = a
            .transitions
            .on_error(error_type)
            .map(|n| (error_type, n))
            .or_else(|| {
                a.transitions
                    .on_error("NoMatchingError")
                    .map(|n| ("NoMatchingError", n))
            });
        match branch {
            Some((ty, next)) => {
                let next = next.to_string();
                self.record(format!("error {ty}"));
                Next::Goto(next)
            }
            None => {
                self.record(format!("error {error_type} (no branch)"));
                Next::Finish(Outcome::Failed {
                    action: Some(a.id.clone()),
                    reason: format!("{error_type}: {why}"),
                })
            }
        }
    }

    /// Takes the first condition that holds for `value`, else `otherwise`.
    fn by_condition(&mut self, a: &Action, value: &str, otherwise: &str) -> Next {
        if let Some(c) = a
            .transitions
            .conditions
            .iter()
            .find(|c| c.operator.test(value, &c.operand))
        {
            let next = c.next.clone();
            self.record(format!("condition {:?} {}", c.operator, c.operand));
            return Next::Goto(next);
        }
        self.error_on(a, otherwise, &format!("no condition matched '{value}'"))
    }

    fn exec(&mut self, effects: &mut Vec<Effect>) -> Next {
        use ActionKind::*;
        let a = self.action();
        let c = &self.contact;
        let voice = c.voice.clone();
        match &a.kind {
            MessageParticipant { message } => {
                effects.push(Effect::Play {
                    message: render_message(c, message),
                    voice,
                });
                Next::Wait(Awaiting::Prompt)
            }
            GetParticipantInput {
                prompt,
                timeout_seconds,
                store_input,
                validation,
                terminator,
                ..
            } => {
                let max_digits = match (store_input, validation) {
                    (false, _) => 1,
                    (true, Some(InputValidation::MaxLength(n))) => *n,
                    (true, _) => 20,
                };
                let terminator = if *store_input {
                    Some(terminator.clone().unwrap_or_else(|| "#".into()))
                } else {
                    None
                };
                effects.push(Effect::GetInput {
                    prompt: prompt.as_ref().map(|m| render_message(c, m)),
                    voice,
                    timeout_seconds: *timeout_seconds,
                    max_digits,
                    terminator,
                });
                Next::Wait(Awaiting::Input)
            }
            MessageParticipantIteratively {
                messages,
                interrupt_seconds,
            } => {
                let messages = messages.iter().map(|m| render_message(c, m)).collect();
                effects.push(Effect::PlayLoop {
                    messages,
                    voice,
                    interrupt_seconds: *interrupt_seconds,
                });
                Next::Wait(Awaiting::Loop)
            }
            UpdateContactTextToSpeechVoice { voice, .. } => {
                match c.render_strict(voice).filter(|v| !v.is_empty()) {
                    Some(v) => {
                        self.contact.voice = v.clone();
                        effects.push(Effect::SetVoice { voice: v });
                        self.next()
                    }
                    None => self.error_on(&a, "NoMatchingError", "the voice is empty"),
                }
            }
            UpdateContactAttributes { attributes } | UpdateFlowAttributes { attributes } => {
                // All or none: a value that names nothing sets nothing.
                let values = match c.render_all(attributes) {
                    Ok(values) => values,
                    Err((_, v)) => {
                        return self.error_on(
                            &a,
                            "NoMatchingError",
                            &format!("'{}' has no value", v.raw),
                        )
                    }
                };
                let target = if matches!(a.kind, UpdateContactAttributes { .. }) {
                    &mut self.contact.attributes
                } else {
                    &mut self.contact.flow_attributes
                };
                target.extend(values);
                self.next()
            }
            Compare { value } => {
                let v = c.render(value);
                self.by_condition(&a, &v, "NoMatchingCondition")
            }
            CheckHoursOfOperation { hours } => {
                let hours = hours
                    .as_ref()
                    .map(|h| c.render(h))
                    .filter(|h| !h.is_empty());
                let queue = c.queue.as_ref().map(|q| q.id.clone());
                if hours.is_none() && queue.is_none() {
                    return self.error_on(
                        &a,
                        "NoMatchingError",
                        "no hours given and no target queue set",
                    );
                }
                effects.push(Effect::CheckHours { hours, queue });
                Next::Wait(Awaiting::Hours)
            }
            CheckMetricData { metric, queue } => {
                let queue = queue
                    .as_ref()
                    .map(|q| c.render(q))
                    .filter(|q| !q.is_empty())
                    .or_else(|| c.queue.as_ref().map(|q| q.id.clone()));
                effects.push(Effect::QueryMetric {
                    metric: format!("{metric:?}"),
                    queue,
                });
                Next::Wait(Awaiting::Metric)
            }
            DistributeByPercentage => {
                let roll = (splitmix64(&mut self.rng) % 100 + 1) as f64;
                let hit = a
                    .transitions
                    .conditions
                    .iter()
                    .find(|c| c.operand.parse::<f64>().is_ok_and(|limit| roll < limit))
                    .cloned();
                match hit {
                    Some(cond) => {
                        self.record(format!(
                            "condition NumberLessThan {} (rolled {roll})",
                            cond.operand
                        ));
                        Next::Goto(cond.next)
                    }
                    // No bucket: Connect's default branch is NoMatchingCondition;
                    // exports may also carry a NextAction for it.
                    None => match (
                        a.transitions.on_error("NoMatchingCondition"),
                        a.transitions.next.clone(),
                    ) {
                        (Some(n), _) => {
                            let n = n.to_string();
                            self.record(format!("error NoMatchingCondition (rolled {roll})"));
                            Next::Goto(n)
                        }
                        (None, Some(n)) => {
                            self.record(format!("next (rolled {roll})"));
                            Next::Goto(n)
                        }
                        (None, None) => {
                            self.error_on(&a, "NoMatchingCondition", "no bucket for the roll")
                        }
                    },
                }
            }
            Loop { count } => {
                let Some(limit) = c
                    .render_strict(count)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                else {
                    return self.error_on(
                        &a,
                        "NoMatchingError",
                        &format!("loop count '{}' is not a number", count.raw),
                    );
                };
                let frame = self.frames.last_mut().expect("frame");
                let done = frame.loops.entry(a.id.clone()).or_insert(0);
                let outcome = if *done < limit {
                    *done += 1;
                    "ContinueLooping"
                } else {
                    // Reset, so entering the loop again counts afresh.
                    *done = 0;
                    "DoneLooping"
                };
                self.by_condition(&a, outcome, "NoMatchingError")
            }
            Wait {
                timeout_seconds,
                timeout_reference,
                customer_returned,
            } => {
                let seconds = match timeout_reference {
                    None => *timeout_seconds,
                    Some(r) => match c
                        .render_strict(r)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|v| *v >= 1.0 && *v <= f64::from(crate::parse::MAX_WAIT_SECONDS))
                    {
                        Some(v) => v as u32,
                        None => {
                            return self.error_on(
                                &a,
                                "NoMatchingError",
                                &format!("'{}' is not a number of seconds", r.raw),
                            )
                        }
                    },
                };
                effects.push(Effect::StartTimer {
                    seconds,
                    customer_returned: *customer_returned,
                });
                Next::Wait(Awaiting::Timer)
            }
            UpdateContactTargetQueue { queue, agent } => {
                let queue = queue
                    .as_ref()
                    .map(|q| c.render(q))
                    .filter(|q| !q.is_empty());
                let agent = agent
                    .as_ref()
                    .map(|q| c.render(q))
                    .filter(|q| !q.is_empty());
                if queue.is_none() && agent.is_none() {
                    return self.error_on(&a, "NoMatchingError", "the queue reference is empty");
                }
                effects.push(Effect::ResolveQueue { queue, agent });
                Next::Wait(Awaiting::Queue)
            }
            TransferContactToQueue => match c.queue.clone() {
                Some(queue) => {
                    effects.push(Effect::Enqueue {
                        queue,
                        priority: c.queue_priority,
                        time_adjustment_seconds: c.queue_time_adjustment_seconds,
                    });
                    Next::Wait(Awaiting::Enqueue)
                }
                None => self.error_on(
                    &a,
                    "NoMatchingError",
                    "no target queue set (use UpdateContactTargetQueue first)",
                ),
            },
            TransferToFlow { flow } => match c.render_strict(flow).filter(|f| !f.is_empty()) {
                Some(flow) => {
                    effects.push(Effect::TransferToFlow { flow });
                    Next::Wait(Awaiting::Flow)
                }
                None => self.error_on(
                    &a,
                    "NoMatchingError",
                    &format!("'{}' names no flow", flow.raw),
                ),
            },
            TransferParticipantToThirdParty {
                number,
                timeout_seconds,
                continue_flow,
                caller_id_number,
                caller_id_name,
            } => {
                let number = c.render(number);
                if !number.starts_with('+')
                    || number.len() < 8
                    || !number[1..].chars().all(|ch| ch.is_ascii_digit())
                {
                    return self.error_on(
                        &a,
                        "CallFailed",
                        &format!("'{number}' is not an E.164 number"),
                    );
                }
                effects.push(Effect::TransferToNumber {
                    number,
                    timeout_seconds: *timeout_seconds,
                    caller_id_number: caller_id_number.as_ref().map(|o| c.render(o)),
                    caller_id_name: caller_id_name.as_ref().map(|o| c.render(o)),
                    continue_flow: *continue_flow,
                });
                Next::Wait(Awaiting::Transfer)
            }
            UpdateContactRecordingBehavior { participants } => {
                self.contact.recording = participants.clone();
                let participants = participants.iter().map(|p| format!("{p:?}")).collect();
                effects.push(Effect::SetRecording { participants });
                self.next()
            }
            UpdateContactMediaStreamingBehavior {
                enabled,
                directions,
            } => {
                if !self.contact.media_streaming_available {
                    return self.error_on(
                        &a,
                        "NoMatchingError",
                        "media streaming is not available (no endpoint is configured, or the contact is not a call)",
                    );
                }
                let now = if *enabled {
                    let mut both = self.contact.media_streaming.unwrap_or_default();
                    both.from_customer |= directions.from_customer;
                    both.to_customer |= directions.to_customer;
                    Some(both)
                } else {
                    // Stop the directions named; nothing left is no stream.
                    self.contact.media_streaming.and_then(|mut s| {
                        s.from_customer &= !directions.from_customer;
                        s.to_customer &= !directions.to_customer;
                        (s.from_customer || s.to_customer).then_some(s)
                    })
                };
                self.contact.media_streaming = now;
                effects.push(Effect::SetMediaStreaming { directions: now });
                self.next()
            }
            UpdateContactEventHooks { hooks } => {
                let mut resolved = Vec::new();
                for (hook, flow) in hooks {
                    match c.render_strict(flow).filter(|f| !f.is_empty()) {
                        Some(f) => resolved.push((*hook, f)),
                        None => {
                            return self.error_on(
                                &a,
                                "NoMatchingError",
                                &format!("'{}' names no flow", flow.raw),
                            )
                        }
                    }
                }
                for (hook, flow) in resolved {
                    effects.push(Effect::SetEventHook {
                        hook: format!("{hook:?}"),
                        flow: flow.clone(),
                    });
                    self.contact.event_hooks.insert(hook, flow);
                }
                self.next()
            }
            UpdateContactRoutingBehavior {
                priority,
                time_adjustment_seconds,
            } => {
                let p = priority
                    .as_ref()
                    .map(|o| c.render(o).trim().parse::<u32>().ok().filter(|n| *n >= 1));
                let t = time_adjustment_seconds
                    .as_ref()
                    .map(|o| c.render(o).trim().parse::<i64>().ok());
                if p == Some(None) || t == Some(None) {
                    return self.error_on(
                        &a,
                        "NoMatchingError",
                        "the priority or time adjustment is not a number",
                    );
                }
                let (p, t) = (p.flatten(), t.flatten());
                if p.is_some() {
                    self.contact.queue_priority = p;
                }
                if t.is_some() {
                    self.contact.queue_time_adjustment_seconds = t;
                }
                effects.push(Effect::SetRoutingBehavior {
                    priority: self.contact.queue_priority,
                    time_adjustment_seconds: self.contact.queue_time_adjustment_seconds,
                });
                self.next()
            }
            InvokeLambdaFunction {
                function,
                timeout_seconds,
                attributes,
                json_response,
            } => {
                let function = c.render(function);
                if function.is_empty() {
                    return self.error_on(&a, "NoMatchingError", "the function reference is empty");
                }
                let parameters = attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), c.render(v)))
                    .collect();
                effects.push(Effect::InvokeFunction {
                    function,
                    parameters,
                    timeout_seconds: *timeout_seconds,
                    json_response: *json_response,
                });
                Next::Wait(Awaiting::Function)
            }
            ConnectParticipantWithLexBot {
                bot,
                prompt,
                session_attributes,
            } => {
                let bot = c.render(bot);
                if bot.is_empty() {
                    return self.error_on(&a, "NoMatchingError", "the bot reference is empty");
                }
                effects.push(Effect::StartBot {
                    bot,
                    prompt: prompt.as_ref().map(|m| render_message(c, m)),
                    voice,
                    session_attributes: session_attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), c.render(v)))
                        .collect(),
                });
                Next::Wait(Awaiting::Bot)
            }
            UpdateFlowLoggingBehavior { enabled } => {
                self.contact.logging = *enabled;
                effects.push(Effect::SetLogging { enabled: *enabled });
                self.next()
            }
            InvokeFlowModule { module } => {
                match c.render_strict(module).filter(|m| !m.is_empty()) {
                    Some(module) => {
                        effects.push(Effect::LoadModule { module });
                        Next::Wait(Awaiting::Module)
                    }
                    None => self.error_on(
                        &a,
                        "NoMatchingError",
                        &format!("'{}' names no module", module.raw),
                    ),
                }
            }
            UpdateContactData {
                name,
                description,
                language,
                customer_id,
                references,
            } => {
                // All or none, as Connect sets them.
                let render = |o: &Option<crate::operand::Operand>| match o {
                    Some(o) => c.render_strict(o).map(Some),
                    None => Some(None),
                };
                let (Some(name), Some(description), Some(language), Some(customer_id)) = (
                    render(name),
                    render(description),
                    render(language),
                    render(customer_id),
                ) else {
                    return self.error_on(&a, "NoMatchingError", "a value names nothing");
                };
                let refs = match c.render_all(references) {
                    Ok(refs) => refs,
                    Err((k, _)) => {
                        return self.error_on(
                            &a,
                            "NoMatchingError",
                            &format!("reference '{k}' has no value"),
                        )
                    }
                };
                let data = &mut self.contact;
                if name.is_some() {
                    data.name = name;
                }
                if description.is_some() {
                    data.description = description;
                }
                if let Some(l) = language.filter(|l| !l.is_empty()) {
                    data.language = l;
                }
                if customer_id.is_some() {
                    data.customer_id = customer_id;
                }
                data.references.extend(refs);
                effects.push(Effect::ContactDataChanged);
                self.next()
            }
            TagContact { tags } => {
                let values = match c.render_all(tags) {
                    Ok(values) => values,
                    Err((k, _)) => {
                        return self.error_on(
                            &a,
                            "NoMatchingError",
                            &format!("tag '{k}' has no value"),
                        )
                    }
                };
                let mut all = self.contact.tags.clone();
                all.extend(values);
                if all.len() > MAX_TAGS {
                    return self.error_on(
                        &a,
                        "NoMatchingError",
                        &format!("a contact has at most {MAX_TAGS} tags"),
                    );
                }
                self.contact.tags = all;
                effects.push(Effect::ContactDataChanged);
                self.next()
            }
            UntagContact { keys } => {
                for k in keys {
                    self.contact.tags.remove(k);
                }
                effects.push(Effect::ContactDataChanged);
                self.next()
            }
            UpdateContactCallbackNumber { number } => {
                let value = c.render_strict(number).unwrap_or_default();
                // E.164 as written (+44 20 ...), spaces and dashes aside.
                let digits: String = value
                    .trim()
                    .trim_start_matches('+')
                    .chars()
                    .filter(|ch| !matches!(ch, ' ' | '-'))
                    .collect();
                match crate::phone::normalise(&digits, None) {
                    Some(e164) => {
                        self.contact.callback_number = Some(e164);
                        effects.push(Effect::ContactDataChanged);
                        self.next()
                    }
                    None => self.error_on(
                        &a,
                        "InvalidCallbackNumber",
                        &format!("'{value}' is not a phone number in E.164 form"),
                    ),
                }
            }
            GetMetricData {
                queue,
                agent,
                channel,
            } => {
                let render = |o: &Option<crate::operand::Operand>| {
                    o.as_ref().map(|o| c.render(o)).filter(|v| !v.is_empty())
                };
                let agent = render(agent);
                let queue = render(queue).or_else(|| {
                    agent
                        .is_none()
                        .then(|| c.queue.as_ref().map(|q| q.id.clone()))
                        .flatten()
                });
                effects.push(Effect::GetMetrics {
                    queue,
                    agent,
                    channel: render(channel),
                });
                Next::Wait(Awaiting::Metrics)
            }
            CompleteOutboundCall => self.next(),
            Other { spec, parameters } => {
                effects.push(Effect::Feature {
                    action_type: a.type_name.clone(),
                    feature: spec.feature,
                    parameters: parameters.clone(),
                });
                Next::Wait(Awaiting::Feature)
            }
            Unsupported => self.error_on(
                &a,
                "NoMatchingError",
                &format!("{} is not supported", a.type_name),
            ),
            EndFlowModuleExecution => {
                self.record("end".into());
                self.end_frame(effects)
            }
            DisconnectParticipant => {
                self.record("end".into());
                effects.push(Effect::Disconnect);
                Next::Finish(Outcome::Disconnected)
            }
            EndFlowExecution => {
                self.record("end".into());
                if self.frames.len() > 1 {
                    return self.end_frame(effects);
                }
                effects.push(Effect::End);
                Next::Finish(Outcome::Ended)
            }
        }
    }

    /// Leaves a module: back to the caller's next action, or the end.
    fn end_frame(&mut self, effects: &mut Vec<Effect>) -> Next {
        let frame = self.frames.pop().expect("frame");
        match (frame.return_to, self.frames.is_empty()) {
            (Some(next), false) => Next::Goto(next),
            _ => {
                // A module run on its own (e.g. simulated): it simply ends.
                self.frames.push(Frame {
                    return_to: None,
                    ..frame
                });
                effects.push(Effect::End);
                Next::Finish(Outcome::Ended)
            }
        }
    }

    /// Takes the event the session waits for and says where to go; `None`
    /// if the event is not one it waits for.
    fn resume(&mut self, waiting: Awaiting, event: Event) -> Option<Next> {
        use Awaiting as W;
        let a = self.action();
        let next = match (waiting, event) {
            // A feature's action that did not run says why on the path (and
            // so in the contact record): "not available: ... not enabled".
            (W::Feature, Event::Failed(why)) => {
                let next = self.error_on(&a, "NoMatchingError", &why);
                if let Some(step) = self.trace.last_mut() {
                    step.branch = format!("{} ({why})", step.branch);
                }
                next
            }
            (_, Event::Failed(why)) => self.error_on(&a, "NoMatchingError", &why),
            (W::Prompt, Event::PromptFinished) => self.next(),
            (W::Input, Event::InputTimeout) | (W::Bot, Event::InputTimeout) => {
                self.error_on(&a, "InputTimeLimitExceeded", "no input in time")
            }
            (W::Input, Event::Input(digits)) => self.input(&a, digits),
            // Connect writes the interrupt as a condition (Equals
            // MessagesInterrupted); older flows as an error branch.
            (W::Loop, Event::TimerFired) => {
                match a
                    .transitions
                    .conditions
                    .iter()
                    .find(|c| c.operator == Operator::Equals && c.operand == "MessagesInterrupted")
                {
                    Some(c) => {
                        let next = c.next.clone();
                        self.record("condition Equals MessagesInterrupted".into());
                        Next::Goto(next)
                    }
                    None => self.error_on(&a, "MessagesInterrupted", "interrupt"),
                }
            }
            (
                W::Bot,
                Event::BotResult {
                    intent,
                    slots,
                    session_attributes,
                },
            ) => {
                self.contact.lex_intent = Some(intent.clone());
                self.contact.lex_slots = slots;
                self.contact.lex_session_attributes = session_attributes;
                self.by_condition(&a, &intent, "NoMatchingCondition")
            }
            (W::Function, Event::FunctionResult(values)) => {
                let json = matches!(
                    a.kind,
                    ActionKind::InvokeLambdaFunction {
                        json_response: true,
                        ..
                    }
                );
                if !json && values.values().any(|v| !v.is_string()) {
                    return Some(self.error_on(
                        &a,
                        "NoMatchingError",
                        "a STRING_MAP response must be flat text values",
                    ));
                }
                self.contact.external = values;
                self.next()
            }
            (W::Hours, Event::HoursChecked { open }) => {
                self.by_condition(&a, if open { "True" } else { "False" }, "NoMatchingError")
            }
            (W::Metric, Event::MetricValue(v)) => {
                let text = if v.fract() == 0.0 {
                    format!("{}", v as i64)
                } else {
                    v.to_string()
                };
                self.by_condition(&a, &text, "NoMatchingCondition")
            }
            (W::Metrics, Event::Metrics(m)) => {
                self.contact.namespaces.insert("Metrics".into(), m);
                self.next()
            }
            (W::Feature, Event::FeatureResult { result, data }) => {
                if let (ActionKind::Other { spec, .. }, Some(data)) = (&a.kind, data) {
                    if let Some(root) = crate::catalog::namespace(spec.feature) {
                        self.contact.namespaces.insert(root.into(), data);
                    }
                }
                match result {
                    Some(r) => self.by_condition(&a, &r, "NoMatchingCondition"),
                    None if a.kind.is_terminal() => {
                        self.record("end".into());
                        feature_ends_flow()
                    }
                    None => self.next(),
                }
            }
            (W::Feature, Event::FeatureError(error_type)) => {
                self.error_on(&a, &error_type, "the feature answered with this error")
            }
            (W::Queue, Event::QueueFound(q)) => {
                self.contact.queue = Some(q);
                self.next()
            }
            (W::Enqueue, Event::Enqueued) => {
                self.record("queued".into());
                let queue = self.contact.queue.clone().expect("enqueued with a queue");
                Next::Finish(Outcome::Queued { queue })
            }
            (W::Enqueue, Event::QueueAtCapacity) => {
                self.error_on(&a, "QueueAtCapacity", "the queue is full")
            }
            (W::Transfer, Event::TransferEnded) => match &a.kind {
                ActionKind::TransferParticipantToThirdParty {
                    continue_flow: true,
                    ..
                } => self.next(),
                ActionKind::TransferParticipantToThirdParty { number, .. } => {
                    self.record("transferred".into());
                    Next::Finish(Outcome::TransferredToNumber {
                        number: self.contact.render(number),
                    })
                }
                _ => unreachable!("awaiting a transfer only after a transfer action"),
            },
            (W::Transfer, Event::ConnectionTimeout) => {
                self.error_on(&a, "ConnectionTimeLimitExceeded", "nobody answered in time")
            }
            (W::Transfer, Event::CallFailed) => self.error_on(&a, "CallFailed", "the call failed"),
            (W::Flow, Event::FlowFound) => {
                self.record("transferred".into());
                let flow = match &a.kind {
                    ActionKind::TransferToFlow { flow } => self.contact.render(flow),
                    _ => String::new(),
                };
                Next::Finish(Outcome::TransferredToFlow { flow })
            }
            (W::Module, Event::ModuleLoaded(module)) => {
                let Some(at) = module.position(&module.start) else {
                    return Some(self.error_on(
                        &a,
                        "NoMatchingError",
                        "the module has no StartAction",
                    ));
                };
                let return_to = a.transitions.next.clone();
                self.record("module".into());
                self.frames.push(Frame {
                    flow: module,
                    at,
                    return_to,
                    loops: HashMap::new(),
                });
                Next::Continue
            }
            (W::Timer, Event::TimerFired) => {
                self.by_condition(&a, "WaitCompleted", "NoMatchingError")
            }
            (W::Timer, Event::CustomerReturned)
                if matches!(
                    a.kind,
                    ActionKind::Wait {
                        customer_returned: true,
                        ..
                    }
                ) =>
            {
                self.by_condition(&a, "CustomerReturned", "NoMatchingError")
            }
            _ => return None,
        };
        Some(next)
    }

    /// Digits for a GetParticipantInput.
    fn input(&mut self, a: &Action, digits: String) -> Next {
        let ActionKind::GetParticipantInput {
            store_input,
            validation,
            ..
        } = &a.kind
        else {
            unreachable!("awaiting input only after GetParticipantInput")
        };
        if !*store_input {
            // A caller's key is one digit; a chat customer's answer is the
            // whole message they typed.
            let key: String = if self.contact.channel == "CHAT" {
                digits.trim().to_string()
            } else {
                digits.chars().take(1).collect()
            };
            return self.by_condition(a, &key, "NoMatchingCondition");
        }
        if digits.is_empty() {
            return self.error_on(a, "InputTimeLimitExceeded", "nothing entered");
        }
        match validation {
            Some(InputValidation::PhoneNumber { local_country }) => {
                match crate::phone::normalise(&digits, local_country.as_deref()) {
                    Some(number) => self.contact.stored_input = Some(number),
                    None => {
                        return self.error_on(
                            a,
                            "InvalidPhoneNumber",
                            &format!("'{digits}' is not a valid phone number"),
                        )
                    }
                }
            }
            Some(InputValidation::MaxLength(n)) if digits.chars().count() > *n as usize => {
                return self.error_on(a, "NoMatchingError", &format!("more than {n} digits"));
            }
            _ => self.contact.stored_input = Some(digits),
        }
        self.next()
    }
}
