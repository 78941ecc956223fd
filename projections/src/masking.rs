//! Keygen's masking of secrets in logs: a value under a key whose name contains one of
//! [`SENSITIVE`] is partially masked (not removed) — a string longer than 19 characters keeps
//! its first and last 4, one of 2 to 19 its first and last character, a shorter one nothing;
//! booleans and null stay; objects and arrays under such a key are masked leaf by leaf.

use serde_json::{Map, Value};

/// Parts of key names whose values are secrets (matched case-insensitively).
pub const SENSITIVE: &[&str] = &[
    "passw",
    "digest",
    "priv",
    "key",
    "token",
    "secret",
    "crypt",
    "salt",
    "certificate",
    "otp",
    "redirect",
    "cvv",
    "cvc",
    "ssn",
    "auth",
];

/// Whether a key's values are masked.
pub fn is_sensitive(key: &str) -> bool {
    let key = key.as_bytes();
    SENSITIVE
        .iter()
        .any(|part| key.windows(part.len()).any(|w| w.eq_ignore_ascii_case(part.as_bytes())))
}

/// A string as Keygen masks it.
pub fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        n if n > 19 => format!(
            "{}...{}",
            chars[..4].iter().collect::<String>(),
            chars[n - 4..].iter().collect::<String>()
        ),
        n if n >= 2 => format!("{}...{}", chars[0], chars[n - 1]),
        _ => "...".into(),
    }
}

fn mask_leaves(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(mask_text(&s)),
        Value::Number(n) => Value::String(mask_text(&n.to_string())),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_leaves).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, mask_leaves(v))).collect()),
        other => other,
    }
}

/// `value` with every sensitive key's value masked, at any depth.
pub fn mask(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_sensitive(&k) { mask_leaves(v) } else { mask(v) };
                    (k, v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(mask).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_as_keygen_masks_them() {
        let masked = mask(json!({
            "key": "ABCDEF-123456-ABCDEF-123456-V3",
            "name": "Visible",
            "tokenDigest": "ab",
            "password": "x",
            "protected": true,
            "meta": {"authToken": {"value": "abcdefghij", "n": null}},
            "list": [{"privateKey": "0123456789012345678901"}]
        }));
        assert_eq!(masked["key"], "ABCD...6-V3");
        assert_eq!(masked["name"], "Visible");
        assert_eq!(masked["tokenDigest"], "a...b");
        assert_eq!(masked["password"], "...");
        assert_eq!(masked["protected"], true);
        assert_eq!(masked["meta"]["authToken"]["value"], "a...j");
        assert_eq!(masked["meta"]["authToken"]["n"], Value::Null);
        assert_eq!(masked["list"][0]["privateKey"], "0123...8901");
    }
}
