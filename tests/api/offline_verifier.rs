//! An independent, offline verifier for Keygen's cryptography — signed license keys, license and
//! machine files, response signatures, account keys — written from Keygen's formats alone with
//! RustCrypto primitives. It shares no code with the server (which signs with OpenSSL), so the
//! tests can use it to check what the server emits. Every function is strict: any malformed,
//! unknown or tampered input is an `Err`. Long on purpose: one verifier per format, each
//! complete, reads better in one place than spread over modules.

use std::collections::BTreeMap;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::Verifier as _; // the `signature` crate trait, shared with p256
use p256::pkcs8::DecodePublicKey as _; // the `spki` crate trait, shared with rsa
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256};

/// DER `DigestInfo` prefix for SHA-256 (RFC 8017 §9.2 note 1), used by RSASSA-PKCS1-v1_5.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
];

/// The only `headers=` value Keygen signs.
const SIGNED_HEADERS: &str = "(request-target) host date digest";

/// An account public key in the textual form Keygen publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 public key as 64 lowercase hex characters.
    Ed25519Hex(String),
    /// RSA-2048 public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    RsaPem(String),
    /// ECDSA P-256 public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    EcdsaPem(String),
}

/// A signature algorithm of Keygen's (also the part after `+` of a license-file algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigAlg {
    Ed25519,
    RsaPssSha256,
    RsaSha256,
    EcdsaP256,
}

impl SigAlg {
    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "ed25519" => Ok(Self::Ed25519),
            "rsa-pss-sha256" => Ok(Self::RsaPssSha256),
            "rsa-sha256" => Ok(Self::RsaSha256),
            "ecdsa-p256" => Ok(Self::EcdsaP256),
            other => Err(format!("unknown signature algorithm {other:?}")),
        }
    }
}

/// Verifies the `Keygen-Signature`, `Date`/`Keygen-Date` and `Digest`/`Keygen-Digest` headers of a response.
pub fn verify_response(
    algorithm: &str,
    public_key: &PublicKey,
    method: &str,
    target: &str,
    host: &str,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let expected_alg = SigAlg::parse(algorithm)?;

    let date = single_header(headers, "date")?;
    let keygen_date = single_header(headers, "keygen-date")?;
    if date != keygen_date {
        return Err(format!("Date {date:?} differs from Keygen-Date {keygen_date:?}"));
    }
    check_http_date(date)?;

    let digest = format!("sha-256={}", STANDARD.encode(Sha256::digest(body)));
    for name in ["digest", "keygen-digest"] {
        let got = single_header(headers, name)?;
        if got != digest {
            return Err(format!("{name} is {got:?}, body digest is {digest:?}"));
        }
    }

    let params = parse_signature_header(single_header(headers, "keygen-signature")?)?;
    let keyid = &params["keyid"];
    if !is_uuid(keyid) {
        return Err(format!("keyid {keyid:?} is not an account UUID"));
    }
    if params["headers"] != SIGNED_HEADERS {
        return Err(format!(
            "signed headers are {:?}, expected {SIGNED_HEADERS:?}",
            params["headers"]
        ));
    }
    if params["algorithm"] != algorithm {
        return Err(format!(
            "header algorithm {:?}, expected {algorithm:?}",
            params["algorithm"]
        ));
    }
    let signature = STANDARD
        .decode(&params["signature"])
        .map_err(|e| format!("signature is not standard padded base64: {e}"))?;

    let target = if target.is_empty() { "/" } else { target };
    let signing_string = format!(
        "(request-target): {} {target}\nhost: {host}\ndate: {date}\ndigest: {digest}",
        method.to_ascii_lowercase()
    );
    verify_signature(expected_alg, public_key, signing_string.as_bytes(), &signature)
}

