//! What a user sets for themselves in the pages, kept on the server so it
//! follows them: a supervisor's thresholds per queue, which colour the live
//! report when a queue needs attention.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_model::validation::Errors;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use switchboard_runtime::AppState;

/// The permission the live report needs, and so its thresholds.
const LIVE: &str = "AccessMetrics.RealTimeMetrics.Access";
/// The preference's name in the store.
const THRESHOLDS: &str = "report_thresholds";
/// More queues than any centre has; bounds the document.
const MAX_QUEUES: usize = 1000;

/// When a queue on the live report needs attention, per queue (by id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportThresholds {
    #[serde(default)]
    pub queues: BTreeMap<String, QueueThresholds>,
}

/// A queue's limits; an absent one is not watched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueThresholds {
    /// Contacts waiting at or above this many (1 to 100,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u32>,
    /// The oldest contact waiting this many seconds or more (1 to 604,800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_seconds: Option<u32>,
    /// Today's service level, answered within `service_level_seconds`
    /// (1 to 3,600), below this percentage (0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level_seconds: Option<u32>,
}

impl ReportThresholds {
    fn validate(&self) -> Result<(), Vec<switchboard_model::FieldError>> {
        let mut e = Errors::new();
        e.check(
            self.queues.len() <= MAX_QUEUES,
            "queues",
            format!("at most {MAX_QUEUES} queues"),
        );
        for (queue, t) in self.queues.iter().take(MAX_QUEUES) {
            let at = |field: &str| format!("queues.{queue}.{field}");
            e.check(
                !queue.is_empty() && queue.len() <= 100,
                format!("queues.{queue}"),
                "a queue id of 1 to 100 characters",
            );
            if let Some(n) = t.waiting {
                e.range(at("waiting"), n.into(), 1, 100_000);
            }
            if let Some(n) = t.oldest_seconds {
                e.range(at("oldest_seconds"), n.into(), 1, 604_800);
            }
            if let Some(n) = t.service_level_seconds {
                e.range(at("service_level_seconds"), n.into(), 1, 3_600);
            }
            if let Some(p) = t.service_level_percent {
                e.check(
                    (0.0..=100.0).contains(&p),
                    at("service_level_percent"),
                    "must be between 0 and 100",
                );
            }
            e.check(
                t.service_level_percent.is_some() == t.service_level_seconds.is_some(),
                at("service_level_seconds"),
                "give the service level's seconds and percentage together",
            );
        }
        e.finish()
    }
}

/// The signed-in user's queue thresholds for the live report (none set: empty).
#[utoipa::path(get, path = "/api/v1/me/report-thresholds", tag = "Reports",
    responses((status = 200, body = ReportThresholds), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn thresholds(
    State(app): State<AppState>,
    who: Principal,
) -> ApiResult<Json<ReportThresholds>> {
    who.require(LIVE)?;
    let stored = app.store.preference(&who.user.id, THRESHOLDS).await?;
    // A document this version cannot read is as good as none.
    Ok(Json(
        stored
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
    ))
}

/// Replaces the signed-in user's queue thresholds.
#[utoipa::path(put, path = "/api/v1/me/report-thresholds", tag = "Reports",
    request_body = ReportThresholds,
    responses((status = 200, body = ReportThresholds), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn set_thresholds(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(new): ApiJson<ReportThresholds>,
) -> ApiResult<Json<ReportThresholds>> {
    who.require(LIVE)?;
    new.validate().map_err(ApiError::validation)?;
    let value = serde_json::to_value(&new).map_err(ApiError::internal)?;
    app.store
        .put_preference(&who.user.id, THRESHOLDS, &value, chrono::Utc::now())
        .await?;
    Ok(Json(new))
}
