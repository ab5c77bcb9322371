//! The audit log: who changed what, when, and what it looked like before and after.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use switchboard_model::ObjectKind;

use crate::{from_ms, now_ms, Store, StoreError};

/// Who is making a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user, when a person or their API key acts; `None` for Switchboard itself.
    pub user_id: Option<String>,
    pub name: String,
    /// How they came: `session`, `api_key:<name>`, or `system`.
    pub via: String,
}

impl Actor {
    /// Switchboard itself, for what it creates on first start.
    pub fn system() -> Self {
        Self {
            user_id: None,
            name: "switchboard".into(),
            via: "system".into(),
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub via: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub object_name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A filter over the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub object_id: Option<String>,
    pub object_kind: Option<String>,
    pub actor_id: Option<String>,
    /// Only entries older than this sequence number (for paging).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_audit(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    kind: &str,
    object_id: &str,
    object_name: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor_name, via, action, object_kind, object_id, \
         object_name, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(now_ms())
    .bind(actor.user_id.clone())
    .bind(&actor.name)
    .bind(&actor.via)
    .bind(action)
    .bind(kind)
    .bind(object_id)
    .bind(object_name)
    .bind(before.map(Value::to_string))
    .bind(after.map(Value::to_string))
    .execute(conn)
    .await?;
    Ok(())
}

/// An object as it was when deleted, from the audit log.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub id: String,
    /// From its `create` entry; `None` if it came before the log did.
    pub created_at: Option<DateTime<Utc>>,
    pub deleted_at: DateTime<Utc>,
    /// Its spec (secrets hidden).
    pub spec: Value,
}

fn parse_json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

impl Store {
    /// Records an action that is not an object change (a sign-in, a password
    /// reset, an API key issued) on the object it concerns.
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        kind: ObjectKind,
        object_id: &str,
        object_name: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(
            &mut conn,
            actor,
            action,
            kind.as_str(),
            object_id,
            object_name,
            None,
            None,
        )
        .await
    }

    /// Records an action on a contact (a recording or transcript read).
    pub async fn audit_contact(
        &self,
        actor: &Actor,
        action: &str,
        contact_id: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(
            &mut conn, actor, action, "contact", contact_id, contact_id, None, None,
        )
        .await
    }

    pub async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        // Absent filters are bound as NULL and match everything, so one
        // statement serves every combination.
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, actor_name, via, action, object_kind, object_id, object_name, \
             before_json, after_json FROM audit_log \
             WHERE ($1 IS NULL OR object_id = $1) AND ($2 IS NULL OR object_kind = $2) \
             AND ($3 IS NULL OR actor_id = $3) AND ($4 IS NULL OR seq < $4) \
             ORDER BY seq DESC LIMIT $5",
        )
        .bind(q.object_id.clone())
        .bind(q.object_kind.clone())
        .bind(q.actor_id.clone())
        .bind(q.before_seq)
        .bind(q.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.try_get("seq")?,
                    at: from_ms(row.try_get("at")?),
                    actor_id: row.try_get("actor_id")?,
                    actor_name: row.try_get("actor_name")?,
                    via: row.try_get("via")?,
                    action: row.try_get("action")?,
                    object_kind: row.try_get("object_kind")?,
                    object_id: row.try_get("object_id")?,
                    object_name: row.try_get("object_name")?,
                    before: parse_json(row.try_get("before_json")?),
                    after: parse_json(row.try_get("after_json")?),
                })
            })
            .collect()
    }

    /// Objects of `kind` deleted at or after `since`, oldest first. The
    /// usage report bills a released phone number's days from these.
    pub async fn deleted_since(
        &self,
        kind: ObjectKind,
        since: DateTime<Utc>,
    ) -> Result<Vec<Deleted>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.object_id, d.at, d.before_json, \
             (SELECT MIN(c.at) FROM audit_log c WHERE c.object_id = d.object_id \
              AND c.action = 'create') AS created_at \
             FROM audit_log d \
             WHERE d.object_kind = $1 AND d.action = 'delete' AND d.at >= $2 ORDER BY d.at",
        )
        .bind(kind.as_str())
        .bind(since.timestamp_millis())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(spec) = parse_json(row.try_get("before_json")?) else {
                continue;
            };
            let created: Option<i64> = row.try_get("created_at")?;
            out.push(Deleted {
                id: row.try_get("object_id")?,
                created_at: created.map(from_ms),
                deleted_at: from_ms(row.try_get("at")?),
                spec,
            });
        }
        Ok(out)
    }
}
