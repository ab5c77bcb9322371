//! # switchboard-server
//!
//! The HTTP shell: the versioned REST API under `/api/v1` (the store's
//! objects, flows, contacts, reports, and the chat's participant API over
//! `switchboard-webchat`), its OpenAPI document, authentication and
//! permission checks, the staff pages, health probes, the bounded HTTP
//! listener, and first-start setup ([`bootstrap`]). What the channels share
//! (state, routing, flows, records) is `switchboard-runtime`'s.
//!
//! A request passes through, in order: the router (axum), the body limit,
//! the extractors ([`auth::Principal`] for who is calling, [`extract::ApiJson`]
//! for a body with field-precise errors), the handler's permission check, the
//! model's validation, reference resolution, and finally one store
//! transaction that writes the change and its audit row together.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod chat;
pub mod error;
pub mod extract;
pub mod http_metrics;
pub mod listen;
pub mod openapi;
pub mod web;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use switchboard_runtime::AppState;
use switchboard_webchat::ChatHub;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers too.
async fn readyz(axum::extract::State(app): axum::extract::State<AppState>) -> impl IntoResponse {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "the database does not answer"})),
            )
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::field(
        StatusCode::NOT_FOUND,
        "not_found",
        "path",
        format!("no endpoint at {}", uri.path()),
    )
}

pub(crate) async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::field(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method",
        format!("{method} is not allowed here"),
    )
}

/// A panic becomes a 500 with the usual error body, never a dropped connection.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal("a handler panicked").into_response()
}

/// The whole HTTP application: the API, the staff pages, and the chats
/// of `chat` (its participant API and the widget).
pub fn app(state: AppState, chat: ChatHub) -> Router {
    let api = api::router(&state, &chat)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .merge(chat::assets(chat))
        .merge(web::home())
        .merge(web::shared())
        .merge(web::reports())
        .merge(web::console())
        .nest("/api/v1", api)
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http_metrics::track,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
