//! Reading the audit log.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_store::{AuditEntry, AuditQuery};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use switchboard_runtime::AppState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub object_id: Option<String>,
    /// e.g. `queue`, `user`.
    pub object_kind: Option<String>,
    pub actor_id: Option<String>,
    /// Entries older than this sequence number: pass the last `seq` seen to page.
    pub before: Option<i64>,
    /// 1-500, default 100.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<AuditEntry>,
}

/// Who changed what, newest first.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "Audit log",
    params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    who.require("AuditLog.View")?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit", "must be between 1 and 500"));
    }
    if let Some(kind) = &p.object_kind {
        if switchboard_model::ObjectKind::parse(kind).is_none() {
            return Err(ApiError::bad_request(
                "object_kind",
                format!("'{kind}' is not a kind of object"),
            ));
        }
    }
    let items = app
        .store
        .audit_log(&AuditQuery {
            object_id: p.object_id,
            object_kind: p.object_kind,
            actor_id: p.actor_id,
            before_seq: p.before,
            limit,
        })
        .await?;
    Ok(Json(AuditPage { items }))
}
