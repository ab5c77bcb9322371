//! Desk phones' registrations (RFC 3261 section 10 bindings), kept so a
//! restart does not forget where agents' phones are: phones refresh only
//! every few minutes to an hour, and until then their agents would be
//! offered calls nobody can ring.

use sqlx::Row;

use crate::{from_ms, Store, StoreError};

/// Where a user's desk phone registered, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Lower case.
    pub username: String,
    /// The phone's Contact URI, as it sent it.
    pub contact: String,
    /// Where its REGISTER came from (`ip:port`).
    pub source: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Keeps (or replaces) a user's registration.
    pub async fn put_registration(&self, r: &Registration) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO registrations (username, contact, source, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO UPDATE SET contact = excluded.contact,
               source = excluded.source, expires_at = excluded.expires_at",
        )
        .bind(&r.username)
        .bind(&r.contact)
        .bind(&r.source)
        .bind(r.expires_at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a user's registration (the phone unregistered).
    pub async fn delete_registration(&self, username: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM registrations WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every registration not expired at `now`; expired ones are deleted.
    pub async fn live_registrations(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Registration>, StoreError> {
        let now = now.timestamp_millis();
        sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT username, contact, source, expires_at FROM registrations ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Registration {
                    username: row.try_get("username")?,
                    contact: row.try_get("contact")?,
                    source: row.try_get("source")?,
                    expires_at: from_ms(row.try_get("expires_at")?),
                })
            })
            .collect()
    }
}
