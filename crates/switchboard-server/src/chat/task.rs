//! One chat: a tokio task that owns the room, the flow session and the
//! contact record, and handles every [`ChatInput`] in turn.
//!
//! Phases follow a call's: the flow runs (its messages go into the chat,
//! GetParticipantInput and Wait read the customer's next message), the
//! contact waits in a queue (the customer queue flow may talk meanwhile),
//! an agent is connected, the chat ends. Then the task lingers so that
//! tokens can still resume and read the transcript, and exits.

use super::{AgentActionError, CardState};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use switchboard_chat::{ChatError, ChatRoom, ItemKind, ReceiptKind, Role, Timeout, Transcript};
use switchboard_flow::{ContactData, Effect, Event, Outcome, Rendered, Session};
use switchboard_model::contact_record::{
    AgentInfo, ContactState, DisconnectReason, FlowStep, InitiationMethod, TranscriptInfo,
};
use switchboard_model::objects::routing_profile::Channel;
use switchboard_model::{ContactRecord, User};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{info, warn};

use super::{AgentChatEvent, ChatCard, ChatHub};
use crate::flow_shell;
use crate::routing::{RoutingEvent, RoutingUpdate};
use crate::AppState;

/// Frames a chat's sockets may fall behind by before they re-read the backlog.
const FANOUT: usize = 256;
/// The participant id and name the flow speaks with.
const SYSTEM: &str = "SYSTEM";
const SYSTEM_NAME: &str = "Switchboard";

/// One frame for the chat's sockets, serialized once for all of them.
#[derive(Debug, Clone)]
pub struct Out {
    /// The item's sequence; 0 for what is not kept (typing).
    pub seq: u64,
    /// Who it is from (a socket does not echo someone's typing to them).
    pub from: Arc<str>,
    pub text: Arc<str>,
    /// The chat ended with this item: the socket closes after it.
    pub ends: bool,
    /// Only for this participant's sockets, which close after it (an agent
    /// who transferred the chat no longer reads it).
    pub only_for: Option<Arc<str>>,
}

impl Out {
    fn item(item: &switchboard_chat::Item) -> Out {
        Out {
            seq: item.seq,
            from: Arc::from(item.participant_id.as_str()),
            text: Arc::from(json!({"type": "item", "item": item}).to_string()),
            ends: matches!(item.kind, ItemKind::Ended { .. }),
            only_for: None,
        }
    }
}

/// A socket joining the chat's fan-out.
pub struct Attached {
    pub frames: broadcast::Receiver<Out>,
    /// Every item after the `since` asked for.
    pub backlog: Vec<Out>,
    pub last_seq: u64,
    pub ended: bool,
}

/// Everything that reaches a chat.
pub enum ChatInput {
    Attach {
        since: u64,
        reply: oneshot::Sender<Attached>,
    },
    Send {
        participant: String,
        content_type: String,
        content: String,
        client_token: Option<String>,
        reply: oneshot::Sender<Result<(u64, String), ChatError>>,
    },
    Typing {
        participant: String,
    },
    Receipt {
        participant: String,
        seq: u64,
        kind: ReceiptKind,
        reply: oneshot::Sender<Result<(), ChatError>>,
    },
    Leave {
        participant: String,
    },
    Transcript {
        reply: oneshot::Sender<Transcript>,
    },
    Routing(RoutingUpdate),
    /// The answer to an effect handed to a spawned task.
    FlowEvent {
        request: u64,
        event: Event,
    },
    /// A flow to run now, loaded for request `request`.
    StartFlow {
        request: u64,
        flow: Arc<switchboard_flow::Flow>,
    },
    FlowFailed {
        request: u64,
        reason: String,
    },
    AgentEnd {
        agent: String,
        reply: oneshot::Sender<Result<(), AgentActionError>>,
    },
    AgentTransfer {
        agent: String,
        queue: (String, String),
        reply: oneshot::Sender<Result<(), AgentActionError>>,
    },
}

/// What a new chat starts with.
pub(super) struct NewChat {
    pub contact_id: String,
    pub customer: String,
    pub display_name: String,
    pub customer_token: [u8; 32],
    pub flow: Arc<switchboard_flow::Flow>,
    pub flow_id: Option<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub initial_message: Option<(String, String)>,
    pub duration: Duration,
    pub inputs: mpsc::UnboundedReceiver<ChatInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    InFlow,
    Queued,
    Connected,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    /// A spawned task answers; its request number.
    Answer(u64),
    /// GetParticipantInput: the customer's next message, until the deadline.
    Input(Instant),
    /// Wait: the deadline, and whether the customer's next message ends it
    /// first (a Wait listening for CustomerReturned); otherwise messages
    /// reach the agent or the log and the Wait runs its time.
    Timer(Instant, bool),
    /// MessageParticipantIteratively: its interrupt, if any.
    Loop(Option<Instant>),
}

