//! The offline checks an app makes, for `keyledger verify`: a license or machine file (signature,
//! decryption, expiry) and a signed license key (signature, seed). Public keys only.

use super::certificate::{decrypt, FileAlgorithm, FileKind, Unopened};
use super::SignatureAlgorithm;
use aggregates::license::keys::Scheme;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE as B64U, URL_SAFE_NO_PAD as B64U_JWT};
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};

/// Why a file or key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("the public key is neither 64 hex characters (ed25519) nor a PEM public key (RSA, ECDSA)")]
    PublicKey,
    #[error("not a license or machine file: {0}")]
    Malformed(&'static str),
    #[error("unknown algorithm {0}")]
    Algorithm(String),
    #[error("the public key is not of the kind {0} needs")]
    WrongKey(String),
    #[error("the signature does not verify: not genuine")]
    NotGenuine,
    #[error("the file is encrypted: give --license-key (and --fingerprint for a machine file)")]
    SecretNeeded,
    #[error("the file does not decrypt with this license key (and fingerprint)")]
    Decrypt,
    #[error("the file expired at {0}")]
    Expired(String),
    #[error("the key's scheme is unknown; name it with --scheme")]
    Scheme,
}

/// A public key: ed25519 (64 hex characters) or a PEM (RSA or ECDSA P-256).
pub enum VerifyingKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    Pem(PKey<Public>),
}

impl VerifyingKey {
    /// Reads 64 hex characters, a PEM, or base64 of a PEM (as an account's `meta.keys` has it).
    pub fn parse(text: &str) -> Result<Self, Refused> {
        let text = text.trim();
        if let Ok(bytes) = hex::decode(text) {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| Refused::PublicKey)?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(Self::Ed25519)
                .map_err(|_| Refused::PublicKey);
        }
        let pem = match text.starts_with("-----BEGIN") {
            true => text.as_bytes().to_vec(),
            false => B64.decode(text).map_err(|_| Refused::PublicKey)?,
        };
        if let Ok(hex_text) = std::str::from_utf8(&pem) {
            if hex_text.len() == 64 && hex::decode(hex_text).is_ok() {
                return Self::parse(hex_text);
            }
        }
        PKey::public_key_from_pem(&pem)
            .map(Self::Pem)
            .map_err(|_| Refused::PublicKey)
    }

    /// Whether this is an EC key on P-256 (the only curve of `ecdsa-p256`).
    fn is_p256(&self) -> bool {
        let Self::Pem(key) = self else { return false };
        key.ec_key()
            .is_ok_and(|ec| ec.group().curve_name() == Some(openssl::nid::Nid::X9_62_PRIME256V1))
    }

    fn kind(&self) -> Option<Id> {
        match self {
            Self::Ed25519(_) => None,
            Self::Pem(key) => Some(key.id()),
        }
    }

    /// Whether `signature` is `algorithm`'s signature of `message` by this key.
    pub fn verify(&self, algorithm: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> Result<(), Refused> {
        let needs = match algorithm {
            SignatureAlgorithm::Ed25519 => None,
            SignatureAlgorithm::EcdsaP256 => Some(Id::EC),
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::RsaPssSha256 => Some(Id::RSA),
        };
        if self.kind() != needs || (needs == Some(Id::EC) && !self.is_p256()) {
            return Err(Refused::WrongKey(algorithm.name().into()));
        }
        let genuine = match self {
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
            Self::Pem(key) => openssl_verify(key, algorithm, message, signature).unwrap_or(false),
        };
        genuine.then_some(()).ok_or(Refused::NotGenuine)
    }
}

fn openssl_verify(
    key: &PKey<Public>,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
    match algorithm {
        SignatureAlgorithm::RsaSha256 => verifier.set_rsa_padding(Padding::PKCS1)?,
        SignatureAlgorithm::RsaPssSha256 => {
            verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
            verifier.set_rsa_mgf1_md(MessageDigest::sha256())?;
            verifier.set_rsa_pss_saltlen(RsaPssSaltlen::MAXIMUM_LENGTH)?;
        }
        _ => {}
    }
    verifier.verify_oneshot(signature, message)
}

