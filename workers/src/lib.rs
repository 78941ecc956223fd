//! Background work that runs beside (or apart from) the API: today the projection catch-up
//! runner; webhook delivery and heartbeat expiry join it with the bus.

pub mod webhook_address;

use std::time::Duration;
use store::Database;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which background loops a process runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Apply the global feed to the read models every `catch_up_interval`.
    pub catch_up: bool,
    pub catch_up_interval: Duration,
    /// Decide machines whose heartbeat deadline passed, every so often (`None`: not in this
    /// process). The binary runs this loop (`api::run_heartbeats`): it executes commands.
    pub heartbeats: Option<Duration>,
}

/// How often a worker looks for machines whose heartbeat deadline passed, by default: a death
/// is recorded within this long after its deadline.
pub const DEFAULT_HEARTBEAT_SCAN: Duration = Duration::from_secs(10);

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            catch_up: true,
            catch_up_interval: projections::DEFAULT_INTERVAL,
            heartbeats: Some(DEFAULT_HEARTBEAT_SCAN),
        }
    }
}

/// Starts the background loops; each stops when `shutdown` turns true.
pub fn spawn(db: Database, options: WorkerOptions, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        if options.catch_up {
            tasks.push(tokio::spawn(projections::run_catch_up(
                db.clone(),
                options.catch_up_interval,
                shutdown.clone(),
            )));
        }
        for task in tasks {
            if let Err(err) = task.await {
                tracing::error!(%err, "background task ended abnormally");
            }
        }
    })
}
