//! Connecting to the configured backend and running its migrations.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};
use std::path::PathBuf;
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
    /// The URL does not parse; the URL itself is left out, since it may hold a password.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot connect to PostgreSQL at {address}: {reason}")]
    PostgresUnreachable { address: String, reason: String },
    #[error(
        "PostgreSQL at {address} has no database \"{database}\": create it first (e.g. `createdb -h HOST -p PORT -U USER {database}`), or point KEYLEDGER_DATABASE_URL at one that exists"
    )]
    PostgresDatabaseMissing { address: String, database: String },
    #[error("cannot open the SQLite database {path}: {reason}")]
    SqliteOpen { path: PathBuf, reason: String },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored event is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store holds an unreadable value: {0}")]
    Corrupt(String),
    #[error("cannot take the lock file {0}")]
    Lock(String),
}

/// The one pool a process opens on its store, typed to the backend: postgres-es / sqlite-es,
/// the feed, `persist`, projections and queries all run on it.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs the same sqlx code on whichever backend a [`Database`] has:
/// `on_pool!(db, |pool| sqlx::query(SQL).bind(id).fetch_all(pool).await)`. The body is
/// compiled once per backend, so a query is written once (numbered `$n` parameters work on
/// both) and still runs on the typed driver.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pool() {
            $crate::Pool::Postgres($pool) => $body,
            $crate::Pool::Sqlite($pool) => $body,
        }
    };
}

