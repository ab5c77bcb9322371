//! Contact records and their recordings.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_model::ContactRecord;
use switchboard_store::{Actor, ContactCursor, ContactQuery, ContactTime};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use switchboard_runtime::AppState;

const SEARCH: &str = "ContactSearch.View";
/// Call recordings and chat transcripts (Connect's "Recorded conversations").
const RECORDED_CONVERSATIONS: &str = "ListenCallRecordings";

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactParams {
    /// Contacts whose `time` is at or after this (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Contacts whose `time` is before this (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Which timestamp `from`/`to` apply to: `initiated` (default),
    /// `connected_to_system`, `enqueued`, `dequeued`, `connected_to_agent`,
    /// `after_contact_work_start`, `after_contact_work_end` or `disconnected`.
    /// Contacts without that timestamp are left out; pages are newest first by it.
    pub time: Option<String>,
    pub agent_id: Option<String>,
    pub queue_id: Option<String>,
    /// `VOICE` or `CHAT`.
    pub channel: Option<String>,
    /// `INBOUND`, `OUTBOUND`, `TRANSFER` or `API`.
    pub initiation_method: Option<String>,
    /// E.g. `CUSTOMER_DISCONNECT`, `AGENT_DISCONNECT`.
    pub disconnect_reason: Option<String>,
    /// The customer's number or ours (E.164).
    pub number: Option<String>,
    /// `name:value`: an attribute with exactly that value.
    pub attribute: Option<String>,
    /// `key:value`: a tag (set by a flow's TagContact) with exactly that value.
    pub tag: Option<String>,
    /// Words in the contact's name or description (set by its flow's
    /// UpdateContactData; case-insensitive).
    pub name: Option<String>,
    /// Words in a chat transcript (case-insensitive).
    pub text: Option<String>,
    /// 1-1000, default 100.
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// `json` (default) or `csv`. A CSV without `limit` holds the whole
    /// search (up to 100,000 rows); with `limit`, one page.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactPage {
    pub items: Vec<ContactRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A `name:value` search parameter, split; `field` names it in the error.
fn pair_param(
    field: &str,
    shape: &str,
    value: Option<&str>,
) -> ApiResult<Option<(String, String)>> {
    match value.map(|v| v.split_once(':')) {
        None => Ok(None),
        Some(Some((k, v))) if !k.is_empty() => Ok(Some((k.to_string(), v.to_string()))),
        Some(_) => Err(ApiError::bad_request(field, format!("write it as {shape}"))),
    }
}

/// Contact records, newest first: contact search.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "Contacts", params(ContactParams),
        responses((status = 200, body = ContactPage, description = "JSON, or CSV with format=csv (the whole search without limit, else one page; the next page's cursor in X-Next-Cursor)"), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<ContactParams>,
) -> ApiResult<axum::response::Response> {
    who.require(SEARCH)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit", "must be between 1 and 1000"));
    }
    let time = match p.time.as_deref() {
        None => ContactTime::Initiated,
        Some(name) => ContactTime::parse(name).ok_or_else(|| {
            let names: Vec<&str> = ContactTime::ALL.iter().map(|(n, _)| *n).collect();
            ApiError::bad_request(
                "time",
                format!("'{name}' is not one of {}", names.join(", ")),
            )
        })?,
    };
    let attribute = pair_param("attribute", "name:value", p.attribute.as_deref())?;
    let tag = pair_param("tag", "key:value", p.tag.as_deref())?;
    let after =
        match &p.cursor {
            None => None,
            Some(c) => Some(ContactCursor::decode(c).ok_or_else(|| {
                ApiError::bad_request("cursor", "not a cursor from a previous page")
            })?),
        };
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "format",
                format!("'{other}' is not json or csv"),
            ))
        }
    };
    let mut query = ContactQuery {
        time,
        initiated_from: p.from.map(|t| t.timestamp_millis()),
        initiated_to: p.to.map(|t| t.timestamp_millis()),
        agent_id: p.agent_id,
        queue_id: p.queue_id,
        channel: p.channel.map(|c| c.to_uppercase()),
        initiation_method: p.initiation_method.map(|m| m.to_uppercase()),
        disconnect_reason: p.disconnect_reason.map(|r| r.to_uppercase()),
        number: p.number,
        attribute,
        tag,
        name: p.name.filter(|n| !n.trim().is_empty()),
        text: p.text.filter(|t| !t.trim().is_empty()),
        after,
        limit,
    };
    if csv && p.limit.is_none() {
        // An export without a limit is the whole search, page after page,
        // up to CSV_MAX_ROWS (the cursor to go on with is in X-Next-Cursor).
        query.limit = 1000;
        let mut items = Vec::new();
        let next = loop {
            let page = app.store.search_contacts(&query).await?;
            items.extend(page.items);
            match page.next {
                Some(c) if items.len() < CSV_MAX_ROWS => query.after = Some(c),
                next => break next.map(|c| c.encode()),
            }
        };
        return Ok(contacts_csv(&items, next.as_deref()));
    }
    let page = app.store.search_contacts(&query).await?;
    let next = page.next.map(|c| c.encode());
    if csv {
        return Ok(contacts_csv(&page.items, next.as_deref()));
    }
    Ok(Json(ContactPage {
        items: page.items,
        next,
    })
    .into_response())
}

