use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};

use crate::StoreError;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database. Cheap to clone: it is a connection pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

/// Migrations per dialect, embedded in the binary. They are listed by hand
/// rather than with `sqlx::migrate!` to avoid sqlx's proc-macro crate and its
/// second build of sqlx for the host.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "flow versions",
        include_str!("../migrations/sqlite/0002_flow_versions.sql"),
    ),
    (
        3,
        "routing events",
        include_str!("../migrations/sqlite/0003_routing_events.sql"),
    ),
    (
        4,
        "agent states",
        include_str!("../migrations/sqlite/0004_agent_states.sql"),
    ),
    (
        5,
        "contacts",
        include_str!("../migrations/sqlite/0005_contacts.sql"),
    ),
    (
        6,
        "contact search",
        include_str!("../migrations/sqlite/0006_contact_search.sql"),
    ),
    (
        7,
        "contact times",
        include_str!("../migrations/sqlite/0007_contact_times.sql"),
    ),
    (
        8,
        "audit by kind",
        include_str!("../migrations/sqlite/0008_audit_by_kind.sql"),
    ),
    (
        9,
        "agent state profile",
        include_str!("../migrations/sqlite/0009_agent_state_profile.sql"),
    ),
    (
        10,
        "restart recovery",
        include_str!("../migrations/sqlite/0010_restart_recovery.sql"),
    ),
    (
        11,
        "device registrations",
        include_str!("../migrations/sqlite/0011_device_registrations.sql"),
    ),
    (
        12,
        "user preferences",
        include_str!("../migrations/sqlite/0012_user_preferences.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "flow versions",
        include_str!("../migrations/postgres/0002_flow_versions.sql"),
    ),
    (
        3,
        "routing events",
        include_str!("../migrations/postgres/0003_routing_events.sql"),
    ),
    (
        4,
        "agent states",
        include_str!("../migrations/postgres/0004_agent_states.sql"),
    ),
    (
        5,
        "contacts",
        include_str!("../migrations/postgres/0005_contacts.sql"),
    ),
    (
        6,
        "contact search",
        include_str!("../migrations/postgres/0006_contact_search.sql"),
    ),
    (
        7,
        "contact times",
        include_str!("../migrations/postgres/0007_contact_times.sql"),
    ),
    (
        8,
        "audit by kind",
        include_str!("../migrations/postgres/0008_audit_by_kind.sql"),
    ),
    (
        9,
        "agent state profile",
        include_str!("../migrations/postgres/0009_agent_state_profile.sql"),
    ),
    (
        10,
        "restart recovery",
        include_str!("../migrations/postgres/0010_restart_recovery.sql"),
    ),
    (
        11,
        "device registrations",
        include_str!("../migrations/postgres/0011_device_registrations.sql"),
    ),
    (
        12,
        "user preferences",
        include_str!("../migrations/postgres/0012_user_preferences.sql"),
    ),
];

fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            list.iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and
    /// brings the schema up to date. Several nodes may start at once against
    /// one PostgreSQL: sqlx takes an advisory lock while migrating.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!("unsupported database URL '{url}': use sqlite:// or postgres://").into(),
            )));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time is all SQLite allows; a few readers help.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // Long enough for a busy moment, short enough that an outage is
            // answered (503, try again) before clients give up.
            .acquire_timeout(Duration::from_secs(5));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; busy_timeout makes a
                    // second writer wait instead of failing; foreign keys are off
                    // in SQLite unless asked for.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        let migrations = match backend {
            Backend::Sqlite => migrator(SQLITE_MIGRATIONS),
            Backend::Postgres => migrator(POSTGRES_MIGRATIONS),
        };
        migrations.run(&pool).await?;
        let store = Self { pool, backend };
        store.reindex_old_contacts().await?;
        Ok(store)
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`): a transaction that reads first and upgrades
    /// later can fail with SQLITE_BUSY when another writer got in between,
    /// whatever the busy timeout.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// What to append to a SELECT that reads a row about to be changed.
    /// SQLite has no row locks and needs none: `BEGIN IMMEDIATE` already
    /// holds the database's one write lock.
    pub(crate) fn row_lock(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers: what `/readyz` reports.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
