//! Event logs: every Keygen-named event and observation as an `event-logs` row — what happened,
//! to which resource, caused by whom (`whodunnit`) in which request, with Keygen's metadata
//! (`diff` for updates, `code` for validations). Built by the catch-up runner from the feed and
//! from the observation log (each under its checkpoint), so a rebuild reproduces it: an event's
//! row id is derived from its stream and sequence, an observation's is its own.

use crate::filter::{Bind, Filter, Source};
use crate::masking::mask;
use crate::{fetch_row, Page, PageRequest, ProjectionError};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use store::{on_pool, Database, FeedEvent, ObservationRecord};

/// An event log row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventLogRow {
    pub id: String,
    pub account_id: String,
    pub event: String,
    pub resource_type: String,
    pub resource_id: String,
    pub whodunnit_type: Option<String>,
    pub whodunnit_id: Option<String>,
    pub request_id: Option<String>,
    /// JSON text, or none.
    pub metadata: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, account_id, event, resource_type, resource_id, whodunnit_type, whodunnit_id, request_id, \
    metadata, created_at";

/// The data of a stored event: its variant's fields (payloads are externally tagged:
/// `{"machine.created": {…}}`).
pub fn event_data(payload: &Value) -> &Value {
    match payload {
        Value::Object(map) if map.len() == 1 => map.values().next().unwrap_or(payload),
        other => other,
    }
}

/// The JSON:API type of a resource family (`machine` → `machines`).
fn plural(family: &str) -> String {
    match family {
        "policy" => "policies".into(),
        "process" => "processes".into(),
        other => format!("{other}s"),
    }
}

/// The resource an event is about: its own aggregate's, or (for an event a stream records about
/// something it owns: a license's machines, processes and components, a policy's pooled keys)
/// the id the event's data names for it.
pub fn subject_of(event: &str, aggregate_type: &str, aggregate_id: &str, data: &Value) -> (String, String) {
    let family = match event {
        "policy.pool.popped" => "key",
        other => other.split('.').next().unwrap_or(other),
    };
    if family == aggregate_type {
        return (plural(family), aggregate_id.to_string());
    }
    let named = [&data[family]["id"], &data[format!("{family}_id")], &data["to"]["id"]]
        .into_iter()
        .find_map(|v| v.as_str());
    match named {
        Some(id) => (plural(family), id.to_string()),
        None => (plural(aggregate_type), aggregate_id.to_string()),
    }
}

