//! Read models: one relational table per resource, derived from the event store alone.
//!
//! Every event reaches [`Projector::apply`] twice in the normal course of things — inline right
//! after its commit (read-your-writes) and again from the catch-up runner over the global feed —
//! so each apply is idempotent: rows remember the last sequence applied and ignore older events.

pub mod accounts;
pub mod artifacts;
mod audience;
pub mod components;
pub mod entitlements;
pub mod event_logs;
mod filter;
pub mod heartbeats;
mod inline;
mod license_rows;
pub mod licenses;
pub mod machines;
pub mod masking;
pub mod observations;
pub mod packages;
pub mod page;
#[cfg(test)]
mod plans;
pub mod policies;
pub mod processes;
pub mod products;
pub mod releases;
pub mod request_logs;
mod runner;
mod statements;
pub mod tokens;
pub mod users;
pub mod webhook_endpoints;
pub mod webhook_events;
pub(crate) use statements::{Joins, Statements};
pub mod writer;

pub use inline::{InlineFailures, InlineProjection};
pub use page::{ListOrder, Page, PageRequest};
pub use runner::{catch_up, catch_up_with, rebuild, run_catch_up, CATCH_UP_CHECKPOINT, DEFAULT_INTERVAL};

use store::{on_pool, BeginWrite, Database, StoreError};

/// Microseconds since the epoch: how projections store time.
pub fn micros(ts: &aggregates::Timestamp) -> i64 {
    ts.timestamp_micros()
}

/// Turns stored microseconds back into a timestamp.
pub fn from_micros(us: i64) -> aggregates::Timestamp {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Failures while projecting or querying.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("event payload is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("projections busy: {0}")]
    Busy(&'static str),
    /// A rebuild gave up waiting for older transactions; says which were still open.
    #[error("transactions older than the rebuild are still open: {0}")]
    Stalled(String),
    /// A batch this write was part of failed (the writer logged why).
    #[error("the write failed: {0}")]
    Failed(String),
}

/// The facts of one stored event a projection needs.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub payload: &'a serde_json::Value,
}

impl EventRef<'_> {
    /// The payload as its aggregate's event (read in place, not copied).
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, serde_json::Error> {
        E::deserialize(self.payload)
    }
}

/// Applies events to every read model.
#[derive(Clone, Debug)]
pub struct Projector {
    db: Database,
}