/// What a verified file holds.
#[derive(Debug)]
pub struct OpenedFile {
    pub kind: FileKind,
    pub algorithm: String,
    /// The payload document (`data`, `included`, `meta`).
    pub payload: serde_json::Value,
}

/// Verifies a license or machine file's signature, decrypts it with `secret` when it is
/// encrypted (the license key, followed by the fingerprint for a machine file) and refuses it
/// once its `meta.expiry` is past `now`.
pub fn open_file(
    text: &str,
    key: &VerifyingKey,
    secret: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<OpenedFile, Refused> {
    let text = text.trim();
    let (kind, body) = [FileKind::License, FileKind::Machine]
        .into_iter()
        .find_map(|kind| {
            let word = kind.prefix().to_uppercase();
            let body = text
                .strip_prefix(&format!("-----BEGIN {word} FILE-----"))?
                .strip_suffix(&format!("-----END {word} FILE-----"))?;
            Some((kind, body))
        })
        .ok_or(Refused::Malformed("no LICENSE FILE or MACHINE FILE armour"))?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let document = B64
        .decode(body)
        .map_err(|_| Refused::Malformed("its body is not base64"))?;
    let document: serde_json::Value =
        serde_json::from_slice(&document).map_err(|_| Refused::Malformed("its body is not a JSON document"))?;
    let field = |name: &str| {
        document[name]
            .as_str()
            .ok_or(Refused::Malformed("enc, sig or alg is missing"))
    };
    let (enc, sig, alg) = (field("enc")?, field("sig")?, field("alg")?);
    let algorithm = FileAlgorithm::parse(alg).ok_or_else(|| Refused::Algorithm(alg.into()))?;
    let signature = B64.decode(sig).map_err(|_| Refused::NotGenuine)?;
    key.verify(
        algorithm.signature,
        format!("{}/{enc}", kind.prefix()).as_bytes(),
        &signature,
    )?;
    let plaintext = if algorithm.encrypted {
        decrypt(enc, secret.ok_or(Refused::SecretNeeded)?).map_err(|unopened| match unopened {
            Unopened::Malformed => Refused::Malformed("enc is not ciphertext.iv.tag with a 12-byte IV and 16-byte tag"),
            Unopened::WrongSecret => Refused::Decrypt,
        })?
    } else {
        B64.decode(enc).map_err(|_| Refused::Malformed("enc is not base64"))?
    };
    let payload: serde_json::Value =
        serde_json::from_slice(&plaintext).map_err(|_| Refused::Malformed("its payload is not JSON"))?;
    if let Some(expiry) = payload["meta"]["expiry"].as_str() {
        let at = chrono::DateTime::parse_from_rfc3339(expiry)
            .map_err(|_| Refused::Malformed("meta.expiry is not a time"))?;
        if at < now {
            return Err(Refused::Expired(expiry.into()));
        }
    }
    Ok(OpenedFile {
        kind,
        algorithm: alg.into(),
        payload,
    })
}

/// The scheme a key of this public key most likely has when none is named: ED25519_SIGN for
/// an ed25519 key, ECDSA_P256_SIGN for an ECDSA key (RSA keys have six schemes: name one).
pub fn default_scheme(key: &VerifyingKey) -> Option<Scheme> {
    match key.kind() {
        None => Some(Scheme::Ed25519Sign),
        Some(Id::EC) => Some(Scheme::EcdsaP256Sign),
        _ => None,
    }
}

/// Verifies a signed license key of `scheme` and answers its seed (the claims of a JWT).
pub fn open_key(signed: &str, scheme: Scheme, key: &VerifyingKey) -> Result<Vec<u8>, Refused> {
    let decode = |part: &str| B64U.decode(part).map_err(|_| Refused::NotGenuine);
    match scheme {
        Scheme::Ed25519Sign | Scheme::EcdsaP256Sign | Scheme::RsaPkcs1SignV2 | Scheme::RsaPssSignV2 => {
            let (message, signature) = signed.split_once('.').ok_or(Refused::NotGenuine)?;
            let seed = message.strip_prefix("key/").ok_or(Refused::NotGenuine)?;
            key.verify(scheme.algorithm(), message.as_bytes(), &decode(signature)?)?;
            decode(seed)
        }
        Scheme::RsaPkcs1Sign | Scheme::RsaPssSign => {
            let (seed, signature) = signed.split_once('.').ok_or(Refused::NotGenuine)?;
            let seed = decode(seed)?;
            key.verify(scheme.algorithm(), &seed, &decode(signature)?)?;
            Ok(seed)
        }
        Scheme::RsaPkcs1Encrypt => {
            let VerifyingKey::Pem(pem) = key else {
                return Err(Refused::WrongKey(scheme.name().into()));
            };
            let rsa = pem.rsa().map_err(|_| Refused::WrongKey(scheme.name().into()))?;
            let mut out = vec![0u8; rsa.size() as usize];
            let len = rsa
                .public_decrypt(&decode(signed)?, &mut out, Padding::PKCS1)
                .map_err(|_| Refused::NotGenuine)?;
            out.truncate(len);
            Ok(out)
        }
        Scheme::RsaJwtRs256 => {
            let (message, signature) = signed.rsplit_once('.').ok_or(Refused::NotGenuine)?;
            let (_, claims) = message.split_once('.').ok_or(Refused::NotGenuine)?;
            let signature = B64U_JWT.decode(signature).map_err(|_| Refused::NotGenuine)?;
            key.verify(SignatureAlgorithm::RsaSha256, message.as_bytes(), &signature)?;
            B64U_JWT.decode(claims).map_err(|_| Refused::NotGenuine)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::certificate::certificate;
    use crate::crypto::keyring::test_keyring;
    use aggregates::license::keys::{signed_key, SeedFacts};

    fn facts() -> SeedFacts<'static> {
        SeedFacts {
            account_id: "acc",
            product_id: "prod",
            policy_id: "pol",
            duration: None,
            license_id: "lic",
            created: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            expiry: None,
            jti: "j",
        }
    }

    #[test]
    fn keys_of_every_scheme_open_with_their_public_key_and_not_when_changed() {
        let (keyring, [ed25519, rsa, ecdsa]) = test_keyring();
        for scheme in Scheme::ALL {
            let public = match scheme {
                Scheme::Ed25519Sign => &ed25519,
                Scheme::EcdsaP256Sign => &ecdsa,
                _ => &rsa,
            };
            let public = VerifyingKey::parse(public).unwrap();
            let key = signed_key(scheme, Some("{\"id\":\"{{id}}\"}"), &facts(), &keyring).unwrap();
            let seed = open_key(&key, scheme, &public).unwrap_or_else(|e| panic!("{scheme:?}: {e}"));
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&seed).unwrap()["id"],
                "lic",
                "{scheme:?}"
            );
            let mut changed = key.into_bytes();
            changed[8] = if changed[8] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(changed).unwrap();
            assert!(open_key(&changed, scheme, &public).is_err(), "{scheme:?}");
        }
    }

    #[test]
    fn files_open_until_they_expire_and_only_with_their_secret() {
        let (keyring, [ed25519, ..]) = test_keyring();
        let public = VerifyingKey::parse(&ed25519).unwrap();
        let payload = br#"{"data":{"id":"lic"},"meta":{"expiry":"2030-01-01T00:00:00.000Z"}}"#;
        let algorithm = FileAlgorithm::parse("aes-256-gcm+ed25519").unwrap();
        let file = certificate(FileKind::License, payload, algorithm, "KEY", &keyring).unwrap();
        let before = chrono::DateTime::parse_from_rfc3339("2029-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        let after = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:01Z")
            .unwrap()
            .to_utc();
        let opened = open_file(&file, &public, Some("KEY"), before).unwrap();
        assert_eq!(
            (opened.kind, opened.payload["data"]["id"].as_str()),
            (FileKind::License, Some("lic"))
        );
        assert!(matches!(
            open_file(&file, &public, Some("KEY"), after),
            Err(Refused::Expired(_))
        ));
        assert_eq!(
            open_file(&file, &public, Some("OTHER"), before).unwrap_err(),
            Refused::Decrypt
        );
        assert_eq!(
            open_file(&file, &public, None, before).unwrap_err(),
            Refused::SecretNeeded
        );
    }
}
