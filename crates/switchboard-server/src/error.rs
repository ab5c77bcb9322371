//! The one error shape every API failure takes.
//!
//! ```json
//! {"status": 400, "code": "validation_failed",
//!  "message": "queue_configs[0].priority: must be between 1 and 99, got 0",
//!  "errors": [{"field": "queue_configs[0].priority", "reason": "must be between 1 and 99, got 0"}]}
//! ```
//! A 403 also carries `missing_permission`. Server faults (500) say only that
//! something went wrong; the detail goes to the log, not to the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use switchboard_model::{FieldError, ObjectKind};
use switchboard_store::StoreError;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// The HTTP status, repeated for clients that only see the body.
    pub status: u16,
    /// Stable machine-readable code: `validation_failed`, `unauthenticated`,
    /// `forbidden`, `not_found`, `conflict`, `payload_too_large`, ...
    pub code: &'static str,
    /// The first problem, in words.
    pub message: String,
    /// Every problem, field by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For 403: the permission the caller lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_permission: Option<String>,
    /// For 503 (and 429): seconds to wait, sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, errors: Vec<FieldError>) -> Self {
        let message = errors
            .first()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        Self {
            status: status.as_u16(),
            code,
            message,
            errors,
            missing_permission: None,
            retry_after_seconds: None,
        }
    }

    pub fn field(
        status: StatusCode,
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(status, code, vec![FieldError::new(field, reason)])
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", errors)
    }

    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::field(StatusCode::BAD_REQUEST, "validation_failed", field, reason)
    }

    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        Self::field(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "authorization",
            reason,
        )
    }

    pub fn forbidden(permission: &str) -> Self {
        let mut e = Self::field(
            StatusCode::FORBIDDEN,
            "forbidden",
            "permission",
            format!("requires the {permission} permission"),
        );
        e.missing_permission = Some(permission.to_string());
        e
    }

    /// Refused for a reason other than a missing permission (e.g. granting
    /// more than one holds).
    pub fn forbidden_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::field(StatusCode::FORBIDDEN, "forbidden", field, reason)
    }

    pub fn not_found(kind: ObjectKind, id: &str) -> Self {
        Self::field(
            StatusCode::NOT_FOUND,
            "not_found",
            "id",
            format!("no {} with id or name '{id}'", kind.label()),
        )
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::field(StatusCode::CONFLICT, "conflict", field, reason)
    }

    pub fn too_large(field: impl Into<String>, limit: usize) -> Self {
        Self::field(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            field,
            format!("is larger than the limit of {limit} bytes"),
        )
    }

    /// Too busy to do this now (a bounded queue is full): 503 with
    /// `Retry-After`, so clients back off instead of piling on.
    pub fn busy(field: impl Into<String>, reason: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::field(StatusCode::SERVICE_UNAVAILABLE, "busy", field, reason);
        e.retry_after_seconds = Some(retry_after);
        e
    }

    /// Too many failed attempts from here: 429 with `Retry-After`.
    pub fn throttled(field: impl Into<String>, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = Self::field(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            field,
            format!("too many failed attempts; try again in {seconds} seconds"),
        );
        e.retry_after_seconds = Some(seconds);
        e
    }

    /// A fault of ours: logged in full, reported without detail.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "request failed");
        Self::field(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "server",
            "something went wrong on the server; the log has the detail",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { field, reason } => ApiError::conflict(field, reason),
            StoreError::NotFound => {
                ApiError::field(StatusCode::NOT_FOUND, "not_found", "id", "no such object")
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::busy(
                    "database",
                    "the database does not answer; try again shortly",
                    5,
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_seconds;
        let mut response = (status, Json(self)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
