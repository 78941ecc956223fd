//! The entitlement resource.

use super::links::{account_path, account_relationships};
use crate::jsonapi::{deep_camel, resource, timestamp};
use projections::entitlements::EntitlementRow;
use serde_json::{json, Map, Value};

/// The entitlement resource.
pub(crate) fn entitlement_resource(row: &EntitlementRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("code".into(), json!(row.code));
    attributes.insert(
        "metadata".into(),
        deep_camel(serde_json::from_str(&row.metadata).unwrap_or(json!({}))),
    );
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let relationships = account_relationships(account);
    resource(
        "entitlements",
        &row.id,
        attributes,
        relationships,
        account_path(account, &format!("entitlements/{}", row.id)),
    )
}