/// Verifies a signed/encrypted license key of any of Keygen's schemes and returns the seed it carries (JWT: the claims JSON).
pub fn verify_key(scheme: &str, key: &str, public_key: &PublicKey) -> Result<Vec<u8>, String> {
    match scheme {
        "ED25519_SIGN" => verify_prefixed_key(key, SigAlg::Ed25519, public_key),
        "ECDSA_P256_SIGN" => verify_prefixed_key(key, SigAlg::EcdsaP256, public_key),
        "RSA_2048_PKCS1_SIGN_V2" => verify_prefixed_key(key, SigAlg::RsaSha256, public_key),
        "RSA_2048_PKCS1_PSS_SIGN_V2" => verify_prefixed_key(key, SigAlg::RsaPssSha256, public_key),
        "RSA_2048_PKCS1_SIGN" => verify_v1_key(key, SigAlg::RsaSha256, public_key),
        "RSA_2048_PKCS1_PSS_SIGN" => verify_v1_key(key, SigAlg::RsaPssSha256, public_key),
        "RSA_2048_PKCS1_ENCRYPT" => public_decrypt_key(key, public_key),
        "RSA_2048_JWT_RS256" => verify_jwt_key(key, public_key),
        other => Err(format!("scheme {other:?} has no offline verification")),
    }
}

/// Opens a `LICENSE FILE` / `MACHINE FILE` certificate: checks the armour, verifies `sig`, decrypts or decodes `enc`.
pub fn open_certificate(
    certificate: &str,
    prefix: &str,
    public_key: &PublicKey,
    secret: Option<&str>,
) -> Result<serde_json::Value, String> {
    let label = match prefix {
        "license" => "LICENSE FILE",
        "machine" => "MACHINE FILE",
        other => return Err(format!("unknown certificate prefix {other:?}")),
    };
    let inner = certificate
        .strip_prefix(&format!("-----BEGIN {label}-----\n"))
        .ok_or_else(|| format!("certificate does not start with the {label} header line"))?
        .strip_suffix(&format!("\n-----END {label}-----\n"))
        .ok_or_else(|| format!("certificate does not end with the {label} footer line and one newline"))?;

    // Ruby's Base64.encode64 layout: full lines of exactly 60 chars, a last line of 1..=60.
    let lines: Vec<&str> = inner.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        if line.is_empty() || line.len() > 60 || (!last && line.len() != 60) {
            return Err(format!(
                "body line {} is {} chars wide (want 60, last 1..=60)",
                i + 1,
                line.len()
            ));
        }
    }
    let doc_bytes = STANDARD
        .decode(lines.concat())
        .map_err(|e| format!("certificate body is not standard base64: {e}"))?;
    let doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&doc_bytes).map_err(|e| format!("certificate body is not a JSON object: {e}"))?;
    if doc.len() != 3 {
        return Err(format!(
            "certificate document has keys {:?}, want enc, sig, alg",
            doc.keys().collect::<Vec<_>>()
        ));
    }
    let field = |name: &str| {
        doc.get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("certificate document lacks string {name:?}"))
    };
    let (enc, sig, alg) = (field("enc")?, field("sig")?, field("alg")?);

    let (enc_alg, sig_alg) = alg
        .split_once('+')
        .ok_or_else(|| format!("algorithm {alg:?} is not <enc>+<sig>"))?;
    let sig_alg = SigAlg::parse(sig_alg)?;
    if enc_alg != "aes-256-gcm" && enc_alg != "base64" {
        return Err(format!("unknown encryption {enc_alg:?}"));
    }
    let signature = STANDARD
        .decode(sig)
        .map_err(|e| format!("sig is not standard base64: {e}"))?;
    verify_signature(sig_alg, public_key, format!("{prefix}/{enc}").as_bytes(), &signature)?;

    let plaintext = if enc_alg == "base64" {
        STANDARD
            .decode(enc)
            .map_err(|e| format!("enc is not standard base64: {e}"))?
    } else {
        let secret = secret.ok_or("an aes-256-gcm certificate needs the secret (license key [+ fingerprint])")?;
        decrypt_aes_256_gcm(enc, secret)?
    };
    let payload: serde_json::Value =
        serde_json::from_slice(&plaintext).map_err(|e| format!("payload is not JSON: {e}"))?;
    if !payload.is_object() {
        return Err("payload is not a JSON object".into());
    }
    Ok(payload)
}

