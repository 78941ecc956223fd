//! The account resource, with its public key where Keygen puts it.

use super::links::account_path;
use crate::jsonapi::{resource, timestamp, to_many};
use crate::middleware::API_VERSION;
use crate::state::AccountContext;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};

/// The account resource; `meta.keys.ed25519` is base64 of the hex public key, as Keygen sends it.
pub(crate) fn account_resource(account: &AccountContext) -> Value {
    let row = &account.row;
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("slug".into(), json!(row.slug));
    attributes.insert("apiVersion".into(), json!(API_VERSION));
    attributes.insert("protected".into(), json!(row.protected != 0));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let mut relationships = Map::new();
    for rel in ["products", "tokens"] {
        relationships.insert(rel.into(), to_many(account_path(&row.id, rel)));
    }
    let mut doc = resource(
        "accounts",
        &row.id,
        attributes,
        relationships,
        format!("/v1/accounts/{}", row.id),
    );
    doc["meta"] = json!({
        "publicKey": Value::Null,
        "keys": { "ed25519": B64.encode(&row.ed25519_public_key) },
    });
    doc
}
