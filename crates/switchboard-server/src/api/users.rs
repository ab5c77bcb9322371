//! Users: creation with a password, and password changes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use switchboard_model::objects::user::check_password;
use switchboard_model::{ConfigSpec, FieldError, ObjectKind, User};
use utoipa::ToSchema;

use super::crud::{find, prepare, view};
use super::resource::Resource;
use crate::auth::{guarded_check, hash_password, verify_password, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{from_value, ApiJson, ApiPath, ClientAddr};
use switchboard_runtime::throttle::Attempt;
use switchboard_runtime::AppState;

/// Creates a user. The body is a user object with an extra `password` field.
#[utoipa::path(post, path = "/api/v1/users", tag = "Users",
    request_body(content = Object, description = "A User object plus `password`"),
    responses((status = 201, description = "Created"), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(mut body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    who.require(User::GUARDS.create)?;
    let password = match body.as_object_mut().and_then(|o| o.remove("password")) {
        Some(Value::String(p)) => p,
        Some(_) => return Err(ApiError::bad_request("password", "must be a string")),
        None => {
            return Err(ApiError::bad_request(
                "password",
                "missing field `password`",
            ))
        }
    };
    let mut user: User = from_value(body)?;
    // Report a weak password beside any other problems in one answer.
    let refs = match (prepare(&app, &mut user).await, check_password(&password)) {
        (Ok(refs), Ok(())) => refs,
        (Err(e), _) if e.status != 400 => return Err(e),
        (prepared, password_ok) => {
            let mut errors = prepared.err().map(|e| e.errors).unwrap_or_default();
            if let Err(reason) = password_ok {
                errors.push(FieldError::new("password", reason));
            }
            return Err(ApiError::validation(errors));
        }
    };
    User::check_write(&app, &who, None, &user).await?;
    let hash = hash_password(password).await?;
    let record = app
        .store
        .create_user(user, &refs, &hash, &who.actor())
        .await?;
    switchboard_runtime::routing::config_changed(&app, ObjectKind::User).await;
    Ok((StatusCode::CREATED, Json(view(&record))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Required when changing your own password.
    #[serde(default)]
    pub current_password: Option<String>,
    pub new_password: String,
}

/// Sets a user's password and signs them out everywhere. Your own password
/// needs the current one; anyone else's needs `Users.EditPermission`.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "Users",
    params(("id" = String, Path, description = "User id or username")),
    request_body = PasswordChange,
    responses((status = 204, description = "Changed"), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 429, body = ApiError, description = "Too many wrong current passwords from this address")),
    security(("bearer" = [])))]
pub async fn change_password(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let target = find::<User>(&app, &id).await?;
    if target.id == who.user.id {
        let current = change.current_password.ok_or_else(|| {
            ApiError::bad_request("current_password", "is needed to change your own password")
        })?;
        let (_, hash) = app
            .store
            .password_hash(&target.spec.username)
            .await?
            .ok_or_else(|| ApiError::internal("user without credentials"))?;
        let attempt = Attempt {
            username: &target.spec.username,
            address: &client,
        };
        let check = verify_password(current, Some(hash));
        if !guarded_check(&app, attempt, "current_password", check).await? {
            return Err(ApiError::bad_request("current_password", "is wrong"));
        }
    } else {
        who.require("Users.EditPermission")?;
    }
    check_password(&change.new_password).map_err(|r| ApiError::bad_request("new_password", r))?;
    let hash = hash_password(change.new_password).await?;
    app.store.set_password(&target.id, &hash).await?;
    app.store
        .audit(
            &who.actor(),
            "password_change",
            ObjectKind::User,
            &target.id,
            target.spec.name(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
