//! Webhook fan-out: a durable consumer of the bus that turns each event into one webhook event
//! per endpoint that subscribes to it. The rows are unique per (endpoint, message), so a message
//! the bus delivers twice fans out once.

use crate::bus::{Consumer, Delivery};
use crate::relay::Envelope;
use crate::WebhookHost;
use projections::webhook_endpoints::{self, WebhookEndpointRow};
use projections::webhook_events::{self, NewWebhookEvent};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::Database;
use tokio::sync::{watch, Notify};

/// The durable consumer fan-out reads through.
pub const DURABLE: &str = "webhook-fanout";
/// Messages handled together (one read of the endpoints, one insert).
const BATCH: usize = 256;

/// The idempotency token every webhook event of one message shares (a receiver dedupes on it;
/// a manual retry keeps it).
pub fn idempotency_token(message_id: &str, account_id: &str) -> String {
    hex::encode(Sha256::digest(format!("{account_id}:{message_id}")))
}

/// Whether a product-scoped endpoint may see the resource: the product itself, or a resource
/// whose document relates it to the product.
fn product_sees(product: &str, envelope: &Envelope, document: &Value) -> bool {
    (envelope.resource_type == "products" && envelope.resource_id == product)
        || document["data"]["relationships"]["product"]["data"]["id"].as_str() == Some(product)
}

/// The webhook events of a batch of messages.
async fn webhook_events_of(
    db: &Database,
    host: &dyn WebhookHost,
    envelopes: &[Envelope],
) -> Result<Vec<NewWebhookEvent>, String> {
    let mut accounts: Vec<&str> = envelopes
        .iter()
        .filter(|e| aggregates::webhook_endpoint::is_event_type(&e.event))
        .map(|e| e.account_id.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let endpoints = webhook_endpoints::live_of(db, &accounts)
        .await
        .map_err(|e| e.to_string())?;
    let mut by_account: HashMap<&str, Vec<&WebhookEndpointRow>> = HashMap::new();
    for endpoint in &endpoints {
        by_account
            .entry(endpoint.account_id.as_str())
            .or_default()
            .push(endpoint);
    }
    let now = host.now().timestamp_micros();
    let mut rows = Vec::new();
    for envelope in envelopes {
        let subscribed: Vec<&&WebhookEndpointRow> = by_account
            .get(envelope.account_id.as_str())
            .map(|list| list.iter().filter(|e| e.subscribes_to(&envelope.event)).collect())
            .unwrap_or_default();
        if subscribed.is_empty() {
            continue;
        }
        let document = host.render(envelope).await?;
        let payload = serde_json::to_string(&document).map_err(|e| e.to_string())?;
        let token = idempotency_token(&envelope.id, &envelope.account_id);
        for endpoint in subscribed {
            if let Some(product) = &endpoint.product_id {
                if !product_sees(product, envelope, &document) {
                    continue;
                }
            }
            rows.push(NewWebhookEvent {
                id: uuid::Uuid::new_v4().to_string(),
                account_id: envelope.account_id.clone(),
                endpoint_id: endpoint.id.clone(),
                endpoint_url: endpoint.url.clone(),
                source: envelope.id.clone(),
                event: envelope.event.clone(),
                api_version: endpoint.api_version.clone(),
                payload: payload.clone(),
                idempotency_token: token.clone(),
                at: now,
            });
        }
    }
    Ok(rows)
}

/// Handles one batch; the messages are acknowledged only once their rows are stored.
async fn handle(db: &Database, host: &dyn WebhookHost, batch: Vec<Delivery>) -> Result<usize, String> {
    let mut envelopes = Vec::with_capacity(batch.len());
    for delivery in &batch {
        match serde_json::from_slice::<Envelope>(&delivery.message.body) {
            Ok(envelope) => envelopes.push(envelope),
            Err(err) => tracing::error!(%err, id = %delivery.message.id, "fan-out: unreadable message skipped"),
        }
    }
    let rows = webhook_events_of(db, host, &envelopes).await?;
    webhook_events::create(db, &rows).await.map_err(|e| e.to_string())?;
    for delivery in batch {
        delivery.ack().await.map_err(|e| e.to_string())?;
    }
    Ok(rows.len())
}

/// Fans out until `shutdown` turns true, waking the delivery loop after each stored batch.
pub async fn run_fanout(
    db: Database,
    host: Arc<dyn WebhookHost>,
    mut consumer: Box<dyn Consumer>,
    delivery: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let batch = tokio::select! {
            batch = consumer.next_batch(BATCH, Duration::from_millis(500)) => batch,
            _ = shutdown.changed() => break,
        };
        match batch {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => match handle(&db, host.as_ref(), batch).await {
                Ok(created) if created > 0 => delivery.notify_one(),
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(%err, "webhook fan-out failed; the batch comes again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            },
            Err(err) => {
                tracing::error!(%err, "fan-out cannot read the bus; will retry");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
