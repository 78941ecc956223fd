//! What Keygen signs with: the four signature algorithms, and the signer a command carries when
//! what it records must be signed with the account's keys (a signed license key). The keys
//! themselves stay in the API; the aggregate sees only this capability.

use std::fmt;
use std::sync::Arc;

/// The algorithms of `Keygen-Signature`, `Keygen-Accept-Signature`, webhook endpoints'
/// `signatureAlgorithm`, the signing half of a license file's `alg` and the signed key schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    Ed25519,
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, the largest salt the key allows.
    RsaPssSha256,
    /// RSASSA-PKCS1-v1_5, SHA-256.
    RsaSha256,
    /// ECDSA P-256, SHA-256, DER-encoded.
    EcdsaP256,
}

impl SignatureAlgorithm {
    pub const ALL: [Self; 4] = [Self::Ed25519, Self::RsaPssSha256, Self::RsaSha256, Self::EcdsaP256];

    /// Keygen's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::RsaPssSha256 => "rsa-pss-sha256",
            Self::RsaSha256 => "rsa-sha256",
            Self::EcdsaP256 => "ecdsa-p256",
        }
    }

    /// The algorithm of a name, any case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

/// The account's private keys as a command may use them.
pub trait Sign: Send + Sync {
    /// `message` signed with the algorithm's key.
    fn sign(&self, algorithm: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, String>;
    /// RSA "private encrypt" of `data` (PKCS#1 v1.5 type-1 padding, no digest).
    fn rsa_private_encrypt(&self, data: &[u8]) -> Result<Vec<u8>, String>;
}

/// A signer carried in a command (commands are cloned and compared; signers are compared by
/// identity and never printed).
#[derive(Clone)]
pub struct Signer(pub Arc<dyn Sign>);

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl PartialEq for Signer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Signer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_parse_by_keygens_names_in_any_case() {
        for algorithm in SignatureAlgorithm::ALL {
            assert_eq!(SignatureAlgorithm::parse(algorithm.name()), Some(algorithm));
            assert_eq!(
                SignatureAlgorithm::parse(&algorithm.name().to_uppercase()),
                Some(algorithm)
            );
        }
        assert_eq!(SignatureAlgorithm::parse("rsa-pss-sha512"), None);
    }
}
