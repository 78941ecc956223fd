//! The key resource: a pre-made license key in a policy's pool.

use super::links::{account_path, account_relationships, related};
use crate::jsonapi::{resource, timestamp};
use projections::policies::PoolKeyRow;
use serde_json::{json, Map, Value};

/// The key resource.
pub(crate) fn key_resource(row: &PoolKeyRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("key".into(), json!(row.key));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut relationships = account_relationships(account);
    relationships.insert("product".into(), related(account, "products", &row.product_id));
    relationships.insert("policy".into(), related(account, "policies", &row.policy_id));
    resource(
        "keys",
        &row.id,
        attributes,
        relationships,
        account_path(account, &format!("keys/{}", row.id)),
    )
}
