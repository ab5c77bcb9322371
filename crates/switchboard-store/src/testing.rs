//! A fresh, empty database per test on every backend: SQLite always, and
//! PostgreSQL when `SWITCHBOARD_TEST_POSTGRES_URL` names a server (an admin
//! connection URL; each test gets its own new database there). Under CI
//! (`CI` set) a missing PostgreSQL is an error, not a skip, so the
//! PostgreSQL path can never silently stop being tested.

use crate::Store;

/// Keeps a test database alive: the SQLite file lives as long as this does.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL admin URL, if this run tests PostgreSQL.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but SWITCHBOARD_TEST_POSTGRES_URL is not: PostgreSQL must be tested")
        }
        _ => {
            eprintln!("note: SWITCHBOARD_TEST_POSTGRES_URL unset; testing SQLite only");
            None
        }
    }
}

/// A URL for a new empty SQLite database in its own temporary folder.
pub fn sqlite_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    (url, dir)
}

/// Creates a new database on the PostgreSQL server and returns its URL.
pub async fn postgres_url(admin_url: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("connect to the PostgreSQL test server");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    format!("{base}/{name}{query}")
}

/// A fresh store on each backend this run tests, labelled for assertions.
pub async fn stores() -> Vec<(&'static str, TestDb)> {
    let (url, dir) = sqlite_url();
    let mut out = vec![(
        "sqlite",
        TestDb {
            store: Store::connect(&url).await.expect("open SQLite"),
            url,
            _dir: Some(dir),
        },
    )];
    if let Some(admin) = postgres_admin_url() {
        let url = postgres_url(&admin).await;
        out.push((
            "postgres",
            TestDb {
                store: Store::connect(&url).await.expect("open PostgreSQL"),
                url,
                _dir: None,
            },
        ));
    }
    out
}

/// Closes (or reopens) a test database to connections, as a PostgreSQL
/// outage looks to its clients: live sessions cut, new ones refused.
pub async fn set_postgres_reachable(admin_url: &str, database_url: &str, reachable: bool) {
    use sqlx::Connection;
    let name = database_url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .expect("a database name in the URL");
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect as the PostgreSQL admin");
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {reachable}"
    ))
    .execute(&mut admin)
    .await
    .expect("change whether the database takes connections");
    if !reachable {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut admin)
            .await
            .expect("cut the database's sessions");
    }
}
