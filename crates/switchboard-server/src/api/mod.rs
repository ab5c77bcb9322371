//! The `/api/v1` REST API: one module per concern, assembled here.

pub mod api_keys;
pub mod audit;
pub mod bots;
pub mod contacts;
pub mod crud;
pub mod flows;
pub mod preferences;
pub mod prompts;
pub mod reports;
pub mod resource;
pub mod routing;
pub mod session;
pub mod trunks;
pub mod users;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use switchboard_model::{
    permissions, AgentStatus, Bot, ExternalFunction, Flow, HoursOfOperation, PhoneNumber, Prompt,
    Queue, QuickConnect, RoutingProfile, SecurityProfile, SipTrunk, User,
};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::extract::MAX_JSON_BYTES;
use switchboard_runtime::AppState;

#[derive(Serialize, ToSchema)]
pub struct PermissionInfo {
    pub name: &'static str,
    pub description: &'static str,
}

/// Every permission a security profile can grant. Any signed-in user may read it.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "Security profiles",
    responses((status = 200, body = Vec<PermissionInfo>), (status = 401, body = crate::error::ApiError)),
    security(("bearer" = [])))]
pub async fn list_permissions(_who: Principal) -> Json<Vec<PermissionInfo>> {
    Json(
        permissions::CATALOGUE
            .iter()
            .map(|(name, description)| PermissionInfo { name, description })
            .collect(),
    )
}

pub fn router(app: &AppState, chat: &switchboard_webchat::ChatHub) -> Router<AppState> {
    let prompt_limit = app.settings.max_prompt_bytes + 64 * 1024; // room for the form's own bytes
    Router::new()
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/me", get(session::me))
        .route("/instance", get(session::instance))
        .route("/permissions", get(list_permissions))
        .route("/me/status", axum::routing::put(routing::set_my_status))
        .route(
            "/me/report-thresholds",
            get(preferences::thresholds).put(preferences::set_thresholds),
        )
        .route("/me/contacts/{id}/close", post(routing::close_my_contact))
        .route("/routing/agents", get(routing::agents))
        .route("/routing/queues", get(routing::queues))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}", delete(api_keys::revoke))
        .route("/audit-log", get(audit::list))
        .route("/contacts", get(contacts::list))
        .route("/contacts/{id}", get(contacts::get))
        .route("/contacts/{id}/recording", get(contacts::recording))
        .route("/contacts/{id}/transcript", get(contacts::transcript))
        .route("/contacts/{id}/cost", get(reports::contact_cost))
        .route("/reports/realtime", get(reports::realtime))
        .route("/reports/realtime/ws", get(reports::realtime_socket))
        .route("/reports/historical", get(reports::historical))
        .route("/reports/usage", get(reports::usage_report))
        .merge(crate::chat::routes(crate::chat::ChatApi {
            app: app.clone(),
            hub: chat.clone(),
        }))
        .merge(crud::routes::<SecurityProfile>())
        .merge(crud::routes_without_create::<User>())
        .route("/users", post(users::create_user))
        .route("/users/{id}/password", post(users::change_password))
        .merge(crud::routes::<AgentStatus>())
        .merge(crud::routes::<HoursOfOperation>())
        .merge(crud::routes::<Queue>())
        .merge(crud::routes::<RoutingProfile>())
        .merge(crud::routes::<PhoneNumber>())
        .merge(crud::routes::<QuickConnect>())
        .merge(crud::routes::<ExternalFunction>())
        .merge(crud::routes::<Bot>())
        .route(
            "/bots/import",
            post(bots::import).layer(DefaultBodyLimit::max(bots::MAX_ZIP_BYTES)),
        )
        .route("/bots/{id}/export", get(bots::export))
        .merge(crud::routes::<SipTrunk>())
        .route("/sip-trunk-registrations", get(trunks::registrations))
        .merge(crud::routes::<Flow>())
        .route("/flows/import", post(flows::import))
        .route("/flows/{id}/validate", post(flows::validate))
        .route("/flows/{id}/publish", post(flows::publish))
        .route("/flows/{id}/simulate", post(flows::simulate))
        .route("/flows/{id}/versions", get(flows::versions))
        .route("/flows/{id}/export", get(flows::export))
        .merge(crud::routes_without_create::<Prompt>())
        .route(
            "/prompts",
            post(prompts::upload).layer(DefaultBodyLimit::max(prompt_limit)),
        )
        .route("/prompts/{id}/audio", get(prompts::audio))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
}
