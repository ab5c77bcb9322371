//! Contact records: one row per contact, rewritten at each state change.

use sqlx::Row;
use switchboard_model::ContactRecord;

use crate::{Store, StoreError};

/// Filters for listing contact records (all optional, newest first).
#[derive(Debug, Clone, Default)]
pub struct ContactQuery {
    /// Unix ms, inclusive.
    pub initiated_from: Option<i64>,
    /// Unix ms, exclusive.
    pub initiated_to: Option<i64>,
    pub agent_id: Option<String>,
    pub queue_id: Option<String>,
    pub limit: i64,
}

impl Store {
    /// Writes the record as it stands now (insert or replace).
    pub async fn put_contact(&self, record: &ContactRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO contacts (id, channel, state, initiated_at, disconnected_at, queue_id, agent_id, customer_address, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, disconnected_at = excluded.disconnected_at,
               queue_id = excluded.queue_id, agent_id = excluded.agent_id, record = excluded.record",
        )
        .bind(&record.id)
        .bind(&record.channel)
        .bind(&record.state)
        .bind(record.initiation_timestamp.timestamp_millis())
        .bind(record.disconnect_timestamp.map(|t| t.timestamp_millis()))
        .bind(record.queue.as_ref().map(|q| q.id.clone()))
        .bind(record.agent.as_ref().map(|a| a.id.clone()))
        .bind(&record.customer_endpoint.address)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_contact(&self, id: &str) -> Result<Option<ContactRecord>, StoreError> {
        let row = sqlx::query("SELECT record FROM contacts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(&r.try_get::<String, _>("record")?))
            .transpose()
    }

    /// Every contact initiated in `[from, to)` (Unix ms), oldest first: what
    /// reports read.
    pub async fn contacts_initiated_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT record FROM contacts WHERE initiated_at >= $1 AND initiated_at < $2 ORDER BY initiated_at, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| decode(&r.try_get::<String, _>("record")?))
            .collect()
    }

    pub async fn list_contacts(&self, q: &ContactQuery) -> Result<Vec<ContactRecord>, StoreError> {
        // Only the filters given become conditions, so every parameter has a
        // type PostgreSQL can infer.
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if q.initiated_from.is_some() {
            conditions.push(format!("initiated_at >= ${}", next()));
        }
        if q.initiated_to.is_some() {
            conditions.push(format!("initiated_at < ${}", next()));
        }
        if q.agent_id.is_some() {
            conditions.push(format!("agent_id = ${}", next()));
        }
        if q.queue_id.is_some() {
            conditions.push(format!("queue_id = ${}", next()));
        }
        let limit = next();
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT record FROM contacts {filter} ORDER BY initiated_at DESC, id LIMIT ${limit}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(v) = q.initiated_from {
            query = query.bind(v);
        }
        if let Some(v) = q.initiated_to {
            query = query.bind(v);
        }
        if let Some(v) = &q.agent_id {
            query = query.bind(v.clone());
        }
        if let Some(v) = &q.queue_id {
            query = query.bind(v.clone());
        }
        let rows = query
            .bind(q.limit.clamp(1, 1000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| decode(&r.try_get::<String, _>("record")?))
            .collect()
    }
}

fn decode(json: &str) -> Result<ContactRecord, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("contact record: {e}")))
}
