//! The user resource (users are only the admin for now; `GET /me` renders them).

use super::links::{account_path, account_relationships};
use crate::jsonapi::{resource, timestamp, to_many};
use projections::users::UserRow;
use serde_json::{json, Map, Value};

/// The user resource (for `GET /me`).
pub(crate) fn user_resource(account_id: &str, row: &UserRow) -> Value {
    // Keygen's fullName is null unless both names are set.
    let full_name = match (&row.first_name, &row.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        _ => None,
    };
    let mut attributes = Map::new();
    attributes.insert("fullName".into(), json!(full_name));
    attributes.insert("firstName".into(), json!(row.first_name));
    attributes.insert("lastName".into(), json!(row.last_name));
    attributes.insert("email".into(), json!(row.email));
    attributes.insert("status".into(), json!("ACTIVE"));
    attributes.insert("role".into(), json!(row.role));
    attributes.insert("metadata".into(), json!({}));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let base = format!("users/{}", row.id);
    let mut relationships = account_relationships(account_id);
    for rel in ["products", "licenses", "machines", "tokens"] {
        relationships.insert(rel.into(), to_many(account_path(account_id, &format!("{base}/{rel}"))));
    }
    resource(
        "users",
        &row.id,
        attributes,
        relationships,
        account_path(account_id, &base),
    )
}
