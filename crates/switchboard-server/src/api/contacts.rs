//! Contact records and their recordings.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_model::ContactRecord;
use switchboard_store::{Actor, ContactQuery};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::AppState;

const SEARCH: &str = "ContactSearch.View";

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactParams {
    /// Contacts initiated at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Contacts initiated before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub agent_id: Option<String>,
    pub queue_id: Option<String>,
    /// 1-1000, default 100.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactPage {
    pub items: Vec<ContactRecord>,
}

/// Contact records, newest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "Contacts", params(ContactParams),
    responses((status = 200, body = ContactPage), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<ContactParams>,
) -> ApiResult<Json<ContactPage>> {
    who.require(SEARCH)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit", "must be between 1 and 1000"));
    }
    let items = app
        .store
        .list_contacts(&ContactQuery {
            initiated_from: p.from.map(|t| t.timestamp_millis()),
            initiated_to: p.to.map(|t| t.timestamp_millis()),
            agent_id: p.agent_id,
            queue_id: p.queue_id,
            limit,
        })
        .await?;
    Ok(Json(ContactPage { items }))
}

async fn find(app: &AppState, id: &str) -> ApiResult<ContactRecord> {
    app.store.get_contact(id).await?.ok_or_else(|| {
        ApiError::field(
            StatusCode::NOT_FOUND,
            "not_found",
            "id",
            format!("no contact with id '{id}'"),
        )
    })
}

/// One contact record.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "Contacts",
    responses((status = 200, body = ContactRecord), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ContactRecord>> {
    who.require(SEARCH)?;
    Ok(Json(find(&app, &id).await?))
}

/// The call recording: stereo WAV, customer left, agent right. Every
/// download is written to the audit log.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/recording", tag = "Contacts",
    responses((status = 200, content_type = "audio/wav"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn recording(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    who.require_any(&["ListenCallRecordings", "DownloadCallRecordings"])?;
    let contact = find(&app, &id).await?;
    let location = contact
        .recording
        .filter(|r| r.status == "AVAILABLE")
        .map(|r| r.location)
        .ok_or_else(|| {
            ApiError::field(
                StatusCode::NOT_FOUND,
                "id",
                "id",
                format!("contact '{id}' has no recording"),
            )
        })?;
    let bytes = app.blobs.get(&location).await.map_err(ApiError::internal)?;
    let actor: Actor = who.actor();
    app.store
        .audit_contact(&actor, "recording_download", &id)
        .await?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes))
}

/// A chat's transcript (Connect's JSON), as stored when the chat ended.
/// Every read is written to the audit log.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/transcript", tag = "Contacts",
    responses((status = 200, content_type = "application/json"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn transcript(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    who.require(SEARCH)?;
    let contact = find(&app, &id).await?;
    let location = contact
        .transcript
        .filter(|t| t.status == "AVAILABLE")
        .map(|t| t.location)
        .ok_or_else(|| {
            ApiError::field(
                StatusCode::NOT_FOUND,
                "not_found",
                "id",
                format!("contact '{id}' has no transcript"),
            )
        })?;
    let bytes = app.blobs.get(&location).await.map_err(ApiError::internal)?;
    app.store
        .audit_contact(&who.actor(), "transcript_view", &id)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes))
}
