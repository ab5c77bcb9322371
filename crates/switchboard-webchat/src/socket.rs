//! The participant WebSocket (`/api/v1/chat/connect`): the same protocol
//! for customers and agents, described in `docs/chat-protocol.md`.
//!
//! After `hello` the socket subscribes to the chat's fan-out and receives,
//! in the chat task's same turn, the backlog after the client's `since`;
//! from then on it forwards each item whose sequence is past the last one
//! sent, so nothing is lost or repeated across reconnects. A socket that
//! falls too far behind the fan-out simply attaches again from its last
//! sequence.

use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_chat::{ChatError, ReceiptKind};
use tokio::sync::broadcast::error::RecvError;

use crate::origins::same_site;
use crate::task::{Attached, ChatInput, Out};
use crate::{ChatHub, Grant, TOKEN_EXPIRED};

/// The first frame must come within this long.
const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// Clients ping every 20 s; a socket silent for this long is gone.
const SILENT_FOR: Duration = Duration::from_secs(60);
/// A participant's typing is passed on at most this often.
const TYPING_EVERY: Duration = Duration::from_secs(1);
/// Sockets one participant may hold at once (tabs, a reconnect racing the
/// old socket's close); more is a client gone wrong or a flood.
pub(crate) const MAX_SOCKETS_PER_PARTICIPANT: usize = 5;
/// Frames larger than this are refused (a message is at most 4 KiB of text).
const MAX_FRAME: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Hello {
        token: String,
        #[serde(default)]
        since: u64,
    },
    Send {
        #[serde(default = "crate::plain_text")]
        content_type: String,
        content: String,
        client_token: Option<String>,
    },
    Typing,
    Receipt {
        seq: u64,
        kind: ReceiptKind,
    },
    Leave,
    Ping,
}

fn error(field: &str, message: impl Into<String>) -> Value {
    json!({"type": "error", "field": field, "message": message.into()})
}

/// The field a chat error is about, for the client.
fn field_of(e: &ChatError) -> &'static str {
    match e {
        ChatError::EmptyMessage | ChatError::TooLong { .. } | ChatError::RateLimited { .. } => {
            "content"
        }
        ChatError::UnsupportedContentType(_) => "content_type",
        ChatError::UnknownMessage(_) => "seq",
        ChatError::Ended => "chat",
        ChatError::UnknownParticipant(_) | ChatError::NotInChat(_) => "participant",
    }
}

/// A browser always sends `Origin` on a WebSocket handshake and never asks
/// first, so a page from a site not allowed is refused here. Clients that
/// are not browsers send none; the server's own pages (the CCP) are its site.
pub fn origin_allowed(hub: &ChatHub, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    hub.settings().allowed_origins.allows(origin.as_bytes())
        || same_site(
            origin.as_bytes(),
            headers.get(header::HOST).map(|h| h.as_bytes()),
        )
}

/// Takes an upgraded participant socket into the chat's protocol.
pub fn accept(hub: ChatHub, ws: WebSocketUpgrade) -> Response {
    // Small buffers: tens of thousands of chat sockets stay open at once,
    // and a chat frame is a few hundred bytes (the 128 KiB defaults would
    // cost more than the chat itself).
    ws.max_message_size(MAX_FRAME)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| session(hub, socket))
}

async fn send(socket: &mut WebSocket, text: impl Into<Utf8Bytes>) -> bool {
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn send_value(socket: &mut WebSocket, value: Value) -> bool {
    send(socket, value.to_string()).await
}

/// A frame that is not a request.
#[derive(Debug, thiserror::Error)]
enum BadFrame {
    #[error("not a valid request: {0}")]
    NotARequest(#[from] serde_json::Error),
    #[error("send JSON text frames")]
    Binary,
}

/// The next request, `Err` for a frame that is not one, `None` when the socket closed.
async fn next_request(socket: &mut WebSocket) -> Option<Result<Request, BadFrame>> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(&text).map_err(BadFrame::from))
            }
            Ok(Message::Binary(_)) => return Some(Err(BadFrame::Binary)),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn attach(hub: &ChatHub, grant: &Grant, since: u64) -> Option<Attached> {
    hub.ask(&grant.chat, |reply| ChatInput::Attach { since, reply })
        .await
}

