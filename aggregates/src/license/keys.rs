//! License key formats: Keygen's default key, custom keys, and keys signed (or encrypted) with
//! the account's keys under a policy's `scheme`.

use crate::signing::{Sign, SignatureAlgorithm};
use crate::{DomainError, Timestamp};
use base64::engine::general_purpose::{URL_SAFE as B64U, URL_SAFE_NO_PAD as B64U_JWT};
use base64::Engine;
use serde::Serialize;

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

/// The key schemes a policy may name and this server signs with (`LEGACY_ENCRYPT`, deprecated
/// by Keygen, is not among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Ed25519Sign,
    EcdsaP256Sign,
    RsaPkcs1SignV2,
    RsaPssSignV2,
    RsaPkcs1Sign,
    RsaPssSign,
    RsaPkcs1Encrypt,
    RsaJwtRs256,
}

/// The most bytes an RSA-2048 private-encrypt (PKCS#1 v1.5 padding) takes.
pub const ENCRYPT_MAX_SEED: usize = 245;

impl Scheme {
    pub const ALL: [Self; 8] = [
        Self::Ed25519Sign,
        Self::EcdsaP256Sign,
        Self::RsaPkcs1SignV2,
        Self::RsaPssSignV2,
        Self::RsaPkcs1Sign,
        Self::RsaPssSign,
        Self::RsaPkcs1Encrypt,
        Self::RsaJwtRs256,
    ];

    /// Keygen's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519Sign => "ED25519_SIGN",
            Self::EcdsaP256Sign => "ECDSA_P256_SIGN",
            Self::RsaPkcs1SignV2 => "RSA_2048_PKCS1_SIGN_V2",
            Self::RsaPssSignV2 => "RSA_2048_PKCS1_PSS_SIGN_V2",
            Self::RsaPkcs1Sign => "RSA_2048_PKCS1_SIGN",
            Self::RsaPssSign => "RSA_2048_PKCS1_PSS_SIGN",
            Self::RsaPkcs1Encrypt => "RSA_2048_PKCS1_ENCRYPT",
            Self::RsaJwtRs256 => "RSA_2048_JWT_RS256",
        }
    }

    /// The scheme of a name (exactly as Keygen spells it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The signature algorithm of this scheme's keys, and the one license files of its
    /// licenses are signed with unless the request names another.
    pub fn algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::Ed25519Sign => SignatureAlgorithm::Ed25519,
            Self::EcdsaP256Sign => SignatureAlgorithm::EcdsaP256,
            Self::RsaPssSignV2 | Self::RsaPssSign => SignatureAlgorithm::RsaPssSha256,
            Self::RsaPkcs1SignV2 | Self::RsaPkcs1Sign | Self::RsaPkcs1Encrypt | Self::RsaJwtRs256 => {
                SignatureAlgorithm::RsaSha256
            }
        }
    }
}

/// What a key's seed is made of: the license being created and what it belongs to.
#[derive(Debug, Clone)]
pub struct SeedFacts<'a> {
    pub account_id: &'a str,
    pub product_id: &'a str,
    pub policy_id: &'a str,
    pub duration: Option<i64>,
    pub license_id: &'a str,
    pub created: Timestamp,
    pub expiry: Option<Timestamp>,
    /// The JWT's `jti` (random, chosen by the caller).
    pub jti: &'a str,
}

/// Keygen's timestamps: ISO 8601, UTC, milliseconds.
fn iso(at: Timestamp) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[derive(Serialize)]
struct Id<'a> {
    id: &'a str,
}

/// The default seed of the signing schemes, keys in Keygen's order.
#[derive(Serialize)]
struct DefaultSeed<'a> {
    account: Id<'a>,
    product: Id<'a>,
    policy: SeedPolicy<'a>,
    /// Licenses have no owner here yet: always null.
    user: Option<Id<'a>>,
    license: SeedLicense<'a>,
}

#[derive(Serialize)]
struct SeedPolicy<'a> {
    id: &'a str,
    duration: Option<i64>,
}

#[derive(Serialize)]
struct SeedLicense<'a> {
    id: &'a str,
    created: String,
    expiry: Option<String>,
}

/// The default seed of RSA_2048_PKCS1_ENCRYPT.
#[derive(Serialize)]
struct EncryptSeed<'a> {
    id: &'a str,
    created: String,
    duration: Option<i64>,
    expiry: Option<String>,
}

/// The default claims of RSA_2048_JWT_RS256.
#[derive(Serialize)]
struct DefaultClaims<'a> {
    jti: &'a str,
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
}

