//! The policy resource.

use super::links::account_path;
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many, to_one};
use projections::policies::PolicyRow;
use serde_json::{Map, Value};

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
    let mut relationships = Map::new();
    relationships.insert(
        "account".into(),
        to_one("accounts", account, Some(format!("/v1/accounts/{account}"))),
    );
    relationships.insert(
        "product".into(),
        to_one(
            "products",
            &row.product_id,
            Some(account_path(account, &format!("products/{}", row.product_id))),
        ),
    );
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