/// `key/<b64u(seed)>.<b64u(sig)>`, signature over the ASCII `key/<b64u(seed)>`.
fn verify_prefixed_key(key: &str, alg: SigAlg, public_key: &PublicKey) -> Result<Vec<u8>, String> {
    let (signed, sig) = split_key(key)?;
    let encoded_seed = signed.strip_prefix("key/").ok_or("key does not start with \"key/\"")?;
    let seed = decode_b64u(encoded_seed, "seed")?;
    verify_signature(alg, public_key, signed.as_bytes(), &decode_b64u(sig, "signature")?)?;
    Ok(seed)
}

/// `<b64u(seed)>.<b64u(sig)>`, signature over the raw seed bytes.
fn verify_v1_key(key: &str, alg: SigAlg, public_key: &PublicKey) -> Result<Vec<u8>, String> {
    let (encoded_seed, sig) = split_key(key)?;
    let seed = decode_b64u(encoded_seed, "seed")?;
    verify_signature(alg, public_key, &seed, &decode_b64u(sig, "signature")?)?;
    Ok(seed)
}

fn split_key(key: &str) -> Result<(&str, &str), String> {
    let (signed, sig) = key.split_once('.').ok_or("key has no '.' separator")?;
    if sig.contains('.') {
        return Err("key has more than one '.'".into());
    }
    Ok((signed, sig))
}

/// `<b64u(RSA private-encrypt(seed))>`: RSA public operation, then strict PKCS#1 v1.5 type-1 unpadding.
fn public_decrypt_key(key: &str, public_key: &PublicKey) -> Result<Vec<u8>, String> {
    let rsa_key = rsa_public_key(public_key)?;
    let ciphertext = decode_b64u(key, "key")?;
    let k = rsa_key.size();
    if ciphertext.len() != k {
        return Err(format!("encrypted key is {} bytes, modulus is {k}", ciphertext.len()));
    }
    let c = BigUint::from_bytes_be(&ciphertext);
    if &c >= rsa_key.n() {
        return Err("encrypted key is not below the modulus".into());
    }
    let m = c.modpow(rsa_key.e(), rsa_key.n()).to_bytes_be();
    let mut em = vec![0u8; k];
    em[k - m.len()..].copy_from_slice(&m);
    if em[0] != 0x00 || em[1] != 0x01 {
        return Err("decrypted key does not start with 00 01".into());
    }
    let pad_len = em[2..].iter().take_while(|&&b| b == 0xff).count();
    let separator = 2 + pad_len;
    if pad_len < 8 || separator >= k || em[separator] != 0x00 {
        return Err("decrypted key has invalid PKCS#1 type-1 padding".into());
    }
    Ok(em[separator + 1..].to_vec())
}

/// Compact JWT `h.p.s` (unpadded base64url), header alg RS256, RSASSA-PKCS1-v1_5 SHA-256 over `h.p`.
fn verify_jwt_key(key: &str, public_key: &PublicKey) -> Result<Vec<u8>, String> {
    let parts: Vec<&str> = key.split('.').collect();
    let [header, claims, sig] = parts[..] else {
        return Err(format!("JWT has {} parts, want 3", parts.len()));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| format!("JWT {what} is not unpadded base64url: {e}"))
    };
    let header_json: serde_json::Value =
        serde_json::from_slice(&decode(header, "header")?).map_err(|e| format!("JWT header is not JSON: {e}"))?;
    if header_json.get("alg").and_then(serde_json::Value::as_str) != Some("RS256") {
        return Err(format!("JWT header {header_json} does not say alg RS256"));
    }
    if let Some(typ) = header_json.get("typ") {
        if typ != "JWT" {
            return Err(format!("JWT header typ is {typ}"));
        }
    }
    let signed = &key[..header.len() + 1 + claims.len()];
    verify_signature(
        SigAlg::RsaSha256,
        public_key,
        signed.as_bytes(),
        &decode(sig, "signature")?,
    )?;
    let claims = decode(claims, "claims")?;
    let parsed: serde_json::Value =
        serde_json::from_slice(&claims).map_err(|e| format!("JWT claims are not JSON: {e}"))?;
    if !parsed.is_object() {
        return Err("JWT claims are not a JSON object".into());
    }
    Ok(claims)
}

