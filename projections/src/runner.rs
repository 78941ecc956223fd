//! The catch-up runner: applies the global feed from a checkpoint, so anything the inline path
//! missed (a crash between commit and projection, another node's writes) reaches the read
//! models; and the rebuild, which empties them and replays everything.
//!
//! One reader works the checkpoint at a time, in whichever process: it holds the checkpoint's
//! lock (`store::LockSession`) while it applies, so a `projections rebuild` run beside a
//! serving node and several worker nodes never step on each other. The lock ends with its
//! holder: a node killed mid-round leaves nothing for the next one to wait out.

use crate::{ProjectionError, Projector, TABLES};
use std::time::{Duration, Instant};
use store::{on_pool, Database, LockSession};
use tokio::sync::watch;

/// The checkpoint name of the read-model runner.
pub const CATCH_UP_CHECKPOINT: &str = "projections";
/// The checkpoint of the observations the runner has logged (event logs).
pub const OBSERVATIONS_CHECKPOINT: &str = "projections.observations";
/// Events applied in one transaction (the feed keeps each aggregate's events in sequence, so a
/// batch needs no gap checks).
const BATCH: i64 = 4000;
/// How long a rebuild or a one-off catch-up waits for the lock or for old transactions.
const PATIENCE: Duration = Duration::from_secs(600);

/// Applies the feed after the checkpoint while `session` holds its lock; returns how many. The
/// checkpoint moves through the session, so a holder whose lock ended stops there.
async fn apply_feed(db: &Database, session: &mut LockSession) -> Result<usize, ProjectionError> {
    let projector = Projector::new(db.clone());
    let mut at = db.checkpoint(CATCH_UP_CHECKPOINT).await?;
    let mut applied = 0;
    loop {
        let batch = db.read_feed(at, BATCH).await?;
        let Some(last) = batch.last() else { return Ok(applied) };
        let last = last.position;
        projector.apply_batch(&batch).await?;
        crate::event_logs::record_events(db, &batch).await?;
        applied += batch.len();
        at = last;
        session.save_checkpoint(db, CATCH_UP_CHECKPOINT, at).await?;
    }
}

/// Logs the observations after their checkpoint while `session` holds its lock; returns how
/// many.
async fn apply_observations(db: &Database, session: &mut LockSession) -> Result<usize, ProjectionError> {
    let mut at = db.checkpoint(OBSERVATIONS_CHECKPOINT).await?;
    let mut applied = 0;
    loop {
        let batch = db.read_observations(at, BATCH).await?;
        let Some(last) = batch.last() else { return Ok(applied) };
        let last = last.position;
        crate::event_logs::record_observations(db, &batch).await?;
        applied += batch.len();
        at = last;
        session.save_checkpoint(db, OBSERVATIONS_CHECKPOINT, at).await?;
    }
}

/// The feed, then the observations, each while `session` holds its lock.
async fn apply_both(db: &Database, session: &mut LockSession) -> Result<usize, ProjectionError> {
    Ok(apply_feed(db, session).await? + apply_observations(db, session).await?)
}

/// One round of catch-up on `session`: `None` when another reader holds the checkpoint.
#[tracing::instrument(skip_all)]
pub async fn catch_up_with(db: &Database, session: &mut LockSession) -> Result<Option<usize>, ProjectionError> {
    if !session.try_lock(CATCH_UP_CHECKPOINT).await? {
        return Ok(None);
    }
    let mut result = apply_feed(db, session).await;
    session.unlock(CATCH_UP_CHECKPOINT).await?;
    if result.is_ok() && session.try_lock(OBSERVATIONS_CHECKPOINT).await? {
        let logged = apply_observations(db, session).await;
        session.unlock(OBSERVATIONS_CHECKPOINT).await?;
        result = result.and_then(|applied| Ok(applied + logged?));
    }
    result.map(Some)
}

/// A session holding the checkpoints' locks, waited for while another reader holds one.
async fn locked(db: &Database) -> Result<LockSession, ProjectionError> {
    let mut session = db.lock_session().await?;
    let started = Instant::now();
    for checkpoint in [CATCH_UP_CHECKPOINT, OBSERVATIONS_CHECKPOINT] {
        while !session.try_lock(checkpoint).await? {
            if started.elapsed() > PATIENCE {
                return Err(ProjectionError::Busy("another reader holds the projection checkpoint"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(session)
}

/// Applies every event after the checkpoint (waiting while another reader holds it); returns
/// how many were applied.
pub async fn catch_up(db: &Database) -> Result<usize, ProjectionError> {
    let mut session = locked(db).await?;
    let result = apply_both(db, &mut session).await;
    session.close().await;
    result
}

/// Runs catch-up rounds every `interval` until `shutdown` turns true, on one lock session (a
/// session that failed is dropped, which lets go of its lock, and a new one is opened).
pub async fn run_catch_up(db: Database, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut session: Option<LockSession> = None;
    loop {
        if session.is_none() {
            match db.lock_session().await {
                Ok(opened) => session = Some(opened),
                Err(err) => tracing::error!(%err, "cannot open a lock session; will retry"),
            }
        }
        if let Some(open) = session.as_mut() {
            if let Err(err) = catch_up_with(&db, open).await {
                tracing::error!(%err, "projection catch-up failed; will retry");
                session = None;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => break,
        }
    }
    if let Some(open) = session {
        open.close().await;
    }
}

/// Empties every read model and replays the whole feed into it, holding the checkpoint's lock
/// throughout. Every event committed before the rebuild started is applied before it returns:
/// on PostgreSQL it waits until every transaction that was open at the start has finished.
#[tracing::instrument(skip(db))]
pub async fn rebuild(db: &Database) -> Result<usize, ProjectionError> {
    let mut session = locked(db).await?;
    let result = rebuild_locked(db, &mut session).await;
    session.close().await;
    result
}

async fn rebuild_locked(db: &Database, session: &mut LockSession) -> Result<usize, ProjectionError> {
    let horizon = db.horizon().await?;
    // The checkpoint goes back first: a crash after it leaves rows the runner re-applies
    // idempotently, never emptied tables with a checkpoint at the end of the feed.
    for checkpoint in [CATCH_UP_CHECKPOINT, OBSERVATIONS_CHECKPOINT] {
        session.save_checkpoint(db, checkpoint, Default::default()).await?;
    }
    for table in TABLES {
        let sql = format!("delete from {table}");
        on_pool!(db, |pool| sqlx::query(&sql).execute(pool).await?.rows_affected());
    }
    let started = Instant::now();
    let mut applied = apply_both(db, session).await?;
    while !db.horizon_passed(horizon).await? {
        if started.elapsed() > PATIENCE {
            let open = db.open_transactions().await?;
            return Err(ProjectionError::Stalled(open.join("; ")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        applied += apply_both(db, session).await?;
    }
    applied += apply_both(db, session).await?;
    Ok(applied)
}

/// How long the runner waits between polls when nothing is pending.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
