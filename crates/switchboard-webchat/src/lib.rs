//! # switchboard-webchat
//!
//! The chat channel's shell: runs [`switchboard_chat::ChatRoom`]s and the
//! contact's core ([`switchboard_contact::Contact`]) for real customers and
//! agents. Its HTTP side (the start request, the transcript, the socket's
//! handshake, the widget's files) is `switchboard-server`'s `chat` module;
//! the agent's side is `switchboard-ccp`'s.
//!
//! ```text
//!  widget ──POST /api/v1/chat/start──▶ ChatHub::open ──spawns──▶ task.rs (one per chat)
//!  widget ──WS /api/v1/chat/connect──▶ socket.rs ──ChatInput──▶ │ ChatRoom  (order, limits, idle)
//!  CCP    ──WS /api/v1/chat/connect──▶ socket.rs ◀──broadcast── │ Contact   (flow, routing, record)
//! ```
//!
//! One tokio task owns each chat: the room, the contact core, the record
//! writer. Everything reaches it as a [`task::ChatInput`] on its channel, so
//! the order of a chat's messages is the order the task handled them, with
//! no lock. Every item kept goes out once on the chat's broadcast channel as
//! ready-made JSON text; a socket subscribes *before* it asks for the
//! backlog, inside the task's turn, so a reconnecting client misses nothing
//! and sees nothing twice.
//!
//! Participant tokens are bearer secrets: only their SHA-256 is kept. They
//! outlive the chat by [`ChatSettings::linger`] so a client can read the end
//! and the transcript, then the task forgets them and exits.
//!
//! Agents see their chats in the CCP: the hub hands [`AgentChatEvent`]s to
//! the sink the CCP gives it ([`ChatHub::set_agent_sink`]), which shows them
//! next to calls, and asks the CCP whether an agent is there before an offer.

pub mod origins;
pub mod socket;
mod task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard_chat::Role;
use tokio::sync::{mpsc, oneshot};

use switchboard_runtime::routing::RoutingUpdate;
use switchboard_runtime::AppState;

/// The chat limits [`ChatSettings`] carries, for callers that configure them.
pub use switchboard_chat::Limits;
pub use switchboard_runtime::CardState;
pub use task::ChatInput;

/// Tunables of the chat channel.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub limits: Limits,
    /// How long participant tokens keep working after the chat ended.
    pub linger: Duration,
    /// How long a chat may last when the start request does not say.
    pub default_duration: Duration,
    /// Chats one client address may start per minute. Behind a reverse
    /// proxy every customer has the proxy's address: raise it there.
    pub starts_per_minute: usize,
    /// The sites whose pages may start chats and open participant sockets.
    pub allowed_origins: origins::AllowedOrigins,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            linger: Duration::from_secs(15 * 60),
            // Connect's default chat duration: 25 hours.
            default_duration: Duration::from_secs(1500 * 60),
            starts_per_minute: 30,
            allowed_origins: origins::AllowedOrigins::Any,
        }
    }
}

/// Why an agent's action on a chat was not done. The text is for the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentActionError {
    /// The chat is over (or this node never had it).
    #[error("the chat has ended")]
    Ended,
    /// The chat is with another agent, or with nobody.
    #[error("you are not on this chat")]
    NotYours,
    /// The queue already holds as many contacts as it may.
    #[error("the queue {0} is full")]
    QueueFull(String),
    /// Routing refused the transfer (a disabled queue, say).
    #[error("the queue {queue} refused the chat: {reason}")]
    Refused {
        /// The queue's name.
        queue: String,
        /// Routing's reason.
        reason: String,
    },
}

/// A chat as an agent's CCP shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChatCard {
    pub agent: String,
    pub contact: String,
    pub initiation_method: switchboard_model::contact_record::InitiationMethod,
    /// The customer's display name.
    pub customer: String,
    pub queue: Option<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub state: CardState,
    pub since: DateTime<Utc>,
    /// The agent's participant token, once connected.
    pub token: Option<String>,
}

/// What the CCP should show an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentChatEvent {
    Card(ChatCard),
    /// The chat is no longer this agent's (rescinded, transferred, closed).
    Gone {
        agent: String,
        contact: String,
    },
}