/// The most rows one CSV export carries.
const CSV_MAX_ROWS: usize = 100_000;

/// The page as CSV; the next page's cursor, if any, in a `Link`-like header.
fn contacts_csv(items: &[ContactRecord], next: Option<&str>) -> axum::response::Response {
    use switchboard_reports::historical::field;
    let mut out = String::from(
        "id,channel,initiation_method,initiation_timestamp,disconnect_timestamp,disconnect_reason,\
         customer,system,queue,enqueue_timestamp,queue_seconds,agent,connected_to_agent_timestamp,\
         talk_seconds,hold_count,hold_seconds,acw_seconds,previous_contact_id,next_contact_id,recording,transcript,customer_name\r\n",
    );
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let num = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    for r in items {
        let q = r.queue.as_ref();
        let a = r.agent.as_ref();
        let cells = [
            field(&r.id),
            field(r.channel.as_str()),
            field(r.initiation_method.as_str()),
            r.initiation_timestamp.to_rfc3339(),
            time(r.disconnect_timestamp),
            field(r.disconnect_reason.map_or("", |d| d.as_str())),
            field(&r.customer_endpoint.address),
            field(&r.system_endpoint.address),
            field(q.map_or("", |q| q.name.as_str())),
            time(q.map(|q| q.enqueue_timestamp)),
            num(q.and_then(|q| q.duration_seconds)),
            field(a.map_or("", |a| a.username.as_str())),
            time(a.map(|a| a.connected_to_agent_timestamp)),
            num(a.map(|a| a.talk_duration_seconds)),
            a.map(|a| a.hold_count.to_string()).unwrap_or_default(),
            num(a.map(|a| a.hold_duration_seconds)),
            num(a.and_then(|a| a.after_contact_work_duration_seconds)),
            field(r.previous_contact_id.as_deref().unwrap_or("")),
            field(r.next_contact_id.as_deref().unwrap_or("")),
            field(r.recording.as_ref().map_or("", |x| x.location.as_str())),
            field(r.transcript.as_ref().map_or("", |x| x.location.as_str())),
            field(r.customer_name.as_deref().unwrap_or_default()),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    let mut response = super::reports::csv("contacts", out);
    if let Some(n) = next.and_then(|n| axum::http::HeaderValue::from_str(n).ok()) {
        response.headers_mut().insert("x-next-cursor", n);
    }
    response
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
                "not_found",
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
/// A transcript is the chat's recorded conversation: as in Amazon Connect,
/// reading it takes the recorded-conversations permission
/// (`ListenCallRecordings`) as well as contact search. Every read is
/// written to the audit log.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/transcript", tag = "Contacts",
    responses((status = 200, content_type = "application/json"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn transcript(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    who.require(SEARCH)?;
    who.require(RECORDED_CONVERSATIONS)?;
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
