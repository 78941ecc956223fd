//! Links of resources: paths under `/v1/accounts/{account}`, and relationships to the account
//! and its resources.

use crate::jsonapi::to_one;
use serde_json::{Map, Value};

/// Path of the account's collection or resource.
pub(crate) fn account_path(account_id: &str, rest: &str) -> String {
    format!("/v1/accounts/{account_id}/{rest}")
}

/// A resource's relationships, starting with the account it belongs to.
pub(crate) fn account_relationships(account_id: &str) -> Map<String, Value> {
    let mut relationships = Map::new();
    let account = to_one("accounts", account_id, Some(format!("/v1/accounts/{account_id}")));
    relationships.insert("account".into(), account);
    relationships
}

/// A to-one relationship to a resource of the account, by its collection (e.g. `products`).
pub(crate) fn related(account_id: &str, collection: &str, id: &str) -> Value {
    to_one(
        collection,
        id,
        Some(account_path(account_id, &format!("{collection}/{id}"))),
    )
}

/// A to-one relationship that is empty, with its related link (Keygen renders `group` and
/// `owner` so when there is none).
pub(crate) fn empty_to_one(related: String) -> Value {
    serde_json::json!({ "data": null, "links": { "related": related } })
}
