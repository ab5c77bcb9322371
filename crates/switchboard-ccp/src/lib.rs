//! The Contact Control Panel (CCP): the agent's page and its WebSocket.
//!
//! `GET /ccp` serves the page (plain ES modules and CSS compiled into the
//! binary: no CDN, no build step). The page signs in through the REST API,
//! then opens `GET /ccp/ws` and sends `hello` with its session token. From
//! then on the socket carries, both ways, everything the agent does all day:
//!
//! - server to page: `welcome` (who, statuses, quick connects, the agent's
//!   state and contacts in progress), `agent_state`, `contact`,
//!   `contact_gone`, `media` (audio path and level), `answer` (SDP), `error`
//!   (with the field at fault), `done` (an action's acknowledgement);
//! - page to server: `offer` (the softphone's SDP), `set_status`, `accept`,
//!   `reject`, `mute`, `hold`, `resume`, `end`, `close` (after-contact work done),
//!   `transfer` (to a quick connect: agent, queue or number), `dial` (an outbound
//!   call), `ping`.
//!
//! A page that reloads or loses the network sends `hello` again and gets the
//! same contacts back; its new peer connection replaces the old one under
//! the call. An agent whose pages all stay away for the grace period is made
//! unroutable: offers waiting for them go back to the queue, calls they were
//! on are ended (their audio went with the page), and their status becomes
//! Offline.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_model::objects::agent_status::AgentStatusType;
use switchboard_model::objects::quick_connect::QuickConnectTarget;
use switchboard_model::objects::routing_profile::Channel;
use switchboard_model::objects::user::PhoneType;
use switchboard_model::{AgentStatus, Queue, QuickConnect, User};
use switchboard_routing::ContactStage;
use switchboard_runtime::routing::{RoutingEvent, RoutingUpdate};
use switchboard_runtime::transfer::{self, TransferTarget};
use switchboard_runtime::CardState;
use switchboard_server::auth::Principal;
use switchboard_server::web::asset;
use switchboard_voice::call::{AgentAction, CallInput};
use switchboard_voice::softphone::{answer_offer, ContactView, Line};
use switchboard_voice::Voice;
use switchboard_webchat::ChatHub;
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

/// The longest message a page may send (an SDP offer is a few KiB).
const MAX_MESSAGE: usize = 64 * 1024;
/// Keys one keypad message may carry (a pasted account number; the call
/// holds at most 64 waiting).
const MAX_KEYS: usize = 32;
/// A page must say hello this soon after connecting.
const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// Pages ping every 10 s; one silent this long is gone (a half-open
/// connection after a network loss closes nothing by itself).
const SILENT_FOR: Duration = Duration::from_secs(30);
/// How often an open page's session is checked again (sign-out, expiry,
/// a deleted user or a removed permission end the page's connection).
const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// The CCP loads only its own files, talks only to Switchboard (its
/// WebSocket included), plays audio from the peer connection, and is never
/// framed (a framed softphone could be clickjacked into answering).
const PAGE_POLICY: &str = "default-src 'self'; connect-src 'self'; media-src 'self' blob:; \
     img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

fn page() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_SECURITY_POLICY, PAGE_POLICY)],
        asset("text/html; charset=utf-8", PAGE),
    )
        .into_response()
}

/// What the CCP's socket reaches: calls and the softphone lines (voice),
/// and chats.
#[derive(Clone)]
struct Ccp {
    voice: Voice,
    chat: ChatHub,
}

/// The CCP's routes: the page, its assets and its WebSocket. From now on
/// the agents' chats show in their CCPs next to calls.
pub fn routes(voice: Voice, chat: ChatHub) -> Router {
    show_chats(&voice, &chat);
    Router::new()
        .route("/ccp", get(|| async { page() }))
        .route("/ccp/", get(|| async { page() }))
        .route(
            "/ccp/ccp.js",
            get(|| async { asset("text/javascript", SCRIPT) }),
        )
        .route("/ccp/ccp.css", get(|| async { asset("text/css", STYLE) }))
        .route("/ccp/ws", get(upgrade))
        .with_state(Ccp { voice, chat })
}

const PAGE: &str = include_str!("../web/ccp/index.html");
const SCRIPT: &str = include_str!("../web/ccp/ccp.js");
const STYLE: &str = include_str!("../web/ccp/ccp.css");

