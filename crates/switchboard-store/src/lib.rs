//! # switchboard-store
//!
//! Persistence behind one interface with two real backends: SQLite (the
//! embedded default, one file under the data directory) and PostgreSQL (for
//! production and several nodes). Both go through sqlx's `Any` driver with the
//! same queries; only the migrations differ where the SQL dialects do.
//!
//! - [`Store`] keeps configuration objects, credentials, sessions, API keys
//!   and the audit log. Every change to an object writes its audit row in the
//!   same transaction, so the log cannot miss a change.
//! - [`Blobs`] keeps large binary objects (prompts now, recordings and
//!   transcripts later) in object storage: a local folder by default.

mod audit;
mod auth;
mod blobs;
mod contacts;
mod error;
mod flows;
mod objects;
mod pool;
mod preferences;
mod registrations;
mod routing;

pub use audit::{Actor, AuditEntry, AuditQuery, Deleted};
pub use auth::{ApiKey, Session};
pub use blobs::{Blobs, BlobsError, S3Config};
pub use contacts::{ContactCursor, ContactPage, ContactQuery, ContactTime};
pub use error::StoreError;
pub use flows::FlowVersion;
pub use objects::{Record, Ref, Referrer};
pub use pool::{Backend, Store};
pub use registrations::Registration;

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(feature = "testing")]
pub mod testing;
