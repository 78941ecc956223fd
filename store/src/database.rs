//! Connecting to the configured backend and running its migrations.

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, Executor, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Failures of the store itself (not of a command).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (expected postgres:// or sqlite://)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored event is unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

/// The connection pools for one store. The typed pool serves the event repository and the
/// feed (postgres-es / sqlite-es need it); the `Any` pool serves projections and queries,
/// whose SQL is written once for both backends.
#[derive(Clone, Debug)]
pub struct Database {
    pub backend: Backend,
    pub(crate) pg: Option<PgPool>,
    pub(crate) sqlite: Option<SqlitePool>,
    pub any: AnyPool,
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl Database {
    /// Connects to `postgres://…` or `sqlite://…` (the SQLite file is created when missing).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pg = PgPoolOptions::new().max_connections(16).connect(url).await?;
            let any = AnyPoolOptions::new().max_connections(16).connect(url).await?;
            Ok(Self {
                backend: Backend::Postgres,
                pg: Some(pg),
                sqlite: None,
                any,
            })
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(BUSY_TIMEOUT);
            let sqlite = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            // The Any driver cannot take typed options, so the same pragmas are set per connection.
            let any = AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("pragma busy_timeout = 30000").await?;
                        conn.execute("pragma synchronous = normal").await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            Ok(Self {
                backend: Backend::Sqlite,
                pg: None,
                sqlite: Some(sqlite),
                any,
            })
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Applies the backend's migrations from `schemas/sql/<backend>`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match (&self.pg, &self.sqlite) {
            (Some(pg), _) => sqlx::migrate!("../schemas/sql/postgres").run(pg).await?,
            (_, Some(sqlite)) => sqlx::migrate!("../schemas/sql/sqlite").run(sqlite).await?,
            _ => unreachable!("a database always has one typed pool"),
        }
        Ok(())
    }

    /// The repository cqrs-es commits through.
    pub fn event_repo(&self) -> crate::EventRepo {
        crate::EventRepo::new(self.clone())
    }

    /// Closes every pool (used on shutdown and by tests that drop their database).
    pub async fn close(&self) {
        self.any.close().await;
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
        if let Some(sqlite) = &self.sqlite {
            sqlite.close().await;
        }
    }
}
