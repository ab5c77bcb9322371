//! One chat: a tokio task that owns the room, the flow session and the
//! contact record, and handles every [`ChatInput`] in turn.
//!
//! Phases follow a call's: the flow runs (its messages go into the chat,
//! GetParticipantInput and Wait read the customer's next message), the
//! contact waits in a queue (the customer queue flow may talk meanwhile),
//! an agent is connected, the chat ends. Then the task lingers so that
//! tokens can still resume and read the transcript, and exits.

use crate::{AgentActionError, CardState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use switchboard_chat::{ChatError, ChatRoom, ItemKind, ReceiptKind, Role, Timeout, Transcript};
use switchboard_contact::{Contact, ContactInit, Decision, Input, Output, Phase};
use switchboard_flow::{ContactData, Effect, Event, Rendered};
use switchboard_model::contact_record::{
    AgentInfo, DisconnectReason, InitiationMethod, TranscriptInfo,
};
use switchboard_model::objects::routing_profile::Channel;
use switchboard_model::User;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{info, warn};

use crate::{AgentChatEvent, ChatCard, ChatHub};
use switchboard_runtime::flow_shell;
use switchboard_runtime::routing::{RoutingEvent, RoutingUpdate};
use switchboard_runtime::AppState;

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
    /// The bot a flow asked for, compiled (or why not).
    BotLoaded {
        request: u64,
        bot: Result<std::sync::Arc<switchboard_nlu::Engine>, String>,
    },
    /// A bot's code hook function answered.
    BotHook {
        request: u64,
        answer: Result<serde_json::Value, String>,
    },
    /// The answer to an effect handed to a spawned task.
    FlowEvent {
        request: u64,
        event: Event,
    },
    /// The flow loaded for request `request`, or why it could not be.
    FlowLoaded {
        request: u64,
        flow: Result<Arc<switchboard_flow::Flow>, switchboard_runtime::flow_shell::FlowUnavailable>,
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

struct ChatAgent {
    agent: String,
    participant: String,
    /// Their token's hash: it stops working when they leave.
    token: [u8; 32],
    card: ChatCard,
}

/// The chat's driver: the room, the sockets and the tasks around the
/// contact's core ([`Contact`]), which decides the rest.
pub(super) struct Chat {
    app: AppState,
    hub: ChatHub,
    room: ChatRoom,
    /// The chat's id (its first contact's); the room and the tokens use it.
    chat_id: String,
    /// Every contact id this chat has had (the hub's keys for it).
    keys: Vec<String>,
    inputs: mpsc::UnboundedReceiver<ChatInput>,
    out: broadcast::Sender<Out>,
    published: u64,
    contact: Contact,
    records: switchboard_runtime::records::RecordWriter,
    customer: String,
    customer_name: String,
    agent: Option<ChatAgent>,
    /// The name the agent being connected shows in the chat.
    connecting_name: Option<String>,
    tokens: Vec<[u8; 32]>,
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
        app.metrics
            .contact_started(Channel::Chat, InitiationMethod::Api);
        let (records, writer) = switchboard_runtime::records::RecordWriter::start(app.clone());
        let settings = hub.settings().clone();
        let mut room = ChatRoom::new(
            &new.contact_id,
            settings.limits,
            unix_ms(),
            new.duration.as_millis() as u64,
        );
        let _ = room.join(&new.customer, &new.display_name, Role::Customer, unix_ms());
        let _ = room.join(SYSTEM, SYSTEM_NAME, Role::System, unix_ms());
        if let Some((content_type, content)) = &new.initial_message {
            // Checked by the start request already; a failure here is logged.
            if let Err(e) = room.send(&new.customer, content_type, content, None, unix_ms()) {
                warn!(contact = %new.contact_id, "initial message: {e}");
            }
        }
        let mut data = ContactData::chat(&new.contact_id, &new.display_name);
        data.attributes = new.attributes;
        // The flow runs as far as it can now (greeting, question), not at
        // the first input.
        let contact = Contact::new(
            ContactInit {
                id: new.contact_id.clone(),
                channel: Channel::Chat,
                initiation_method: InitiationMethod::Api,
                customer_endpoint: Default::default(),
                customer_name: Some(new.display_name.clone()),
                system_endpoint: Default::default(),
                data,
                flow: Some(new.flow),
                flow_id: new.flow_id,
                outbound: None,
                seed: rand::random(),
                initial_message: new
                    .initial_message
                    .as_ref()
                    .map(|(_, content)| content.clone()),
            },
            now,
        );
        let (out, _) = broadcast::channel(FANOUT);
        let mut chat = Chat {
            app,
            hub,
            room,
            chat_id: new.contact_id.clone(),
            keys: vec![new.contact_id.clone()],
            inputs: new.inputs,
            out,
            published: 0,
            contact,
            records,
            customer: new.customer.clone(),
            customer_name: new.display_name,
            agent: None,
            connecting_name: None,
            tokens: vec![new.customer_token],
        };
        chat.publish();
        chat.drive().await;
        chat.main_loop().await;
        chat.linger().await;
        chat.hub.forget(&chat.keys);
        chat.app.metrics.chats_live.set(chat.hub.len() as i64);
        drop(chat);
        let _ = writer.await;
    }

    /// The contact's id now (a transfer gives the chat a new one).
    fn contact_id(&self) -> String {
        self.contact.id().to_string()
    }

    /// Hands `input` to the contact and acts on what follows.
    async fn tell(&mut self, input: Input) {
        self.contact.handle(Utc::now(), input);
        self.drive().await;
    }

    /// Acts on every output of the contact, in order.
    async fn drive(&mut self) {
        while let Some(output) = self.contact.poll_output() {
            self.act(output).await;
        }
        self.publish();
    }

    async fn act(&mut self, output: Output) {
        match output {
            Output::Record(record) => self.records.record(&record),
            Output::Flow {
                request,
                effect,
                data,
            } => self.flow_effect(request, effect, *data),
            Output::Enqueue {
                request,
                contact,
                queue,
                priority,
                time_adjustment_seconds,
            } => {
                let (hub, id) = (self.hub.clone(), contact.clone());
                flow_shell::enqueue_later(
                    &self.app,
                    contact,
                    queue.id,
                    Channel::Chat,
                    priority,
                    time_adjustment_seconds,
                    move |event| {
                        hub.post(&id, ChatInput::FlowEvent { request, event });
                    },
                );
            }
            Output::Route(route) => {
                if let Err(e) = self
                    .app
                    .routing
                    .send(switchboard_runtime::routing::from_contact(route))
                    .await
                {
                    tracing::debug!(contact = %self.contact.id(), "routing: {e}");
                }
            }
            Output::LoadFlow { request, flow } => {
                let (hub, contact) = (self.hub.clone(), self.contact_id());
                flow_shell::load_later(&self.app, flow, move |flow| {
                    hub.post(&contact, ChatInput::FlowLoaded { request, flow });
                });
            }
            Output::FlowFailed { reason, .. } => {
                warn!(contact = %self.contact.id(), "chat flow failed: {reason}");
            }
            Output::LoadBot {
                request,
                bot,
                language,
            } => {
                let (hub, contact) = (self.hub.clone(), self.contact_id());
                switchboard_runtime::bots::load_later(&self.app, bot, language, move |bot| {
                    hub.post(&contact, ChatInput::BotLoaded { request, bot });
                });
            }
            Output::Say { message, .. } => {
                if let Some(text) = chat_text(&message) {
                    if let Err(e) = self.say(&text) {
                        warn!(contact = %self.contact.id(), "bot message not sent: {e}");
                    }
                }
            }
            Output::CallBotHook {
                request,
                function,
                payload,
            } => {
                let (hub, contact) = (self.hub.clone(), self.contact_id());
                switchboard_runtime::bots::hook_later(
                    &self.app,
                    function,
                    payload,
                    move |answer| {
                        hub.post(&contact, ChatInput::BotHook { request, answer });
                    },
                );
            }
            Output::Queued { .. } => {
                info!(contact = %self.contact.id(), "chat queued");
            }
            Output::Offer { agent } => self.offer(agent).await,
            Output::Withdraw { agent } => {
                let contact = self.contact_id();
                self.hub.tell_agent(AgentChatEvent::Gone { agent, contact });
            }
            Output::AgentConnected { agent } => self.agent_joins(agent),
            Output::AgentDone { transferred, .. } => self.agent_leaves(transferred),
            Output::ConnectedAfterEnd { agent } => {
                let card = self.card(&agent, CardState::Ended, None);
                self.hub.tell_agent(AgentChatEvent::Card(card));
            }
            Output::Ended { reason } => {
                // Already over if the customer left or the room timed out.
                let _ = self.room.end(reason.as_str(), unix_ms());
                self.publish();
                info!(contact = %self.contact.id(), %reason, "chat ended");
                self.contact.handle(Utc::now(), Input::Close);
            }
            Output::Closed(mut record) => {
                // The conversation up to here: the record links a
                // transcript, and search finds the contact by its words.
                let at = record.disconnect_timestamp.unwrap_or_else(Utc::now);
                record.transcript = Some(self.store_transcript(&record.id, at).await);
                self.records.record(&record);
                self.index_words(&record.id);
                self.app.metrics.contact_ended(&record);
                if record.next_contact_id.is_some() {
                    self.app
                        .metrics
                        .contact_started(Channel::Chat, InitiationMethod::Transfer);
                }
            }
            // What only calls have (media, holds, third parties, listening
            // for speech: a chat's messages arrive by themselves).
            Output::Listen { .. }
            | Output::MediaStreaming { .. }
            | Output::StopMedia
            | Output::QueueFlowEnded
            | Output::Held(_)
            | Output::DropThirdParty => {}
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

    /// The soonest of the contact's deadline and the room's timers.
    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        let now = Utc::now();
        let in_ms = |at: i64| Duration::from_millis(at.max(0) as u64);
        let contact = self
            .contact
            .poll_timeout()
            .map(|at| Instant::now() + in_ms((at - now).num_milliseconds()));
        let room = self
            .room
            .next_wake()
            .map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(unix_ms())));
        [contact, room]
            .into_iter()
            .flatten()
            .min()
            .map(tokio::time::Instant::from_std)
    }

    async fn main_loop(&mut self) {
        while !self.contact.is_closed() {
            let deadline = self.next_deadline();
            tokio::select! {
                input = self.inputs.recv() => match input {
                    Some(input) => self.on_input(input).await,
                    // The hub forgot us: nothing can reach the chat any more.
                    None => self.tell(Input::Lost(DisconnectReason::SystemError)).await,
                },
                _ = async { match deadline { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } }, if deadline.is_some() => {
                    self.on_timer().await;
                }
            }
        }
    }

    /// The chat has ended: tokens keep working for a while so clients see
    /// the end and can read the transcript, then the task exits. Routing
    /// decisions that crossed the end still reach the contact, which takes
    /// them back.
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
                    Some(ChatInput::Routing(update)) => self.on_routing(update).await,
                    Some(ChatInput::FlowEvent { request, event }) => {
                        self.tell(Input::FlowAnswer { request, event }).await;
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
    }

    async fn on_timer(&mut self) {
        self.contact.handle_timeout(Utc::now());
        self.drive().await;
        match self.room.tick(unix_ms()) {
            Some(Timeout::IdleDisconnect) => {
                self.tell(Input::Lost(DisconnectReason::CustomerIdle)).await
            }
            Some(Timeout::Expired) => self.tell(Input::Lost(DisconnectReason::Expired)).await,
            Some(Timeout::IdleWarning) | None => self.publish(),
        }
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
                    // It answers a question or ends a Wait; else it waits
                    // in the log for the agent.
                    self.tell(Input::CustomerSaid(content)).await;
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
                        self.tell(Input::CustomerLeft).await;
                    }
                } else if self
                    .agent
                    .as_ref()
                    .is_some_and(|a| a.participant == participant)
                {
                    self.tell(Input::AgentLeft).await;
                }
            }
            ChatInput::Routing(update) => self.on_routing(update).await,
            ChatInput::FlowEvent { request, event } => {
                self.tell(Input::FlowAnswer { request, event }).await;
            }
            ChatInput::FlowLoaded { request, flow } => {
                self.tell(Input::FlowLoaded { request, flow }).await;
            }
            ChatInput::BotLoaded { request, bot } => {
                self.tell(Input::BotLoaded { request, bot }).await;
            }
            ChatInput::BotHook { request, answer } => {
                self.tell(Input::BotHookAnswered { request, answer }).await;
            }
            ChatInput::AgentEnd { agent, reply } => {
                if self.agent.as_ref().is_some_and(|a| a.agent == agent) {
                    self.tell(Input::AgentLeft).await;
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

    // ---------- the flow ----------

    fn say(&mut self, text: &str) -> Result<(), ChatError> {
        self.room
            .send(SYSTEM, "text/plain", text, None, unix_ms())
            .map(|_| ())
    }

    /// What the flow asks of a chat: messages go into it at once (a
    /// question's answer is the customer's next message, which the contact
    /// waits for); the world is asked in a spawned task.
    fn flow_effect(&mut self, request: u64, effect: Effect, data: ContactData) {
        let answer = match effect {
            Effect::Play { message, .. } => {
                let said = chat_text(&message).map_or(Ok(()), |t| self.say(&t));
                Some(match said {
                    Ok(()) => Event::PromptFinished,
                    Err(e) => Event::Failed(e.to_string()),
                })
            }
            Effect::GetInput { prompt, .. } => prompt
                .as_ref()
                .and_then(chat_text)
                .and_then(|text| self.say(&text).err())
                .map(|e| Event::Failed(e.to_string())),
            Effect::PlayLoop { messages, .. } => {
                // A chat shows the messages once; they do not repeat.
                for text in messages.iter().filter_map(chat_text) {
                    let _ = self.say(&text);
                }
                None
            }
            world => {
                let (hub, contact) = (self.hub.clone(), self.contact_id());
                flow_shell::answer_later(&self.app, world, data, move |event| {
                    hub.post(&contact, ChatInput::FlowEvent { request, event });
                });
                None
            }
        };
        if let Some(event) = answer {
            self.contact
                .handle(Utc::now(), Input::FlowAnswer { request, event });
        }
    }

    // ---------- routing and agents ----------

    fn card(&self, agent: &str, state: CardState, token: Option<String>) -> ChatCard {
        let record = self.contact.record();
        ChatCard {
            agent: agent.to_string(),
            contact: self.contact_id(),
            initiation_method: record.initiation_method,
            customer: self.customer_name.clone(),
            queue: record.queue.as_ref().map(|q| q.name.clone()),
            attributes: self.contact.data().attributes.clone(),
            state,
            since: Utc::now(),
            token,
        }
    }

    async fn on_routing(&mut self, update: RoutingUpdate) {
        match update {
            RoutingUpdate::Offer { agent, contact, .. } => {
                self.tell(Input::Routing(Decision::Offer { contact, agent }))
                    .await;
            }
            RoutingUpdate::Rescind { agent, contact } => {
                self.tell(Input::Routing(Decision::Rescind { contact, agent }))
                    .await;
            }
            RoutingUpdate::Connected { agent, contact } if contact == self.contact.id() => {
                let info = self.agent_info(&agent).await;
                self.tell(Input::Connected {
                    contact,
                    agent: info,
                })
                .await;
            }
            _ => {}
        }
    }

    /// Who the agent is, for the record (username, routing profile) and
    /// the chat (the name they show).
    async fn agent_info(&mut self, agent: &str) -> AgentInfo {
        if self.contact.phase() != Phase::Queued {
            return AgentInfo {
                id: agent.to_string(),
                ..Default::default()
            };
        }
        let user = self.app.store.get::<User>(agent).await.ok().flatten();
        let (username, name) = match &user {
            Some(u) => (
                u.spec.username.clone(),
                u.spec.first_name.trim().to_string(),
            ),
            None => (agent.to_string(), String::new()),
        };
        self.connecting_name = Some(if name.is_empty() {
            username.clone()
        } else {
            name
        });
        let routing_profile = match &user {
            Some(u) => Some(self.app.routing_profile_ref(&u.spec.routing_profile).await),
            None => None,
        };
        AgentInfo {
            id: agent.to_string(),
            username,
            routing_profile,
            ..Default::default()
        }
    }

    /// Shows the offer in the agent's CCP; agents set to auto-accept
    /// (Connect's phone setting, which covers chats too) take it at once.
    /// Nobody would see it without a CCP open: the agent leaves routing
    /// until they set a status, as for calls.
    async fn offer(&mut self, agent: String) {
        if !self.hub.agent_present(&agent) {
            warn!(contact = %self.contact.id(), %agent, "the agent has no CCP open for the chat offered");
            self.contact
                .handle(Utc::now(), Input::Unreachable { agent });
            return;
        }
        let card = self.card(&agent, CardState::Incoming, None);
        self.hub.tell_agent(AgentChatEvent::Card(card));
        let auto = self
            .app
            .store
            .get::<User>(&agent)
            .await
            .ok()
            .flatten()
            .is_some_and(|u| u.spec.phone_config.auto_accept);
        if auto {
            self.contact.handle(Utc::now(), Input::Accept { agent });
        }
    }

    /// The agent joins the chat: a participant, a token, their card.
    fn agent_joins(&mut self, agent: String) {
        let display = self.connecting_name.take().unwrap_or_else(|| agent.clone());
        let participant = uuid::Uuid::new_v4().to_string();
        if let Err(e) = self
            .room
            .join(&participant, &display, Role::Agent, unix_ms())
        {
            warn!(contact = %self.contact.id(), "the agent could not join: {e}");
            return;
        }
        let (token, hash) = self
            .hub
            .issue(&self.chat_id, &participant, &display, Role::Agent);
        self.tokens.push(hash);
        let card = self.card(&agent, CardState::Connected, Some(token));
        self.hub.tell_agent(AgentChatEvent::Card(card.clone()));
        info!(contact = %self.contact.id(), %agent, "chat connected to agent");
        self.agent = Some(ChatAgent {
            agent,
            participant,
            token: hash,
            card,
        });
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
        if let Some(tx) = self.hub.inner_sender(&self.chat_id) {
            self.hub.register(&next, tx);
        }
        let enqueued = self.app.routing.send(enqueue(&next, &queue.0)).await;
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
        self.keys.push(next.clone());
        self.tell(Input::TransferredToQueue {
            next,
            queue,
            reason: DisconnectReason::Transferred,
        })
        .await;
        Ok(())
    }

    /// The agent's part of the current contact is over (routing has them
    /// in after-contact work): their card says so.
    fn agent_leaves(&mut self, transferred: bool) {
        let Some(a) = self.agent.take() else { return };
        let mut card = a.card;
        card.state = CardState::Ended;
        card.since = Utc::now();
        if transferred {
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

    /// Makes the chat findable by its words in contact search, once its
    /// record is written (in order, by the same writer).
    fn index_words(&self, contact: &str) {
        let words: Vec<&str> = self
            .room
            .items()
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Message { content, .. } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        self.records.words(contact, words.join("\n"));
    }

    async fn store_transcript(&self, contact: &str, at: DateTime<Utc>) -> TranscriptInfo {
        let transcript = self.room.transcript();
        let message_count = transcript
            .transcript
            .iter()
            .filter(|e| e.kind == "MESSAGE")
            .count() as u64;
        let key = format!("transcripts/{}/{}.json", at.format("%Y/%m/%d"), contact);
        let body = serde_json::to_vec(&transcript).unwrap_or_default();
        match self.app.blobs.put(&key, body.into()).await {
            Ok(()) => TranscriptInfo {
                location: key,
                message_count,
                status: "AVAILABLE".into(),
                status_reason: None,
            },
            Err(e) => {
                warn!(%contact, "transcript not stored: {e}");
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

/// A chat an agent transfers joins a queue at Connect's default priority (5).
fn enqueue(contact: &str, queue: &str) -> RoutingEvent {
    RoutingEvent::Enqueue {
        contact: contact.to_string(),
        queue: queue.to_string(),
        channel: Channel::Chat,
        priority: 5,
        time_adjustment_seconds: 0,
    }
}
