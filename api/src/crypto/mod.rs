//! The secrets: the master key that seals account keys, the accounts' key pairs and signers
//! (`keyring`), token generation and digests, password hashing.

pub mod certificate;
pub mod keyring;
pub mod verify;

pub use keyring::{Keyring, SignatureAlgorithm};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `KEYLEDGER_SECRET_KEY`: 32 bytes (64 hex characters) that seal every account's secrets.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Why a master key or a sealed value was refused.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("KEYLEDGER_SECRET_KEY must be 64 hex characters")]
    BadMasterKey,
    #[error("a sealed secret could not be opened (wrong KEYLEDGER_SECRET_KEY?)")]
    Unseal,
    #[error("an account key is unusable: {0}")]
    Key(String),
    #[error("OpenSSL failed: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

impl MasterKey {
    /// Parses 64 hex characters.
    pub fn from_hex(hex_key: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadMasterKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Self(cipher))
    }

    /// A fresh random key, as 64 hex characters.
    pub fn generate_hex() -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    /// AES-256-GCM with a random 96-bit nonce; base64 of nonce ‖ ciphertext.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("AES-GCM encryption cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    /// Opens what [`MasterKey::seal`] sealed.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = B64.decode(sealed).map_err(|_| CryptoError::Unseal)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Unseal);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.0
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Unseal)
    }
}

/// A new account's key material, sealed for its event: ed25519 (public half in hex), RSA-2048
/// and ECDSA P-256 pairs, and the token secret. Takes tens of milliseconds (RSA).
pub fn generate_account_keys(master: &MasterKey) -> Result<aggregates::account::AccountKeys, CryptoError> {
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut token_secret = [0u8; 64];
    rand::thread_rng().fill_bytes(&mut token_secret);
    let (rsa, ecdsa) = keyring::generate_rsa_and_ecdsa(master)?;
    Ok(aggregates::account::AccountKeys {
        ed25519_public_key: hex::encode(signing.verifying_key().to_bytes()),
        ed25519_private_key_sealed: master.seal(&signing.to_bytes()),
        token_secret_sealed: master.seal(hex::encode(token_secret).as_bytes()),
        rsa2048: Some(rsa),
        ecdsa_p256: Some(ecdsa),
    })
}

/// A raw token in Keygen's v3 format: `<prefix>-<hex>v3`.
pub fn generate_raw_token(prefix: &str, hex_bytes: usize) -> String {
    let mut bytes = vec![0u8; hex_bytes];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}-{}v3", hex::encode(bytes))
}

/// The stored form of a token: hex(HMAC-SHA256(account token secret, raw token)).
pub fn token_digest(secret: &[u8], raw: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(raw.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hex_digest` is [`token_digest`] of `raw`, compared in constant time.
pub fn token_digest_matches(secret: &[u8], raw: &str, hex_digest: &str) -> bool {
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(raw.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// argon2id PHC string of a password.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// A digest no password matches, with the same argon2 parameters as real ones: checked when a
/// login names no user (or a user without a password), so that it costs what a real check costs.
pub fn decoy_digest() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 32]>())))
}

/// Checks a password against its digest, or against a decoy when there is none (always false
/// then), off the async threads: argon2 takes tens of milliseconds by design. `checks` counts
/// the argon2 verifications run.
pub async fn check_password(password: &str, digest: Option<&str>, checks: Arc<AtomicU64>) -> bool {
    let password = password.to_string();
    let digest = digest.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let verify = |digest: &str| {
            checks.fetch_add(1, Ordering::Relaxed);
            verify_password(&password, digest)
        };
        match digest {
            Some(digest) => verify(&digest),
            None => {
                // The same work as a real check, and no user: never a match.
                verify(decoy_digest());
                false
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// Checks a password against its argon2 PHC string.
pub fn verify_password(password: &str, digest: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(digest)
        .map(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let key = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
        let other = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
        let sealed = key.seal(b"secret");
        assert_eq!(key.open(&sealed).unwrap(), b"secret");
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn tokens_have_keygen_v3_shape() {
        let raw = generate_raw_token("admin", 32);
        assert!(raw.starts_with("admin-") && raw.ends_with("v3"));
        assert_eq!(raw.len(), "admin-".len() + 64 + 2);
    }

    #[test]
    fn passwords_verify() {
        let digest = hash_password("hunter22");
        assert!(verify_password("hunter22", &digest));
        assert!(!verify_password("hunter23", &digest));
    }
}
