//! The event repository cqrs-es commits through. Reads are delegated to postgres-es and
//! sqlite-es; `persist` is our own, because the uniqueness claims an event makes must be
//! written in the same transaction as the event, and those crates open their transaction
//! internally.

use crate::claims::{self, ClaimStatement};
use crate::database::Pool;
use crate::snapshots::StoredSnapshot;
use crate::Database;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot};
use cqrs_es::Aggregate;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;

const INSERT_EVENT: &str = "insert into events \
    (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
    values ($1, $2, $3, $4, $5, $6, $7)";

enum Reader {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

/// Keyledger's `PersistedEventRepository`, one type for both backends.
pub struct EventRepo {
    db: Database,
    reader: Reader,
}

impl EventRepo {
    pub(crate) fn new(db: Database) -> Self {
        let reader = match db.pool() {
            Pool::Postgres(pg) => Reader::Postgres(PostgresEventRepository::new(pg.clone())),
            Pool::Sqlite(sqlite) => Reader::Sqlite(SqliteEventRepository::new(sqlite.clone())),
        };
        Self { db, reader }
    }
}

fn unknown(err: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(err))
}

fn from_sqlx(err: sqlx::Error) -> PersistenceError {
    // A deadlock or serialization failure between two writers: like a lost race on a sequence,
    // the command is reloaded and tried again.
    if let sqlx::Error::Database(db) = &err {
        if matches!(db.code().as_deref(), Some("40P01" | "40001")) {
            return PersistenceError::OptimisticLockError;
        }
    }
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            PersistenceError::ConnectionError(Box::new(err))
        }
        other => unknown(other),
    }
}

/// A unique violation on the events primary key means another writer took this sequence.
fn event_insert_error(err: sqlx::Error) -> PersistenceError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => PersistenceError::OptimisticLockError,
        _ => from_sqlx(err),
    }
}

/// Runs the events and their claims in one transaction on either typed pool; `require` is the
/// backend's form of the existence check (it locks on PostgreSQL).
async fn persist_in<DB>(
    pool: &sqlx::Pool<DB>,
    events: &[SerializedEvent],
    statements: Vec<ClaimStatement>,
    require: &'static str,
    snapshot: Option<StoredSnapshot>,
) -> Result<(), PersistenceError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Value: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let Some(first) = events.first() else {
        return Ok(());
    };
    let (aggregate_type, aggregate_id) = (first.aggregate_type.as_str(), first.aggregate_id.as_str());
    let mut tx = pool.begin().await.map_err(from_sqlx)?;
    for e in events {
        sqlx::query(INSERT_EVENT)
            .bind(e.aggregate_type.as_str())
            .bind(e.aggregate_id.as_str())
            .bind(e.sequence as i64)
            .bind(e.event_type.as_str())
            .bind(e.event_version.as_str())
            .bind(e.payload.clone())
            .bind(e.metadata.clone())
            .execute(&mut *tx)
            .await
            .map_err(event_insert_error)?;
    }
    for statement in &statements {
        // Each statement is run for its effect, or (`expect`) as a check whether it finds a row,
        // when finding one or not is what the claim requires.
        let (query, expect) = match statement {
            ClaimStatement::ReleaseScope { scope } => (
                sqlx::query(claims::RELEASE_SCOPE)
                    .bind(scope.as_str())
                    .bind(aggregate_type)
                    .bind(aggregate_id),
                None,
            ),
            ClaimStatement::Insert { scope, value, .. } => (
                sqlx::query(claims::INSERT)
                    .bind(scope.as_str())
                    .bind(value.as_str())
                    .bind(aggregate_type)
                    .bind(aggregate_id),
                None,
            ),
            ClaimStatement::InsertIfFree { scope, value } => (
                sqlx::query(claims::INSERT_IF_FREE)
                    .bind(scope.as_str())
                    .bind(value.as_str())
                    .bind(aggregate_type)
                    .bind(aggregate_id),
                None,
            ),
            ClaimStatement::ReleaseValue { scope, value } => (
                sqlx::query(claims::RELEASE_VALUE)
                    .bind(scope.as_str())
                    .bind(value.as_str())
                    .bind(aggregate_type)
                    .bind(aggregate_id),
                None,
            ),
            ClaimStatement::ReleaseAll => (
                sqlx::query(claims::RELEASE_ALL).bind(aggregate_type).bind(aggregate_id),
                None,
            ),
            ClaimStatement::Require { scope, value, missing } => (
                sqlx::query(require).bind(scope.as_str()).bind(value.as_str()),
                Some((true, missing)),
            ),
            ClaimStatement::RequireEmpty { prefix, remaining } => (
                sqlx::query(claims::ANY_MEMBER).bind(format!("{prefix}{aggregate_id}")),
                Some((false, remaining)),
            ),
            ClaimStatement::ReleaseHeld { scope, value, missing } => (
                sqlx::query(claims::RELEASE_HELD)
                    .bind(scope.as_str())
                    .bind(value.as_str())
                    .bind(aggregate_type)
                    .bind(aggregate_id),
                Some((true, missing)),
            ),
            ClaimStatement::Take {
                scope,
                value,
                from_type,
                from_id,
                missing,
            } => (
                sqlx::query(claims::TAKE)
                    .bind(scope.as_str())
                    .bind(value.as_str())
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(*from_type)
                    .bind(from_id.as_str()),
                Some((true, missing)),
            ),
            ClaimStatement::Leave { prefix } => (
                sqlx::query(claims::LEAVE_GROUPS)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(*prefix),
                None,
            ),
            ClaimStatement::Join { prefix, group } => {
                sqlx::query(claims::LEAVE_GROUPS)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(*prefix)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                (
                    sqlx::query(claims::JOIN_GROUP)
                        .bind(format!("{prefix}{group}"))
                        .bind(aggregate_id)
                        .bind(aggregate_type),
                    None,
                )
            }
        };
        if let Some((row_expected, conflict)) = expect {
            let row = query.fetch_optional(&mut *tx).await.map_err(from_sqlx)?;
            if row.is_some() != row_expected {
                return Err(unknown(conflict.clone()));
            }
            continue;
        }
        match (query.execute(&mut *tx).await, statement) {
            (Ok(_), _) => {}
            (Err(sqlx::Error::Database(db)), ClaimStatement::Insert { conflict, .. }) if db.is_unique_violation() => {
                return Err(unknown(conflict.clone()));
            }
            (Err(err), _) => return Err(from_sqlx(err)),
        }
    }
    if let Some(snapshot) = snapshot {
        sqlx::query(UPSERT_SNAPSHOT)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(snapshot.shape)
            .bind(snapshot.last_sequence)
            .bind(snapshot.payload)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
    }
    tx.commit().await.map_err(from_sqlx)
}