impl Projector {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Applies one event (the inline path) in a transaction of its own; unknown types are
    /// skipped. Rows built from deltas take events strictly in sequence, so when earlier events
    /// of the same aggregate have not reached the row yet (another node committed them, or their
    /// inline apply failed), they are read from the store and applied first.
    #[tracing::instrument(skip_all, fields(aggregate = event.aggregate_type, id = event.aggregate_id, sequence = event.sequence))]
    pub async fn apply(&self, event: EventRef<'_>) -> Result<(), ProjectionError> {
        // A license's row says itself whether it is behind (read as it is applied, no read first).
        let license = event.aggregate_type == aggregates::license::License::TYPE_NAME;
        let mut missing = Vec::new();
        if let Some(table) = delta_table(event.aggregate_type).filter(|_| !license) {
            let sql = format!("select last_sequence from {table} where id = $1");
            let last: Option<i64> = on_pool!(self.db, |pool| {
                sqlx::query_scalar(&sql)
                    .bind(event.aggregate_id)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some(last) = last.filter(|last| *last < event.sequence - 1) {
                missing = self
                    .db
                    .aggregate_events(event.aggregate_type, event.aggregate_id, last, event.sequence)
                    .await?;
            }
        }
        let events: Vec<EventRef<'_>> = missing.iter().map(EventRef::from).chain([event]).collect();
        let behind = self.apply_in_order(&events).await?;
        if !behind.is_empty() {
            // The license's row was behind this event and left as it was: its events before
            // this one (each applies once), then this one.
            let missing = self
                .db
                .aggregate_events(event.aggregate_type, event.aggregate_id, 0, event.sequence)
                .await?;
            let events: Vec<EventRef<'_>> = missing.iter().map(EventRef::from).chain([event]).collect();
            self.apply_in_order(&events).await?;
        }
        Ok(())
    }

    /// Brings one aggregate's rows up to its last committed event by applying its whole stream
    /// again (each apply is idempotent). For the rare write whose inline projection failed:
    /// its response must show what was committed, not a 404.
    #[tracing::instrument(skip(self))]
    pub async fn settle(&self, aggregate_type: &str, aggregate_id: &str) -> Result<(), ProjectionError> {
        let events = self
            .db
            .aggregate_events(aggregate_type, aggregate_id, 0, i64::MAX)
            .await?;
        self.apply_batch(&events).await
    }

    /// Applies feed events in the order given, in one transaction. For the feed, whose order
    /// keeps each aggregate's events in sequence, and for one aggregate's stored stream.
    pub async fn apply_batch(&self, events: &[store::FeedEvent]) -> Result<(), ProjectionError> {
        let events: Vec<EventRef<'_>> = events.iter().map(EventRef::from).collect();
        self.apply_in_order(&events).await.map(|_| ())
    }

    /// Applies events in the order given, in one transaction. A run of license events (most of
    /// any store) is folded into its rows, each row written once. Answers the licenses whose
    /// rows were behind an event given (it was left for the events before it).
    async fn apply_in_order(&self, events: &[EventRef<'_>]) -> Result<Vec<String>, ProjectionError> {
        let _turn = self.db.write_turn().await;
        let mut behind = Vec::new();
        on_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut conn = Conn::from(&mut *tx);
            let mut run: Vec<EventRef<'_>> = Vec::new();
            for event in events {
                if event.aggregate_type == aggregates::license::License::TYPE_NAME {
                    run.push(*event);
                    continue;
                }
                if !run.is_empty() {
                    behind.extend(license_rows::apply_run(&mut conn, &run).await?);
                    run.clear();
                }
                apply_one(&mut conn, *event).await?;
            }
            if !run.is_empty() {
                behind.extend(license_rows::apply_run(&mut conn, &run).await?);
            }
            tx.commit().await?;
        });
        Ok(behind)
    }
}

impl<'a> From<&'a store::FeedEvent> for EventRef<'a> {
    fn from(event: &'a store::FeedEvent) -> Self {
        EventRef {
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: event.sequence,
            payload: &event.payload,
        }
    }
}

/// Applies one event to the rows of its aggregate type on `conn` (license events go through
/// `license_rows::apply_run`).
async fn apply_one(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    match event.aggregate_type {
        aggregates::account::Account::TYPE_NAME => accounts::apply(conn, event).await,
        aggregates::user::User::TYPE_NAME => users::apply(conn, event).await,
        aggregates::token::Token::TYPE_NAME => tokens::apply(conn, event).await,
        aggregates::product::Product::TYPE_NAME => products::apply(conn, event).await,
        aggregates::entitlement::Entitlement::TYPE_NAME => entitlements::apply(conn, event).await,
        aggregates::policy::Policy::TYPE_NAME => policies::apply(conn, event).await,
        aggregates::license::License::TYPE_NAME => license_rows::apply_run(conn, &[event]).await.map(|_| ()),
        aggregates::machine::Machine::TYPE_NAME => machines::apply(conn, event).await,
        aggregates::webhook_endpoint::WebhookEndpoint::TYPE_NAME => webhook_endpoints::apply(conn, event).await,
        aggregates::package::Package::TYPE_NAME => packages::apply(conn, event).await,
        aggregates::release::Release::TYPE_NAME => releases::apply(conn, event).await,
        _ => Ok(()),
    }
}

