//! Each user's own settings from the pages (a supervisor's thresholds on
//! the live report), one JSON document per user and name, so they follow
//! the user to any browser.

use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// The user's document called `name`, if they saved one.
    pub async fn preference(
        &self,
        user_id: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let row =
            sqlx::query("SELECT value FROM user_preferences WHERE user_id = $1 AND name = $2")
                .bind(user_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("value")?;
        Ok(serde_json::from_str(&text).ok())
    }

    /// Keeps (or replaces) the user's document called `name`.
    pub async fn put_preference(
        &self,
        user_id: &str,
        name: &str,
        value: &serde_json::Value,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_preferences (user_id, name, value, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value,
               updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(name)
        .bind(value.to_string())
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
