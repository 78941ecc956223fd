//! The global feed: every stored event in commit order, readable from a checkpoint.
//!
//! PostgreSQL hands out `global_position` values at insert time, not at commit, so a reader
//! that trusted them alone could pass over an event whose transaction commits late. The feed
//! therefore reads only events whose transaction is older than every transaction still open in
//! this database ([`PG_BOUND`]) and orders by (transaction id, position). SQLite has one writer
//! at a time, so its `rowid` already follows commit order.

use crate::{on_pool, Database, Pool, StoreError};
use serde_json::Value;
use sqlx::Row;

/// Where a reader stands in the feed: (transaction id, position); SQLite uses only position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedPosition {
    pub xid: i64,
    pub position: i64,
}

/// One event as the feed delivers it.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub position: FeedPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Value,
    pub metadata: Value,
}

const PG_FEED: &str = "select global_position, transaction_id::text as xid, aggregate_type, aggregate_id, \
    sequence, event_type, payload::text as payload, metadata::text as metadata from events \
    where (transaction_id > $1::text::xid8 or (transaction_id = $1::text::xid8 and global_position > $2)) \
      and transaction_id < $4::text::xid8 \
    order by transaction_id, global_position limit $3";

/// The feed's bound: the oldest transaction still open in this database, or, when none is, the
/// snapshot's `xmax` (every transaction below it has finished). Only this database's
/// transactions can write its events, so only they count: a long transaction in another
/// database on the same server (`pg_snapshot_xmin` is server-wide) does not hold the feed or a
/// rebuild back. `pg_stat_activity` names each session's transaction id (32 bits, as `xid`),
/// which the snapshot's in-progress list holds as `xid8`; they are matched on the low 32 bits.
/// (A role sees the transaction ids of its own sessions only: the events' writers are assumed
/// to be Keyledger's own role.)
pub(crate) const PG_BOUND: &str = "with s as (select pg_current_snapshot() as snap), \
    mine as (select backend_xid::text::bigint as xid from pg_stat_activity \
             where datname = current_database() and backend_xid is not null) \
    select coalesce( \
      (select min(x::text::bigint) from s, pg_snapshot_xip(s.snap) as x \
       where x::text::bigint % 4294967296 in (select xid from mine)), \
      (select pg_snapshot_xmax(snap)::text::bigint from s))::text";

const SQLITE_FEED: &str = "select rowid as global_position, '0' as xid, aggregate_type, aggregate_id, \
    sequence, event_type, payload, metadata from events where rowid > $1 order by rowid limit $2";

pub(crate) const SAVE_CHECKPOINT: &str = "insert into projection_checkpoints (name, last_xid, last_position) \
    values ($1, $2, $3) \
    on conflict (name) do update set last_xid = excluded.last_xid, last_position = excluded.last_position";

/// A PostgreSQL transaction id (`xid8`, sent as text); one that does not parse is an error,
/// never a silent zero that would move a reader back to the start of the feed.
fn transaction_id(text: &str) -> Result<i64, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("transaction id {text:?} is not a number")))
}

/// [`PG_BOUND`] now.
async fn pg_bound(pg: &sqlx::PgPool) -> Result<i64, StoreError> {
    let bound: String = sqlx::query_scalar(PG_BOUND).fetch_one(pg).await?;
    transaction_id(&bound)
}

fn to_event<R: Row>(row: &R) -> Result<FeedEvent, StoreError>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let xid: String = row.try_get("xid")?;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(FeedEvent {
        position: FeedPosition {
            xid: transaction_id(&xid)?,
            position: row.try_get("global_position")?,
        },
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        payload: serde_json::from_str(&payload)?,
        metadata: serde_json::from_str(&metadata)?,
    })
}

impl Database {
    /// Up to `limit` committed events after `after`, in commit order.
    pub async fn read_feed(&self, after: FeedPosition, limit: i64) -> Result<Vec<FeedEvent>, StoreError> {
        match self.pool() {
            Pool::Postgres(pg) => {
                let bound = pg_bound(pg).await?;
                let rows = sqlx::query(PG_FEED)
                    .bind(after.xid.to_string())
                    .bind(after.position)
                    .bind(limit)
                    .bind(bound.to_string())
                    .fetch_all(pg)
                    .await?;
                rows.iter().map(to_event).collect()
            }
            Pool::Sqlite(sqlite) => {
                let rows = sqlx::query(SQLITE_FEED)
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(sqlite)
                    .await?;
                rows.iter().map(to_event).collect()
            }
        }
    }

    /// The checkpoint a named feed reader has reached (the start when it has none).
    pub async fn checkpoint(&self, name: &str) -> Result<FeedPosition, StoreError> {
        let sql = "select last_xid, last_position from projection_checkpoints where name = $1";
        let row: Option<(i64, i64)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(name).fetch_optional(pool).await?);
        Ok(row
            .map(|(xid, position)| FeedPosition { xid, position })
            .unwrap_or_default())
    }

    /// Records how far a named feed reader has got.
    pub async fn save_checkpoint(&self, name: &str, at: FeedPosition) -> Result<(), StoreError> {
        let sql = SAVE_CHECKPOINT;
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(name)
            .bind(at.xid)
            .bind(at.position)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Whether the store holds any event of an aggregate type (e.g. any account), whatever the
    /// read models say.
    pub async fn holds_any(&self, aggregate_type: &str) -> Result<bool, StoreError> {
        let sql = "select 1 from events where aggregate_type = $1 limit 1";
        let found: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(aggregate_type)
            .fetch_optional(pool)
            .await?);
        Ok(found.is_some())
    }

    /// Number of stored events (used by benchmarks and tests of what does not grow the store).
    pub async fn event_count(&self) -> Result<i64, StoreError> {
        let sql = "select count(*) from events";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).fetch_one(pool).await?))
    }
}

