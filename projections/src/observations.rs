//! Observations: facts that are not decisions (a validation, later heartbeats and downloads).
//! They never enter an aggregate's stream; they update operational state and are kept in an
//! append-only log for the event log and webhooks. Rebuilds leave them alone.

use crate::{ProjectionError, Statements};
use store::{on_pool, Database};

/// One observation to record.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub account_id: &'a str,
    /// Keygen's event name, e.g. `license.validation.succeeded`.
    pub event_type: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    /// Microseconds since the epoch.
    pub at: i64,
}

/// Records a validation: the observation and the license's `lastValidated`, in one transaction.
pub async fn record_validation(db: &Database, o: &Observation<'_>) -> Result<(), ProjectionError> {
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        tx.insert_observation(o).await?;
        tx.touch_validated(o.account_id, o.resource_id, o.at).await?;
        tx.commit().await?;
        Ok(())
    })
}

pub(crate) const INSERT: &str = "insert into observations \
    (id, account_id, event_type, resource_type, resource_id, payload, metadata, created_at) \
    values ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) const TOUCH_VALIDATED: &str = "insert into license_activity (license_id, account_id, last_validated) \
    values ($1, $2, $3) on conflict (license_id) do update set last_validated = excluded.last_validated";

/// Records when a license was last validated.
pub async fn touch_license_validated(
    db: &Database,
    account_id: &str,
    license_id: &str,
    at: i64,
) -> Result<(), ProjectionError> {
    on_pool!(db, |pool| {
        let mut conn = pool.acquire().await?;
        conn.touch_validated(account_id, license_id, at).await
    })
}

/// Number of observations of one type for an account (tests and benchmarks).
pub async fn count(db: &Database, account_id: &str, event_type: &str) -> Result<i64, ProjectionError> {
    on_pool!(db, |pool| {
        Ok(
            sqlx::query_scalar("select count(*) from observations where account_id = $1 and event_type = $2")
                .bind(account_id)
                .bind(event_type)
                .fetch_one(pool)
                .await?,
        )
    })
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
