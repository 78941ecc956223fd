//! The event-log resource.

use super::links::{account_path, account_relationships, related};
use crate::jsonapi::{deep_camel, resource, timestamp};
use projections::event_logs::EventLogRow;
use serde_json::{json, Map, Value};

/// The event-log resource: `metadata` camelCased, `whodunnit` null for background work.
pub(crate) fn event_log_resource(row: &EventLogRow) -> Value {
    let account = &row.account_id;
    let mut a = Map::new();
    a.insert("event".into(), json!(row.event));
    let metadata = row.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok());
    a.insert("metadata".into(), metadata.map(deep_camel).unwrap_or(Value::Null));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.created_at));
    let mut r = account_relationships(account);
    r.insert("environment".into(), json!({ "data": null }));
    let request = match &row.request_id {
        Some(id) => related(account, "request-logs", id),
        None => json!({ "data": null }),
    };
    r.insert("request".into(), request);
    let whodunnit = match (&row.whodunnit_type, &row.whodunnit_id) {
        (Some(kind), Some(id)) => related(account, kind, id),
        _ => json!({ "data": null }),
    };
    r.insert("whodunnit".into(), whodunnit);
    r.insert(
        "resource".into(),
        related(account, &row.resource_type, &row.resource_id),
    );
    let path = account_path(account, &format!("event-logs/{}", row.id));
    resource("event-logs", &row.id, a, r, path)
}