async fn upgrade(State(Ccp { voice, chat }): State<Ccp>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| session(voice, chat, socket))
}

/// What a page sends.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Hello {
        token: String,
    },
    Offer {
        sdp: String,
    },
    SetStatus {
        status: String,
    },
    Accept {
        contact: String,
    },
    Reject {
        contact: String,
    },
    Hold {
        contact: String,
    },
    Mute {
        contact: String,
        muted: bool,
    },
    Resume {
        contact: String,
    },
    End {
        contact: String,
    },
    Close {
        contact: String,
    },
    /// Call a number (E.164) from the softphone.
    Dial {
        number: String,
    },
    /// A cold transfer to a quick connect (id or name).
    Transfer {
        contact: String,
        quick_connect: String,
    },
    /// Keys from the CCP's keypad to the other party of a call (RFC 4733).
    SendKeys {
        contact: String,
        keys: String,
    },
    Ping,
}

fn error(field: &str, message: impl Into<String>) -> Value {
    json!({"type": "error", "field": field, "message": message.into()})
}

async fn send(socket: &mut WebSocket, value: Value) -> bool {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .is_ok()
}

/// A frame from the page that is not a request.
#[derive(Debug, thiserror::Error)]
#[error("unreadable message: {0}")]
struct Unreadable(#[from] serde_json::Error);

/// Reads the next request; `None` when the page went away.
async fn next_request(socket: &mut WebSocket) -> Option<Result<Request, Unreadable>> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(&text).map_err(Unreadable))
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Shows the agent every after-contact work routing holds for them that the
/// line has no card for: work left by a desk-phone call or a chat ended
/// while no CCP was open (a timeout of 0 never ends it), so they can close it.
async fn show_open_work(voice: &Voice, agent: &str, line: &Line) {
    let app = voice.app();
    for c in app.routing.contacts().await {
        if c.stage != ContactStage::AfterContactWork
            || c.agent.as_deref() != Some(agent)
            || line.contact(&c.contact).is_some()
        {
            continue;
        }
        match app.store.get_contact(&c.contact).await {
            Ok(Some(record)) => {
                let since = record.disconnect_timestamp.unwrap_or_else(chrono::Utc::now);
                line.put_contact(ContactView::ended(&record, since));
            }
            Ok(None) => warn!(contact = %c.contact, "after-contact work with no record"),
            Err(e) => warn!(contact = %c.contact, "after-contact work not shown: {e}"),
        }
    }
}

