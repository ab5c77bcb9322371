//! Credentials, sessions and API keys. Only hashes are stored: a password as
//! its argon2 hash, a session token or API key as its SHA-256 (the shell does
//! the hashing; the store never sees a secret).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{from_ms, now_ms, Store, StoreError};

/// A signed-in user's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

/// A machine's key, as listed (never with the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub(crate) async fn upsert_password(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_credentials (user_id, password_hash, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
         updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

fn api_key(row: &sqlx::any::AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        user_id: row.try_get("user_id")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
    })
}

impl Store {
    /// The user id and password hash for a username, if the user exists.
    pub async fn password_hash(
        &self,
        username: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT o.id, c.password_hash FROM objects o JOIN user_credentials c ON c.user_id = o.id \
             WHERE o.kind = 'user' AND o.name_key = $1",
        )
        .bind(username.to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("id")?, r.try_get("password_hash")?)),
            None => None,
        })
    }

    /// Sets a user's password and ends all their sessions, so a changed
    /// password locks out whoever knew the old one.
    pub async fn set_password(&self, user_id: &str, hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        upsert_password(&mut tx, user_id, hash).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        // Expired sessions are swept here, on sign-in, rather than by a timer.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session with this token hash.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(Session {
                user_id: r.try_get("user_id")?,
                expires_at: from_ms(r.try_get("expires_at")?),
            }),
            None => None,
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        user_id: &str,
    ) -> Result<ApiKey, StoreError> {
        let key = ApiKey {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            user_id: user_id.to_string(),
            created_at: from_ms(now_ms()),
            last_used_at: None,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.id)
        .bind(name)
        .bind(key_hash)
        .bind(user_id)
        .bind(key.created_at.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| match StoreError::violation(&e) {
            Some(_) => StoreError::conflict("name", format!("you already have an API key named '{name}'")),
            None => StoreError::Database(e),
        })?;
        Ok(key)
    }

    /// The key with this hash, marking it used now.
    pub async fn use_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, user_id, created_at, last_used_at FROM api_keys WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let key = api_key(&row)?;
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&key.id)
            .execute(&self.pool)
            .await?;
        Ok(Some(key))
    }

    /// API keys, of one user or of everyone.
    pub async fn api_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, user_id, created_at, last_used_at FROM api_keys \
             WHERE ($1 IS NULL OR user_id = $1) ORDER BY created_at, id",
        )
        .bind(user_id.map(str::to_string))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key).collect()
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, user_id, created_at, last_used_at FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key).transpose()
    }

    pub async fn delete_api_key(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
