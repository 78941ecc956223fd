//! The process resource, with its heartbeat.

use super::links::{account_path, account_relationships, related};
use crate::error::ApiResult;
use crate::jsonapi::{deep_camel, resource, timestamp};
use aggregates::machine::heartbeat;
use projections::processes::ProcessView;
use serde_json::{json, Map, Value};

/// The process resource as of `now`; `revived` in the answer to the ping that brought it back.
pub(crate) fn process_resource(view: &ProcessView, now: aggregates::Timestamp, revived: bool) -> ApiResult<Value> {
    let row = &view.row;
    let policy = view.policy()?;
    let interval = heartbeat::duration(&policy);
    let status = match revived {
        true => heartbeat::Status::Resurrected,
        false => view.heartbeat(&policy, now),
    };
    let mut a = Map::new();
    a.insert("pid".into(), json!(row.pid));
    a.insert("status".into(), json!(status.as_str()));
    a.insert("lastHeartbeat".into(), timestamp(view.last_heartbeat));
    a.insert(
        "nextHeartbeat".into(),
        timestamp(view.last_heartbeat + interval * 1_000_000),
    );
    a.insert("interval".into(), json!(interval));
    a.insert("metadata".into(), deep_camel(view.metadata()?));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut r = account_relationships(account);
    r.insert("product".into(), related(account, "products", &view.product_id));
    r.insert("license".into(), related(account, "licenses", &row.license_id));
    r.insert("machine".into(), related(account, "machines", &row.machine_id));
    let path = account_path(account, &format!("processes/{}", row.id));
    Ok(resource("processes", &row.id, a, r, path))
}
