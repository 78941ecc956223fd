//! The `license-files` and `machine-files` resources a check-out answers with.

use super::links::{account_relationships, related};
use crate::jsonapi::timestamp;
use serde_json::{json, Map, Value};

/// A checked-out file as its resource shows it.
pub(crate) struct CheckedOutFile<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub license_id: &'a str,
    /// The machine of a machine file.
    pub machine_id: Option<&'a str>,
    pub certificate: &'a str,
    pub algorithm: &'a str,
    pub includes: &'a [String],
    /// Seconds the file lasts (`None`: it never expires).
    pub ttl: Option<i64>,
    pub issued: i64,
    pub expiry: Option<i64>,
}

/// `license-files` (or `machine-files`) with the certificate, its algorithm, includes, ttl,
/// issued and expiry, related to the account, the license (and the machine).
pub(crate) fn certificate_file_resource(file: &CheckedOutFile<'_>) -> Value {
    let mut attributes = Map::new();
    attributes.insert("certificate".into(), json!(file.certificate));
    attributes.insert("ttl".into(), json!(file.ttl));
    attributes.insert("expiry".into(), file.expiry.map(timestamp).unwrap_or(Value::Null));
    attributes.insert("issued".into(), timestamp(file.issued));
    attributes.insert("algorithm".into(), json!(file.algorithm));
    attributes.insert("includes".into(), json!(file.includes));
    let mut relationships = account_relationships(file.account_id);
    // Environments are not modelled: every file is of the account's own (nil) environment.
    relationships.insert("environment".into(), json!({ "data": null }));
    relationships.insert("license".into(), related(file.account_id, "licenses", file.license_id));
    if let Some(machine_id) = file.machine_id {
        relationships.insert("machine".into(), related(file.account_id, "machines", machine_id));
    }
    let kind = if file.machine_id.is_some() {
        "machine-files"
    } else {
        "license-files"
    };
    json!({
        "id": file.id,
        "type": kind,
        "attributes": Value::Object(attributes),
        "relationships": Value::Object(relationships),
    })
}
