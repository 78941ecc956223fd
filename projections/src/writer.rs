//! The observation writer: every observation of a process (validations now; heartbeats,
//! check-outs and downloads as they arrive) goes through one writer task, which commits whatever
//! has queued as one transaction — multi-row inserts into `observations` and a multi-row upsert
//! of the `lastValidated` of each license it touches. Each caller is answered when the batch holding its
//! observation has committed, so a 200 still means the observation is durable, and a failed
//! batch fails exactly its callers. The channel is bounded: when it is full, callers wait;
//! nothing is dropped. One writer also means observation writes never compete with one another
//! for SQLite's single write lock.

use crate::request_logs::{self, RequestLogRow};
use crate::{value_rows, Conn, ProjectionError};
use std::collections::HashMap;
use std::sync::Arc;
use store::{on_pool, Database};
use tokio::sync::{mpsc, oneshot, watch};

/// One observation, owned, as it travels to the writer. With `event_type` None it only moves
/// operational state (a quick validation records `lastValidated` but no log entry).
#[derive(Debug, Clone)]
pub struct Observed {
    pub account_id: String,
    /// Keygen's event name, e.g. `license.validation.succeeded`.
    pub event_type: Option<&'static str>,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    /// Microseconds since the epoch.
    pub at: i64,
    /// For a machine's ping: its new deadline (µs); the ping moves the machine's heartbeat.
    pub deadline: Option<i64>,
}

impl Observed {
    /// A license or machine file check-out (it moves `lastCheckOut`, not `lastValidated`).
    fn is_check_out(&self) -> bool {
        matches!(self.event_type, Some("license.checked-out" | "machine.checked-out"))
    }
}

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Observations queued before callers wait.
    pub capacity: usize,
    /// Observations committed in one transaction at most.
    pub max_batch: usize,
    /// How long the writer waits for more observations after the first of a batch. Zero by
    /// default: under load a batch forms by itself while the previous one commits, and an idle
    /// server should not add latency to a lone validation.
    pub linger: std::time::Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            capacity: 4096,
            max_batch: 256,
            linger: std::time::Duration::ZERO,
        }
    }
}

struct Job {
    observed: Observed,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle callers send observations through; cheap to clone.
#[derive(Clone)]
pub struct ObservationWriter {
    jobs: mpsc::Sender<Job>,
    /// Request logs, committed by a task of their own in large batches: nobody waits for them,
    /// and validations' commits do not carry them.
    requests: mpsc::Sender<RequestLogRow>,
    /// While true the writer commits nothing (a test holds it to prove callers wait).
    paused: Arc<watch::Sender<bool>>,
}

impl ObservationWriter {
    /// Starts the writer task on `db`. It ends, after committing what is queued, when the last
    /// handle is dropped.
    pub fn spawn(db: Database, settings: WriterSettings) -> Self {
        let (jobs, queue) = mpsc::channel(settings.capacity.max(1));
        let (requests, logs) = mpsc::channel(settings.capacity.max(1));
        let (paused, pause) = watch::channel(false);
        tokio::spawn(run(db.clone(), queue, pause, settings));
        tokio::spawn(log_requests(db, logs));
        Self {
            jobs,
            requests,
            paused: Arc::new(paused),
        }
    }

    /// Records an observation; returns once it is committed.
    pub async fn record(&self, observed: Observed) -> Result<(), ProjectionError> {
        let (done, committed) = oneshot::channel();
        self.jobs
            .send(Job { observed, done })
            .await
            .map_err(|_| ProjectionError::Busy("the observation writer has stopped"))?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(ProjectionError::Failed(reason)),
            Err(_) => Err(ProjectionError::Busy("the observation writer has stopped")),
        }
    }

    /// Queues a request log; returns without waiting for its commit (it waits only while the
    /// queue is full). A batch that fails loses its request logs, logged.
    pub async fn log_request(&self, row: RequestLogRow) {
        if self.requests.send(row).await.is_err() {
            tracing::warn!("the observation writer has stopped; a request log is lost");
        }
    }

    /// Holds (true) or releases (false) the writer: while held it commits nothing and callers
    /// wait. For tests of backpressure.
    pub fn hold(&self, held: bool) {
        self.paused.send_replace(held);
    }
}

