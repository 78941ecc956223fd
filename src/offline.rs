//! `keyledger verify`: the check an app makes offline, for support staff and tests — a license
//! or machine file's signature, decryption and expiry, or a signed key's signature and seed.

use api::crypto::verify::{default_scheme, open_file, open_key, Refused, VerifyingKey};
use std::path::Path;

/// Why `keyledger verify` refused (its message says what to do).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Refused(#[from] Refused),
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("unknown scheme {0} (one of ED25519_SIGN, ECDSA_P256_SIGN, RSA_2048_PKCS1_SIGN_V2, RSA_2048_PKCS1_PSS_SIGN_V2, RSA_2048_PKCS1_SIGN, RSA_2048_PKCS1_PSS_SIGN, RSA_2048_PKCS1_ENCRYPT, RSA_2048_JWT_RS256)")]
    Scheme(String),
}

/// A public key given on the command line: 64 hex characters (ed25519), a PEM or base64 of one
/// (RSA, ECDSA, as an account's `meta.keys` shows them), or the path of a file holding either.
fn public_key(given: &str) -> Result<VerifyingKey, VerifyError> {
    let path = Path::new(given);
    if given.len() < 4096 && path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|source| VerifyError::Read {
            path: given.into(),
            source,
        })?;
        return Ok(VerifyingKey::parse(&text)?);
    }
    Ok(VerifyingKey::parse(given)?)
}

/// Verifies the file at `path` and answers its payload, pretty-printed. An encrypted file needs
/// the license key (and, for a machine file, the machine's fingerprint).
pub fn license_file(
    path: &Path,
    key: &str,
    license_key: Option<&str>,
    fingerprint: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, VerifyError> {
    let text = std::fs::read_to_string(path).map_err(|source| VerifyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let secret = license_key.map(|k| format!("{k}{}", fingerprint.unwrap_or_default()));
    let opened = open_file(&text, &public_key(key)?, secret.as_deref(), now)?;
    Ok(serde_json::to_string_pretty(&opened.payload).expect("JSON prints"))
}

/// Verifies a signed key and answers its seed (for RSA keys, name the scheme).
pub fn key(signed: &str, key: &str, scheme: Option<&str>) -> Result<String, VerifyError> {
    let public = public_key(key)?;
    let scheme = match scheme {
        Some(name) => aggregates::license::keys::Scheme::parse(name).ok_or_else(|| VerifyError::Scheme(name.into()))?,
        None => default_scheme(&public).ok_or(Refused::Scheme)?,
    };
    let seed = open_key(signed.trim(), scheme, &public)?;
    Ok(String::from_utf8_lossy(&seed).into_owned())
}
