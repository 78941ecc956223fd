//! The machine resource, with the heartbeat facts its policy supplies.

use super::links::{account_path, account_relationships, empty_to_one, related};
use crate::error::ApiResult;
use crate::jsonapi::{deep_camel, resource, timestamp, to_many};
use aggregates::machine::heartbeat;
use projections::machines::MachineView;
use serde_json::{json, Map, Value};

/// The machine resource as of `now` (its heartbeat status depends on the time).
pub(crate) fn machine_resource(view: &MachineView, now: aggregates::Timestamp) -> ApiResult<Value> {
    machine_resource_as(view, now, false)
}

/// The machine resource; `revived` in the answer to the ping that brought it back to life
/// (its status reads `RESURRECTED` there, and only there).
pub(crate) fn machine_resource_as(view: &MachineView, now: aggregates::Timestamp, revived: bool) -> ApiResult<Value> {
    let row = &view.row;
    let policy = view.policy()?;
    let last_heartbeat = view.last_heartbeat(&policy);
    let status = match revived {
        true => heartbeat::Status::Resurrected,
        false => view.heartbeat(&policy, now),
    };
    let duration = heartbeat::duration(&policy);
    let max_processes = view.license_limits()?.max_processes.or(policy.limits.max_processes);
    let mut a = Map::new();
    a.insert("fingerprint".into(), json!(row.fingerprint));
    a.insert("cores".into(), json!(row.cores));
    a.insert("memory".into(), json!(row.memory));
    a.insert("disk".into(), json!(row.disk));
    a.insert("ip".into(), json!(row.ip));
    a.insert("hostname".into(), json!(row.hostname));
    a.insert("platform".into(), json!(row.platform));
    a.insert("name".into(), json!(row.name));
    a.insert("requireHeartbeat".into(), json!(policy.require_heartbeat));
    a.insert("heartbeatStatus".into(), json!(status.as_str()));
    a.insert("heartbeatDuration".into(), json!(duration));
    a.insert("maxProcesses".into(), json!(max_processes));
    a.insert(
        "lastCheckOut".into(),
        view.last_check_out.map(timestamp).unwrap_or(Value::Null),
    );
    let at = |t: Option<aggregates::Timestamp>| t.map(|t| timestamp(t.timestamp_micros())).unwrap_or(Value::Null);
    a.insert("lastHeartbeat".into(), at(last_heartbeat));
    a.insert(
        "nextHeartbeat".into(),
        at(last_heartbeat.map(|t| t + chrono::Duration::seconds(duration))),
    );
    a.insert("metadata".into(), deep_camel(view.metadata()?));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("machines/{}", row.id);
    let link = |rel: &str| account_path(account, &format!("{base}/{rel}"));
    let mut r = account_relationships(account);
    r.insert("product".into(), related(account, "products", &view.product_id));
    r.insert("license".into(), related(account, "licenses", &row.license_id));
    r.insert("group".into(), empty_to_one(link("group")));
    r.insert("owner".into(), empty_to_one(link("owner")));
    r.insert("components".into(), to_many(link("components")));
    r.insert("processes".into(), to_many(link("processes")));
    Ok(resource("machines", &row.id, a, r, account_path(account, &base)))
}
