//! The account resource, with its public key where Keygen puts it.

use super::links::account_path;
use crate::jsonapi::{resource, timestamp, to_many};
use crate::middleware::API_VERSION;
use crate::state::AccountContext;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};

/// The account resource with its public keys in `meta` as Keygen sends them: `publicKey` and
/// `keys.rsa2048` are base64 of the RSA public PEM, `keys.ed25519` base64 of the hex public key
/// (not of its 32 bytes), `keys.ecdsa` base64 of the ECDSA public PEM.
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
    let rsa = row.rsa2048_public_key.as_ref().map(|pem| B64.encode(pem));
    let ecdsa = row.ecdsa_public_key.as_ref().map(|pem| B64.encode(pem));
    doc["meta"] = json!({
        "publicKey": rsa,
        "keys": {
            "ecdsa": ecdsa,
            "ed25519": B64.encode(&row.ed25519_public_key),
            "rsa2048": rsa,
        },
    });
    doc
}
