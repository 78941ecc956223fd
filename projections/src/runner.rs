//! The catch-up runner: applies the global feed from a checkpoint, so anything the inline path
//! missed (a crash between commit and projection, another node's writes) reaches the read
//! models; and the rebuild, which empties them and replays everything.

use crate::{EventRef, ProjectionError, Projector, TABLES};
use std::time::Duration;
use store::Database;
use tokio::sync::watch;

/// The checkpoint name of the read-model runner.
pub const CATCH_UP_CHECKPOINT: &str = "projections";
const BATCH: i64 = 500;

/// Applies every event after the checkpoint; returns how many were applied.
pub async fn catch_up(db: &Database) -> Result<usize, ProjectionError> {
    let projector = Projector::new(db.clone());
    let mut at = db.checkpoint(CATCH_UP_CHECKPOINT).await?;
    let mut applied = 0;
    loop {
        let batch = db.read_feed(at, BATCH).await?;
        let Some(last) = batch.last() else {
            return Ok(applied);
        };
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
    }
}

/// Runs [`catch_up`] every `interval` until `shutdown` turns true.
pub async fn run_catch_up(db: Database, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(err) = catch_up(&db).await {
            tracing::error!(%err, "projection catch-up failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Empties every read model and replays the whole feed into it.
pub async fn rebuild(db: &Database) -> Result<usize, ProjectionError> {
    // Every event stored when the rebuild starts is applied before it returns: on PostgreSQL
    // the feed holds back while an older transaction is open, so the replay waits for those.
    let stored = db.event_count().await? as usize;
    // The checkpoint goes back first: a crash after it leaves rows the runner will re-apply
    // idempotently, never emptied tables with a checkpoint at the end of the feed.
    db.save_checkpoint(CATCH_UP_CHECKPOINT, Default::default()).await?;
    for table in TABLES {
        sqlx::query(&format!("delete from {table}")).execute(&db.any).await?;
    }
    let mut applied = catch_up(db).await?;
    let mut waits = 0u32;
    while applied < stored {
        waits += 1;
        if waits.is_multiple_of(250) {
            tracing::warn!(applied, stored, "rebuild waiting for open transactions to finish");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        applied += catch_up(db).await?;
    }
    Ok(applied)
}

/// How long the runner waits between polls when nothing is pending.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
