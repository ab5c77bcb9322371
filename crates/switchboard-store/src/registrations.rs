//! Desk phones' registrations (RFC 3261 section 10 bindings), kept so a
//! restart does not forget where agents' phones are: phones refresh only
//! every few minutes to an hour, and until then their agents would be
//! offered calls nobody can ring.

use sqlx::Row;

use crate::{from_ms, Store, StoreError};

/// Where one of a user's devices registered, over what, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Lower case.
    pub username: String,
    /// What identifies the device among the user's (its `+sip.instance`,
    /// else its Contact).
    pub device: String,
    /// The phone's Contact URI, as it sent it.
    pub contact: String,
    /// Where its REGISTER came from (`ip:port`).
    pub source: String,
    /// What it came over: `UDP`, `TCP` or `TLS`.
    pub transport: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Keeps (or replaces) one device's registration.
    pub async fn put_registration(&self, r: &Registration) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO device_registrations (username, device, contact, source, transport, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (username, device) DO UPDATE SET contact = excluded.contact,
               source = excluded.source, transport = excluded.transport,
               expires_at = excluded.expires_at",
        )
        .bind(&r.username)
        .bind(&r.device)
        .bind(&r.contact)
        .bind(&r.source)
        .bind(&r.transport)
        .bind(r.expires_at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets one device's registration (it unregistered).
    pub async fn delete_registration(
        &self,
        username: &str,
        device: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM device_registrations WHERE username = $1 AND device = $2")
            .bind(username)
            .bind(device)
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
        sqlx::query("DELETE FROM device_registrations WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT username, device, contact, source, transport, expires_at
             FROM device_registrations ORDER BY username, expires_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Registration {
                    username: row.try_get("username")?,
                    device: row.try_get("device")?,
                    contact: row.try_get("contact")?,
                    source: row.try_get("source")?,
                    transport: row.try_get("transport")?,
                    expires_at: from_ms(row.try_get("expires_at")?),
                })
            })
            .collect()
    }
}
