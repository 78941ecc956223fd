//! The webhook-endpoint and webhook-event resources.

use super::links::{account_path, account_relationships, related};
use crate::jsonapi::{resource, timestamp};
use projections::webhook_endpoints::WebhookEndpointRow;
use projections::webhook_events::WebhookEventRow;
use serde_json::{json, Map, Value};

/// The webhook-endpoint resource.
pub(crate) fn webhook_endpoint_resource(row: &WebhookEndpointRow) -> Value {
    let mut a = Map::new();
    a.insert("url".into(), json!(row.url));
    a.insert("subscriptions".into(), json!(row.subscription_list()));
    a.insert("signatureAlgorithm".into(), json!(row.signature_algorithm));
    a.insert("apiVersion".into(), json!(row.api_version));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut r = account_relationships(account);
    r.insert("environment".into(), json!({ "data": null }));
    let product = match &row.product_id {
        Some(id) => related(account, "products", id),
        None => json!({ "data": null }),
    };
    r.insert("product".into(), product);
    let path = account_path(account, &format!("webhook-endpoints/{}", row.id));
    resource("webhook-endpoints", &row.id, a, r, path)
}

/// The webhook-event resource: what a delivery posts (as `{"data": …}`) and what the API lists.
/// `payload` is the resource document as a JSON string, as Keygen sends it.
pub fn webhook_event_resource(row: &WebhookEventRow) -> Value {
    let mut a = Map::new();
    a.insert("endpoint".into(), json!(row.endpoint_url));
    a.insert("payload".into(), json!(row.payload));
    a.insert("event".into(), json!(row.event));
    a.insert("status".into(), json!(row.status));
    a.insert("lastResponseCode".into(), json!(row.last_response_code));
    a.insert("lastResponseBody".into(), json!(row.last_response_body));
    a.insert("apiVersion".into(), json!(row.api_version));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut r = account_relationships(account);
    r.insert("environment".into(), json!({ "data": null }));
    let path = account_path(account, &format!("webhook-events/{}", row.id));
    let mut object = resource("webhook-events", &row.id, a, r, path);
    object["meta"] = json!({ "idempotencyToken": row.idempotency_token, "attempts": row.attempts });
    object
}