struct ChatAgent {
    agent: String,
    participant: String,
    /// Their token's hash: it stops working when they leave.
    token: [u8; 32],
    card: ChatCard,
}

pub(super) struct Chat {
    app: AppState,
    hub: ChatHub,
    room: ChatRoom,
    /// The chat's id (its first contact's); the room and the tokens use it.
    chat_id: String,
    /// The current contact (changes when an agent transfers the chat).
    contact_id: String,
    /// Every contact id this chat has had (the hub's keys for it).
    keys: Vec<String>,
    inputs: mpsc::UnboundedReceiver<ChatInput>,
    out: broadcast::Sender<Out>,
    published: u64,
    phase: Phase,
    session: Option<Session>,
    session_no: u64,
    request_no: u64,
    waiting: Waiting,
    /// Flow events to feed after the current one (never re-entrantly).
    pending: VecDeque<Event>,
    contact: ContactData,
    ctr: ContactRecord,
    records: crate::records::RecordWriter,
    customer: String,
    customer_name: String,
    agent: Option<ChatAgent>,
    /// The agent being offered the chat now.
    offered: Option<String>,
    early_offer: Option<RoutingUpdate>,
    enqueue_sent: bool,
    tokens: Vec<[u8; 32]>,
    seed: u64,
}

fn unix_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}

