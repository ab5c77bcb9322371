//! API keys for machines. A key acts as the user who made it, with that
//! user's permissions, and is shown once, when made.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_model::ObjectKind;
use switchboard_store::ApiKey;
use utoipa::ToSchema;

use crate::auth::{new_token, token_hash, Principal, API_KEY_PREFIX};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use switchboard_runtime::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, e.g. `crm-sync`; unique per user.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    /// The key itself. It is not stored and cannot be shown again.
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<ApiKey>,
}

/// Lists API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "API keys",
    responses((status = 200, body = ApiKeyList), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<AppState>, who: Principal) -> ApiResult<Json<ApiKeyList>> {
    who.require("ApiKeys.Manage")?;
    Ok(Json(ApiKeyList {
        items: app.store.api_keys(None).await?,
    }))
}

/// Makes a key that acts as the caller.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "API keys",
    request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(new): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    who.require("ApiKeys.Manage")?;
    let mut errors = switchboard_model::validation::Errors::new();
    errors.name("name", &new.name);
    errors.finish().map_err(ApiError::validation)?;
    let key = new_token(API_KEY_PREFIX);
    let stored = app
        .store
        .create_api_key(&new.name, &token_hash(&key), &who.user.id)
        .await?;
    app.store
        .audit(
            &who.actor(),
            &format!("api_key_create:{}", stored.name),
            ObjectKind::User,
            &who.user.id,
            &who.user.spec.username,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            id: stored.id,
            name: stored.name,
            key,
        }),
    ))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "API keys",
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    who.require("ApiKeys.Manage")?;
    let key = app.store.api_key(&id).await?.ok_or_else(|| {
        ApiError::field(
            StatusCode::NOT_FOUND,
            "not_found",
            "id",
            format!("no API key with id '{id}'"),
        )
    })?;
    app.store.delete_api_key(&key.id).await?;
    app.store
        .audit(
            &who.actor(),
            &format!("api_key_revoke:{}", key.name),
            ObjectKind::User,
            &key.user_id,
            &key.name,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
