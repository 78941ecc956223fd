//! Keyledger's pure domain: one module per aggregate (commands, events, state, errors).
//!
//! Nothing here touches SQL, HTTP or the clock directly: time and generated secrets travel
//! inside commands, so `handle` is deterministic and safe to retry after a conflict.

pub mod account;
pub mod claims;
pub mod entitlement;
pub mod error;
pub mod ids;
pub mod license;
pub mod machine;
pub mod metadata;
pub mod package;
pub mod permissions;
pub mod policy;
pub mod process;
pub mod product;
pub mod release;
pub mod signing;
pub mod token;
pub mod user;
pub mod vocabulary;
pub mod webhook_endpoint;

pub use claims::ClaimOp;
pub use cqrs_es::event_sink;
pub use error::{DomainError, Subject};
pub use ids::{
    AccountId, ComponentId, EntitlementId, Identified, LicenseId, MachineId, PackageId, PolicyId, PoolKeyId, ProcessId,
    ProductId, ReleaseId, Snapshotted, TokenId, UserId, WebhookEndpointId,
};

/// Timestamps in commands and events: UTC, microsecond precision in storage.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Services lent to every aggregate's `handle`. Empty for now: everything non-deterministic
/// (time, keys, digests) is decided by the caller and carried in the command.
#[derive(Debug, Default, Clone)]
pub struct NoServices;

/// Rails' `underscore` of a camelCase name: `createdAt` → `created_at` (request keys and key
/// templates' placeholders are matched this way).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// True when `value` parses as a UUID; Keygen refuses such values for codes, slugs and keys
/// because they would be ambiguous with resource ids.
pub fn looks_like_uuid(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}

/// Words Keygen reserves in aliases (`…/actions/…` routes would become ambiguous).
pub fn is_reserved_word(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "action" | "actions")
}

/// The state of a live (created, not deleted) aggregate, or `NOT_FOUND`.
pub fn live<T>(state: &Option<T>, deleted: bool) -> Result<&T, DomainError> {
    match (state, deleted) {
        (Some(state), false) => Ok(state),
        _ => Err(DomainError::not_found()),
    }
}

/// Keygen's rule for names: present, at most 255 bytes.
pub fn validate_name(name: &str) -> Result<(), DomainError> {
    if name.trim().is_empty() {
        return Err(DomainError::invalid("name", "MISSING", "can't be blank"));
    }
    if name.len() > 255 {
        return Err(DomainError::invalid(
            "name",
            "TOO_LONG",
            "is too long (maximum is 255 characters)",
        ));
    }
    Ok(())
}

/// Keygen's rule for codes and similar aliases: present (whitespace alone is blank), at most
/// 255 characters of letters, digits, `_`, `-`, `.` and `:` (a code names a resource in paths and
/// validation scopes), not UUID-shaped, not reserved.
pub fn validate_code(attribute: &str, code: &str) -> Result<(), DomainError> {
    if code.trim().is_empty() {
        return Err(DomainError::invalid(attribute, "MISSING", "can't be blank"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if code.len() > 255 || !code.chars().all(allowed) || looks_like_uuid(code) || is_reserved_word(code) {
        return Err(DomainError::invalid(attribute, "INVALID", "is invalid"));
    }
    Ok(())
}

/// `current` with `changes` (snake_case attribute names) laid over it: the full attribute set a
/// create or update event carries. A name the type does not have is refused.
pub fn merge_attributes<T>(
    current: &T,
    changes: &serde_json::Map<String, serde_json::Value>,
    resource: &str,
) -> Result<T, DomainError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut value = serde_json::to_value(current).expect("attributes serialize");
    let object = value.as_object_mut().expect("attributes are an object");
    for (key, change) in changes {
        if !object.contains_key(key) {
            return Err(DomainError::invalid(
                key,
                "NOT_ALLOWED",
                format!("is not a {resource} attribute"),
            ));
        }
        object.insert(key.clone(), change.clone());
    }
    serde_json::from_value(value).map_err(|e| DomainError::invalid("data", "INVALID", e.to_string()))
}

/// The ids in their first order, each once (a request may name one twice).
pub fn distinct<Id: Clone + Eq + std::hash::Hash>(ids: Vec<Id>) -> Vec<Id> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}
