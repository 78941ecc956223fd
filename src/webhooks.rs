//! The webhook side of the composition root: which bus, which networks, and the workers that
//! relay, fan out and deliver over it.

use crate::StartError;
use api::AppState;
use std::sync::Arc;

/// Where webhooks go and how events reach them.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// NATS JetStream (`nats://host:port`); the in-process bus when `None`.
    pub nats_url: Option<String>,
    /// Internal networks webhook endpoints may point into (CIDRs; none by default).
    pub allow_nets: workers::webhook_address::AllowedNets,
    /// How long a delivery may take to connect, and in all (Keygen: 15 s). A worker that dies
    /// mid-delivery leaves its rows to another after four times this.
    pub timeout: std::time::Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            nats_url: None,
            allow_nets: Default::default(),
            timeout: workers::DeliveryOptions::default().timeout,
        }
    }
}

impl WebhookConfig {
    /// From the values of `KEYLEDGER_NATS_URL` and `KEYLEDGER_WEBHOOK_ALLOW_NETS`.
    pub fn parse(nats_url: Option<&str>, allow_nets: Option<&str>) -> Result<Self, StartError> {
        Ok(Self {
            nats_url: nats_url.filter(|u| !u.is_empty()).map(str::to_string),
            allow_nets: allow_nets.unwrap_or_default().parse().map_err(StartError::AllowNets)?,
            ..Default::default()
        })
    }

    /// The bus this configuration names (connecting to NATS and making its stream).
    pub async fn bus(&self) -> Result<Arc<dyn workers::Bus>, StartError> {
        Ok(match &self.nats_url {
            Some(url) => Arc::new(
                workers::NatsBus::connect(url)
                    .await
                    .map_err(|e| StartError::Bus(e.to_string()))?,
            ),
            None => Arc::new(workers::InProcessBus::new()),
        })
    }
}

/// The webhook workers (relay, fan-out, delivery) of `state` over `bus`; also lets the API
/// take endpoints in the allowed networks.
pub fn webhook_workers(
    state: &AppState,
    bus: Arc<dyn workers::Bus>,
    config: &WebhookConfig,
) -> workers::WebhookWorkers {
    *state.webhook_networks.write().expect("webhook networks") = config.allow_nets.clone();
    workers::WebhookWorkers {
        bus,
        host: Arc::new(api::webhooks::Host(state.clone())),
        delivery: workers::DeliveryOptions {
            allowed: config.allow_nets.clone(),
            timeout: config.timeout,
            ..Default::default()
        },
        relay_interval: workers::DEFAULT_RELAY_INTERVAL,
    }
}
