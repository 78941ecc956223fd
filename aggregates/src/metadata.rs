//! Metadata: the free-form object many resources carry, with Keygen's limits.

use crate::DomainError;
use serde_json::{Map, Value};

/// Keygen's limits: 64 keys in all (nested keys count), nesting depth 4, 16 KiB of JSON.
pub const MAX_KEYS: usize = 64;
pub const MAX_DEPTH: usize = 4;
pub const MAX_BYTES: usize = 16 * 1024;

/// Checks the limits, answering `METADATA_TOO_LONG` as Keygen does when one is exceeded.
pub fn validate(metadata: &Map<String, Value>) -> Result<(), DomainError> {
    let too_long = |detail: &str| DomainError::invalid("metadata", "TOO_LONG", detail);
    if count_keys(metadata) > MAX_KEYS {
        return Err(too_long("too many keys (maximum is 64)"));
    }
    if depth(metadata) > MAX_DEPTH {
        return Err(too_long("too deeply nested (maximum depth is 4)"));
    }
    let bytes = serde_json::to_vec(metadata).map(|b| b.len()).unwrap_or(usize::MAX);
    if bytes > MAX_BYTES {
        return Err(too_long("too large (maximum is 16 KiB)"));
    }
    Ok(())
}

fn count_keys(map: &Map<String, Value>) -> usize {
    map.values().map(|v| 1 + nested_keys(v)).sum()
}

fn nested_keys(value: &Value) -> usize {
    match value {
        Value::Object(m) => count_keys(m),
        Value::Array(items) => items.iter().map(nested_keys).sum(),
        _ => 0,
    }
}

fn depth(map: &Map<String, Value>) -> usize {
    1 + map.values().map(value_depth).max().unwrap_or(0)
}

fn value_depth(value: &Value) -> usize {
    match value {
        Value::Object(m) => depth(m),
        Value::Array(items) => items.iter().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sixty_five_keys_are_too_many() {
        let mut m = Map::new();
        for i in 0..65 {
            m.insert(format!("k{i}"), json!(i));
        }
        assert_eq!(validate(&m).unwrap_err().code, "METADATA_TOO_LONG");
        m.remove("k0");
        assert!(validate(&m).is_ok());
    }

    #[test]
    fn nested_keys_count_toward_the_limit() {
        let inner: Map<String, Value> = (0..64).map(|i| (format!("k{i}"), json!(1))).collect();
        let mut m = Map::new();
        m.insert("outer".into(), Value::Object(inner));
        assert!(validate(&m).is_err());
    }
}