/// A point in the commit history: every transaction that had started when it was taken.
#[derive(Debug, Clone, Copy)]
pub struct Horizon(i64);

impl Database {
    /// The horizon now: on PostgreSQL the next transaction id to be assigned, so every
    /// transaction begun before this call has a smaller one.
    pub async fn horizon(&self) -> Result<Horizon, StoreError> {
        match self.pool() {
            Pool::Postgres(pg) => {
                let xmax: String = sqlx::query_scalar("select pg_snapshot_xmax(pg_current_snapshot())::text")
                    .fetch_one(pg)
                    .await?;
                Ok(Horizon(transaction_id(&xmax)?))
            }
            Pool::Sqlite(_) => Ok(Horizon(0)),
        }
    }

    /// Whether every transaction begun before `horizon` has finished, so the feed now holds all
    /// that they committed. SQLite has one writer at a time: always true there.
    pub async fn horizon_passed(&self, horizon: Horizon) -> Result<bool, StoreError> {
        match self.pool() {
            Pool::Postgres(pg) => Ok(pg_bound(pg).await? >= horizon.0),
            Pool::Sqlite(_) => Ok(true),
        }
    }

    /// The transactions still open on the server, oldest first, for an operator to find what
    /// holds a rebuild or the feed back (only this database's count; the others are listed for
    /// context): database, state and age, never the statement's text.
    pub async fn open_transactions(&self) -> Result<Vec<String>, StoreError> {
        let sql = "select coalesce(datname, '?') || ' pid ' || pid || ' ' || coalesce(state, '?') || ' for ' || \
            cast(date_trunc('second', now() - xact_start) as text) from pg_stat_activity \
            where xact_start is not null and pid <> pg_backend_pid() order by xact_start";
        match self.pool() {
            Pool::Postgres(pg) => Ok(sqlx::query_scalar(sql).fetch_all(pg).await?),
            Pool::Sqlite(_) => Ok(Vec::new()),
        }
    }

    /// The committed events of one aggregate with `after < sequence < before`, in order (the
    /// projector fills a gap with them).
    pub async fn aggregate_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: i64,
        before: i64,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let sql = "select cast(0 as bigint) as global_position, '0' as xid, aggregate_type, aggregate_id, sequence, event_type, \
            cast(payload as text) as payload, cast(metadata as text) as metadata from events \
            where aggregate_type = $1 and aggregate_id = $2 and sequence > $3 and sequence < $4 order by sequence";
        on_pool!(self, |pool| {
            let rows = sqlx::query(sql)
                .bind(aggregate_type)
                .bind(aggregate_id)
                .bind(after)
                .bind(before)
                .fetch_all(pool)
                .await?;
            rows.iter().map(to_event).collect()
        })
    }
}

/// One observation as the relay reads it (a validation, a ping: facts that never enter a stream).
#[derive(Debug, Clone)]
pub struct ObservationRecord {
    pub position: FeedPosition,
    pub id: String,
    pub account_id: String,
    pub event_type: String,
    pub resource_type: String,
    pub resource_id: String,
    pub payload: Value,
    pub metadata: Value,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

const OBSERVATION_COLUMNS: &str =
    "id, account_id, event_type, resource_type, resource_id, payload, metadata, created_at";

fn to_observation<R: Row>(row: &R) -> Result<ObservationRecord, StoreError>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let xid: String = row.try_get("xid")?;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(ObservationRecord {
        position: FeedPosition {
            xid: transaction_id(&xid)?,
            position: row.try_get("position")?,
        },
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        event_type: row.try_get("event_type")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        payload: serde_json::from_str(&payload)?,
        metadata: serde_json::from_str(&metadata)?,
        created_at: row.try_get("created_at")?,
    })
}

impl Database {
    /// Up to `limit` committed observations after `after`, in commit order (read as the feed
    /// is: on PostgreSQL only below the oldest open transaction).
    pub async fn read_observations(
        &self,
        after: FeedPosition,
        limit: i64,
    ) -> Result<Vec<ObservationRecord>, StoreError> {
        match self.pool() {
            Pool::Postgres(pg) => {
                let bound = pg_bound(pg).await?;
                let sql = format!(
                    "select position, transaction_id::text as xid, {OBSERVATION_COLUMNS} from observations \
                     where (transaction_id > $1::text::xid8 or (transaction_id = $1::text::xid8 and position > $2)) \
                       and transaction_id < $4::text::xid8 \
                     order by transaction_id, position limit $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.xid.to_string())
                    .bind(after.position)
                    .bind(limit)
                    .bind(bound.to_string())
                    .fetch_all(pg)
                    .await?;
                rows.iter().map(to_observation).collect()
            }
            Pool::Sqlite(sqlite) => {
                let sql = format!(
                    "select rowid as position, '0' as xid, {OBSERVATION_COLUMNS} from observations \
                     where rowid > $1 order by rowid limit $2"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(sqlite)
                    .await?;
                rows.iter().map(to_observation).collect()
            }
        }
    }
}
