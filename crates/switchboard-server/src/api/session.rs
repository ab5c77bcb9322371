//! Signing in and out, and who am I.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_model::{ObjectKind, User};
use switchboard_store::Actor;
use utoipa::ToSchema;

use super::crud::view;
use crate::auth::{
    guarded_check, new_token, token_hash, verify_password, Principal, Via, SESSION_PREFIX,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddr};
use switchboard_runtime::throttle::Attempt;
use switchboard_runtime::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResult {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub user: Value,
    /// The permissions this user holds.
    pub permissions: Vec<String>,
}

/// Signs in with a username and password and returns a session token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "Authentication",
    request_body = Login,
    responses((status = 200, body = LoginResult), (status = 401, body = ApiError), (status = 429, body = ApiError, description = "Too many failed sign-ins for this username from this address, or from this address; `Retry-After` says when to try again"), (status = 503, body = ApiError, description = "Too many sign-ins are being checked at once; `Retry-After` says when to try again")))]
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(login): ApiJson<Login>,
) -> ApiResult<Json<LoginResult>> {
    let attempt = Attempt {
        username: &login.username,
        address: &client,
    };
    let found = app.store.password_hash(&login.username).await?;
    let (user_id, hash) = match found {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let ok = guarded_check(
        &app,
        attempt,
        "username",
        verify_password(login.password, hash),
    )
    .await?;
    let Some(user_id) = user_id.filter(|_| ok) else {
        return Err(ApiError::unauthenticated(
            "the username or password is wrong",
        ));
    };
    let user = app
        .store
        .get::<User>(&user_id)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("the username or password is wrong"))?;
    let token = new_token(SESSION_PREFIX);
    let expires_at = Utc::now() + app.settings.session_ttl;
    app.store
        .create_session(&token_hash(&token), &user.id, expires_at)
        .await?;
    let actor = Actor {
        user_id: Some(user.id.clone()),
        name: user.spec.username.clone(),
        via: "session".into(),
    };
    app.store
        .audit(
            &actor,
            "sign_in",
            ObjectKind::User,
            &user.id,
            &user.spec.username,
        )
        .await?;
    let profiles = crate::auth::load_profiles(&app, &user.spec).await?;
    Ok(Json(LoginResult {
        token,
        expires_at,
        permissions: crate::auth::permissions_of(&profiles)
            .iter()
            .map(String::from)
            .collect(),
        user: view(&user),
    }))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "Authentication",
    responses((status = 204, description = "Signed out"), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn logout(State(app): State<AppState>, who: Principal) -> ApiResult<StatusCode> {
    match &who.via {
        Via::Session { token_hash } => {
            app.store.delete_session(token_hash).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Via::ApiKey { .. } => Err(ApiError::bad_request(
            "authorization",
            "an API key has no session; revoke the key instead",
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    #[schema(value_type = Object)]
    pub user: Value,
    pub permissions: Vec<String>,
    /// `session` or `api_key:<name>`.
    pub via: String,
}

/// The signed-in user and their permissions. Needs no permission.
#[utoipa::path(get, path = "/api/v1/me", tag = "Authentication",
    responses((status = 200, body = Me), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn me(who: Principal) -> Json<Me> {
    Json(Me {
        user: view(&who.user),
        permissions: who.permissions.iter().map(String::from).collect(),
        via: who.actor().via,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Instance {
    /// What the instance is called (the `instance_name` setting).
    pub name: String,
    /// Switchboard's version.
    pub version: String,
}

/// The instance's name and version, for the pages to show before sign-in.
/// Needs no sign-in.
#[utoipa::path(get, path = "/api/v1/instance", tag = "Authentication",
    responses((status = 200, body = Instance)))]
pub async fn instance(State(app): State<AppState>) -> Json<Instance> {
    Json(Instance {
        name: app.settings.instance_name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
