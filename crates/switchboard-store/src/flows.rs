//! Published flow versions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use switchboard_model::ObjectKind;

use crate::audit::{insert_audit, Actor};
use crate::{from_ms, now_ms, Store, StoreError};

/// One published version of a flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowVersion {
    pub flow_id: String,
    pub version: i64,
    pub flow_type: String,
    pub content: Value,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
}

fn decode(row: &sqlx::any::AnyRow) -> Result<FlowVersion, StoreError> {
    let content: String = row.try_get("content")?;
    Ok(FlowVersion {
        flow_id: row.try_get("flow_id")?,
        version: row.try_get("version")?,
        flow_type: row.try_get("flow_type")?,
        content: serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        published_at: from_ms(row.try_get("published_at")?),
        published_by: row.try_get("published_by")?,
    })
}

const COLUMNS: &str = "flow_id, version, flow_type, content, published_at, published_by";

impl Store {
    /// Publishes `content` (already validated) as the flow's next version.
    pub async fn publish_flow(
        &self,
        flow_id: &str,
        flow_name: &str,
        flow_type: &str,
        content: &Value,
        actor: &Actor,
    ) -> Result<FlowVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        // Lock the flow's row so two publishes get two numbers.
        sqlx::query(&format!(
            "SELECT id FROM objects WHERE id = $1{}",
            self.row_lock()
        ))
        .bind(flow_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM flow_versions WHERE flow_id = $1",
        )
        .bind(flow_id)
        .fetch_one(&mut *tx)
        .await?;
        let version: i64 = row.try_get::<i64, _>("v")? + 1;
        let v = FlowVersion {
            flow_id: flow_id.to_string(),
            version,
            flow_type: flow_type.to_string(),
            content: content.clone(),
            published_at: from_ms(now_ms()),
            published_by: actor.name.clone(),
        };
        sqlx::query(&format!(
            "INSERT INTO flow_versions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&v.flow_id)
        .bind(v.version)
        .bind(&v.flow_type)
        .bind(content.to_string())
        .bind(v.published_at.timestamp_millis())
        .bind(&v.published_by)
        .execute(&mut *tx)
        .await?;
        let summary = serde_json::json!({"version": version, "type": flow_type});
        insert_audit(
            &mut tx,
            actor,
            "publish",
            ObjectKind::Flow.as_str(),
            flow_id,
            flow_name,
            None,
            Some(&summary),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Every published version of a flow, newest first.
    pub async fn flow_versions(&self, flow_id: &str) -> Result<Vec<FlowVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM flow_versions WHERE flow_id = $1 ORDER BY version DESC"
        ))
        .bind(flow_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// One version, or the newest (`None`): what serves traffic.
    pub async fn flow_version(
        &self,
        flow_id: &str,
        version: Option<i64>,
    ) -> Result<Option<FlowVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM flow_versions WHERE flow_id = $1 AND ($2 IS NULL OR version = $2) \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(flow_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode).transpose()
    }
}