impl SeedFacts<'_> {
    fn default_seed(&self, scheme: Scheme) -> String {
        let expiry = self.expiry.map(iso);
        let json = match scheme {
            Scheme::RsaPkcs1Encrypt => serde_json::to_string(&EncryptSeed {
                id: self.license_id,
                created: iso(self.created),
                duration: self.duration,
                expiry,
            }),
            Scheme::RsaJwtRs256 => serde_json::to_string(&DefaultClaims {
                jti: self.jti,
                iss: "https://keygen.sh",
                aud: self.account_id,
                sub: self.license_id,
                iat: self.created.timestamp(),
                nbf: self.created.timestamp(),
                exp: self.expiry.map(|e| e.timestamp()),
            }),
            _ => serde_json::to_string(&DefaultSeed {
                account: Id { id: self.account_id },
                product: Id { id: self.product_id },
                policy: SeedPolicy {
                    id: self.policy_id,
                    duration: self.duration,
                },
                user: None,
                license: SeedLicense {
                    id: self.license_id,
                    created: iso(self.created),
                    expiry,
                },
            }),
        };
        json.expect("seeds are plain JSON")
    }

    /// The value of a `{{var}}` placeholder (its name underscored first, so `{{ Created }}`
    /// and `{{created}}` agree); unknown names and absent values are empty.
    fn variable(&self, name: &str) -> String {
        match crate::snake_case(name.trim()).as_str() {
            "account" => self.account_id.into(),
            "product" => self.product_id.into(),
            "policy" => self.policy_id.into(),
            "id" => self.license_id.into(),
            "created" => iso(self.created),
            "expiry" => self.expiry.map(iso).unwrap_or_default(),
            "duration" => self.duration.map(|d| d.to_string()).unwrap_or_default(),
            // `user` and `email`: licenses have no owner here yet.
            _ => String::new(),
        }
    }

    /// A supplied key with its `{{var}}` placeholders replaced.
    fn fill(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start + 2..].find("}}") else { break };
            out.push_str(&rest[..start]);
            out.push_str(&self.variable(&rest[start + 2..start + 2 + end]));
            rest = &rest[start + 2 + end + 2..];
        }
        out.push_str(rest);
        out
    }
}

fn signing_failed(err: String) -> DomainError {
    DomainError::invalid("key", "INVALID", format!("could not be signed: {err}"))
}