pub type AgentSink = Arc<dyn Fn(AgentChatEvent) + Send + Sync>;
/// Whether an agent has a CCP open (or is within its grace period).
pub type AgentPresence = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Who a participant token belongs to.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The chat (its first contact's id; a transfer keeps it).
    pub chat: String,
    pub participant: String,
    pub display_name: String,
    pub role: Role,
    /// Set when the chat ends.
    expires: Option<Instant>,
}

/// Why a token was refused.
pub const TOKEN_UNKNOWN: &str = "this participant token is not valid";
pub const TOKEN_EXPIRED: &str = "this chat has ended and its token has expired";

/// A chat a customer asked for, its flow loaded: what [`ChatHub::open`] starts.
pub struct Opening {
    pub flow: Arc<switchboard_flow::Flow>,
    pub flow_id: String,
    /// The customer's name, as shown to agents.
    pub display_name: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    /// A first message (content type, content), posted as the customer's.
    pub initial_message: Option<(String, String)>,
    /// How long the chat may last; the hub's default when `None`.
    pub duration: Option<Duration>,
}

/// A chat opened: its contact, the customer's participant id and token.
#[derive(Debug, Clone)]
pub struct Opened {
    pub contact_id: String,
    pub participant_id: String,
    /// A bearer secret, shown once; the hub keeps only its hash.
    pub participant_token: String,
}

/// The registry of live chats. Cheap to clone.
#[derive(Clone, Default)]
pub struct ChatHub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: ChatSettings,
    /// Chat id and every contact id the chat has had -> its task.
    chats: Mutex<HashMap<String, mpsc::UnboundedSender<ChatInput>>>,
    /// SHA-256 of a participant token -> who it is.
    tokens: Mutex<HashMap<[u8; 32], Grant>>,
    /// A start request's client token -> what it started, for an hour.
    started: Mutex<HashMap<String, (Opened, Instant)>>,
    /// Open participant sockets per (chat, participant).
    sockets: Arc<Mutex<HashMap<(String, String), usize>>>,
    sink: RwLock<Option<AgentSink>>,
    presence: RwLock<Option<AgentPresence>>,
    listening: AtomicBool,
    throttle: std::sync::OnceLock<switchboard_runtime::throttle::WindowLimit>,
}

/// One open participant socket, counted until dropped.
struct OpenSocket {
    sockets: Arc<Mutex<HashMap<(String, String), usize>>>,
    key: (String, String),
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        let mut sockets = lock(&self.sockets);
        if let Some(n) = sockets.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                sockets.remove(&self.key);
            }
        }
    }
}

