//! Observations: facts that are not decisions (a validation, later heartbeats and downloads).
//! They never enter an aggregate's stream; they update operational state and are kept in an
//! append-only log for the event log and webhooks. Rebuilds leave them alone. They are written
//! through the observation writer (`crate::writer`).

use crate::ProjectionError;
use store::{on_pool, Database};

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
