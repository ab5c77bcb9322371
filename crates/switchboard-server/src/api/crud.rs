//! The five operations every configuration object has, written once:
//! `GET /{kind}`, `POST /{kind}`, `GET|PUT|DELETE /{kind}/{id_or_name}`.
//!
//! A write goes: parse (field-precise errors) -> model validation ->
//! permission rules -> resolve references (names to ids) -> store, which
//! enforces unique names and referential integrity and writes the audit row
//! in the same transaction.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_model::ConfigSpec;
use switchboard_store::{Record, Ref};
use utoipa::{IntoParams, ToSchema};

use super::resource::Resource;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use switchboard_runtime::AppState;

/// What the store adds to every object, shown beside its fields.
#[derive(Serialize, ToSchema)]
pub struct RecordMeta {
    pub id: String,
    /// 1 on creation, one more on each update. Send it back as `If-Match`
    /// to refuse an update if someone else changed the object first.
    pub version: i64,
    /// Created by Switchboard itself; cannot be deleted.
    pub builtin: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// An object as the API shows it: its fields (secrets hidden) plus [`RecordMeta`].
pub fn view<T: ConfigSpec>(record: &Record<T>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), record.id.clone().into());
    let mut spec = record.spec.clone();
    spec.hide_secrets();
    if let Ok(Value::Object(fields)) = serde_json::to_value(&spec) {
        out.extend(fields);
    }
    out.insert("version".into(), record.version.into());
    out.insert("builtin".into(), record.builtin.into());
    out.insert("created_at".into(), record.created_at.to_rfc3339().into());
    out.insert("updated_at".into(), record.updated_at.to_rfc3339().into());
    Value::Object(out)
}

/// A list of objects.
#[derive(Serialize, ToSchema)]
pub struct Items {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Where the next page starts (pass it as `after`); absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Paging and search over a list. With none of them, the whole list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Objects per page, 1 to 1000 (100 when paging by `after` or `search` alone).
    pub limit: Option<u32>,
    /// The `next` of the page before.
    pub after: Option<String>,
    /// Only objects whose name contains this, in any case.
    pub search: Option<String>,
}

/// The most objects one page carries.
const MAX_PAGE: u32 = 1000;

/// All five operations.
pub fn routes<T: Resource>() -> Router<AppState> {
    routes_without_create::<T>().route(&format!("/{}", T::PATH), post(create::<T>))
}

/// List, read, update and delete, for kinds whose creation takes more than
/// JSON (users need a password, prompts an audio file).
pub fn routes_without_create<T: Resource>() -> Router<AppState> {
    Router::new()
        .route(&format!("/{}", T::PATH), get(list::<T>))
        .route(
            &format!("/{}/{{id}}", T::PATH),
            get(read::<T>).put(update::<T>).delete(remove::<T>),
        )
}

/// Validates a spec and resolves its references, reporting every bad field at once.
pub async fn prepare<T: Resource>(app: &AppState, spec: &mut T) -> ApiResult<Vec<Ref>> {
    let mut errors = spec.validate().err().unwrap_or_default();
    match app.store.resolve_refs(spec).await? {
        Ok(refs) if errors.is_empty() => Ok(refs),
        Ok(_) => Err(ApiError::validation(errors)),
        Err(missing) => {
            errors.extend(missing);
            Err(ApiError::validation(errors))
        }
    }
}

pub async fn find<T: Resource>(app: &AppState, id: &str) -> ApiResult<Record<T>> {
    app.store
        .get::<T>(id)
        .await?
        .ok_or_else(|| ApiError::not_found(T::KIND, id))
}

async fn list<T: Resource>(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Items>> {
    who.require_any(T::GUARDS.view)?;
    if p.limit.is_none() && p.after.is_none() && p.search.is_none() {
        let items = app.store.list::<T>().await?.iter().map(view).collect();
        return Ok(Json(Items { items, next: None }));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    for (field, value) in [("after", &p.after), ("search", &p.search)] {
        let Some(value) = value else { continue };
        if value.chars().count() > 200 {
            return Err(ApiError::bad_request(field, "at most 200 characters"));
        }
        // No name holds one, and PostgreSQL refuses a NUL in a parameter.
        if value.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                field,
                "must not contain control characters",
            ));
        }
    }
    let (records, next) = app
        .store
        .list_page::<T>(limit as usize, p.after.as_deref(), p.search.as_deref())
        .await?;
    Ok(Json(Items {
        items: records.iter().map(view).collect(),
        next,
    }))
}

async fn read<T: Resource>(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    who.require_any(T::GUARDS.view)?;
    Ok(Json(view(&find::<T>(&app, &id).await?)))
}

async fn create<T: Resource>(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(mut spec): ApiJson<T>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    who.require(T::GUARDS.create)?;
    let refs = prepare(&app, &mut spec).await?;
    T::check_write(&app, &who, None, &spec).await?;
    let record = app.store.create(spec, &refs, false, &who.actor()).await?;
    switchboard_runtime::routing::config_changed(&app, T::KIND).await;
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// The version named by an `If-Match` header, if any.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("if-match", "must be the object's version number"))
}

async fn update<T: Resource>(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(mut spec): ApiJson<T>,
) -> ApiResult<Json<Value>> {
    who.require(T::GUARDS.edit)?;
    let expected = if_match(&headers)?;
    let stored = find::<T>(&app, &id).await?;
    spec.keep_server_fields(&stored.spec);
    let refs = prepare(&app, &mut spec).await?;
    T::check_write(&app, &who, Some(&stored), &spec).await?;
    let record = app
        .store
        .update(&stored.id, spec, &refs, expected, &who.actor())
        .await?;
    switchboard_runtime::routing::config_changed(&app, T::KIND).await;
    Ok(Json(view(&record)))
}

async fn remove<T: Resource>(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    who.require(T::GUARDS.delete)?;
    let stored = find::<T>(&app, &id).await?;
    T::check_delete(&app, &who, &stored).await?;
    let deleted = app.store.delete::<T>(&stored.id, &who.actor()).await?;
    T::after_delete(&app, &deleted).await;
    switchboard_runtime::routing::config_changed(&app, T::KIND).await;
    Ok(StatusCode::NO_CONTENT)
}