/// The key of a license under `scheme`: its seed (the supplied key with placeholders filled,
/// or the scheme's default seed) signed or encrypted in Keygen's layout for the scheme.
pub fn signed_key(
    scheme: Scheme,
    template: Option<&str>,
    facts: &SeedFacts<'_>,
    signer: &dyn Sign,
) -> Result<String, DomainError> {
    let seed = match template {
        Some(template) => facts.fill(template),
        None => facts.default_seed(scheme),
    };
    let sign = |algorithm, message: &[u8]| signer.sign(algorithm, message).map_err(signing_failed);
    Ok(match scheme {
        Scheme::Ed25519Sign | Scheme::EcdsaP256Sign | Scheme::RsaPkcs1SignV2 | Scheme::RsaPssSignV2 => {
            let signed = format!("key/{}", B64U.encode(&seed));
            let signature = sign(scheme.algorithm(), signed.as_bytes())?;
            format!("{signed}.{}", B64U.encode(signature))
        }
        Scheme::RsaPkcs1Sign | Scheme::RsaPssSign => {
            let signature = sign(scheme.algorithm(), seed.as_bytes())?;
            format!("{}.{}", B64U.encode(&seed), B64U.encode(signature))
        }
        Scheme::RsaPkcs1Encrypt => {
            if seed.len() > ENCRYPT_MAX_SEED {
                return Err(DomainError::invalid(
                    "key",
                    "BYTE_SIZE_EXCEEDED",
                    format!("key exceeds maximum byte length ({ENCRYPT_MAX_SEED} bytes)"),
                ));
            }
            B64U.encode(signer.rsa_private_encrypt(seed.as_bytes()).map_err(signing_failed)?)
        }
        Scheme::RsaJwtRs256 => {
            let claims: serde_json::Value = serde_json::from_str(&seed)
                .ok()
                .filter(serde_json::Value::is_object)
                .ok_or_else(|| {
                    DomainError::invalid("key", "JWT_CLAIMS_INVALID", "must be a valid JSON object of JWT claims")
                })?;
            let header = B64U_JWT.encode(r#"{"alg":"RS256"}"#);
            let payload = B64U_JWT.encode(claims.to_string());
            let signed = format!("{header}.{payload}");
            let signature = sign(SignatureAlgorithm::RsaSha256, signed.as_bytes())?;
            format!("{signed}.{}", B64U_JWT.encode(signature))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_have_keygens_shape() {
        let key = default_key([0xab; 16]);
        assert_eq!(key, "ABABAB-ABABAB-ABABAB-ABABAB-ABABAB-V3");
    }

    /// Signs by prefixing the algorithm's name (so a test sees what was signed, and with what).
    struct Echo;

    impl Sign for Echo {
        fn sign(&self, algorithm: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, String> {
            Ok([algorithm.name().as_bytes(), b":", message].concat())
        }
        fn rsa_private_encrypt(&self, data: &[u8]) -> Result<Vec<u8>, String> {
            Ok([b"enc:", data].concat())
        }
    }

    fn facts() -> SeedFacts<'static> {
        SeedFacts {
            account_id: "acc",
            product_id: "prod",
            policy_id: "pol",
            duration: Some(86_400),
            license_id: "lic",
            created: chrono::DateTime::from_timestamp(1_665_932_368, 0).unwrap(),
            expiry: None,
            jti: "j1",
        }
    }

    const SEED: &str = r#"{"account":{"id":"acc"},"product":{"id":"prod"},"policy":{"id":"pol","duration":86400},"user":null,"license":{"id":"lic","created":"2022-10-16T14:59:28.000Z","expiry":null}}"#;

    #[test]
    fn signed_keys_sign_key_slash_and_the_default_seed_in_keygens_layout() {
        for (scheme, algorithm) in [
            (Scheme::Ed25519Sign, "ed25519"),
            (Scheme::EcdsaP256Sign, "ecdsa-p256"),
            (Scheme::RsaPkcs1SignV2, "rsa-sha256"),
            (Scheme::RsaPssSignV2, "rsa-pss-sha256"),
        ] {
            let key = signed_key(scheme, None, &facts(), &Echo).unwrap();
            let (signed, signature) = key.split_once('.').unwrap();
            assert_eq!(signed, format!("key/{}", B64U.encode(SEED)));
            assert_eq!(
                B64U.decode(signature).unwrap(),
                format!("{algorithm}:{signed}").into_bytes()
            );
        }
    }

    #[test]
    fn version_one_keys_sign_the_raw_seed_without_a_prefix() {
        let key = signed_key(Scheme::RsaPssSign, None, &facts(), &Echo).unwrap();
        let (seed, signature) = key.split_once('.').unwrap();
        assert_eq!(B64U.decode(seed).unwrap(), SEED.as_bytes());
        assert_eq!(
            B64U.decode(signature).unwrap(),
            format!("rsa-pss-sha256:{SEED}").into_bytes()
        );
    }

    #[test]
    fn templates_fill_their_placeholders_and_unknown_ones_are_empty() {
        let key = signed_key(
            Scheme::Ed25519Sign,
            Some("{{id}}|{{ Created }}|{{duration}}|{{expiry}}|{{email}}|{{nope}}|{{account}}"),
            &facts(),
            &Echo,
        )
        .unwrap();
        let seed = B64U
            .decode(key.split_once('.').unwrap().0.strip_prefix("key/").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(seed).unwrap(),
            "lic|2022-10-16T14:59:28.000Z|86400||||acc"
        );
    }

    #[test]
    fn encrypted_keys_take_at_most_245_bytes() {
        let key = signed_key(Scheme::RsaPkcs1Encrypt, None, &facts(), &Echo).unwrap();
        assert_eq!(
            String::from_utf8(B64U.decode(key).unwrap()).unwrap(),
            r#"enc:{"id":"lic","created":"2022-10-16T14:59:28.000Z","duration":86400,"expiry":null}"#
        );
        assert!(signed_key(Scheme::RsaPkcs1Encrypt, Some(&"x".repeat(245)), &facts(), &Echo).is_ok());
        let err = signed_key(Scheme::RsaPkcs1Encrypt, Some(&"x".repeat(246)), &facts(), &Echo).unwrap_err();
        assert_eq!(err.code, "KEY_BYTE_SIZE_EXCEEDED");
    }

    #[test]
    fn jwt_keys_carry_keygens_claims_or_refuse_a_seed_that_is_not_claims() {
        let key = signed_key(Scheme::RsaJwtRs256, None, &facts(), &Echo).unwrap();
        let parts: Vec<&str> = key.split('.').collect();
        assert_eq!(B64U_JWT.decode(parts[0]).unwrap(), br#"{"alg":"RS256"}"#);
        let claims: serde_json::Value = serde_json::from_slice(&B64U_JWT.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"jti": "j1", "iss": "https://keygen.sh", "aud": "acc", "sub": "lic", "iat": 1_665_932_368, "nbf": 1_665_932_368})
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert_eq!(
            B64U_JWT.decode(parts[2]).unwrap(),
            format!("rsa-sha256:{signed}").into_bytes()
        );
        let err = signed_key(Scheme::RsaJwtRs256, Some("not json"), &facts(), &Echo).unwrap_err();
        assert_eq!(err.code, "KEY_JWT_CLAIMS_INVALID");
    }
}