async fn session(hub: ChatHub, mut socket: WebSocket) {
    let (grant, since) = match tokio::time::timeout(HELLO_WITHIN, next_request(&mut socket)).await {
        Ok(Some(Ok(Request::Hello { token, since }))) => match hub.grant(&token) {
            Ok(g) => (g, since),
            Err(reason) => {
                send_value(&mut socket, error("token", reason)).await;
                return;
            }
        },
        Ok(Some(Ok(_))) => {
            send_value(&mut socket, error("type", "say hello with a token first")).await;
            return;
        }
        Ok(Some(Err(e))) => {
            send_value(&mut socket, error("type", e.to_string())).await;
            return;
        }
        _ => return,
    };
    let Some(_open) = hub.open_socket(&grant) else {
        let message =
            format!("this participant already has {MAX_SOCKETS_PER_PARTICIPANT} connections open");
        send_value(&mut socket, error("token", message)).await;
        return;
    };
    let Some(attached) = attach(&hub, &grant, since).await else {
        send_value(&mut socket, error("token", TOKEN_EXPIRED)).await;
        return;
    };
    let welcome = json!({
        "type": "welcome",
        "contact_id": grant.chat,
        "participant_id": grant.participant,
        "role": grant.role,
        "display_name": grant.display_name,
        "last_seq": attached.last_seq,
        "ended": attached.ended,
        "limits": {"max_message_bytes": hub.settings().limits.max_message_bytes},
    });
    if !send_value(&mut socket, welcome).await {
        return;
    }
    // A client ahead of the chat (a bad `since`) gets what comes next.
    let mut last_sent = since.min(attached.last_seq);
    let mut frames = attached.frames;
    let mut ended = attached.ended;
    if !send_backlog(&mut socket, attached.backlog, &mut last_sent).await {
        return;
    }
    let mut heard = tokio::time::Instant::now();
    let mut typed = tokio::time::Instant::now() - TYPING_EVERY;
    while !ended {
        tokio::select! {
            _ = tokio::time::sleep_until(heard + SILENT_FOR) => break,
            request = next_request(&mut socket) => {
                let Some(request) = request else { break };
                heard = tokio::time::Instant::now();
                                let reply = match request {
                    // Typing is passed on at most once a second per socket.
                    Ok(Request::Typing) if heard < typed + TYPING_EVERY => None,
                    Ok(r) => {
                        if matches!(r, Request::Typing) {
                            typed = heard;
                        }
                        handle(&hub, &grant, r).await
                    }
                    Err(e) => Some(error("type", e.to_string())),
                };
                if let Some(reply) = reply {
                    if !send_value(&mut socket, reply).await {
                        break;
                    }
                }
            }
            frame = frames.recv() => match frame {
                                Ok(out) => {
                    if let Some(only) = &out.only_for {
                        if **only == *grant.participant {
                            send(&mut socket, out.text.as_ref()).await;
                            break;
                        }
                        continue;
                    }
                    if out.seq == 0 {
                        // Typing: not to the one typing.
                        if *out.from != *grant.participant && !send(&mut socket, out.text.as_ref()).await {
                            break;
                        }
                        continue;
                    }
                    if out.seq <= last_sent {
                        continue;
                    }
                    if !send(&mut socket, out.text.as_ref()).await {
                        break;
                    }
                    last_sent = out.seq;
                    ended = out.ends;
                }
                Err(RecvError::Lagged(_)) => {
                    // Too far behind: read the rest from the chat itself.
                                        let Some(again) = attach(&hub, &grant, last_sent).await else { break };
                    frames = again.frames;
                    ended = again.ended;
                    if !send_backlog(&mut socket, again.backlog, &mut last_sent).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Sends items the client has not seen; false if the socket is gone.
async fn send_backlog(socket: &mut WebSocket, backlog: Vec<Out>, last_sent: &mut u64) -> bool {
    for out in backlog {
        if out.seq <= *last_sent {
            continue;
        }
        if !send(socket, out.text.as_ref()).await {
            return false;
        }
        *last_sent = out.seq;
    }
    true
}

/// Acts on one request; what to answer, if anything.
async fn handle(hub: &ChatHub, grant: &Grant, request: Request) -> Option<Value> {
    let participant = grant.participant.clone();
    match request {
        Request::Hello { .. } => Some(error("type", "already said hello")),
        Request::Ping => Some(json!({"type": "pong"})),
        Request::Typing => {
            hub.post(&grant.chat, ChatInput::Typing { participant });
            None
        }
        Request::Leave => {
            hub.post(&grant.chat, ChatInput::Leave { participant });
            None
        }
        Request::Send {
            content_type,
            content,
            client_token,
        } => {
            if client_token.as_ref().is_some_and(|t| t.len() > 128) {
                return Some(error("client_token", "at most 128 characters"));
            }
            let token = client_token.clone();
            let answer = hub
                .ask(&grant.chat, |reply| ChatInput::Send {
                    participant,
                    content_type,
                    content,
                    client_token,
                    reply,
                })
                .await
                .unwrap_or(Err(ChatError::Ended));
            Some(match answer {
                Ok((seq, id)) => {
                    json!({"type": "sent", "client_token": token, "seq": seq, "id": id})
                }
                Err(e) => {
                    let mut v = error(field_of(&e), e.to_string());
                    if let ChatError::RateLimited { retry_after_ms } = e {
                        v["retry_after_ms"] = json!(retry_after_ms);
                    }
                    v["client_token"] = json!(token);
                    v
                }
            })
        }
        Request::Receipt { seq, kind } => {
            let answer = hub
                .ask(&grant.chat, |reply| ChatInput::Receipt {
                    participant,
                    seq,
                    kind,
                    reply,
                })
                .await
                .unwrap_or(Err(ChatError::Ended));
            answer.err().map(|e| error(field_of(&e), e.to_string()))
        }
    }
}