/// When an event happened, by its own timestamp (`at`, or the first `*_at`), in microseconds.
fn event_time(data: &Value) -> i64 {
    let Value::Object(map) = data else { return 0 };
    let stamp = map
        .get("at")
        .into_iter()
        .chain(map.iter().filter(|(k, _)| k.ends_with("_at")).map(|(_, v)| v))
        .filter_map(Value::as_str)
        .find_map(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    stamp.map(|t| t.timestamp_micros()).unwrap_or(0)
}

/// A stable id for an event's log row (the same on every rebuild).
fn row_id(event: &FeedEvent) -> String {
    let digest = Sha256::digest(format!(
        "{}:{}:{}",
        event.aggregate_type, event.aggregate_id, event.sequence
    ));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// `{attribute: [before, after]}` for what changed, masked, with Keygen's `_digest`/`_at`
/// suffixes stripped from names.
fn diff(before: &Value, after: &Value) -> Value {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return Value::Null;
    };
    let mut changes = Map::new();
    for (key, new) in after {
        let old = before.get(key).unwrap_or(&Value::Null);
        if old != new {
            let name = key.trim_end_matches("_digest").trim_end_matches("_at").to_string();
            let mut one = Map::new();
            one.insert(name.clone(), json!([old, new]));
            let masked = mask(Value::Object(one))[&name].clone();
            changes.insert(name, masked);
        }
    }
    Value::Object(changes)
}

/// The account an event belongs to: its metadata's, its data's, or (an account's own events)
/// the account itself.
pub fn account_of(event: &FeedEvent, data: &Value) -> String {
    text(&event.metadata["account_id"])
        .or_else(|| text(&data["account_id"]))
        .unwrap_or_else(|| match event.aggregate_type.as_str() {
            "account" => event.aggregate_id.clone(),
            _ => String::new(),
        })
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Keygen's metadata of an event: the diff of an update (against the attributes before it),
/// the codes of an entitlement change, none otherwise.
async fn metadata_of(db: &Database, event: &FeedEvent, data: &Value) -> Result<Option<Value>, ProjectionError> {
    if event.event_type.ends_with(".updated") {
        if let Some(after) = data.get("attributes") {
            let earlier = db
                .aggregate_events(&event.aggregate_type, &event.aggregate_id, -1, event.sequence)
                .await?;
            let before = earlier
                .iter()
                .rev()
                .find_map(|e| event_data(&e.payload).get("attributes").cloned())
                .unwrap_or(Value::Null);
            return Ok(Some(json!({ "diff": diff(&before, after) })));
        }
    }
    if event.event_type.ends_with(".entitlements.attached") || event.event_type.ends_with(".entitlements.detached") {
        if let Some(ids) = data.get("entitlement_ids") {
            return Ok(Some(json!({ "entitlements": ids })));
        }
    }
    Ok(None)
}

/// Logs the Keygen-named events of a feed batch (rows already there stay).
pub(crate) async fn record_events(db: &Database, events: &[FeedEvent]) -> Result<(), ProjectionError> {
    let mut rows = Vec::new();
    for event in events {
        if !aggregates::webhook_endpoint::is_event_type(&event.event_type) {
            continue;
        }
        let data = event_data(&event.payload);
        let (resource_type, resource_id) =
            subject_of(&event.event_type, &event.aggregate_type, &event.aggregate_id, data);
        let account_id = account_of(event, data);
        rows.push(EventLogRow {
            id: row_id(event),
            account_id,
            event: event.event_type.clone(),
            resource_type,
            resource_id,
            whodunnit_type: text(&event.metadata["whodunnit_type"]),
            whodunnit_id: text(&event.metadata["whodunnit_id"]),
            request_id: text(&event.metadata["request_id"]),
            metadata: metadata_of(db, event, data).await?.map(|m| m.to_string()),
            created_at: event_time(data),
        });
    }
    insert(db, &rows).await
}

/// Logs observations (validations, pings): Keygen's metadata of a validation is its `code`.
pub(crate) async fn record_observations(
    db: &Database,
    observations: &[ObservationRecord],
) -> Result<(), ProjectionError> {
    let rows: Vec<EventLogRow> = observations
        .iter()
        .filter(|o| aggregates::webhook_endpoint::is_event_type(&o.event_type))
        .map(|o| EventLogRow {
            id: o.id.clone(),
            account_id: o.account_id.clone(),
            event: o.event_type.clone(),
            resource_type: o.resource_type.clone(),
            resource_id: o.resource_id.clone(),
            whodunnit_type: text(&o.metadata["whodunnit_type"]),
            whodunnit_id: text(&o.metadata["whodunnit_id"]),
            request_id: text(&o.metadata["request_id"]),
            metadata: o
                .event_type
                .starts_with("license.validation.")
                .then(|| json!({ "code": o.payload["code"] }).to_string()),
            created_at: o.created_at,
        })
        .collect();
    insert(db, &rows).await
}

async fn insert(db: &Database, rows: &[EventLogRow]) -> Result<(), ProjectionError> {
    const WIDTH: usize = 10;
    for chunk in rows.chunks(100) {
        let sql = format!(
            "insert into event_logs ({COLUMNS}) values {} on conflict (id) do nothing",
            crate::value_rows(chunk.len(), WIDTH)
        );
        on_pool!(db, |pool| {
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(&r.id)
                    .bind(&r.account_id)
                    .bind(&r.event)
                    .bind(&r.resource_type)
                    .bind(&r.resource_id)
                    .bind(&r.whodunnit_type)
                    .bind(&r.whodunnit_id)
                    .bind(&r.request_id)
                    .bind(&r.metadata)
                    .bind(r.created_at);
            }
            query.execute(pool).await?.rows_affected()
        });
    }
    Ok(())
}

/// An event log of the account.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<EventLogRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from event_logs where account_id = $1 and id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// What an event log list keeps (Keygen's filters).
#[derive(Debug, Clone, Default)]
pub struct EventLogFilter {
    pub events: Vec<String>,
    pub resource: Option<(String, String)>,
    pub whodunnit: Option<(String, String)>,
    pub request: Option<String>,
    /// Microseconds, inclusive.
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// The account's event logs, newest first.
pub async fn list(
    db: &Database,
    account_id: &str,
    wanted: &EventLogFilter,
    page: PageRequest,
) -> Result<Page<EventLogRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    if !wanted.events.is_empty() {
        let params: Vec<String> = wanted
            .events
            .iter()
            .map(|e| filter.param(Bind::Text(e.clone())))
            .collect();
        filter.push(format!("event in ({})", params.join(", ")));
    }
    if let Some((kind, id)) = &wanted.resource {
        filter.eq("resource_type", kind);
        filter.eq("resource_id", id);
    }
    if let Some((kind, id)) = &wanted.whodunnit {
        filter.eq("whodunnit_type", kind);
        filter.eq("whodunnit_id", id);
    }
    if let Some(request) = &wanted.request {
        filter.eq("request_id", request);
    }
    if let Some(from) = wanted.from {
        let p = filter.param(Bind::Int(from));
        filter.push(format!("created_at >= {p}"));
    }
    if let Some(until) = wanted.until {
        let p = filter.param(Bind::Int(until));
        filter.push(format!("created_at <= {p}"));
    }
    filter
        .page(db, COLUMNS, "from event_logs", Source::table("event_logs"), page)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_the_resource_it_is_about() {
        let machine = json!({"machine": {"id": "m1"}, "created_at": "x"});
        assert_eq!(
            subject_of("machine.created", "license", "l1", &machine),
            ("machines".into(), "m1".into())
        );
        assert_eq!(
            subject_of("license.created", "license", "l1", &json!({})),
            ("licenses".into(), "l1".into())
        );
        let process = json!({"process_id": "p1"});
        assert_eq!(
            subject_of("process.updated", "license", "l1", &process),
            ("processes".into(), "p1".into())
        );
        let resized = json!({"from": {"id": "m1"}, "to": {"id": "m1"}});
        assert_eq!(
            subject_of("machine.updated", "license", "l1", &resized),
            ("machines".into(), "m1".into())
        );
        let popped = json!({"key": {"id": "k1"}});
        assert_eq!(
            subject_of("policy.pool.popped", "policy", "p1", &popped),
            ("keys".into(), "k1".into())
        );
        assert_eq!(
            subject_of("machine.heartbeat.dead", "machine", "m1", &json!({})),
            ("machines".into(), "m1".into())
        );
        assert_eq!(
            subject_of("policy.created", "policy", "p1", &json!({})),
            ("policies".into(), "p1".into())
        );
    }

    #[test]
    fn a_diff_holds_what_changed_masked_and_renamed_as_keygen_does() {
        let before = json!({"name": "A", "code": "a", "key_digest": "0123456789abcdef0123", "expires_at": null});
        let after = json!({"name": "B", "code": "a", "key_digest": "fedcba9876543210fedc", "expires_at": "2030-01-01T00:00:00Z"});
        let changes = diff(&before, &after);
        assert_eq!(changes["name"], json!(["A", "B"]));
        assert!(changes.get("code").is_none());
        assert_eq!(changes["key"], json!(["0123...0123", "fedc...fedc"]));
        assert_eq!(changes["expires"], json!([null, "2030-01-01T00:00:00Z"]));
    }
}
