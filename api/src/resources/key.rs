//! The key resource: a pre-made license key in a policy's pool.

use super::links::account_path;
use crate::jsonapi::{resource, timestamp, to_one};
use projections::policies::PoolKeyRow;
use serde_json::{json, Map, Value};

/// The key resource.
pub(crate) fn key_resource(row: &PoolKeyRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("key".into(), json!(row.key));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
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
    relationships.insert(
        "policy".into(),
        to_one(
            "policies",
            &row.policy_id,
            Some(account_path(account, &format!("policies/{}", row.policy_id))),
        ),
    );
    resource(
        "keys",
        &row.id,
        attributes,
        relationships,
        account_path(account, &format!("keys/{}", row.id)),
    )
}
