//! License and machine files: a payload encrypted (AES-256-GCM) or encoded (base64), signed with
//! one of the account's keys, and armoured as Keygen armours it — what an app verifies offline.

use super::{CryptoError, Keyring, SignatureAlgorithm};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What a file is of: the word in its armour and the prefix its signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    License,
    Machine,
}

impl FileKind {
    /// `license` or `machine`: the signed message is `<prefix>/<enc>`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::License => "license",
            Self::Machine => "machine",
        }
    }

    fn armour(self) -> &'static str {
        match self {
            Self::License => "LICENSE FILE",
            Self::Machine => "MACHINE FILE",
        }
    }
}

/// `<encryption>+<signature>`, e.g. `aes-256-gcm+ed25519`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAlgorithm {
    pub encrypted: bool,
    pub signature: SignatureAlgorithm,
}

impl FileAlgorithm {
    /// Keygen's name for it.
    pub fn name(self) -> String {
        let encryption = if self.encrypted { "aes-256-gcm" } else { "base64" };
        format!("{encryption}+{}", self.signature.name())
    }

    /// The algorithm of a name (exactly as Keygen spells it).
    pub fn parse(name: &str) -> Option<Self> {
        let (encryption, signature) = name.split_once('+')?;
        let encrypted = match encryption {
            "aes-256-gcm" => true,
            "base64" => false,
            _ => return None,
        };
        let signature = SignatureAlgorithm::ALL.into_iter().find(|s| s.name() == signature)?;
        Some(Self { encrypted, signature })
    }
}

/// The AES-256 key of a file: SHA-256 of the license key (license files) or of the license key
/// followed by the machine's fingerprint (machine files).
fn file_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `b64(ciphertext).b64(iv).b64(tag)`: AES-256-GCM under [`file_key`], a random 12-byte IV,
/// a 16-byte tag, no associated data.
fn encrypt(payload: &[u8], secret: &str) -> Result<String, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(&file_key(secret)).expect("a SHA-256 digest is an AES-256 key");
    let mut iv = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut iv);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&iv), payload)
        .map_err(|_| CryptoError::Key("AES-GCM refused the payload".into()))?;
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "{}.{}.{}",
        B64.encode(ciphertext),
        B64.encode(iv),
        B64.encode(tag)
    ))
}

/// Why an encrypted `enc` did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum Unopened {
    /// Not `ciphertext.iv.tag` in base64, or an IV or tag of the wrong length.
    Malformed,
    /// It does not decrypt with this secret.
    WrongSecret,
}

/// Opens what [`encrypt`] made (what `keyledger verify` does with a file, as an app would).
pub fn decrypt(enc: &str, secret: &str) -> Result<Vec<u8>, Unopened> {
    let parts: Vec<&str> = enc.split('.').collect();
    let [ciphertext, iv, tag] = parts.as_slice() else {
        return Err(Unopened::Malformed);
    };
    let decode = |part: &str| B64.decode(part).map_err(|_| Unopened::Malformed);
    let (mut sealed, iv, tag) = (decode(ciphertext)?, decode(iv)?, decode(tag)?);
    if iv.len() != 12 || tag.len() != 16 {
        return Err(Unopened::Malformed);
    }
    sealed.extend_from_slice(&tag);
    let cipher = Aes256Gcm::new_from_slice(&file_key(secret)).expect("a SHA-256 digest is an AES-256 key");
    cipher
        .decrypt(Nonce::from_slice(&iv), sealed.as_slice())
        .map_err(|_| Unopened::WrongSecret)
}

/// The certificate of `payload` (a JSON document): `enc` is `b64(ciphertext).b64(iv).b64(tag)`
/// or `b64(payload)`, `sig` the signature over `<prefix>/<enc>`, and the JSON of the three,
/// base64-encoded and wrapped at 60 columns, between the armour lines.
pub fn certificate(
    kind: FileKind,
    payload: &[u8],
    algorithm: FileAlgorithm,
    secret: &str,
    keys: &Keyring,
) -> Result<String, CryptoError> {
    let enc = if algorithm.encrypted {
        encrypt(payload, secret)?
    } else {
        B64.encode(payload)
    };
    let signed = format!("{}/{enc}", kind.prefix());
    let sig = B64.encode(keys.sign(algorithm.signature, signed.as_bytes())?);
    let document = serde_json::to_string(&Document {
        enc: &enc,
        sig: &sig,
        alg: &algorithm.name(),
    })
    .expect("strings serialize");
    Ok(armoured(kind, &B64.encode(document)))
}

/// The signed document, its keys in Keygen's order.
#[derive(serde::Serialize)]
struct Document<'a> {
    enc: &'a str,
    sig: &'a str,
    alg: &'a str,
}

/// Base64 text wrapped at 60 columns (as Ruby's `Base64.encode64` wraps) between the armour.
fn armoured(kind: FileKind, body: &str) -> String {
    let mut out = format!("-----BEGIN {}-----\n", kind.armour());
    for line in body.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {}-----\n", kind.armour()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_algorithms_are_an_encoding_and_a_signature() {
        for name in [
            "aes-256-gcm+ed25519",
            "base64+rsa-pss-sha256",
            "base64+rsa-sha256",
            "aes-256-gcm+ecdsa-p256",
        ] {
            assert_eq!(
                FileAlgorithm::parse(name).map(FileAlgorithm::name).as_deref(),
                Some(name)
            );
        }
        for bad in [
            "aes-128-gcm+ed25519",
            "base64",
            "base64+",
            "BASE64+ED25519",
            "base64+rsa-sha512",
        ] {
            assert_eq!(FileAlgorithm::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_document_is_enc_sig_alg_in_that_order() {
        let (keyring, _) = crate::crypto::keyring::test_keyring();
        let algorithm = FileAlgorithm::parse("base64+ed25519").unwrap();
        let file = certificate(FileKind::License, b"{}", algorithm, "KEY", &keyring).unwrap();
        let body: String = file.lines().filter(|l| !l.starts_with("-----")).collect();
        let document = String::from_utf8(B64.decode(body).unwrap()).unwrap();
        assert!(document.starts_with("{\"enc\":\"e30=\",\"sig\":\""), "{document}");
        assert!(document.ends_with("\"alg\":\"base64+ed25519\"}"), "{document}");
    }

    #[test]
    fn armour_wraps_at_sixty_columns_and_ends_with_a_newline() {
        let text = armoured(FileKind::Machine, &"A".repeat(130));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN MACHINE FILE-----");
        assert_eq!(&lines[1..4].iter().map(|l| l.len()).collect::<Vec<_>>(), &[60, 60, 10]);
        assert_eq!(lines[4], "-----END MACHINE FILE-----");
        assert!(text.ends_with("-----\n") && !text.ends_with("\n\n"));
    }
}
