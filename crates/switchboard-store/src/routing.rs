//! The router's event log.

use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Appends one routing event (JSON) that happened at `at` (Unix ms).
    pub async fn append_routing_event(&self, at: i64, event: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO routing_events (at, event) VALUES ($1, $2)")
            .bind(at)
            .bind(event)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every routing event, oldest first, as (Unix ms, JSON).
    pub async fn routing_events(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT at, event FROM routing_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("event")?)))
            .collect()
    }
}
