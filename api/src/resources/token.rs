//! The token resource; the raw token appears only in the response that created or regenerated it.

use super::links::{account_path, account_relationships};
use crate::jsonapi::{resource, timestamp, to_one};
use aggregates::vocabulary::TokenKind;
use projections::tokens::TokenRow;
use serde_json::{json, Map, Value};

/// The token resource; `raw` only in the response that created or regenerated it.
pub(crate) fn token_resource(account_id: &str, row: &TokenRow, raw: Option<&str>) -> Value {
    let mut attributes = Map::new();
    attributes.insert("kind".into(), json!(row.kind));
    if let Some(raw) = raw {
        attributes.insert("token".into(), json!(raw));
    }
    attributes.insert("expiry".into(), row.expiry.map(timestamp).unwrap_or(Value::Null));
    attributes.insert("name".into(), json!(row.name));
    let permissions: Value = serde_json::from_str(&row.permissions).unwrap_or_else(|_| json!([]));
    attributes.insert("permissions".into(), permissions);
    // A license's activation token shows what it has activated and deactivated.
    if row.kind == TokenKind::ActivationToken.as_str() {
        attributes.insert("maxActivations".into(), json!(row.max_activations));
        attributes.insert("activations".into(), json!(row.activations));
        attributes.insert("maxDeactivations".into(), json!(row.max_deactivations));
        attributes.insert("deactivations".into(), json!(row.deactivations));
    }
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let mut relationships = account_relationships(account_id);
    relationships.insert(
        "bearer".into(),
        to_one(
            &row.bearer_type,
            &row.bearer_id,
            Some(account_path(
                account_id,
                &format!("{}/{}", row.bearer_type, row.bearer_id),
            )),
        ),
    );
    resource(
        "tokens",
        &row.id,
        attributes,
        relationships,
        account_path(account_id, &format!("tokens/{}", row.id)),
    )
}
