//! Observations: facts that are not decisions (a validation, later heartbeats and downloads).
//! They never enter an aggregate's stream; they update operational state and are kept in an
//! append-only log for the event log and webhooks. Rebuilds leave them alone.

use crate::ProjectionError;
use store::Database;

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
    let pool = &db.any;
    let mut tx = pool.begin().await?;
    insert(&mut tx, o).await?;
    touch(&mut tx, o.account_id, o.resource_id, o.at).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert(conn: &mut sqlx::AnyConnection, o: &Observation<'_>) -> Result<(), ProjectionError> {
    let id = uuid_v7();
    sqlx::query(
        "insert into observations (id, account_id, event_type, resource_type, resource_id, payload, metadata, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(o.account_id)
    .bind(o.event_type)
    .bind(o.resource_type)
    .bind(o.resource_id)
    .bind(o.payload.to_string())
    .bind(o.metadata.to_string())
    .bind(o.at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records when a license was last validated.
pub async fn touch_license_validated(
    db: &Database,
    account_id: &str,
    license_id: &str,
    at: i64,
) -> Result<(), ProjectionError> {
    let pool = &db.any;
    let mut conn = pool.acquire().await?;
    touch(&mut conn, account_id, license_id, at).await
}

async fn touch(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    license_id: &str,
    at: i64,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "insert into license_activity (license_id, account_id, last_validated) values ($1, $2, $3) \
         on conflict (license_id) do update set last_validated = excluded.last_validated",
    )
    .bind(license_id)
    .bind(account_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Number of observations of one type for an account (tests and benchmarks).
pub async fn count(db: &Database, account_id: &str, event_type: &str) -> Result<i64, ProjectionError> {
    let pool = &db.any;
    Ok(
        sqlx::query_scalar("select count(*) from observations where account_id = $1 and event_type = $2")
            .bind(account_id)
            .bind(event_type)
            .fetch_one(pool)
            .await?,
    )
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}