/// `b64(ciphertext).b64(iv).b64(tag)`, AES-256-GCM, key = SHA-256(secret), 12-byte IV, 16-byte tag, no AAD.
fn decrypt_aes_256_gcm(enc: &str, secret: &str) -> Result<Vec<u8>, String> {
    let parts: Vec<&str> = enc.split('.').collect();
    let [ciphertext, iv, tag] = parts[..] else {
        return Err(format!("enc has {} '.'-separated parts, want 3", parts.len()));
    };
    let decode = |part: &str, what: &str| {
        STANDARD
            .decode(part)
            .map_err(|e| format!("enc {what} is not standard base64: {e}"))
    };
    let (mut buffer, iv, tag) = (
        decode(ciphertext, "ciphertext")?,
        decode(iv, "iv")?,
        decode(tag, "tag")?,
    );
    if iv.len() != 12 || tag.len() != 16 {
        return Err(format!(
            "iv is {} bytes and tag {} bytes, want 12 and 16",
            iv.len(),
            tag.len()
        ));
    }
    buffer.extend_from_slice(&tag);
    let cipher = Aes256Gcm::new_from_slice(&Sha256::digest(secret.as_bytes())).map_err(|e| e.to_string())?;
    cipher
        .decrypt(Nonce::from_slice(&iv), buffer.as_slice())
        .map_err(|_| "AES-256-GCM decryption failed (wrong secret or tampered enc)".to_string())
}

fn verify_signature(alg: SigAlg, public_key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), String> {
    match (alg, public_key) {
        (SigAlg::Ed25519, PublicKey::Ed25519Hex(hex_key)) => {
            if hex_key.len() != 64
                || !hex_key
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err("Ed25519 public key is not 64 lowercase hex chars".into());
            }
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hex_key, &mut bytes).map_err(|e| e.to_string())?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| format!("bad Ed25519 key: {e}"))?;
            let sig = ed25519_dalek::Signature::from_slice(signature)
                .map_err(|e| format!("Ed25519 signature is not 64 bytes: {e}"))?;
            key.verify(message, &sig)
                .map_err(|_| "Ed25519 signature does not verify".into())
        }
        (SigAlg::RsaPssSha256 | SigAlg::RsaSha256, PublicKey::RsaPem(_)) => {
            let key = rsa_public_key(public_key)?;
            if signature.len() != key.size() || &BigUint::from_bytes_be(signature) >= key.n() {
                return Err(format!(
                    "RSA signature is {} bytes or not below the modulus",
                    signature.len()
                ));
            }
            let hashed = Sha256::digest(message);
            let result = if alg == SigAlg::RsaPssSha256 {
                // Maximum salt length: emLen - hLen - 2 (222 for RSA-2048).
                let max_salt = key.size() - Sha256::output_size() - 2;
                key.verify(Pss::new_with_salt::<Sha256>(max_salt), &hashed, signature)
            } else {
                let scheme = Pkcs1v15Sign {
                    hash_len: Some(32),
                    prefix: Box::new(SHA256_DIGEST_INFO),
                };
                key.verify(scheme, &hashed, signature)
            };
            result.map_err(|_| format!("{alg:?} signature does not verify"))
        }
        (SigAlg::EcdsaP256, PublicKey::EcdsaPem(pem)) => {
            require_spki_pem(pem)?;
            let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
                .map_err(|e| format!("bad ECDSA P-256 SPKI PEM: {e}"))?;
            let sig =
                p256::ecdsa::Signature::from_der(signature).map_err(|e| format!("ECDSA signature is not DER: {e}"))?;
            key.verify(message, &sig)
                .map_err(|_| "ECDSA P-256 signature does not verify".into())
        }
        (alg, key) => Err(format!("{alg:?} cannot be verified with {key:?}")),
    }
}