/// The handle on a store: one pool, cloned cheaply.
#[derive(Clone, Debug)]
pub struct Database {
    pool: Pool,
    /// SQLite takes one writer at a time. Left to SQLite, writers on several pooled connections
    /// wait for its lock in the busy handler's sleeps (1 ms growing to 100 ms), which costs
    /// throughput and puts spikes in the tail; this process's writers queue here instead, in
    /// arrival order, and each takes SQLite's lock at once. (Another process on the same file
    /// still waits in the busy handler.) None on PostgreSQL, whose writers lock rows, not the
    /// database.
    writers: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

/// A place in the queue of this process's writers (see [`Database::write_turn`]); the turn ends
/// when it is dropped.
pub type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The claims in `aggregates::claims::TEXT_SCOPES`, as patterns (none holds a `_` or `%`, so
/// `like` matches them literally).
const TEXT_CLAIMS: &str = "select scope, value from claims where (scope like 'license.key:%' \
    or scope like 'product.code:%' or scope like 'entitlement.code:%' \
    or scope like 'user.email:%' or scope = 'account.slug') \
    and substr(value, 1, 7) <> 'sha256:' order by scope, value";

impl Database {
    /// Connects to `postgres://…` or `sqlite://…` (the SQLite file is created when missing).
    /// A server that cannot be reached, a database that does not exist and a file that cannot
    /// be opened fail at once, with an error naming the host and port, or the path.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
            // One direct attempt first: a pool retries a refused connection until its acquire
            // timeout (30 s) runs out, and then says only "pool timed out".
            let probe = options
                .connect()
                .await
                .map_err(|err| postgres_connect_error(&options, err))?;
            let _ = probe.close().await;
            let pg = PgPoolOptions::new()
                .max_connections(16)
                .connect_with(options.clone())
                .await
                .map_err(|err| postgres_connect_error(&options, err))?;
            Ok(Self {
                writers: None,
                pool: Pool::Postgres(pg),
            })
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(BUSY_TIMEOUT);
            let open_error = |err: sqlx::Error| StoreError::SqliteOpen {
                path: options.get_filename().to_path_buf(),
                reason: err.to_string(),
            };
            let sqlite = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.clone())
                .await
                .map_err(open_error)?;
            Ok(Self {
                writers: Some(Default::default()),
                pool: Pool::Sqlite(sqlite),
            })
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Waits for this process's turn to write (SQLite; at once on PostgreSQL). Hold it from
    /// before the transaction begins until it has committed, and start no other write meanwhile.
    pub async fn write_turn(&self) -> WriteTurn {
        match &self.writers {
            Some(writers) => Some(writers.clone().lock_owned().await),
            None => None,
        }
    }

    /// Which backend the store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The pool (see [`on_pool!`] to run one query on either backend).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Applies the backend's migrations from `schemas/sql/<backend>`, then the rewrites SQL
    /// cannot do on both backends.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Postgres(pg) => sqlx::migrate!("../schemas/sql/postgres").run(pg).await?,
            Pool::Sqlite(sqlite) => sqlx::migrate!("../schemas/sql/sqlite").run(sqlite).await?,
        }
        self.digest_text_claims().await
    }

    /// Claims on client-chosen text that hold the text itself (made before claims held digests,
    /// or by a node of an older version during a rolling upgrade) get its digest. Run at every
    /// start; a value that is already a digest is left alone, so it never hashes twice, and rows
    /// are rewritten in one order so two nodes starting together cannot deadlock.
    async fn digest_text_claims(&self) -> Result<(), StoreError> {
        let rewrite = "update claims set value = $1 where scope = $2 and value = $3";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let rows: Vec<(String, String)> = sqlx::query_as(TEXT_CLAIMS).fetch_all(&mut *tx).await?;
            let text = |scope: &str| aggregates::claims::TEXT_SCOPES.iter().any(|p| scope.starts_with(p));
            let plain = |value: &str| !value.starts_with(aggregates::claims::DIGEST_PREFIX);
            for (scope, value) in rows.into_iter().filter(|(scope, value)| text(scope) && plain(value)) {
                let digest = aggregates::claims::digest(&value);
                sqlx::query(rewrite)
                    .bind(digest)
                    .bind(&scope)
                    .bind(&value)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The repository cqrs-es commits through.
    pub fn event_repo(&self) -> crate::EventRepo {
        crate::EventRepo::new(self.clone())
    }

    /// Closes the pool (used on shutdown and by tests that drop their database).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// The store a URL names, for logs: backend, host, port and database, or the SQLite file —
/// never the user or password.
pub fn describe_url(url: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match PgConnectOptions::from_str(url) {
            Ok(o) => format!(
                "postgresql://{}:{}/{}",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("")
            ),
            Err(_) => "postgresql (unparsable URL)".into(),
        }
    } else {
        match SqliteConnectOptions::from_str(url) {
            Ok(o) => format!("sqlite:{}", o.get_filename().display()),
            Err(_) => "sqlite (unparsable URL)".into(),
        }
    }
}

/// What went wrong reaching PostgreSQL, naming the server (host and port, never the password).
fn postgres_connect_error(options: &PgConnectOptions, err: sqlx::Error) -> StoreError {
    let address = format!("{}:{}", options.get_host(), options.get_port());
    // 3D000: invalid_catalog_name, the database named in the URL does not exist.
    if let sqlx::Error::Database(db) = &err {
        if db.code().as_deref() == Some("3D000") {
            return StoreError::PostgresDatabaseMissing {
                address,
                database: options.get_database().unwrap_or("postgres").to_string(),
            };
        }
    }
    StoreError::PostgresUnreachable {
        address,
        reason: err.to_string(),
    }
}

/// Opens a transaction that is going to write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later would otherwise be
/// refused ("database is locked", without waiting) whenever another connection wrote in between.
pub trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for sqlx::PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

impl BeginWrite for sqlx::SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_lookup_names_the_host_and_port() {
        let options = PgConnectOptions::from_str("postgres://kl:secret-password@db.example.invalid:6543/app").unwrap();
        let lookup = std::io::Error::other("failed to lookup address information: Name or service not known");
        let message = postgres_connect_error(&options, sqlx::Error::Io(lookup)).to_string();
        assert!(message.contains("db.example.invalid:6543"), "{message}");
        assert!(message.contains("failed to lookup address"), "{message}");
        assert!(!message.contains("secret-password"), "{message}");
    }

    #[test]
    fn the_rewrite_reads_every_text_scope() {
        for scope in aggregates::claims::TEXT_SCOPES {
            assert!(TEXT_CLAIMS.contains(&format!("'{scope}")), "{scope}");
        }
    }

    #[test]
    fn a_described_url_keeps_no_credentials() {
        let described = describe_url("postgres://kl:secret-password@db:6543/app");
        assert_eq!(described, "postgresql://db:6543/app");
        assert_eq!(describe_url("sqlite://data/keyledger.db"), "sqlite:data/keyledger.db");
    }
}