/// One CCP page's connection.
async fn session(voice: Voice, chat: ChatHub, mut socket: WebSocket) {
    let (who, token) = match tokio::time::timeout(HELLO_WITHIN, next_request(&mut socket)).await {
        Ok(Some(Ok(Request::Hello { token }))) => {
            match Principal::authenticate(voice.app(), &token).await {
                Ok(p) if p.permissions.has("BasicAgentAccess") => (p, token),
                Ok(_) => {
                    send(
                        &mut socket,
                        error("token", "the CCP needs the BasicAgentAccess permission"),
                    )
                    .await;
                    return;
                }
                Err(e) => {
                    send(&mut socket, error("token", e.message)).await;
                    return;
                }
            }
        }
        Ok(Some(Ok(_))) => {
            send(&mut socket, error("type", "say hello with a token first")).await;
            return;
        }
        Ok(Some(Err(e))) => {
            send(&mut socket, error("type", e.to_string())).await;
            return;
        }
        _ => return,
    };
    let agent = who.user.id.clone();
    let line = voice.softphones().line(&agent);
    line.connected();
    show_open_work(&voice, &agent, &line).await;
    info!(agent = %who.user.spec.username, "CCP connected");
    let mut line_events = line.subscribe();
    let mut routing = voice.app().routing.subscribe();
    let mut my_peer: Option<u64> = None;
    let mut heard = tokio::time::Instant::now();
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    if send(&mut socket, welcome(&voice, &who, &line).await).await {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(heard + SILENT_FOR) => {
                    info!(agent = %who.user.spec.username, "CCP silent: taken as gone");
                    break;
                }
                _ = recheck.tick() => {
                    let still = Principal::authenticate(voice.app(), &token).await;
                    if !still.is_ok_and(|p| p.permissions.has("BasicAgentAccess")) {
                        send(&mut socket, error("token", "the session has ended; sign in again")).await;
                        break;
                    }
                }
                request = next_request(&mut socket) => {
                    let Some(request) = request else { break };
                    heard = tokio::time::Instant::now();
                    let reply = match request {
                        Ok(r) => handle(&voice, &chat, &who, &line, &mut my_peer, r).await,
                        Err(e) => error("type", e.to_string()),
                    };
                    if !send(&mut socket, reply).await {
                        break;
                    }
                }
                event = line_events.recv() => {
                    let value = match event {
                        Ok(e) => serde_json::to_value(e).unwrap_or_default(),
                        Err(RecvError::Lagged(_)) => json!({"type": "resync", "contacts": line.contacts()}),
                        Err(RecvError::Closed) => break,
                    };
                    if !send(&mut socket, value).await {
                        break;
                    }
                }
                update = routing.recv() => {
                    let now = match update {
                        Ok(RoutingUpdate::AgentState { agent: a, state, at }) if a == agent => Some((state, Some(at))),
                        // Updates were missed: send the state as it is now.
                        Err(RecvError::Lagged(_)) => voice.app().routing.agents().await
                            .into_iter().find(|s| s.agent == agent).map(|s| (s.state, s.since)),
                        Err(RecvError::Closed) => break,
                        _ => None,
                    };
                    let Some((state, since)) = now else { continue };
                    if !send(&mut socket, json!({"type": "agent_state", "state": state, "since": since})).await {
                        break;
                    }
                }
            }
        }
    }
    if let Some(peer) = my_peer {
        line.close_peer(peer);
    }
    info!(agent = %who.user.spec.username, "CCP disconnected");
    let (none_left, generation) = line.disconnected();
    if none_left {
        tokio::spawn(grace(voice, chat, line, generation));
    }
}

/// After the grace period, an agent with no CCP left is made unroutable.
async fn grace(voice: Voice, chat: ChatHub, line: Arc<Line>, generation: u64) {
    tokio::time::sleep(voice.config().ccp_grace).await;
    if !line.still_away(generation) {
        return;
    }
    warn!(agent = %line.agent, "the agent's CCP stayed away: offers go back to the queue, status Offline");
    for c in line.contacts() {
        if c.channel == switchboard_model::contact_record::Channel::Chat
            && c.state == CardState::Connected
        {
            // Nobody answers the customer any more: the chat ends, as a call would.
            let _ = chat.agent_end(&c.contact, &line.agent).await;
        } else if matches!(
            c.state,
            CardState::Dialing | CardState::Connected | CardState::OnHold
        ) {
            // The agent's audio went with the page: nobody is left to talk to.
            voice.post(
                &c.contact,
                CallInput::Agent {
                    agent: line.agent.clone(),
                    action: AgentAction::End,
                },
            );
        }
        if c.state == CardState::Incoming {
            let _ = voice
                .app()
                .routing
                .send(RoutingEvent::Reject {
                    contact: c.contact.clone(),
                    agent: line.agent.clone(),
                })
                .await;
            line.remove_contact(&c.contact);
        }
    }
    if let Ok(statuses) = voice.app().store.list::<AgentStatus>().await {
        if let Some(offline) = statuses
            .iter()
            .find(|s| s.spec.status_type == AgentStatusType::Offline && s.spec.enabled)
        {
            let _ = voice
                .app()
                .routing
                .send(RoutingEvent::SetStatus {
                    agent: line.agent.clone(),
                    status: offline.id.clone(),
                })
                .await;
        }
    }
}

