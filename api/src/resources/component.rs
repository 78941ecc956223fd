//! The component resource.

use super::links::{account_path, account_relationships, related};
use crate::error::ApiResult;
use crate::jsonapi::{deep_camel, resource, timestamp};
use projections::components::ComponentRow;
use serde_json::{json, Map, Value};

/// The component resource.
pub(crate) fn component_resource(row: &ComponentRow) -> ApiResult<Value> {
    let mut a = Map::new();
    a.insert("fingerprint".into(), json!(row.fingerprint));
    a.insert("name".into(), json!(row.name));
    a.insert("metadata".into(), deep_camel(row.metadata()?));
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut r = account_relationships(account);
    r.insert("license".into(), related(account, "licenses", &row.license_id));
    r.insert("machine".into(), related(account, "machines", &row.machine_id));
    let path = account_path(account, &format!("components/{}", row.id));
    Ok(resource("components", &row.id, a, r, path))
}
