//! Keyledger's pure domain: one module per aggregate (commands, events, state, errors).
//!
//! Nothing here touches SQL, HTTP or the clock directly: time and generated secrets travel
//! inside commands, so `handle` is deterministic and safe to retry after a conflict.

pub mod account;
pub mod claims;
pub mod error;
pub mod metadata;
pub mod permissions;
pub mod product;
pub mod token;
pub mod user;

pub use claims::ClaimOp;
pub use error::DomainError;

/// Timestamps in commands and events: UTC, microsecond precision in storage.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Services lent to every aggregate's `handle`. Empty for now: everything non-deterministic
/// (time, keys, digests) is decided by the caller and carried in the command.
#[derive(Debug, Default, Clone)]
pub struct NoServices;

/// True when `value` parses as a UUID; Keygen refuses such values for codes, slugs and keys
/// because they would be ambiguous with resource ids.
pub fn looks_like_uuid(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}

/// Words Keygen reserves in aliases (`…/actions/…` routes would become ambiguous).
pub fn is_reserved_word(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "action" | "actions")
}