const UPSERT_SNAPSHOT: &str = "insert into snapshots (aggregate_type, aggregate_id, shape, last_sequence, payload) \
    values ($1, $2, $3, $4, $5) on conflict (aggregate_type, aggregate_id) do update \
    set shape = excluded.shape, last_sequence = excluded.last_sequence, payload = excluded.payload";

const SELECT_SNAPSHOT: &str =
    "select shape, last_sequence, payload from snapshots where aggregate_type = $1 and aggregate_id = $2";

impl EventRepo {
    /// The store this repository reads and writes.
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Commits events, their claims and (when given) the aggregate's snapshot after them, in one
    /// transaction.
    pub(crate) async fn commit(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<StoredSnapshot>,
    ) -> Result<(), PersistenceError> {
        let statements = claims::statements(events)?;
        let _turn = self.db.write_turn().await;
        match self.db.pool() {
            Pool::Postgres(pool) => persist_in(pool, events, statements, claims::REQUIRE_POSTGRES, snapshot).await,
            Pool::Sqlite(pool) => persist_in(pool, events, statements, claims::REQUIRE_SQLITE, snapshot).await,
        }
    }

    /// The stored snapshot of one aggregate, of whatever shape.
    pub async fn snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<StoredSnapshot>, PersistenceError> {
        let row: Option<(i64, i64, String)> = crate::on_pool!(self.db, |pool| {
            sqlx::query_as(SELECT_SNAPSHOT)
                .bind(aggregate_type)
                .bind(aggregate_id)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?
        });
        Ok(row.map(|(shape, last_sequence, payload)| StoredSnapshot {
            shape,
            last_sequence,
            payload,
        }))
    }
}

impl PersistedEventRepository for EventRepo {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.get_events::<A>(aggregate_id).await,
            Reader::Sqlite(r) => r.get_events::<A>(aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.get_last_events::<A>(aggregate_id, last_sequence).await,
            Reader::Sqlite(r) => r.get_last_events::<A>(aggregate_id, last_sequence).await,
        }
    }

    /// Snapshots are read by `SnapshotStore`, which knows the shape they must have.
    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        // cqrs-es's own snapshots double-apply events (see `SnapshotStore`).
        if snapshot_update.is_some() {
            return Err(unknown(std::io::Error::other("use SnapshotStore for snapshots")));
        }
        self.commit(events, None).await
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.stream_events::<A>(aggregate_id).await,
            Reader::Sqlite(r) => r.stream_events::<A>(aggregate_id).await,
        }
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.stream_all_events::<A>().await,
            Reader::Sqlite(r) => r.stream_all_events::<A>().await,
        }
    }
}