/// What a flow's message says in a chat: text as is, SSML without its
/// tags. A recorded prompt has no words to show.
fn chat_text(message: &Rendered) -> Option<String> {
    match message {
        Rendered::Text(t) => Some(t.clone()),
        Rendered::Ssml(s) => {
            let mut text = String::new();
            let mut in_tag = false;
            for ch in s.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        Rendered::Prompt(_) => None,
    }
    .filter(|t| !t.trim().is_empty())
}

impl Chat {
    pub(super) async fn run(app: AppState, hub: ChatHub, new: NewChat) {
        let now = Utc::now();
        let ctr = ContactRecord {
            id: new.contact_id.clone(),
            channel: Channel::Chat,
            initiation_method: InitiationMethod::Api,
            initiation_timestamp: now,
            connected_to_system_timestamp: Some(now),
            customer_endpoint: Default::default(),
            system_endpoint: Default::default(),
            flow_id: new.flow_id.clone(),
            attributes: new.attributes.clone(),
            state: ContactState::InFlow,
            ..Default::default()
        };
        app.metrics
            .contact_started(ctr.channel, ctr.initiation_method);
        let (records, writer) = crate::records::RecordWriter::start(app.clone());
        let settings = hub.settings().clone();
        let mut room = ChatRoom::new(
            &new.contact_id,
            settings.limits,
            unix_ms(),
            new.duration.as_millis() as u64,
        );
        let _ = room.join(&new.customer, &new.display_name, Role::Customer, unix_ms());
        let _ = room.join(SYSTEM, SYSTEM_NAME, Role::System, unix_ms());
        let mut contact = ContactData::chat(&new.contact_id, &new.display_name);
        contact.attributes = new.attributes;
        let (out, _) = broadcast::channel(FANOUT);
        let mut chat = Chat {
            app,
            hub,
            room,
            chat_id: new.contact_id.clone(),
            contact_id: new.contact_id.clone(),
            keys: vec![new.contact_id.clone()],
            inputs: new.inputs,
            out,
            published: 0,
            phase: Phase::InFlow,
            session: None,
            session_no: 0,
            request_no: 0,
            waiting: Waiting::Nothing,
            pending: VecDeque::new(),
            contact,
            ctr,
            records,
            customer: new.customer.clone(),
            customer_name: new.display_name,
            agent: None,
            offered: None,
            early_offer: None,
            enqueue_sent: false,
            tokens: vec![new.customer_token],
            seed: rand::random(),
        };
        if let Some((content_type, content)) = &new.initial_message {
            // Checked by the start request already; a failure here is logged.
            if let Err(e) = chat
                .room
                .send(&new.customer, content_type, content, None, unix_ms())
            {
                warn!(contact = %chat.contact_id, "initial message: {e}");
            }
        }
        chat.publish();
        chat.save();
        chat.start_session(new.flow);
        // The flow runs as far as it can now (greeting, question), not at
        // the first input.
        chat.after_flow_events().await;
        chat.main_loop().await;
        chat.linger().await;
        chat.hub.forget(&chat.keys);
        drop(chat);
        let _ = writer.await;
    }

    fn save(&mut self) {
        self.note_flow_path();
        self.ctr.attributes = self.contact.attributes.clone();
        self.records.record(&self.ctr);
    }

    /// Copies the steps the flow took since the last save into the record.
    fn note_flow_path(&mut self) {
        if let Some(session) = &self.session {
            let trace = session.trace();
            let done = self.ctr.flow_path.len().min(trace.len());
            self.ctr
                .flow_path
                .extend(trace[done..].iter().map(|s| FlowStep {
                    action: s.action.clone(),
                    action_type: s.action_type.clone(),
                    branch: s.branch.clone(),
                }));
        }
    }

    /// Sends every item not yet sent to the chat's sockets.
    fn publish(&mut self) {
        for item in self.room.since(self.published) {
            let _ = self.out.send(Out::item(item));
            self.published = item.seq;
        }
    }

    fn attach(&self, since: u64) -> Attached {
        let frames = self.out.subscribe();
        let backlog = self.room.since(since).iter().map(Out::item).collect();
        Attached {
            frames,
            backlog,
            last_seq: self.room.last_seq(),
            ended: self.room.is_ended(),
        }
    }

    /// The soonest of the flow's deadline and the room's timers.
    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        let flow = match self.waiting {
            Waiting::Input(t) | Waiting::Timer(t, _) | Waiting::Loop(Some(t)) => Some(t),
            _ => None,
        };
        let room = self
            .room
            .next_wake()
            .map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(unix_ms())));
        [flow, room]
            .into_iter()
            .flatten()
            .min()
            .map(tokio::time::Instant::from_std)
    }

    async fn main_loop(&mut self) {
        while self.phase != Phase::Ended {
            let deadline = self.next_deadline();
            tokio::select! {
                input = self.inputs.recv() => match input {
                    Some(input) => self.on_input(input).await,
                    // The hub forgot us: nothing can reach the chat any more.
                    None => self.end(DisconnectReason::SystemError).await,
                },
                _ = async { match deadline { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } }, if deadline.is_some() => {
                    self.on_timer().await;
                }
            }
        }
    }

    /// The chat has ended: tokens keep working for a while so clients see
    /// the end and can read the transcript, then the task exits.
    async fn linger(&mut self) {
        let until = Instant::now() + self.hub.settings().linger;
        self.hub.expire(&self.tokens, until);
        let deadline = tokio::time::Instant::from_std(until);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                input = self.inputs.recv() => match input {
                    Some(ChatInput::Attach { since, reply }) => {
                        let _ = reply.send(self.attach(since));
                    }
                    Some(ChatInput::Transcript { reply }) => {
                        let _ = reply.send(self.room.transcript());
                    }
                    Some(ChatInput::Send { reply, .. }) => {
                        let _ = reply.send(Err(ChatError::Ended));
                    }
                    Some(ChatInput::Receipt { reply, .. }) => {
                        let _ = reply.send(Err(ChatError::Ended));
                    }
                                        Some(ChatInput::AgentEnd { reply, .. } | ChatInput::AgentTransfer { reply, .. }) => {
                        let _ = reply.send(Err(AgentActionError::Ended));
                    }
                    Some(ChatInput::Routing(update)) => self.after_the_end(update).await,
                    // The Enqueue reached the router after the customer left.
                    Some(ChatInput::FlowEvent { event: Event::Enqueued, .. }) => {
                        self.abandon().await;
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
    }

    /// Routing still moves a contact whose chat is over (an enqueue or an
    /// accept that crossed the customer leaving): take it out again, and
    /// give an agent who got connected a card to close.
    async fn after_the_end(&mut self, update: RoutingUpdate) {
        match update {
            RoutingUpdate::Offer { contact, .. } if contact == self.contact_id => {
                self.abandon().await;
            }
            RoutingUpdate::Connected { agent, contact } if contact == self.contact_id => {
                // The abandon that follows ends it: the agent is in after-contact work.
                self.abandon().await;
                let mut card = self.card(&agent, CardState::Ended, None);
                card.since = Utc::now();
                self.hub.tell_agent(AgentChatEvent::Card(card));
            }
            _ => {}
        }
    }

    async fn abandon(&self) {
        let _ = self
            .app
            .routing
            .send(RoutingEvent::Abandon {
                contact: self.contact_id.clone(),
            })
            .await;
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        match self.waiting {
            Waiting::Input(t) if now >= t => {
                self.waiting = Waiting::Nothing;
                self.feed(Event::InputTimeout);
            }
            Waiting::Timer(t, _) | Waiting::Loop(Some(t)) if now >= t => {
                self.waiting = Waiting::Nothing;
                self.feed(Event::TimerFired);
            }
            _ => {}
        }
        match self.room.tick(unix_ms()) {
            Some(Timeout::IdleDisconnect) => self.ended(DisconnectReason::CustomerIdle).await,
            Some(Timeout::Expired) => self.ended(DisconnectReason::Expired).await,
            Some(Timeout::IdleWarning) | None => self.publish(),
        }
        self.after_flow_events().await;
    }

    async fn on_input(&mut self, input: ChatInput) {
        match input {
            ChatInput::Attach { since, reply } => {
                let _ = reply.send(self.attach(since));
            }
            ChatInput::Transcript { reply } => {
                let _ = reply.send(self.room.transcript());
            }
            ChatInput::Send {
                participant,
                content_type,
                content,
                client_token,
                reply,
            } => {
                let before = self.room.last_seq();
                let result = self
                    .room
                    .send(
                        &participant,
                        &content_type,
                        &content,
                        client_token.as_deref(),
                        unix_ms(),
                    )
                    .map(|item| (item.seq, item.id.clone()));
                let fresh = matches!(result, Ok((seq, _)) if seq > before);
                let _ = reply.send(result);
                self.publish();
                if fresh && participant == self.customer {
                    self.customer_said(content);
                }
            }
            ChatInput::Typing { participant } => {
                if self.room.typing(&participant).is_ok() {
                    let (name, role) = self.name_and_role(&participant);
                    let text = json!({
                        "type": "typing", "participant_id": participant,
                        "display_name": name, "role": role,
                    });
                    let _ = self.out.send(Out {
                        seq: 0,
                        from: Arc::from(participant.as_str()),
                        text: Arc::from(text.to_string()),
                        ends: false,
                        only_for: None,
                    });
                }
            }
            ChatInput::Receipt {
                participant,
                seq,
                kind,
                reply,
            } => {
                let result = self
                    .room
                    .receipt(&participant, seq, kind, unix_ms())
                    .map(|_| ());
                let _ = reply.send(result);
                self.publish();
            }
            ChatInput::Leave { participant } => {
                if participant == self.customer {
                    if self.room.leave(&participant, unix_ms()).is_ok() {
                        self.ended(DisconnectReason::CustomerDisconnect).await;
                    }
                } else if self
                    .agent
                    .as_ref()
                    .is_some_and(|a| a.participant == participant)
                {
                    self.end(DisconnectReason::AgentDisconnect).await;
                }
            }
            ChatInput::Routing(update) => self.on_routing(update).await,
            ChatInput::FlowEvent { request, event } => {
                if self.waiting == Waiting::Answer(request) {
                    self.waiting = Waiting::Nothing;
                    self.feed(event);
                }
            }
            // Only the flow still awaited: a customer queue flow loaded
            // after an agent answered is not run.
            ChatInput::StartFlow { request, flow } if self.waiting == Waiting::Answer(request) => {
                self.waiting = Waiting::Nothing;
                self.start_session(flow);
            }
            ChatInput::FlowFailed { request, reason }
                if self.waiting == Waiting::Answer(request) =>
            {
                warn!(contact = %self.contact_id, "flow: {reason}");
                self.waiting = Waiting::Nothing;
                if self.phase == Phase::InFlow {
                    self.end(DisconnectReason::ContactFlowDisconnect).await;
                }
            }
            ChatInput::StartFlow { .. } | ChatInput::FlowFailed { .. } => {}
            ChatInput::AgentEnd { agent, reply } => {
                if self.agent.as_ref().is_some_and(|a| a.agent == agent) {
                    self.end(DisconnectReason::AgentDisconnect).await;
                    let _ = reply.send(Ok(()));
                } else {
                    let _ = reply.send(Err(AgentActionError::NotYours));
                }
            }
            ChatInput::AgentTransfer {
                agent,
                queue,
                reply,
            } => {
                let result = self.transfer(&agent, queue).await;
                let _ = reply.send(result);
            }
        }
        self.after_flow_events().await;
    }

    fn name_and_role(&self, participant: &str) -> (String, Role) {
        if participant == self.customer {
            return (self.customer_name.clone(), Role::Customer);
        }
        match &self.agent {
            Some(a) if a.participant == participant => (a.card.agent.clone(), Role::Agent),
            _ => (String::new(), Role::System),
        }
    }

    /// The customer's message answers a GetParticipantInput or ends a Wait.
    fn customer_said(&mut self, text: String) {
        match self.waiting {
            Waiting::Input(_) => {
                self.waiting = Waiting::Nothing;
                self.contact_input(text);
            }
            Waiting::Timer(_, true) => {
                self.waiting = Waiting::Nothing;
                self.pending.push_back(Event::CustomerReturned);
            }
            _ => {}
        }
    }

    fn contact_input(&mut self, text: String) {
        self.pending.push_back(Event::Input(text));
    }

    // ---------- the flow ----------

    fn start_session(&mut self, flow: Arc<switchboard_flow::Flow>) {
        self.session_no += 1;
        self.ctr.flow_path.clear();
        let (session, effects) =
            Session::start(flow, self.contact.clone(), self.seed ^ self.session_no);
        self.session = Some(session);
        self.apply(effects);
    }

    fn feed(&mut self, event: Event) {
        let Some(session) = &mut self.session else {
            return;
        };
        let effects = session.handle(event);
        self.apply(effects);
    }

    /// Feeds what the flow's own effects answered at once, then settles
    /// what its end means (queued, transferred, disconnected).
    async fn after_flow_events(&mut self) {
        while let Some(event) = self.pending.pop_front() {
            self.feed(event);
        }
        self.publish();
        let Some(session) = &self.session else { return };
        self.contact = session.contact().clone();
        if !session.is_finished() {
            return;
        }
        let outcome = session.outcome().cloned();
        self.save();
        self.session = None;
        match outcome {
            Some(Outcome::Queued { queue }) if self.phase == Phase::InFlow => {
                info!(contact = %self.contact_id, queue = %queue.name, "chat queued");
                self.phase = Phase::Queued;
                self.ctr.enter_queue(queue.id, queue.name, Utc::now());
                self.save();
                if let Some(flow) = self
                    .contact
                    .event_hooks
                    .get(&switchboard_flow::model::EventHook::CustomerQueue)
                    .cloned()
                {
                    self.load_and_start(flow);
                }
                if let Some(offer) = self.early_offer.take() {
                    Box::pin(self.on_routing(offer)).await;
                }
            }
            Some(Outcome::TransferredToFlow { flow }) => self.load_and_start(flow),
            Some(Outcome::Disconnected) => self.end(DisconnectReason::ContactFlowDisconnect).await,
            // The customer queue flow ended: the chat waits for an agent.
            _ if self.phase != Phase::InFlow => {}
            Some(Outcome::CustomerHungUp) => {}
            other => {
                if let Some(Outcome::Failed { reason, .. }) = other {
                    warn!(contact = %self.contact_id, "chat flow failed: {reason}");
                }
                self.end(DisconnectReason::ContactFlowDisconnect).await;
            }
        }
    }

    fn say(&mut self, text: &str) -> Result<(), ChatError> {
        self.room
            .send(SYSTEM, "text/plain", text, None, unix_ms())
            .map(|_| ())
    }

    fn request(&mut self) -> u64 {
        self.request_no += 1;
        self.waiting = Waiting::Answer(self.request_no);
        self.request_no
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Play { message, .. } => {
                    let said = chat_text(&message).map_or(Ok(()), |t| self.say(&t));
                    self.pending.push_back(match said {
                        Ok(()) => Event::PromptFinished,
                        Err(e) => Event::Failed(e.to_string()),
                    });
                }
                Effect::GetInput {
                    prompt,
                    timeout_seconds,
                    ..
                } => {
                    if let Some(text) = prompt.as_ref().and_then(chat_text) {
                        if let Err(e) = self.say(&text) {
                            self.pending.push_back(Event::Failed(e.to_string()));
                            continue;
                        }
                    }
                    self.waiting = Waiting::Input(
                        Instant::now() + Duration::from_secs(u64::from(timeout_seconds)),
                    );
                }
                Effect::PlayLoop {
                    messages,
                    interrupt_seconds,
                    ..
                } => {
                    // A chat shows the messages once; they do not repeat.
                    for text in messages.iter().filter_map(chat_text) {
                        let _ = self.say(&text);
                    }
                    self.waiting = Waiting::Loop(
                        interrupt_seconds
                            .map(|s| Instant::now() + Duration::from_secs(u64::from(s))),
                    );
                }
                Effect::StartTimer {
                    seconds,
                    customer_returned,
                } => {
                    self.waiting = Waiting::Timer(
                        Instant::now() + Duration::from_secs(u64::from(seconds)),
                        customer_returned,
                    );
                }
                Effect::StartBot { .. } => {
                    self.pending
                        .push_back(Event::Failed("no bot engine is configured".into()));
                }
                Effect::TransferToNumber { .. } => {
                    self.pending.push_back(Event::Failed(
                        "a chat cannot be transferred to a phone number".into(),
                    ));
                }
                Effect::Enqueue {
                    queue,
                    priority,
                    time_adjustment_seconds,
                } => {
                    let request = self.request();
                    self.enqueue_sent = true;
                    let app = self.app.clone();
                    let hub = self.hub.clone();
                    let contact = self.contact_id.clone();
                    tokio::spawn(async move {
                        let event = enqueue(&contact, &queue.id, priority, time_adjustment_seconds);
                        let answer =
                            flow_shell::enqueue_answer(&contact, app.routing.send(event).await);
                        hub.post(
                            &contact,
                            ChatInput::FlowEvent {
                                request,
                                event: answer,
                            },
                        );
                    });
                }
                Effect::Disconnect => {
                    self.pending.clear();
                    self.waiting = Waiting::Nothing;
                    // Ended in `after_flow_events` (the session is finished).
                }
                world if flow_shell::is_world(&world) => {
                    let request = self.request();
                    let (hub, contact) = (self.hub.clone(), self.contact_id.clone());
                    let data = self
                        .session
                        .as_ref()
                        .map(|s| s.contact().clone())
                        .unwrap_or_else(|| self.contact.clone());
                    flow_shell::answer_later(&self.app, world, data, move |event| {
                        hub.post(&contact, ChatInput::FlowEvent { request, event });
                    });
                }
                _ => {}
            }
        }
    }

    fn load_and_start(&mut self, flow: String) {
        let request = self.request();
        let app = self.app.clone();
        let hub = self.hub.clone();
        let contact = self.contact_id.clone();
        tokio::spawn(async move {
            let input = match flow_shell::load_flow(&app, &flow, false).await {
                Ok(flow) => ChatInput::StartFlow { request, flow },
                Err(reason) => ChatInput::FlowFailed { request, reason },
            };
            hub.post(&contact, input);
        });
    }

    // ---------- routing and agents ----------

    fn card(&self, agent: &str, state: CardState, token: Option<String>) -> ChatCard {
        ChatCard {
            agent: agent.to_string(),
            contact: self.contact_id.clone(),
            initiation_method: self.ctr.initiation_method,
            customer: self.customer_name.clone(),
            queue: self.ctr.queue.as_ref().map(|q| q.name.clone()),
            attributes: self.contact.attributes.clone(),
            state,
            since: Utc::now(),
            token,
        }
    }

    async fn on_routing(&mut self, update: RoutingUpdate) {
        match update {
            RoutingUpdate::Offer { agent, contact, .. } if contact == self.contact_id => {
                match self.phase {
                    Phase::InFlow => {
                        self.early_offer = Some(RoutingUpdate::Offer {
                            agent,
                            contact,
                            queue: String::new(),
                            channel: switchboard_model::Channel::Chat,
                        })
                    }
                    // Nobody would see the offer: the agent leaves routing
                    // until they set a status, as for calls.
                    Phase::Queued if !self.hub.agent_present(&agent) => {
                        warn!(contact = %self.contact_id, %agent, "the agent has no CCP open for the chat offered");
                        let _ = self
                            .app
                            .routing
                            .send(RoutingEvent::AgentError { agent })
                            .await;
                    }
                    Phase::Queued if self.agent.is_none() => {
                        self.offered = Some(agent.clone());
                        let card = self.card(&agent, CardState::Incoming, None);
                        self.hub.tell_agent(AgentChatEvent::Card(card));
                        self.auto_accept(agent).await;
                    }
                    _ => {}
                }
            }
            RoutingUpdate::Rescind { agent, contact } if contact == self.contact_id => {
                if matches!(&self.early_offer, Some(RoutingUpdate::Offer { agent: a, .. }) if *a == agent)
                {
                    self.early_offer = None;
                }
                if self.offered.as_ref() == Some(&agent) {
                    self.offered = None;
                    self.hub.tell_agent(AgentChatEvent::Gone { agent, contact });
                }
            }
            RoutingUpdate::Connected { agent, contact } if contact == self.contact_id => {
                // The offer itself may have been missed (the updates lagged).
                let expected = self.offered.as_ref().is_none_or(|o| *o == agent);
                if !expected || self.phase != Phase::Queued || self.agent.is_some() {
                    return;
                }
                self.offered = None;
                self.connect_agent(agent).await;
            }
            _ => {}
        }
    }

    /// Agents set to auto-accept (Connect's phone setting, which covers
    /// chats too) take the offer without a click.
    async fn auto_accept(&self, agent: String) {
        let auto = self
            .app
            .store
            .get::<User>(&agent)
            .await
            .ok()
            .flatten()
            .is_some_and(|u| u.spec.phone_config.auto_accept);
        if auto {
            let accept = RoutingEvent::Accept {
                contact: self.contact_id.clone(),
                agent,
            };
            if let Err(e) = self.app.routing.send(accept).await {
                warn!(contact = %self.contact_id, "auto-accept: {e}");
            }
        }
    }

    async fn connect_agent(&mut self, agent: String) {
        let user = self.app.store.get::<User>(&agent).await.ok().flatten();
        let (username, name) = match &user {
            Some(u) => (
                u.spec.username.clone(),
                u.spec.first_name.trim().to_string(),
            ),
            None => (agent.clone(), String::new()),
        };
        let display = if name.is_empty() {
            username.clone()
        } else {
            name
        };
        let participant = uuid::Uuid::new_v4().to_string();
        let now_ms = unix_ms();
        if self
            .room
            .join(&participant, &display, Role::Agent, now_ms)
            .is_err()
        {
            return;
        }
        let (token, hash) = self
            .hub
            .issue(&self.chat_id, &participant, &display, Role::Agent);
        self.tokens.push(hash);
        let at = Utc::now();
        // The customer queue flow stops: a person answers now.
        self.session = None;
        self.waiting = Waiting::Nothing;
        self.pending.clear();
        self.phase = Phase::Connected;
        let routing_profile = match &user {
            Some(u) => Some(self.app.routing_profile_ref(&u.spec.routing_profile).await),
            None => None,
        };
        self.ctr.connect_agent(
            AgentInfo {
                id: agent.clone(),
                username: username.clone(),
                routing_profile,
                ..Default::default()
            },
            at,
        );
        let card = self.card(&agent, CardState::Connected, Some(token));
        self.hub.tell_agent(AgentChatEvent::Card(card.clone()));
        self.agent = Some(ChatAgent {
            agent,
            participant,
            token: hash,
            card,
        });
        info!(contact = %self.contact_id, agent = %username, "chat connected to agent");
        self.save();
        self.publish();
    }

    /// The agent puts the customer in another queue and moves on. As in
    /// Connect, the rest of the chat is a new contact (initiation TRANSFER)
    /// linked both ways to this one; the conversation and tokens go on.
    async fn transfer(
        &mut self,
        agent: &str,
        queue: (String, String),
    ) -> Result<(), AgentActionError> {
        let Some(a) = self.agent.as_ref().filter(|a| a.agent == agent) else {
            return Err(AgentActionError::NotYours);
        };
        let participant = a.participant.clone();
        let next = uuid::Uuid::new_v4().to_string();
        // Reachable under the new id first: the router may offer it at once.
        if let Some(tx) = self.hub_sender() {
            self.hub.register(&next, tx);
        }
        let enqueued = self
            .app
            .routing
            .send(enqueue(&next, &queue.0, None, None))
            .await;
        let answer = flow_shell::enqueue_answer(&next, enqueued);
        if answer != Event::Enqueued {
            self.hub.forget(std::slice::from_ref(&next));
            return Err(match answer {
                Event::QueueAtCapacity => AgentActionError::QueueFull(queue.1),
                Event::Failed(reason) => AgentActionError::Refused {
                    queue: queue.1,
                    reason,
                },
                _ => AgentActionError::Refused {
                    queue: queue.1,
                    reason: "no answer from routing".into(),
                },
            });
        }
        let _ = self.room.leave(&participant, unix_ms());
        self.publish();
        // The first contact ends here; the agent has after-contact work.
        self.agent_leaves(DisconnectReason::Transferred).await;
        let ended = Utc::now();
        self.ctr.attributes = self.contact.attributes.clone();
        let continued = self.ctr.transfer_to_queue(
            next.clone(),
            (queue.0, queue.1),
            ended,
            DisconnectReason::Transferred,
        );
        // The first contact keeps the conversation up to here: its record
        // links a transcript and search finds it by its words.
        self.ctr.transcript = Some(self.store_transcript(ended).await);
        self.save();
        self.index_words();
        self.app.metrics.contact_ended(&self.ctr);
        self.app
            .metrics
            .contact_started(Channel::Chat, InitiationMethod::Transfer);
        self.ctr = continued;
        self.ctr.flow_path.clear();
        self.contact_id = next.clone();
        self.contact.contact_id = next.clone();
        self.contact.initiation_method = InitiationMethod::Transfer.as_str().to_string();
        self.keys.push(next.clone());
        self.phase = Phase::Queued;
        self.enqueue_sent = true;
        self.save();
        Ok(())
    }

    fn hub_sender(&self) -> Option<mpsc::UnboundedSender<ChatInput>> {
        self.hub.inner_sender(&self.chat_id)
    }

    /// The agent's part of the current contact is over: routing puts them
    /// in after-contact work, and their card says so.
    async fn agent_leaves(&mut self, why: DisconnectReason) {
        let Some(a) = self.agent.take() else { return };
        let at = Utc::now();
        self.ctr.agent_left(at);
        if let Err(e) = self
            .app
            .routing
            .send(RoutingEvent::ContactEnded {
                contact: self.contact_id.clone(),
            })
            .await
        {
            warn!(contact = %self.contact_id, "routing: {e}");
        }
        let mut card = a.card;
        card.state = CardState::Ended;
        card.since = at;
        if why == DisconnectReason::Transferred {
            // Their token and open sockets stop here: the chat goes on
            // without them. (At the end of the chat they keep reading it, for
            // after-contact work, until the tokens expire.)
            self.hub.expire(&[a.token], Instant::now());
            card.token = None;
            let _ = self.out.send(Out {
            seq: 0,
            from: Arc::from(a.participant.as_str()),
            text: Arc::from(
                json!({"type": "error", "field": "participant", "message": "you have left this chat"})
                    .to_string(),
            ),
                        ends: true,
            only_for: Some(Arc::from(a.participant.as_str())),
        });
        }
        self.hub.tell_agent(AgentChatEvent::Card(card));
    }

    /// Ends the chat for `reason` (the room is still open).
    async fn end(&mut self, reason: DisconnectReason) {
        if self.room.end(reason.as_str(), unix_ms()).is_ok() {
            self.ended(reason).await;
        }
    }

    /// The room has ended: free routing, keep the transcript, write the record.
    async fn ended(&mut self, reason: DisconnectReason) {
        if self.phase == Phase::Ended {
            return;
        }
        self.publish();
        self.note_flow_path();
        self.session = None;
        self.waiting = Waiting::Nothing;
        self.pending.clear();
        if self.agent.is_some() {
            self.agent_leaves(reason).await;
        } else if self.enqueue_sent {
            if let Some(agent) = self.offered.take() {
                self.hub.tell_agent(AgentChatEvent::Gone {
                    agent,
                    contact: self.contact_id.clone(),
                });
            }
            self.abandon().await;
        }
        let at = Utc::now();
        self.phase = Phase::Ended;
        self.ctr.close(at, reason);
        self.ctr.transcript = Some(self.store_transcript(at).await);
        info!(contact = %self.contact_id, %reason, "chat ended");
        self.save();
        self.index_words();
        self.app.metrics.contact_ended(&self.ctr);
    }

    /// Makes the chat findable by its words in contact search, once its
    /// final record is written (in order, by the same writer).
    fn index_words(&self) {
        let words: Vec<&str> = self
            .room
            .items()
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Message { content, .. } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        self.records.words(&self.contact_id, words.join("\n"));
    }

    async fn store_transcript(&self, at: DateTime<Utc>) -> TranscriptInfo {
        let transcript = self.room.transcript();
        let message_count = transcript
            .transcript
            .iter()
            .filter(|e| e.kind == "MESSAGE")
            .count() as u64;
        let key = format!(
            "transcripts/{}/{}.json",
            at.format("%Y/%m/%d"),
            self.contact_id
        );
        let body = serde_json::to_vec(&transcript).unwrap_or_default();
        match self.app.blobs.put(&key, body.into()).await {
            Ok(()) => TranscriptInfo {
                location: key,
                message_count,
                status: "AVAILABLE".into(),
                status_reason: None,
            },
            Err(e) => {
                warn!(contact = %self.contact_id, "transcript not stored: {e}");
                TranscriptInfo {
                    location: key,
                    message_count,
                    status: "FAILED".into(),
                    status_reason: Some(e.to_string()),
                }
            }
        }
    }
}

/// A chat joins a queue (Connect's default priority is 5).
fn enqueue(
    contact: &str,
    queue: &str,
    priority: Option<u32>,
    time_adjustment_seconds: Option<i64>,
) -> RoutingEvent {
    RoutingEvent::Enqueue {
        contact: contact.to_string(),
        queue: queue.to_string(),
        channel: Channel::Chat,
        priority: priority.unwrap_or(5),
        time_adjustment_seconds: time_adjustment_seconds.unwrap_or(0),
    }
}