async fn run(db: Database, mut queue: mpsc::Receiver<Job>, mut pause: watch::Receiver<bool>, settings: WriterSettings) {
    let max_batch = settings.max_batch.max(1);
    while let Some(first) = queue.recv().await {
        let _ = pause.wait_for(|held| !*held).await;
        let lingered = tokio::time::Instant::now() + settings.linger;
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) if settings.linger.is_zero() => break,
                Err(_) => match tokio::time::timeout_at(lingered, queue.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        let observed: Vec<&Observed> = batch.iter().map(|job| &job.observed).collect();
        let result = commit(&db, &observed).await.map_err(|err| {
            tracing::error!(%err, observations = observed.len(), "observation batch failed");
            err.to_string()
        });
        for job in batch {
            let _ = job.done.send(result.clone());
        }
    }
}

const COLUMNS: usize = 8;

const INSERT_OBSERVATIONS: &str =
    "insert into observations (id, account_id, event_type, resource_type, resource_id, payload, metadata, created_at)";

/// Commits a batch: the log entries in a few statements, then each license's latest validation.
async fn commit(db: &Database, batch: &[&Observed]) -> Result<(), ProjectionError> {
    let logged: Vec<&&Observed> = batch.iter().filter(|o| o.event_type.is_some()).collect();
    // One row of operational state per license: the latest of its validations in the batch.
    let mut latest: HashMap<(&str, &str), i64> = HashMap::new();
    let checked_out: Vec<&&Observed> = batch.iter().filter(|o| o.is_check_out()).collect();
    for o in batch
        .iter()
        .filter(|o| o.resource_type == "licenses" && !o.is_check_out())
    {
        let at = latest
            .entry((o.account_id.as_str(), o.resource_id.as_str()))
            .or_insert(o.at);
        *at = (*at).max(o.at);
    }
    // One heartbeat per machine: its latest ping in the batch.
    let mut pinged: HashMap<(&str, &str), (i64, i64)> = HashMap::new();
    for o in batch
        .iter()
        .filter(|o| matches!(o.resource_type, "machines" | "processes"))
    {
        if let Some(deadline) = o.deadline {
            let latest = pinged
                .entry((o.resource_type, o.resource_id.as_str()))
                .or_insert((o.at, deadline));
            *latest = (latest.0.max(o.at), latest.1.max(deadline));
        }
    }
    let _turn = db.write_turn().await;
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        let per_statement = Conn::from(&mut *tx).parameters_per_statement();
        // Each kind's heartbeats in a few statements, not one a ping: the writer is one
        // pipeline, and a statement is a round trip.
        for (kind, table, id_column) in [
            ("machines", "machine_heartbeats", "machine_id"),
            ("processes", "process_heartbeats", "process_id"),
        ] {
            let rows: Vec<_> = pinged.iter().filter(|((k, _), _)| *k == kind).collect();
            for chunk in rows.chunks(per_statement / 3) {
                let touch = format!(
                    "with v (at, deadline, id) as (values {}) {}",
                    value_rows(chunk.len(), 3),
                    touch_heartbeats(table, id_column)
                );
                let mut query = sqlx::query(&touch);
                for ((_, id), (at, deadline)) in chunk {
                    query = query.bind(*at).bind(*deadline).bind(*id);
                }
                query.execute(&mut *tx).await?;
            }
        }
        for chunk in logged.chunks(per_statement / COLUMNS) {
            let insert = format!("{INSERT_OBSERVATIONS} values {}", value_rows(chunk.len(), COLUMNS));
            let mut query = sqlx::query(&insert);
            for o in chunk {
                query = query
                    .bind(crate::observations::new_id())
                    .bind(o.account_id.as_str())
                    .bind(o.event_type.unwrap_or_default())
                    .bind(o.resource_type)
                    .bind(o.resource_id.as_str())
                    .bind(o.payload.to_string())
                    .bind(o.metadata.to_string())
                    .bind(o.at);
            }
            query.execute(&mut *tx).await?;
        }
        // Check-outs are few (a file lasts a month by default): a statement each.
        for o in &checked_out {
            let touch = match o.resource_type {
                "licenses" => TOUCH_LICENSE_CHECK_OUT,
                _ => TOUCH_MACHINE_CHECK_OUT,
            };
            sqlx::query(touch)
                .bind(o.resource_id.as_str())
                .bind(o.account_id.as_str())
                .bind(o.at)
                .execute(&mut *tx)
                .await?;
        }
        let latest: Vec<_> = latest.into_iter().collect();
        for chunk in latest.chunks(per_statement / 3) {
            let touch = format!(
                "{TOUCH_VALIDATED} values {}{TOUCH_VALIDATED_TAIL}",
                value_rows(chunk.len(), 3)
            );
            let mut query = sqlx::query(&touch);
            for ((account_id, license_id), at) in chunk {
                query = query.bind(*license_id).bind(*account_id).bind(*at);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

/// How long the request-log task gathers rows before it commits them (nobody waits for them:
/// fewer, larger transactions leave the write lock to validations).
const REQUEST_LOG_LINGER: std::time::Duration = std::time::Duration::from_millis(100);

/// Commits request logs in large batches until the last writer handle is dropped.
async fn log_requests(db: Database, mut logs: mpsc::Receiver<RequestLogRow>) {
    while let Some(first) = logs.recv().await {
        let until = tokio::time::Instant::now() + REQUEST_LOG_LINGER;
        let mut batch = vec![first];
        while batch.len() < 2048 {
            match tokio::time::timeout_at(until, logs.recv()).await {
                Ok(Some(row)) => batch.push(row),
                Ok(None) | Err(_) => break,
            }
        }
        if let Err(err) = commit_requests(&db, &batch).await {
            tracing::error!(%err, requests = batch.len(), "request logs lost: their batch failed");
        }
    }
}

async fn commit_requests(db: &Database, requests: &[RequestLogRow]) -> Result<(), ProjectionError> {
    let _turn = db.write_turn().await;
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        let per_statement = Conn::from(&mut *tx).parameters_per_statement();
        for chunk in requests.chunks(per_statement / request_logs::WIDTH) {
            let insert = format!(
                "insert into request_logs ({}) values {} on conflict (id) do nothing",
                request_logs::COLUMNS,
                value_rows(chunk.len(), request_logs::WIDTH)
            );
            let mut query = sqlx::query(&insert);
            for r in chunk {
                query = query
                    .bind(&r.id)
                    .bind(&r.account_id)
                    .bind(&r.method)
                    .bind(&r.url)
                    .bind(&r.status)
                    .bind(&r.ip)
                    .bind(&r.user_agent)
                    .bind(&r.requestor_type)
                    .bind(&r.requestor_id)
                    .bind(&r.request_headers)
                    .bind(&r.request_body)
                    .bind(&r.response_headers)
                    .bind(&r.response_body)
                    .bind(&r.response_signature)
                    .bind(r.run_time)
                    .bind(r.created_at);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

/// Pings (the rows of `v`: at, deadline, id) move their machines' or processes' last heartbeat
/// and deadline forward (never back: batches may commit a late one after) and clear a death; a
/// machine deactivated or a process killed meanwhile has no row to move.
fn touch_heartbeats(table: &str, id_column: &str) -> String {
    format!(
        "update {table} set last_heartbeat = v.at, deadline = v.deadline, dead_at = null, claimed_until = null \
         from v where {table}.{id_column} = v.id and ({table}.last_heartbeat is null or {table}.last_heartbeat < v.at)"
    )
}

/// A license's `lastCheckOut` moves forward only ($1 license, $2 account, $3 at).
const TOUCH_LICENSE_CHECK_OUT: &str = "insert into license_activity (license_id, account_id, last_check_out) \
    values ($1, $2, $3) on conflict (license_id) do update set last_check_out = \
    case when license_activity.last_check_out is null or excluded.last_check_out > license_activity.last_check_out \
    then excluded.last_check_out else license_activity.last_check_out end";

/// A machine's `lastCheckOut` moves forward only; a machine deactivated meanwhile has no row.
const TOUCH_MACHINE_CHECK_OUT: &str = "update machine_heartbeats set last_check_out = $3 \
    where machine_id = $1 and account_id = $2 and (last_check_out is null or last_check_out < $3)";

/// A license's `lastValidated` moves forward only (batches may commit a late one after). One row
/// per license in a statement (`latest` has one per license).
const TOUCH_VALIDATED: &str = "insert into license_activity (license_id, account_id, last_validated)";
const TOUCH_VALIDATED_TAIL: &str = " on conflict (license_id) do update set last_validated = \
    case when license_activity.last_validated is null \
    or excluded.last_validated > license_activity.last_validated \
    then excluded.last_validated else license_activity.last_validated end";
