//! The license resource, with the effective values its policy supplies.

use super::links::{account_path, account_relationships, empty_to_one};
use crate::error::ApiResult;
use crate::jsonapi::{deep_camel, resource, timestamp, to_many, to_one};
use aggregates::license::validation::{next_check_in, status};
use projections::from_micros;
use projections::licenses::LicenseRow;
use serde_json::{json, Map, Value};

fn opt_time(us: Option<i64>) -> Value {
    us.map(timestamp).unwrap_or(Value::Null)
}

/// The license resource, with the effective values its policy supplies, as of `now` (its status
/// depends on the time).
pub(crate) fn license_resource(row: &LicenseRow, now: aggregates::Timestamp) -> ApiResult<Value> {
    let policy = row.policy()?;
    let limits = row.limits()?;
    let last_check_in = row.last_check_in.map(from_micros);
    let last_activity = [row.last_validated, row.last_check_in, row.last_check_out]
        .into_iter()
        .flatten()
        .max()
        .map(from_micros);
    let status = status(
        row.suspended != 0,
        row.expiry.map(from_micros),
        from_micros(row.created_at),
        last_activity,
        now,
    );
    let mut a = Map::new();
    a.insert("name".into(), json!(row.name));
    a.insert("key".into(), json!(row.key));
    a.insert("expiry".into(), opt_time(row.expiry));
    a.insert("status".into(), json!(status));
    a.insert("uses".into(), json!(row.uses));
    a.insert("suspended".into(), json!(row.suspended != 0));
    a.insert("scheme".into(), json!(policy.scheme));
    a.insert("encrypted".into(), json!(policy.encrypted));
    a.insert("strict".into(), json!(policy.strict));
    a.insert("floating".into(), json!(policy.floating));
    a.insert(
        "protected".into(),
        json!(row.protected.map(|p| p != 0).unwrap_or(policy.protected)),
    );
    a.insert("version".into(), Value::Null);
    let in_force = limits.over(&policy.limits);
    a.insert("maxMachines".into(), json!(in_force.max_machines));
    a.insert("maxProcesses".into(), json!(in_force.max_processes));
    a.insert("maxUsers".into(), json!(in_force.max_users));
    a.insert("maxCores".into(), json!(in_force.max_cores));
    a.insert("maxMemory".into(), json!(in_force.max_memory));
    a.insert("maxDisk".into(), json!(in_force.max_disk));
    a.insert("maxUses".into(), json!(in_force.max_uses));
    a.insert("requireHeartbeat".into(), json!(policy.require_heartbeat));
    a.insert("requireCheckIn".into(), json!(policy.require_check_in));
    a.insert("lastValidated".into(), opt_time(row.last_validated));
    a.insert("lastCheckIn".into(), opt_time(row.last_check_in));
    a.insert(
        "nextCheckIn".into(),
        next_check_in(&policy, last_check_in)
            .map(|t| timestamp(t.timestamp_micros()))
            .unwrap_or(Value::Null),
    );
    a.insert("lastCheckOut".into(), opt_time(row.last_check_out));
    a.insert("metadata".into(), deep_camel(row.metadata()?));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("licenses/{}", row.id);
    let link = |rel: &str| account_path(account, &format!("{base}/{rel}"));
    let mut r = account_relationships(account);
    r.insert(
        "product".into(),
        to_one("products", &row.product_id, Some(link("product"))),
    );
    r.insert(
        "policy".into(),
        to_one("policies", &row.policy_id, Some(link("policy"))),
    );
    r.insert("group".into(), empty_to_one(link("group")));
    r.insert("owner".into(), empty_to_one(link("owner")));
    r.insert(
        "users".into(),
        json!({ "links": { "related": link("users") }, "meta": { "count": 0 } }),
    );
    r.insert(
        "machines".into(),
        json!({ "links": { "related": link("machines") }, "meta": {
            "cores": row.machines_cores,
            "memory": row.machines_memory,
            "disk": row.machines_disk,
            "count": row.machines_count,
        } }),
    );
    r.insert("tokens".into(), to_many(link("tokens")));
    r.insert("entitlements".into(), to_many(link("entitlements")));
    Ok(resource("licenses", &row.id, a, r, account_path(account, &base)))
}
