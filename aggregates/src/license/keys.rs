//! License key formats.

/// Keygen's default key: 16 random bytes as 32 hex characters whose last two become `v3`, in
/// groups of six joined by `-`, upper-cased: `XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX-V3`.
pub fn default_key(random: [u8; 16]) -> String {
    let mut hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    hex.replace_range(30..32, "v3");
    let groups: Vec<&str> = (0..hex.len())
        .step_by(6)
        .map(|i| &hex[i..(i + 6).min(hex.len())])
        .collect();
    groups.join("-").to_uppercase()
}

/// Checks a key supplied by the client: 6 to 16384 bytes, not UUID-shaped (it would be read as
/// an id), not a reserved word.
pub fn validate_custom_key(key: &str) -> Result<(), crate::DomainError> {
    if key.len() < 6 || key.len() > 16_384 {
        return Err(crate::DomainError::invalid(
            "key",
            "INVALID",
            "must be between 6 and 16384 bytes",
        ));
    }
    if crate::looks_like_uuid(key) || crate::is_reserved_word(key) {
        return Err(crate::DomainError::invalid("key", "INVALID", "is invalid"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_have_keygens_shape() {
        let key = default_key([0xab; 16]);
        assert_eq!(key, "ABABAB-ABABAB-ABABAB-ABABAB-ABABAB-V3");
    }
}
