//! Real-time routing state and agent status over the API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_model::{AgentStatus, Queue, User};
use utoipa::ToSchema;

use super::crud::find;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use switchboard_runtime::routing::{AgentSnapshot, QueueSnapshot, RoutingEvent};
use switchboard_runtime::AppState;

const REAL_TIME: &str = "AccessMetrics.RealTimeMetrics.Access";

#[derive(Serialize, ToSchema)]
pub struct AgentRow {
    #[serde(flatten)]
    pub snapshot: AgentSnapshot,
    pub username: String,
}

#[derive(Serialize, ToSchema)]
pub struct AgentBoard {
    pub items: Vec<AgentRow>,
}

/// Every agent's routing state and since when.
#[utoipa::path(get, path = "/api/v1/routing/agents", tag = "Routing",
    responses((status = 200, body = AgentBoard), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn agents(State(app): State<AppState>, who: Principal) -> ApiResult<Json<AgentBoard>> {
    who.require(REAL_TIME)?;
    let users = app.store.list::<User>().await?;
    let items = app
        .routing
        .agents()
        .await
        .into_iter()
        .filter_map(|s| {
            let u = users.iter().find(|u| u.id == s.agent)?;
            Some(AgentRow {
                username: u.spec.username.clone(),
                snapshot: s,
            })
        })
        .collect();
    Ok(Json(AgentBoard { items }))
}

#[derive(Serialize, ToSchema)]
pub struct QueueRow {
    #[serde(flatten)]
    pub snapshot: QueueSnapshot,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct QueueBoard {
    pub items: Vec<QueueRow>,
}

/// Contacts waiting in each queue, per channel, and the oldest one's wait.
#[utoipa::path(get, path = "/api/v1/routing/queues", tag = "Routing",
    responses((status = 200, body = QueueBoard), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn queues(State(app): State<AppState>, who: Principal) -> ApiResult<Json<QueueBoard>> {
    who.require(REAL_TIME)?;
    let queues = app.store.list::<Queue>().await?;
    let items = app
        .routing
        .queues()
        .await
        .into_iter()
        .filter_map(|s| {
            let q = queues.iter().find(|q| q.id == s.queue)?;
            Some(QueueRow {
                name: q.spec.name.clone(),
                snapshot: s,
            })
        })
        .collect();
    Ok(Json(QueueBoard { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    /// An agent status, by id or name: `Available`, `Offline`, or a custom one.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatusResult {
    /// The agent's state now: the status, or the system state a contact in
    /// progress puts them in (the status then shows when the work ends).
    pub state: String,
}

/// Sets the signed-in agent's status.
#[utoipa::path(put, path = "/api/v1/me/status", tag = "Routing",
    request_body = SetStatus,
    responses((status = 200, body = StatusResult), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn set_my_status(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<SetStatus>,
) -> ApiResult<Json<StatusResult>> {
    who.require("BasicAgentAccess")?;
    let status = find::<AgentStatus>(&app, &req.status).await.map_err(|_| {
        ApiError::bad_request("status", format!("no agent status '{}'", req.status))
    })?;
    if !status.spec.enabled {
        return Err(ApiError::bad_request(
            "status",
            format!("'{}' is disabled", status.spec.name),
        ));
    }
    app.routing
        .send(RoutingEvent::SetStatus {
            agent: who.user.id.clone(),
            status: status.id.clone(),
        })
        .await
        .map_err(ApiError::internal)?;
    let state = app
        .routing
        .agent(&who.user.id)
        .await
        .map(|a| a.state.to_string())
        .unwrap_or_default();
    Ok(Json(StatusResult { state }))
}

/// Closes the signed-in agent's after-contact work on a contact (the CCP's
/// Close): for agents with only a desk phone, or a script. Their status
/// shows again once no other work is going on.
#[utoipa::path(post, path = "/api/v1/me/contacts/{id}/close", tag = "Routing",
    params(("id" = String, Path, description = "The contact whose after-contact work ends")),
    responses((status = 200, body = StatusResult), (status = 409, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn close_my_contact(
    State(app): State<AppState>,
    who: Principal,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<Json<StatusResult>> {
    who.require("BasicAgentAccess")?;
    switchboard_runtime::after_contact_work::close(&app, &who.user.id, &id)
        .await
        .map_err(|e| ApiError::field(StatusCode::CONFLICT, "conflict", "id", e.to_string()))?;
    let state = app
        .routing
        .agent(&who.user.id)
        .await
        .map(|a| a.state.to_string())
        .unwrap_or_default();
    Ok(Json(StatusResult { state }))
}
