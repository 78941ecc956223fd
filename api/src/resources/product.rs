//! The product resource.

use super::links::{account_path, account_relationships};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many};
use projections::products::ProductRow;
use serde_json::{json, Map, Value};

fn json_text(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// The product resource.
pub(crate) fn product_resource(row: &ProductRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("code".into(), json!(row.code));
    attributes.insert("distributionStrategy".into(), json!(row.distribution_strategy));
    attributes.insert("url".into(), json!(row.url));
    attributes.insert("platforms".into(), json_text(row.platforms.as_deref()));
    attributes.insert("permissions".into(), json_text(Some(&row.permissions)));
    attributes.insert("metadata".into(), deep_camel(json_text(Some(&row.metadata))));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("products/{}", row.id);
    let mut relationships = account_relationships(account);
    for rel in ["policies", "licenses", "machines", "users", "tokens"] {
        relationships.insert(rel.into(), to_many(account_path(account, &format!("{base}/{rel}"))));
    }
    resource(
        "products",
        &row.id,
        attributes,
        relationships,
        account_path(account, &base),
    )
}
