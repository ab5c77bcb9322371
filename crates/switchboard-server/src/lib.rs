//! # switchboard-server
//!
//! The HTTP shell around the store: the versioned REST API under `/api/v1`,
//! its OpenAPI document, authentication and permission checks, health
//! probes, and first-start setup ([`bootstrap`]).
//!
//! A request passes through, in order: the router (axum), the body limit,
//! the extractors ([`auth::Principal`] for who is calling, [`extract::ApiJson`]
//! for a body with field-precise errors), the handler's permission check, the
//! model's validation, reference resolution, and finally one store
//! transaction that writes the change and its audit row together.

pub mod after_contact_work;
pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod chat;
pub mod error;
pub mod extract;
pub mod flow_shell;
pub mod functions;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod records;
pub mod recovery;
pub mod routing;
pub mod throttle;
pub mod web;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use switchboard_store::{Blobs, Store};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a session token lasts after sign-in.
    pub session_ttl: chrono::Duration,
    /// Largest prompt file accepted.
    pub max_prompt_bytes: usize,
    /// Prices for usage reports.
    pub rate_card: switchboard_reports::usage::RateCard,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::hours(12),
            max_prompt_bytes: 20 * 1024 * 1024,
            rate_card: Default::default(),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub blobs: Blobs,
    pub functions: functions::FunctionClient,
    pub routing: routing::RoutingHandle,
    /// Failed sign-ins (HTTP and own password changes) per user and address.
    pub login_throttle: Arc<throttle::SignInGuard>,
    pub settings: Arc<Settings>,
    /// Live chats (issue 7): the participant API and the CCP reach them here.
    pub chat: chat::ChatHub,
    /// Counters for `/metrics` (HTTP requests; gauges are read at scrape time).
    pub metrics: metrics::Metrics,
}

impl AppState {
    /// The routing profile `agent` has now, for their contact record (reports
    /// group a contact by the profile the agent had when connected).
    pub async fn routing_profile_of(
        &self,
        agent: &str,
    ) -> Option<switchboard_model::contact_record::RoutingProfileRef> {
        let user = self
            .store
            .get::<switchboard_model::User>(agent)
            .await
            .ok()??;
        Some(self.routing_profile_ref(&user.spec.routing_profile).await)
    }

    /// The routing profile with this id, named (its id if it is gone).
    pub async fn routing_profile_ref(
        &self,
        id: &str,
    ) -> switchboard_model::contact_record::RoutingProfileRef {
        let name = match self
            .store
            .get::<switchboard_model::RoutingProfile>(id)
            .await
        {
            Ok(Some(p)) => p.spec.name,
            _ => id.to_string(),
        };
        switchboard_model::contact_record::RoutingProfileRef {
            id: id.to_string(),
            name,
        }
    }
}

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

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let api = api::router(&state)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .merge(chat::api::assets())
        .merge(web::shared())
        .merge(web::reports())
        .merge(web::console())
        .nest("/api/v1", api)
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
