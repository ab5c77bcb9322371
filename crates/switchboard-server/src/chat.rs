//! The chat's HTTP side: start a chat (Connect's StartChatContact), the
//! participant's transcript, the WebSocket, and the widget's files.
//!
//! Starting a chat needs no sign-in (a company's web page calls it), so it
//! is open to the sites `chat_allowed_origins` lists (CORS; any by default)
//! and throttled per client address; it only
//! runs published inbound contact flows, as a phone number would. What a
//! customer's page sends (name, attributes) is the customer's word: flows
//! and agents must not take it as verified.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use switchboard_chat::{ChatRoom, Role, Transcript};
use switchboard_model::{Flow as FlowObject, FlowType};
use switchboard_runtime::AppState;
use switchboard_webchat::{ChatHub, Opening};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddr};
use crate::web::asset;

/// What the chat routes reach: the node's state and its chats.
#[derive(Clone)]
pub struct ChatApi {
    pub app: AppState,
    pub hub: ChatHub,
}

/// Connect's limits on ChatDurationInMinutes.
const MIN_DURATION_MINUTES: u32 = 60;
const MAX_DURATION_MINUTES: u32 = 10_080;
const MAX_DISPLAY_NAME: usize = 256;
const MAX_ATTRIBUTES: usize = 50;
const MAX_ATTRIBUTE_BYTES: usize = 1024;

const PARTICIPANT_TOKEN: &str = "x-participant-token";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitialMessage {
    #[serde(default = "plain_text")]
    pub content_type: String,
    pub content: String,
}

/// Starts a chat.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartChat {
    /// A published contact flow, by id or name.
    pub flow: String,
    /// The customer's name as agents see it.
    pub display_name: String,
    pub initial_message: Option<InitialMessage>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// 60-10080; 1500 when not given.
    pub duration_minutes: Option<u32>,
    /// The same token again (a retried request) returns the same chat.
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Started {
    pub contact_id: String,
    pub participant_id: String,
    /// The customer's secret for the WebSocket and the transcript.
    pub participant_token: String,
    pub websocket: &'static str,
    pub transcript: &'static str,
}

/// The content type of a message that does not say.
fn plain_text() -> String {
    "text/plain".into()
}

fn validate(start: &StartChat, hub: &ChatHub) -> Vec<switchboard_model::FieldError> {
    use switchboard_model::FieldError;
    let mut errors = Vec::new();
    if start.flow.trim().is_empty() {
        errors.push(FieldError::new("flow", "is required"));
    }
    let name = start.display_name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("display_name", "is required"));
    } else if name.chars().count() > MAX_DISPLAY_NAME {
        errors.push(FieldError::new(
            "display_name",
            format!("at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if let Some(m) = &start.initial_message {
        // The room's own rules, tried on a scratch room.
        let mut room = ChatRoom::new("check", hub.settings().limits, 0, u64::MAX);
        let _ = room.join("c", "c", Role::Customer, 0);
        if let Err(e) = room.send("c", &m.content_type, &m.content, None, 0) {
            let field = match e {
                switchboard_chat::ChatError::UnsupportedContentType(_) => {
                    "initial_message.content_type"
                }
                _ => "initial_message.content",
            };
            errors.push(FieldError::new(field, e.to_string()));
        }
    }
    if start.attributes.len() > MAX_ATTRIBUTES {
        errors.push(FieldError::new(
            "attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (k, v) in &start.attributes {
        if k.trim().is_empty() || k.len() > 128 {
            errors.push(FieldError::new(
                "attributes",
                "names must be 1-128 characters",
            ));
        } else if v.len() > MAX_ATTRIBUTE_BYTES {
            errors.push(FieldError::new(
                format!("attributes.{k}"),
                format!("at most {MAX_ATTRIBUTE_BYTES} bytes"),
            ));
        }
    }
    if let Some(d) = start.duration_minutes {
        if !(MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&d) {
            errors.push(FieldError::new(
                "duration_minutes",
                format!("must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES}"),
            ));
        }
    }
    if start.client_token.as_ref().is_some_and(|t| t.len() > 128) {
        errors.push(FieldError::new("client_token", "at most 128 characters"));
    }
    errors
}

/// Starts a chat contact: the flow runs at once; the answer carries the
/// customer's participant token.
#[utoipa::path(post, path = "/api/v1/chat/start", tag = "Chat",
    request_body = StartChat,
    responses((status = 200, body = Started), (status = 400, body = ApiError), (status = 429, body = ApiError)))]
pub async fn start(
    State(ChatApi { app, hub }): State<ChatApi>,
    ClientAddr(client): ClientAddr,
    ApiJson(start): ApiJson<StartChat>,
) -> ApiResult<Json<Started>> {
    let errors = validate(&start, &hub);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }

    let now = Instant::now();
    if let Some(wait) = hub.start_blocked(&client, now) {
        return Err(ApiError::field(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "flow",
            format!(
                "too many chats started from this address; try again in {} seconds",
                wait.as_secs().max(1)
            ),
        ));
    }
    // A retried start returns the chat it started: only to the same
    // address, so a guessed client token reveals nobody's chat.
    let retry_key = start.client_token.as_ref().map(|t| format!("{client} {t}"));
    if let Some(opened) = retry_key.as_deref().and_then(|k| hub.retried(k, now)) {
        return Ok(Json(Started::from(opened)));
    }
    let record = app
        .store
        .get::<FlowObject>(start.flow.trim())
        .await?
        .filter(|f| f.spec.flow_type == FlowType::ContactFlow)
        .ok_or_else(|| {
            ApiError::bad_request("flow", format!("no contact flow '{}'", start.flow.trim()))
        })?;
    // Customers reach published flows only, never a draft being edited.
    if app.store.flow_version(&record.id, None).await?.is_none() {
        return Err(ApiError::bad_request(
            "flow",
            format!("the flow '{}' is not published", record.spec.name),
        ));
    }
    let flow = switchboard_runtime::flow_shell::load_flow(&app, &record.id, false)
        .await
        .map_err(|e| ApiError::bad_request("flow", e.to_string()))?;
    let opening = Opening {
        flow,
        flow_id: record.id,
        display_name: start.display_name.trim().to_string(),
        attributes: start.attributes,
        initial_message: start.initial_message.map(|m| (m.content_type, m.content)),
        duration: start
            .duration_minutes
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
    };
    let opened = hub.open(&app, &client, retry_key, opening, now);
    Ok(Json(Started::from(opened)))
}

impl From<switchboard_webchat::Opened> for Started {
    fn from(o: switchboard_webchat::Opened) -> Self {
        Started {
            contact_id: o.contact_id,
            participant_id: o.participant_id,
            participant_token: o.participant_token,
            websocket: "/api/v1/chat/connect",
            transcript: "/api/v1/chat/transcript",
        }
    }
}

/// The transcript so far, for a participant (Connect's GetTranscript).
#[utoipa::path(get, path = "/api/v1/chat/transcript", tag = "Chat",
    params(("x-participant-token" = String, Header, description = "The participant token from the start")),
    responses((status = 200, description = "Connect's transcript JSON"), (status = 401, body = ApiError)))]