/// A connection inside a transaction, on either backend: projections apply on one, so the
/// inline path commits one event's rows together and the catch-up runner a whole batch.
pub(crate) enum Conn<'a> {
    Postgres(&'a mut sqlx::PgConnection),
    Sqlite(&'a mut sqlx::SqliteConnection),
}

impl Conn<'_> {
    /// The most parameters a multi-row statement should bind. sqlx binds SQLite parameters by
    /// name, and SQLite finds a name by walking the statement's list, so binding grows with the
    /// square of the count there; PostgreSQL binds by position.
    pub(crate) fn parameters_per_statement(&self) -> usize {
        match self {
            Conn::Postgres(_) => 4096,
            Conn::Sqlite(_) => 240,
        }
    }
}

impl<'a> From<&'a mut sqlx::PgConnection> for Conn<'a> {
    fn from(c: &'a mut sqlx::PgConnection) -> Self {
        Conn::Postgres(c)
    }
}

impl<'a> From<&'a mut sqlx::SqliteConnection> for Conn<'a> {
    fn from(c: &'a mut sqlx::SqliteConnection) -> Self {
        Conn::Sqlite(c)
    }
}

/// `($1, …, $width), ($width+1, …), …` for `rows` rows of `width` parameters: the values of a
/// multi-row statement (or, with one row, an `in` list).
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    let row = |r: usize| {
        let params: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
        format!("({})", params.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Runs `body` with `$c` bound to the typed connection of a [`Conn`], compiled once per backend
/// (as `store::on_pool!` does for pools).
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Postgres(inner) => {
                let $c: &mut sqlx::PgConnection = &mut **inner;
                $body
            }
            $crate::Conn::Sqlite(inner) => {
                let $c: &mut sqlx::SqliteConnection = &mut **inner;
                $body
            }
        }
    };
}
pub(crate) use on_conn;

/// The table of an aggregate type whose rows are built from deltas (see [`advance`]).
fn delta_table(aggregate_type: &str) -> Option<&'static str> {
    match aggregate_type {
        aggregates::license::License::TYPE_NAME => Some("licenses"),
        aggregates::policy::Policy::TYPE_NAME => Some("policies"),
        aggregates::entitlement::Entitlement::TYPE_NAME => Some("entitlements"),
        aggregates::package::Package::TYPE_NAME => Some("packages"),
        aggregates::release::Release::TYPE_NAME => Some("releases"),
        _ => None,
    }
}

/// Every read-model table, in the order a rebuild empties them.
pub const TABLES: &[&str] = &[
    "accounts",
    "users",
    "tokens",
    "products",
    "entitlements",
    "policies",
    "policy_entitlements",
    "pool_keys",
    "licenses",
    "license_entitlements",
    "machines",
    "components",
    "processes",
    "webhook_endpoints",
    "packages",
    "releases",
    "release_constraints",
    "release_lookups",
    "artifacts",
    "event_logs",
];

/// The oldest row of `select` (a query ending in `where …`) matching either `by_id` or
/// `by_alias`: each condition is searched by its own index, and only the matches are sorted.
/// (Written as `(id = $2 or key = $2) order by created_at`, SQLite walks the account's rows in
/// `created_at` order instead, testing each: one lookup cost as much as the account was large.)
/// `order` is a column of the select's result.
pub(crate) fn oldest_of(select: &str, by_id: &str, by_alias: &str, order: &str) -> String {
    format!("select * from ({select} {by_id} union all {select} {by_alias}) m order by m.{order} limit 1")
}

/// The row, if any, a query whose parameters are all text returns (the `find` queries).
pub(crate) async fn fetch_row<T>(db: &Database, sql: &str, params: &[&str]) -> Result<Option<T>, ProjectionError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    T: Send + Unpin,
{
    on_pool!(db, |pool| {
        let mut query = sqlx::query_as(sql);
        for param in params {
            query = query.bind(*param);
        }
        Ok(query.fetch_optional(pool).await?)
    })
}

/// JSON text of a serializable value.
pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> Result<String, ProjectionError> {
    Ok(serde_json::to_string(value)?)
}
