//! The catch-up runner: applies the global feed from a checkpoint, so anything the inline path
//! missed (a crash between commit and projection, another node's writes) reaches the read
//! models; and the rebuild, which empties them and replays everything.
//!
//! One reader works the checkpoint at a time, in whichever process: it holds a lease on the
//! checkpoint row, renewed as it goes, so a `projections rebuild` run beside a serving node and
//! several worker nodes never step on each other.

use crate::{EventRef, ProjectionError, Projector, TABLES};
use std::time::{Duration, Instant};
use store::{on_pool, Database};
use tokio::sync::watch;

/// The checkpoint name of the read-model runner.
pub const CATCH_UP_CHECKPOINT: &str = "projections";
const BATCH: i64 = 500;
const LEASE: Duration = Duration::from_secs(30);
/// How long a rebuild waits for the lease or for old transactions before giving up.
const PATIENCE: Duration = Duration::from_secs(600);

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn lease(db: &Database, owner: &str) -> Result<bool, ProjectionError> {
    Ok(db
        .take_lease(
            CATCH_UP_CHECKPOINT,
            owner,
            now_us(),
            now_us() + LEASE.as_micros() as i64,
        )
        .await?)
}

/// Applies the feed after the checkpoint while `owner` holds the lease; returns how many.
async fn apply_feed(db: &Database, owner: &str) -> Result<usize, ProjectionError> {
    let projector = Projector::new(db.clone());
    let mut at = db.checkpoint(CATCH_UP_CHECKPOINT).await?;
    let mut applied = 0;
    loop {
        let batch = db.read_feed(at, BATCH).await?;
        let Some(last) = batch.last() else { return Ok(applied) };
        let last = last.position;
        for event in &batch {
            projector
                .apply(EventRef {
                    aggregate_type: &event.aggregate_type,
                    aggregate_id: &event.aggregate_id,
                    sequence: event.sequence,
                    payload: &event.payload,
                })
                .await?;
        }
        applied += batch.len();
        at = last;
        db.save_checkpoint(CATCH_UP_CHECKPOINT, at).await?;
        if !lease(db, owner).await? {
            return Ok(applied); // the lease lapsed and someone else took over
        }
    }
}

/// One round of catch-up for `owner`: `None` when another reader holds the lease.
#[tracing::instrument(skip(db))]
pub async fn catch_up_as(db: &Database, owner: &str) -> Result<Option<usize>, ProjectionError> {
    if !lease(db, owner).await? {
        return Ok(None);
    }
    let result = apply_feed(db, owner).await;
    db.release_lease(CATCH_UP_CHECKPOINT, owner).await?;
    result.map(Some)
}

async fn wait_for_lease(db: &Database, owner: &str) -> Result<(), ProjectionError> {
    let started = Instant::now();
    while !lease(db, owner).await? {
        if started.elapsed() > PATIENCE {
            return Err(ProjectionError::Busy("another reader holds the projection checkpoint"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Applies every event after the checkpoint (waiting for the lease if another reader has it);
/// returns how many were applied.
pub async fn catch_up(db: &Database) -> Result<usize, ProjectionError> {
    let owner = uuid::Uuid::new_v4().to_string();
    wait_for_lease(db, &owner).await?;
    let result = apply_feed(db, &owner).await;
    db.release_lease(CATCH_UP_CHECKPOINT, &owner).await?;
    result
}

/// Runs catch-up rounds every `interval` until `shutdown` turns true.
pub async fn run_catch_up(db: Database, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let owner = format!("runner-{}", uuid::Uuid::new_v4());
    loop {
        if let Err(err) = catch_up_as(&db, &owner).await {
            tracing::error!(%err, "projection catch-up failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Empties every read model and replays the whole feed into it, holding the checkpoint's lease
/// throughout. Every event committed before the rebuild started is applied before it returns:
/// on PostgreSQL it waits until every transaction that was open at the start has finished.
#[tracing::instrument(skip(db))]
pub async fn rebuild(db: &Database) -> Result<usize, ProjectionError> {
    let owner = format!("rebuild-{}", uuid::Uuid::new_v4());
    wait_for_lease(db, &owner).await?;
    let result = rebuild_leased(db, &owner).await;
    db.release_lease(CATCH_UP_CHECKPOINT, &owner).await?;
    result
}

async fn rebuild_leased(db: &Database, owner: &str) -> Result<usize, ProjectionError> {
    let horizon = db.horizon().await?;
    // The checkpoint goes back first: a crash after it leaves rows the runner re-applies
    // idempotently, never emptied tables with a checkpoint at the end of the feed.
    db.save_checkpoint(CATCH_UP_CHECKPOINT, Default::default()).await?;
    for table in TABLES {
        let sql = format!("delete from {table}");
        on_pool!(db, |pool| sqlx::query(&sql).execute(pool).await?.rows_affected());
    }
    let started = Instant::now();
    let mut applied = apply_feed(db, owner).await?;
    while !db.horizon_passed(horizon).await? {
        if started.elapsed() > PATIENCE {
            return Err(ProjectionError::Busy(
                "transactions older than the rebuild are still open",
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        lease(db, owner).await?;
        applied += apply_feed(db, owner).await?;
    }
    applied += apply_feed(db, owner).await?;
    Ok(applied)
}

/// How long the runner waits between polls when nothing is pending.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