pub async fn transcript(
    State(ChatApi { hub, .. }): State<ChatApi>,
    headers: HeaderMap,
) -> ApiResult<Json<Transcript>> {
    let token = headers
        .get(PARTICIPANT_TOKEN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthenticated("send the participant token in X-Participant-Token")
        })?;
    let grant = hub.grant(token).map_err(ApiError::unauthenticated)?;
    hub.transcript(&grant.chat)
        .await
        .map(Json)
        .ok_or_else(|| ApiError::unauthenticated(switchboard_webchat::TOKEN_EXPIRED))
}

/// The routes under `/api/v1/chat`.
///
/// The CORS layer wraps the whole method router, 405 fallback included
/// (an `OPTIONS` preflight lands there): not `route_layer`, which skips it,
/// and with this router's own fallback, which the API's would otherwise
/// replace unwrapped. Only these routes: the staff API answers no other site.
pub fn routes(api: ChatApi) -> Router<AppState> {
    let allowed = api.hub.settings().allowed_origins.clone();
    let origin = match allowed {
        switchboard_webchat::origins::AllowedOrigins::Any => AllowOrigin::any(),
        only => AllowOrigin::predicate(move |origin, _| only.allows(origin.as_bytes())),
    };
    let cors = CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static(PARTICIPANT_TOKEN),
        ]);
    Router::new()
        .route("/chat/start", post(start))
        .route("/chat/transcript", get(transcript))
        .method_not_allowed_fallback(crate::method_not_allowed)
        .layer(cors)
        .route("/chat/connect", get(upgrade))
        .with_state(api)
}

/// The participant WebSocket: a page from a site not allowed is refused
/// here ([`switchboard_webchat::socket::origin_allowed`]); the rest is the
/// chat shell's protocol.
async fn upgrade(
    State(ChatApi { hub, .. }): State<ChatApi>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !switchboard_webchat::socket::origin_allowed(&hub, &headers) {
        return ApiError::field(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "Origin",
            "this site may not open chats here (see chat_allowed_origins)",
        )
        .into_response();
    }
    switchboard_webchat::socket::accept(hub, ws)
}

const WIDGET: &str = include_str!("../web/chat/widget.js");
const CLIENT: &str = include_str!("../web/chat/client.js");
const DEMO: &str = include_str!("../web/chat/index.html");
const DEMO_SCRIPT: &str = include_str!("../web/chat/demo.js");

/// The demo page: its own files only; inline styles (the widget draws its
/// shadow DOM's); framed only by the sites allowed to run the widget.
async fn demo_page(State(hub): State<ChatHub>) -> Response {
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors {}",
        hub.settings().allowed_origins.frame_ancestors()
    );
    let mut response = asset("text/html; charset=utf-8", DEMO);
    if let Ok(value) = header::HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Company pages on other origins load the widget as a module.
async fn any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

/// The widget's files and a demo page, at `/chat/`.
pub fn assets(hub: ChatHub) -> Router<AppState> {
    Router::new()
        .route("/chat", get(demo_page))
        .route("/chat/", get(demo_page))
        .route(
            "/chat/demo.js",
            get(|| async { asset("text/javascript", DEMO_SCRIPT) }),
        )
        .route(
            "/chat/widget.js",
            get(|| async { asset("text/javascript", WIDGET) }),
        )
        .route(
            "/chat/client.js",
            get(|| async { asset("text/javascript", CLIENT) }),
        )
        .layer(axum::middleware::map_response(any_origin))
        .with_state(hub)
}
