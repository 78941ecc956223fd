//! Background work that runs beside (or apart from) the API: the projection catch-up runner,
//! and with the bus the relay, webhook fan-out and webhook delivery.

pub mod bus;
pub mod delivery;
pub mod fanout;
pub mod relay;
pub mod webhook_address;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use store::Database;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use bus::{Bus, InProcessBus, NatsBus};
pub use delivery::DeliveryOptions;
pub use relay::Envelope;

/// What webhook work needs from the rest of the server: its clock, the API's rendering of
/// resources, the accounts' signing keys and commands on endpoints. The binary provides it.
#[async_trait]
pub trait WebhookHost: Send + Sync + 'static {
    /// Now, on the server's clock (tests move it).
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
    /// The JSON:API document (`{"data": …}`) of the resource an event is about, as API 1.8
    /// renders it.
    async fn render(&self, envelope: &Envelope) -> Result<serde_json::Value, String>;
    /// The webhook-event document a delivery posts.
    fn webhook_document(&self, row: &projections::webhook_events::WebhookEventRow) -> serde_json::Value;
    /// `message` signed with the account's key for `algorithm` (a Keygen signature algorithm
    /// name, e.g. `ed25519`), base64.
    async fn sign(&self, account_id: &str, algorithm: &str, message: &[u8]) -> Result<String, String>;
    /// Empties an endpoint's subscriptions (it answered 410 Gone).
    async fn disable_endpoint(&self, account_id: &str, endpoint_id: &str) -> Result<(), String>;
}

/// The webhook workers of a process: relay, fan-out and delivery.
#[derive(Clone)]
pub struct WebhookWorkers {
    pub bus: Arc<dyn Bus>,
    pub host: Arc<dyn WebhookHost>,
    pub delivery: DeliveryOptions,
    /// How often the relay looks for new events.
    pub relay_interval: Duration,
}

/// Which background loops a process runs.
#[derive(Clone)]
pub struct WorkerOptions {
    /// Apply the global feed to the read models every `catch_up_interval`.
    pub catch_up: bool,
    pub catch_up_interval: Duration,
    /// Decide machines whose heartbeat deadline passed, every so often (`None`: not in this
    /// process). The binary runs this loop (`api::run_heartbeats`): it executes commands.
    pub heartbeats: Option<Duration>,
    /// Relay, fan-out and delivery (`None`: not in this process).
    pub webhooks: Option<WebhookWorkers>,
}

/// How often a worker looks for machines whose heartbeat deadline passed, by default: a death
/// is recorded within this long after its deadline.
pub const DEFAULT_HEARTBEAT_SCAN: Duration = Duration::from_secs(10);
/// How often the relay looks for new events when nothing wakes it, by default.
pub const DEFAULT_RELAY_INTERVAL: Duration = Duration::from_millis(250);

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            catch_up: true,
            catch_up_interval: projections::DEFAULT_INTERVAL,
            heartbeats: Some(DEFAULT_HEARTBEAT_SCAN),
            webhooks: None,
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
        if let Some(webhooks) = options.webhooks {
            // Consumers first: the in-process bus hands a message only to durables that exist.
            match webhooks.bus.consumer(fanout::DURABLE).await {
                Ok(consumer) => {
                    let deliver = Arc::new(Notify::new());
                    tasks.push(tokio::spawn(fanout::run_fanout(
                        db.clone(),
                        webhooks.host.clone(),
                        consumer,
                        deliver.clone(),
                        shutdown.clone(),
                    )));
                    tasks.push(tokio::spawn(delivery::run_delivery(
                        db.clone(),
                        webhooks.host.clone(),
                        webhooks.delivery.clone(),
                        deliver,
                        shutdown.clone(),
                    )));
                    tasks.push(tokio::spawn(relay::run_relay(
                        db.clone(),
                        webhooks.bus.clone(),
                        webhooks.relay_interval,
                        shutdown.clone(),
                    )));
                }
                Err(err) => tracing::error!(%err, "webhook workers not started: the bus has no consumer"),
            }
        }
        for task in tasks {
            if let Err(err) = task.await {
                tracing::error!(%err, "background task ended abnormally");
            }
        }
    })
}
