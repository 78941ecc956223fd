//! The policy resource.

use super::links::{account_path, account_relationships, related};
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many};
use projections::policies::PolicyRow;
use serde_json::Value;

/// The policy resource: every attribute in camelCase.
pub(crate) fn policy_resource(row: &PolicyRow) -> ApiResult<Value> {
    let stored = serde_json::to_value(row.attributes()?).map_err(ApiError::internal)?;
    let Value::Object(mut attributes) = deep_camel(stored) else {
        return Err(ApiError::internal("policy attributes"));
    };
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("policies/{}", row.id);
    let mut relationships = account_relationships(account);
    relationships.insert("product".into(), related(account, "products", &row.product_id));
    for rel in ["pool", "licenses", "entitlements"] {
        relationships.insert(rel.into(), to_many(account_path(account, &format!("{base}/{rel}"))));
    }
    Ok(resource(
        "policies",
        &row.id,
        attributes,
        relationships,
        account_path(account, &base),
    ))
}
