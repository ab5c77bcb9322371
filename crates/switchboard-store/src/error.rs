use thiserror::Error;

/// What can go wrong in the store, sorted by what the caller should do about it.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The change clashes with what is stored: a duplicate name, a reference
    /// to something being deleted, a stale version. `field` names the part of
    /// the request at fault.
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the database could not be reached (down, restarting, not
    /// taking connections, the pool waited in vain) rather than refusing
    /// this request: worth answering "try again shortly", and worth
    /// retrying a write for.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // PostgreSQL: connection exceptions (08), shutting down or
                // not accepting connections (57P), out of connections or
                // resources (53), a database closed to connections (55000).
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "55000"
            }),
            _ => false,
        }
    }

    pub(crate) fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Whether the database refused the change for a unique or foreign key.
    pub(crate) fn violation(err: &sqlx::Error) -> Option<sqlx::error::ErrorKind> {
        match err {
            sqlx::Error::Database(db) => match db.kind() {
                k @ (sqlx::error::ErrorKind::UniqueViolation
                | sqlx::error::ErrorKind::ForeignKeyViolation) => Some(k),
                _ => None,
            },
            _ => None,
        }
    }
}