async fn welcome(voice: &Voice, who: &Principal, line: &Line) -> Value {
    let app = voice.app();
    let mut statuses: Vec<_> = app
        .store
        .list::<AgentStatus>()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.spec.enabled)
        .collect();
    statuses.sort_by_key(|s| {
        (
            s.spec.display_order.unwrap_or(u32::MAX),
            s.spec.name.clone(),
        )
    });
    let queue_names: std::collections::HashMap<String, String> = app
        .store
        .list::<Queue>()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|q| (q.id, q.spec.name))
        .collect();
    let user_names: std::collections::HashMap<String, String> = app
        .store
        .list::<User>()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.id, u.spec.username))
        .collect();
    let quick_connects: Vec<Value> = app
        .store
        .list::<QuickConnect>()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|q| {
            let to = match &q.spec.target {
                QuickConnectTarget::PhoneNumber { phone_number } => phone_number.clone(),
                QuickConnectTarget::Queue { queue, .. } => queue_names
                    .get(queue)
                    .cloned()
                    .unwrap_or_else(|| queue.clone()),
                QuickConnectTarget::User { user, .. } => user_names
                    .get(user)
                    .cloned()
                    .unwrap_or_else(|| user.clone()),
            };
            json!({"id": q.id, "name": q.spec.name, "to": to, "target": q.spec.target})
        })
        .collect();
    let state = app.routing.agent(&who.user.id).await;
    json!({
        "type": "welcome",
        "agent": {
            "id": who.user.id,
            "username": who.user.spec.username,
            "name": format!("{} {}", who.user.spec.first_name, who.user.spec.last_name).trim(),
                        "softphone": who.user.spec.phone_config.phone_type == PhoneType::SoftPhone,
            "takes_voice": takes_voice(voice, &who.user.spec).await,
        },
        "statuses": statuses.iter().map(|s| json!({
            "id": s.id, "name": s.spec.name, "type": s.spec.status_type,
        })).collect::<Vec<_>>(),
                "quick_connects": quick_connects,
        "can_dial": who.permissions.has(OUTBOUND),
        "state": state.as_ref().map_or(switchboard_runtime::routing::AgentState::Offline, |s| s.state.clone()),
        "since": state.and_then(|s| s.since),
        "contacts": line.contacts(),
        "media": line.media(),
    })
}

/// Connect's permission to place outbound calls from the CCP.
const OUTBOUND: &str = "OutboundCallAccess";

fn done(action: &str) -> Value {
    json!({"type": "done", "action": action})
}