/// The content type of a message that does not say.
fn plain_text() -> String {
    "text/plain".into()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl ChatHub {
    pub fn new(settings: ChatSettings) -> ChatHub {
        ChatHub {
            inner: Arc::new(Inner {
                settings,
                ..Default::default()
            }),
        }
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.inner.settings
    }

    fn start_throttle(&self) -> &switchboard_runtime::throttle::WindowLimit {
        self.inner.throttle.get_or_init(|| {
            switchboard_runtime::throttle::WindowLimit::new(
                self.inner.settings.starts_per_minute,
                Duration::from_secs(60),
            )
        })
    }

    /// How long `client` must wait before starting another chat (its
    /// starts this minute reached [`ChatSettings::starts_per_minute`]).
    pub fn start_blocked(&self, client: &str, now: Instant) -> Option<Duration> {
        self.start_throttle().blocked(client, now)
    }

    /// What `retry_key` (a client's retried start) already opened within the
    /// hour, if anything.
    pub fn retried(&self, retry_key: &str, now: Instant) -> Option<Opened> {
        let mut started = lock(&self.inner.started);
        started.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(3600));
        started.get(retry_key).map(|(o, _)| o.clone())
    }

    /// Opens a chat for `client` (counted against its starts per minute):
    /// the flow runs at once in the chat's own task. A `retry_key` given
    /// returns this chat to a retried start for an hour.
    pub fn open(
        &self,
        app: &AppState,
        client: &str,
        retry_key: Option<String>,
        opening: Opening,
        now: Instant,
    ) -> Opened {
        self.start_throttle().record(client, now);
        self.listen(app);
        let contact_id = uuid::Uuid::new_v4().to_string();
        let customer = uuid::Uuid::new_v4().to_string();
        let (token, hash) = self.issue(
            &contact_id,
            &customer,
            &opening.display_name,
            Role::Customer,
        );
        let (tx, inputs) = mpsc::unbounded_channel::<ChatInput>();
        self.register(&contact_id, tx);
        app.metrics.chats_live.set(self.len() as i64);
        let new = task::NewChat {
            contact_id: contact_id.clone(),
            customer: customer.clone(),
            display_name: opening.display_name,
            customer_token: hash,
            flow: opening.flow,
            flow_id: Some(opening.flow_id),
            attributes: opening.attributes,
            initial_message: opening.initial_message,
            duration: opening.duration.unwrap_or(self.settings().default_duration),
            inputs,
        };
        tokio::spawn(task::Chat::run(app.clone(), self.clone(), new));
        let opened = Opened {
            contact_id,
            participant_id: customer,
            participant_token: token,
        };
        if let Some(key) = retry_key {
            lock(&self.inner.started).insert(key, (opened.clone(), now));
        }
        opened
    }

    /// Where agents' chat cards go (the CCP). Without a sink they are dropped.
    pub fn set_agent_sink(&self, sink: AgentSink) {
        *self.inner.sink.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    /// How to tell whether an agent can see a chat offered to them now.
    /// Without it every agent counts as present.
    pub fn set_agent_presence(&self, presence: AgentPresence) {
        *self
            .inner
            .presence
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(presence);
    }

    fn agent_present(&self, agent: &str) -> bool {
        let presence = self
            .inner
            .presence
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        presence.is_none_or(|p| p(agent))
    }

    fn tell_agent(&self, event: AgentChatEvent) {
        let sink = self
            .inner
            .sink
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(sink) = sink {
            sink(event);
        }
    }

    /// A place for one more socket of this participant, held until dropped;
    /// `None` once they have [`socket::MAX_SOCKETS_PER_PARTICIPANT`].
    fn open_socket(&self, grant: &Grant) -> Option<OpenSocket> {
        let key = (grant.chat.clone(), grant.participant.clone());
        let mut sockets = lock(&self.inner.sockets);
        let n = sockets.entry(key.clone()).or_insert(0);
        if *n >= socket::MAX_SOCKETS_PER_PARTICIPANT {
            return None;
        }
        *n += 1;
        Some(OpenSocket {
            sockets: self.inner.sockets.clone(),
            key,
        })
    }

    /// Live chats (not counting those ended and lingering).
    pub fn len(&self) -> usize {
        lock(&self.inner.chats)
            .values()
            .filter(|tx| !tx.is_closed())
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `contact` is a chat this node runs.
    pub fn is_chat(&self, contact: &str) -> bool {
        lock(&self.inner.chats).contains_key(contact)
    }

    /// Hands `input` to the chat with this id (or contact id); false if it is gone.
    pub fn post(&self, chat: &str, input: ChatInput) -> bool {
        let tx = lock(&self.inner.chats).get(chat).cloned();
        tx.is_some_and(|tx| tx.send(input).is_ok())
    }

    /// The chat's transcript so far (Connect's JSON); `None` once it is gone.
    pub async fn transcript(&self, chat: &str) -> Option<switchboard_chat::Transcript> {
        self.ask(chat, |reply| ChatInput::Transcript { reply })
            .await
    }

    /// Asks the chat something and waits for the answer.
    async fn ask<T>(
        &self,
        chat: &str,
        make: impl FnOnce(oneshot::Sender<T>) -> ChatInput,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        if !self.post(chat, make(tx)) {
            return None;
        }
        rx.await.ok()
    }

    fn inner_sender(&self, chat: &str) -> Option<mpsc::UnboundedSender<ChatInput>> {
        lock(&self.inner.chats).get(chat).cloned()
    }

    fn register(&self, key: &str, tx: mpsc::UnboundedSender<ChatInput>) {
        lock(&self.inner.chats).insert(key.to_string(), tx);
    }

    /// The chat's task is done. Its tokens stay known (as expired, so a
    /// late client hears why) for a day, then go with the next prune.
    fn forget(&self, keys: &[String]) {
        let mut chats = lock(&self.inner.chats);
        for k in keys {
            chats.remove(k);
        }
    }

    /// A new participant token for `participant` of `chat`; returns it and its hash.
    fn issue(
        &self,
        chat: &str,
        participant: &str,
        display_name: &str,
        role: Role,
    ) -> (String, [u8; 32]) {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let h = hash(&token);
        let mut tokens = lock(&self.inner.tokens);
        if tokens.len().is_power_of_two() && tokens.len() >= 1024 {
            // Amortised: prune when the map doubles.
            let day_ago = Instant::now().checked_sub(Duration::from_secs(24 * 3600));
            tokens.retain(|_, g| match (g.expires, day_ago) {
                (Some(e), Some(d)) => e > d,
                _ => true,
            });
        }
        tokens.insert(
            h,
            Grant {
                chat: chat.to_string(),
                participant: participant.to_string(),
                display_name: display_name.to_string(),
                role,
                expires: None,
            },
        );
        (token, h)
    }

    /// The chat ended: its tokens last until `until`.
    fn expire(&self, tokens: &[[u8; 32]], until: Instant) {
        let mut map = lock(&self.inner.tokens);
        for t in tokens {
            if let Some(g) = map.get_mut(t) {
                g.expires = Some(until);
            }
        }
    }

    /// Who holds `token`, or why it is refused.
    pub fn grant(&self, token: &str) -> Result<Grant, &'static str> {
        match lock(&self.inner.tokens).get(&hash(token)) {
            Some(g) if g.expires.is_some_and(|t| Instant::now() >= t) => Err(TOKEN_EXPIRED),
            Some(g) => Ok(g.clone()),
            None => Err(TOKEN_UNKNOWN),
        }
    }

    /// The agent ends a chat they are on (Connect's agent disconnect).
    pub async fn agent_end(&self, contact: &str, agent: &str) -> Result<(), AgentActionError> {
        self.ask(contact, |reply| ChatInput::AgentEnd {
            agent: agent.to_string(),
            reply,
        })
        .await
        .unwrap_or(Err(AgentActionError::Ended))
    }

    /// The agent hands the customer to a queue (id, name) and leaves.
    pub async fn agent_transfer(
        &self,
        contact: &str,
        agent: &str,
        queue: (String, String),
    ) -> Result<(), AgentActionError> {
        self.ask(contact, |reply| ChatInput::AgentTransfer {
            agent: agent.to_string(),
            queue,
            reply,
        })
        .await
        .unwrap_or(Err(AgentActionError::Ended))
    }

    /// Starts passing routing decisions to chats (once per hub).
    fn listen(&self, app: &AppState) {
        if self.inner.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let hub = self.clone();
        let routing = app.routing.clone();
        let mut updates = app.routing.subscribe();
        tokio::spawn(async move {
            loop {
                match updates.recv().await {
                    Ok(update) => {
                        let contact = match &update {
                            RoutingUpdate::Offer { contact, .. }
                            | RoutingUpdate::Rescind { contact, .. }
                            | RoutingUpdate::Connected { contact, .. } => contact,
                            _ => continue,
                        };
                        let contact = contact.clone();
                        hub.post(&contact, ChatInput::Routing(update));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // Offers and connections may be lost: tell each chat
                        // where routing has it now (chats ignore what they know).
                        tracing::warn!("chat fell {n} routing updates behind; catching up");
                        for c in routing.contacts().await {
                            let Some(agent) = c.agent.clone() else {
                                continue;
                            };
                            let update = match c.stage {
                                switchboard_routing::ContactStage::Offered => {
                                    RoutingUpdate::Offer {
                                        contact: c.contact.clone(),
                                        agent,
                                        queue: String::new(),
                                        channel: switchboard_model::Channel::Chat,
                                    }
                                }
                                switchboard_routing::ContactStage::Connected => {
                                    RoutingUpdate::Connected {
                                        contact: c.contact.clone(),
                                        agent,
                                    }
                                }
                                _ => continue,
                            };
                            hub.post(&c.contact, ChatInput::Routing(update));
                        }
                    }
                    Err(_) => break,
                }
            }
        });
    }
}