fn rsa_public_key(public_key: &PublicKey) -> Result<RsaPublicKey, String> {
    let PublicKey::RsaPem(pem) = public_key else {
        return Err(format!("an RSA scheme needs an RSA public key, got {public_key:?}"));
    };
    require_spki_pem(pem)?;
    let key = RsaPublicKey::from_public_key_pem(pem).map_err(|e| format!("bad RSA SPKI PEM: {e}"))?;
    if key.n().bits() != 2048 {
        return Err(format!("RSA key has {} bits, want 2048", key.n().bits()));
    }
    Ok(key)
}

fn require_spki_pem(pem: &str) -> Result<(), String> {
    if pem.trim_start().starts_with("-----BEGIN PUBLIC KEY-----") {
        Ok(())
    } else {
        Err("public key is not an SPKI PEM (-----BEGIN PUBLIC KEY-----)".into())
    }
}

fn decode_b64u(text: &str, what: &str) -> Result<Vec<u8>, String> {
    URL_SAFE
        .decode(text)
        .map_err(|e| format!("{what} is not padded URL-safe base64: {e}"))
}

fn single_header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Result<&'a str, String> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .map_err(|e| format!("header {name} is not visible ASCII: {e}")),
        (None, _) => Err(format!("missing header {name}")),
        (Some(_), Some(_)) => Err(format!("header {name} appears more than once")),
    }
}

/// Parses `keyid="…", algorithm="…", signature="…", headers="…"` (exactly these four, once each).
fn parse_signature_header(value: &str) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for item in value.split(',') {
        let item = item.trim_start_matches(' ');
        let (name, quoted) = item
            .split_once('=')
            .ok_or_else(|| format!("Keygen-Signature item {item:?} has no '='"))?;
        let inner = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .filter(|inner| !inner.contains('"'))
            .ok_or_else(|| format!("Keygen-Signature value {quoted:?} is not a quoted string"))?;
        if !matches!(name, "keyid" | "algorithm" | "signature" | "headers") {
            return Err(format!("unknown Keygen-Signature parameter {name:?}"));
        }
        if params.insert(name.to_string(), inner.to_string()).is_some() {
            return Err(format!("Keygen-Signature repeats {name:?}"));
        }
    }
    if params.len() != 4 {
        return Err(format!(
            "Keygen-Signature has {:?}, want keyid, algorithm, signature, headers",
            params.keys()
        ));
    }
    Ok(params)
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Shape check of an IMF-fixdate: `Wed, 09 Jun 2021 16:08:15 GMT`.
fn check_http_date(date: &str) -> Result<(), String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = date.len() == 29
        && DAYS.contains(&&date[0..3])
        && &date[3..5] == ", "
        && digits(&date[5..7])
        && &date[7..8] == " "
        && MONTHS.contains(&&date[8..11])
        && &date[11..12] == " "
        && digits(&date[12..16])
        && &date[16..17] == " "
        && digits(&date[17..19])
        && &date[19..20] == ":"
        && digits(&date[20..22])
        && &date[22..23] == ":"
        && digits(&date[23..25])
        && &date[25..] == " GMT";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "date {date:?} is not an HTTP-date like \"Wed, 09 Jun 2021 16:08:15 GMT\""
        ))
    }
}