async fn handle(
    voice: &Voice,
    chat: &ChatHub,
    who: &Principal,
    line: &Arc<Line>,
    my_peer: &mut Option<u64>,
    request: Request,
) -> Value {
    let agent = who.user.id.clone();
    let routing = &voice.app().routing;
    let is_chat = |contact: &str| {
        line.contact(contact)
            .is_some_and(|c| c.channel == switchboard_model::contact_record::Channel::Chat)
    };
    // The contact must be this agent's, in one of `states`.
    let mine = |contact: &str, states: &[CardState]| -> Result<(), Value> {
        match line.contact(contact) {
            Some(c) if states.contains(&c.state) => Ok(()),
            Some(c) => Err(error(
                "contact",
                format!(
                    "the contact is {}, not {}",
                    c.state,
                    states
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )),
            None => Err(error("contact", "no such contact for this agent")),
        }
    };
    match request {
        Request::Hello { .. } => error("type", "already signed in"),
        Request::Ping => json!({"type": "pong"}),
        Request::Offer { sdp } => {
            let config = voice.config();
            match answer_offer(line.clone(), config.media_ip, config.rtp_ports, &sdp).await {
                Ok((answer, peer)) => {
                    *my_peer = Some(peer);
                    json!({"type": "answer", "sdp": answer, "peer": peer})
                }
                Err(e) => error("sdp", e.to_string()),
            }
        }
        Request::SetStatus { status } => {
            let statuses = voice
                .app()
                .store
                .list::<AgentStatus>()
                .await
                .unwrap_or_default();
            let Some(found) = statuses
                .iter()
                .find(|s| s.id == status || s.spec.name.eq_ignore_ascii_case(&status))
            else {
                return error("status", format!("no agent status '{status}'"));
            };
            if !found.spec.enabled {
                return error("status", format!("'{}' is disabled", found.spec.name));
            }
            let softphone = who.user.spec.phone_config.phone_type == PhoneType::SoftPhone;
            // Only an agent who takes calls needs the audio path; a chat-only
            // agent is ready without a microphone.
            if found.spec.status_type == AgentStatusType::Routable
                && softphone
                && !line.media_ready()
                && takes_voice(voice, &who.user.spec).await
            {
                return error(
                    "status",
                    "the softphone has no audio path yet: allow the microphone and wait for the audio check",
                );
            }
            match routing
                .send(RoutingEvent::SetStatus {
                    agent,
                    status: found.id.clone(),
                })
                .await
            {
                Ok(_) => done("set_status"),
                Err(e) => error("status", e.to_string()),
            }
        }
        Request::Accept { contact } | Request::Reject { contact }
            if line.contact(&contact).is_some_and(|c| c.desk_phone) =>
        {
            error(
                "contact",
                "this call rings on your desk phone: answer or decline it there",
            )
        }
        Request::Accept { contact } => {
            if let Err(e) = mine(&contact, &[CardState::Incoming]) {
                return e;
            }
            match routing.send(RoutingEvent::Accept { contact, agent }).await {
                Ok(_) => done("accept"),
                Err(e) => {
                    warn!(agent = %who.user.spec.username, "accept: {e}");
                    error("contact", "the contact is no longer offered to you")
                }
            }
        }
        Request::Reject { contact } => {
            if let Err(e) = mine(&contact, &[CardState::Incoming]) {
                return e;
            }
            let rejected = routing
                .send(RoutingEvent::Reject {
                    contact: contact.clone(),
                    agent,
                })
                .await;
            // Rejected now or withdrawn before: either way the offer is gone.
            line.remove_contact(&contact);
            match rejected {
                Ok(_) => done("reject"),
                Err(e) => {
                    warn!(agent = %who.user.spec.username, "reject: {e}");
                    error("contact", "the contact is no longer offered to you")
                }
            }
        }
        Request::Hold { contact } | Request::Resume { contact } | Request::Mute { contact, .. }
            if is_chat(&contact) =>
        {
            error("contact", "a chat cannot be put on hold or muted")
        }
        Request::End { contact } if is_chat(&contact) => {
            if let Err(e) = mine(&contact, &[CardState::Connected]) {
                return e;
            }
            match chat.agent_end(&contact, &agent).await {
                Ok(()) => done("contact"),
                Err(e) => error("contact", e.to_string()),
            }
        }
        Request::SendKeys { contact, .. } if is_chat(&contact) => {
            error("contact", "a chat takes no keys: type the message instead")
        }
        Request::SendKeys { contact, keys } => {
            if let Err(e) = mine(&contact, &[CardState::Connected]) {
                return e;
            }
            if keys.is_empty() || keys.chars().count() > MAX_KEYS {
                return error("keys", format!("1 to {MAX_KEYS} keys at a time"));
            }
            if let Err(e) = switchboard_media::dtmf::events_of(&keys) {
                return error("keys", e.to_string());
            }
            post(voice, line, &contact, agent, AgentAction::SendKeys(keys))
        }
        Request::Hold { contact } => {
            if let Err(e) = mine(&contact, &[CardState::Connected]) {
                return e;
            }
            post(voice, line, &contact, agent, AgentAction::Hold)
        }
        Request::Mute { contact, muted } => {
            if let Err(e) = mine(&contact, &[CardState::Connected, CardState::OnHold]) {
                return e;
            }
            post(voice, line, &contact, agent, AgentAction::Mute(muted))
        }
        Request::Resume { contact } => {
            if let Err(e) = mine(&contact, &[CardState::OnHold]) {
                return e;
            }
            post(voice, line, &contact, agent, AgentAction::Resume)
        }
        Request::End { contact } => {
            if let Err(e) = mine(
                &contact,
                &[CardState::Dialing, CardState::Connected, CardState::OnHold],
            ) {
                return e;
            }
            post(voice, line, &contact, agent, AgentAction::End)
        }
        Request::Transfer {
            contact,
            quick_connect,
        } => {
            if let Err(e) = mine(&contact, &[CardState::Connected, CardState::OnHold]) {
                return e;
            }
            let is_a_chat = is_chat(&contact);
            let channel = if is_a_chat {
                Channel::Chat
            } else {
                Channel::Voice
            };
            let target = match transfer_target(voice, &agent, &quick_connect, channel).await {
                Ok(t) => t,
                Err(e) => return e,
            };
            match (target, is_a_chat) {
                (TransferTarget::Number(_), true) => error(
                    "quick_connect",
                    "a chat cannot be transferred to a phone number",
                ),
                (TransferTarget::Queue(id, name), true) => {
                    match chat.agent_transfer(&contact, &agent, (id, name)).await {
                        Ok(()) => done("contact"),
                        Err(e) => error("quick_connect", e.to_string()),
                    }
                }
                (TransferTarget::Number(phone_number), false) => {
                    // Checked here so the agent hears why; the call looks it up again.
                    if let Err(e) = voice.route_out(&phone_number).await {
                        return error("quick_connect", e.to_string());
                    }
                    post(
                        voice,
                        line,
                        &contact,
                        agent,
                        AgentAction::TransferToNumber(phone_number),
                    )
                }
                (TransferTarget::Queue(id, name), false) => post(
                    voice,
                    line,
                    &contact,
                    agent,
                    AgentAction::TransferToQueue(id, name),
                ),
            }
        }
        Request::Dial { .. } if !who.permissions.has(OUTBOUND) => error(
            "number",
            format!("placing calls needs the {OUTBOUND} permission"),
        ),
        Request::Dial { number } => {
            match switchboard_voice::outbound::dial(voice, &who.user, &number).await {
                Ok(contact) => json!({"type": "dialing", "contact": contact}),
                Err((field, message)) => error(field, message),
            }
        }
        Request::Close { contact } => {
            if let Err(e) = mine(&contact, &[CardState::Ended]) {
                return e;
            }
            if let Err(e) = routing
                .send(RoutingEvent::CloseAcw {
                    agent,
                    contact: contact.clone(),
                })
                .await
            {
                // The router has moved on (the work timed out, the server
                // restarted): the card has nothing left to close either way.
                warn!(agent = %who.user.spec.username, "close: {e}");
            }
            if is_chat(&contact) {
                // A call notes its after-contact work when the agent's state
                // leaves it; chats run side by side, so each notes its own.
                tokio::spawn(switchboard_runtime::after_contact_work::record(
                    voice.app().clone(),
                    contact.clone(),
                    chrono::Utc::now(),
                ));
            }
            line.remove_contact(&contact);
            done("close")
        }
    }
}

/// Whether an agent's routing profile takes contacts on `channel` at all.
async fn takes_voice(voice: &Voice, user: &User) -> bool {
    transfer::takes(voice.app(), user, Channel::Voice).await
}

/// The quick connect `quick_connect` (id or name) as a transfer target for
/// `agent`'s contact, or the error the page shows beside the field.
async fn transfer_target(
    voice: &Voice,
    agent: &str,
    quick_connect: &str,
    channel: Channel,
) -> Result<TransferTarget, Value> {
    transfer::quick_connect(voice.app(), agent, quick_connect, channel)
        .await
        .map_err(|e| error("quick_connect", e.to_string()))
}

fn post(voice: &Voice, line: &Line, contact: &str, agent: String, action: AgentAction) -> Value {
    if voice.post(contact, CallInput::Agent { agent, action }) {
        done("contact")
    } else {
        line.call_gone(contact);
        error("contact", "the contact has ended")
    }
}

/// Shows chats in their agents' CCPs next to calls: the chat shell's cards
/// become contacts on the agent's line (and so survive a page reload), and
/// chats are offered only to agents whose CCP is there.
fn show_chats(voice: &Voice, chat: &ChatHub) {
    use switchboard_webchat::AgentChatEvent;
    let v = voice.clone();
    let grace = voice.config().ccp_grace;
    chat.set_agent_presence(Arc::new(move |agent| {
        v.softphones()
            .get(agent)
            .is_some_and(|line| line.reachable(grace))
    }));
    let v = voice.clone();
    chat.set_agent_sink(Arc::new(move |event| match event {
        AgentChatEvent::Card(c) => {
            v.softphones().line(&c.agent).put_contact(ContactView {
                contact: c.contact,
                channel: switchboard_model::contact_record::Channel::Chat,
                initiation_method: c.initiation_method,
                customer: c.customer,
                queue: c.queue,
                attributes: c.attributes,
                state: c.state,
                muted: false,
                since: c.since,
                chat_token: c.token,
                desk_phone: false,
            });
        }
        AgentChatEvent::Gone { agent, contact } => {
            if let Some(line) = v.softphones().get(&agent) {
                line.remove_contact(&contact);
            }
        }
    }));
}
