//! Golden vectors made with the `openssl` command line (`tests/fixtures/crypto/README.md`): the
//! offline verifier must accept each one, return the seed it carries, and reject it with any
//! single byte changed. No server is involved. Long on purpose: one tamper case per field of
//! every format, listed where they can be read together.

use crate::offline_verifier::{open_certificate, verify_key, verify_response, PublicKey};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

const SCHEMES: [&str; 8] = [
    "ED25519_SIGN",
    "ECDSA_P256_SIGN",
    "RSA_2048_PKCS1_SIGN_V2",
    "RSA_2048_PKCS1_PSS_SIGN_V2",
    "RSA_2048_PKCS1_SIGN",
    "RSA_2048_PKCS1_PSS_SIGN",
    "RSA_2048_PKCS1_ENCRYPT",
    "RSA_2048_JWT_RS256",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/crypto/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("fixture is UTF-8")
}

fn public_key(file: &str) -> PublicKey {
    let text = fixture_text(file);
    match file {
        "ed25519_public.hex" => PublicKey::Ed25519Hex(text),
        "rsa_public.pem" => PublicKey::RsaPem(text),
        "ecdsa_public.pem" => PublicKey::EcdsaPem(text),
        other => panic!("unknown public key fixture {other}"),
    }
}

fn rsa() -> PublicKey {
    public_key("rsa_public.pem")
}

fn ecdsa() -> PublicKey {
    public_key("ecdsa_public.pem")
}

fn ed25519() -> PublicKey {
    public_key("ed25519_public.hex")
}

/// `(key text, public key, seed)` of a scheme in `signed_keys.json`.
fn signed_key(scheme: &str) -> (String, PublicKey, Vec<u8>) {
    let all: serde_json::Value = serde_json::from_slice(&fixture("signed_keys.json")).unwrap();
    let entry = &all[scheme];
    let key = entry["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{scheme} in signed_keys.json"))
        .to_string();
    let seed = STANDARD.decode(entry["seed_base64"].as_str().unwrap()).unwrap();
    (key, public_key(entry["public_key"].as_str().unwrap()), seed)
}

/// Every variant of `text` with exactly one byte replaced by a different printable ASCII byte.
fn one_byte_changes(text: &str) -> impl Iterator<Item = String> + '_ {
    (0..text.len()).flat_map(move |i| {
        let original = text.as_bytes()[i];
        // A character of the same class (so the base64 still decodes) and a foreign one.
        let same_class = match original {
            b'A' => b'B',
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => b'A',
            b'-' => b'_',
            b'_' => b'-',
            _ => b'x',
        };
        [same_class, b'!'].into_iter().map(move |replacement| {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] = replacement;
            String::from_utf8(bytes).unwrap()
        })
    })
}

fn flip_byte(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    changed[index] ^= 0x01;
    changed
}

#[test]
fn the_fixture_message_is_key_slash_padded_urlsafe_base64_of_the_seed() {
    let seed = fixture("seed.json");
    assert_eq!(seed, br#"{"test":true}"#);
    assert_eq!(fixture_text("message.txt"), format!("key/{}", URL_SAFE.encode(&seed)));
    assert_eq!(fixture_text("message.txt"), "key/eyJ0ZXN0Ijp0cnVlfQ==");
}

#[test]
fn every_golden_signed_key_verifies_and_yields_its_seed() {
    for scheme in SCHEMES {
        let (key, public_key, seed) = signed_key(scheme);
        let got = verify_key(scheme, &key, &public_key).unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(got, seed, "{scheme} seed");
    }
}

#[test]
fn the_pkcs1_encrypt_golden_key_yields_the_200_byte_seed_file() {
    let (key, public_key, _) = signed_key("RSA_2048_PKCS1_ENCRYPT");
    let seed = verify_key("RSA_2048_PKCS1_ENCRYPT", &key, &public_key).unwrap();
    assert_eq!(seed.len(), 200);
    assert_eq!(seed, fixture("seed200.bin"));
}

#[test]
fn the_jwt_golden_key_yields_its_claims_json() {
    let (key, public_key, _) = signed_key("RSA_2048_JWT_RS256");
    let claims: serde_json::Value =
        serde_json::from_slice(&verify_key("RSA_2048_JWT_RS256", &key, &public_key).unwrap()).unwrap();
    assert_eq!(claims["iss"], "https://keygen.sh");
    assert_eq!(claims["sub"], "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
}

#[test]
fn the_v2_and_ecdsa_golden_keys_are_the_message_plus_the_openssl_signature() {
    let message = fixture_text("message.txt");
    for (scheme, sig_file) in [
        ("ED25519_SIGN", "message.ed25519.sig"),
        ("ECDSA_P256_SIGN", "message.ecdsa-p256.sig"),
        ("RSA_2048_PKCS1_SIGN_V2", "message.rsa-sha256.sig"),
        ("RSA_2048_PKCS1_PSS_SIGN_V2", "message.rsa-pss-sha256.sig"),
    ] {
        let (key, _, _) = signed_key(scheme);
        assert_eq!(
            key,
            format!("{message}.{}", URL_SAFE.encode(fixture(sig_file))),
            "{scheme}"
        );
    }
    for (scheme, sig_file) in [
        ("RSA_2048_PKCS1_SIGN", "seed.rsa-sha256.sig"),
        ("RSA_2048_PKCS1_PSS_SIGN", "seed.rsa-pss-sha256.sig"),
    ] {
        let (key, _, _) = signed_key(scheme);
        let expected = format!(
            "{}.{}",
            URL_SAFE.encode(fixture("seed.json")),
            URL_SAFE.encode(fixture(sig_file))
        );
        assert_eq!(key, expected, "{scheme}");
    }
    let (key, _, _) = signed_key("RSA_2048_PKCS1_ENCRYPT");
    assert_eq!(key, URL_SAFE.encode(fixture("seed200.rsa-private-encrypt.bin")));
}

#[test]
fn every_golden_signed_key_with_any_one_character_changed_is_rejected() {
    for scheme in SCHEMES {
        let (key, public_key, _) = signed_key(scheme);
        for tampered in one_byte_changes(&key) {
            assert!(
                verify_key(scheme, &tampered, &public_key).is_err(),
                "{scheme} accepted {tampered}"
            );
        }
    }
}

#[test]
fn every_golden_signed_key_with_one_signature_byte_changed_is_rejected() {
    for scheme in SCHEMES {
        let (key, public_key, _) = signed_key(scheme);
        let (head, sig_text) = key.rsplit_once('.').map_or(("", key.as_str()), |(h, s)| (h, s));
        let jwt = scheme == "RSA_2048_JWT_RS256";
        let sig = if jwt {
            URL_SAFE_NO_PAD.decode(sig_text)
        } else {
            URL_SAFE.decode(sig_text)
        }
        .unwrap();
        for index in 0..sig.len() {
            let changed = flip_byte(&sig, index);
            let changed = if jwt {
                URL_SAFE_NO_PAD.encode(&changed)
            } else {
                URL_SAFE.encode(&changed)
            };
            let tampered = if head.is_empty() {
                changed
            } else {
                format!("{head}.{changed}")
            };
            assert!(
                verify_key(scheme, &tampered, &public_key).is_err(),
                "{scheme} signature byte {index}"
            );
        }
    }
}

#[test]
fn every_golden_signed_key_with_one_seed_byte_changed_is_rejected() {
    for scheme in SCHEMES.into_iter().filter(|s| *s != "RSA_2048_PKCS1_ENCRYPT") {
        let (key, public_key, seed) = signed_key(scheme);
        for index in 0..seed.len() {
            let changed = flip_byte(&seed, index);
            let tampered = match scheme {
                "RSA_2048_JWT_RS256" => {
                    let parts: Vec<&str> = key.split('.').collect();
                    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(&changed), parts[2])
                }
                "RSA_2048_PKCS1_SIGN" | "RSA_2048_PKCS1_PSS_SIGN" => {
                    format!("{}.{}", URL_SAFE.encode(&changed), key.split_once('.').unwrap().1)
                }
                _ => format!("key/{}.{}", URL_SAFE.encode(&changed), key.split_once('.').unwrap().1),
            };
            assert!(
                verify_key(scheme, &tampered, &public_key).is_err(),
                "{scheme} seed byte {index}"
            );
        }
    }
}

#[test]
fn a_golden_signed_key_is_rejected_under_another_scheme_or_key() {
    let (ed_key, _, _) = signed_key("ED25519_SIGN");
    assert!(verify_key("ED25519_SIGN", &ed_key, &rsa()).is_err());
    assert!(verify_key("ECDSA_P256_SIGN", &ed_key, &ecdsa()).is_err());
    let (v2, _, _) = signed_key("RSA_2048_PKCS1_SIGN_V2");
    assert!(verify_key("RSA_2048_PKCS1_PSS_SIGN_V2", &v2, &rsa()).is_err());
    assert!(verify_key("RSA_2048_PKCS1_SIGN", &v2, &rsa()).is_err());
    let (pss, _, _) = signed_key("RSA_2048_PKCS1_PSS_SIGN_V2");
    assert!(verify_key("RSA_2048_PKCS1_SIGN_V2", &pss, &rsa()).is_err());
    let (v1, _, _) = signed_key("RSA_2048_PKCS1_SIGN");
    assert!(verify_key("RSA_2048_PKCS1_SIGN_V2", &v1, &rsa()).is_err());
    assert!(verify_key("RSA_2048_PKCS1_SIGN", &v1, &ed25519()).is_err());
    assert!(verify_key("LEGACY_ENCRYPT", &v1, &rsa()).is_err());
    assert!(verify_key("NO_SUCH_SCHEME", &v1, &rsa()).is_err());
}

#[test]
fn a_v2_golden_key_without_padding_is_rejected() {
    let (key, public_key, _) = signed_key("RSA_2048_PKCS1_SIGN_V2");
    let unpadded = key.replace('=', "");
    assert_ne!(unpadded, key);
    assert!(verify_key("RSA_2048_PKCS1_SIGN_V2", &unpadded, &public_key).is_err());
}

/// The entries of `responses.json`, with their public key, header map and body.
fn golden_responses() -> Vec<(serde_json::Value, PublicKey, reqwest::header::HeaderMap, Vec<u8>)> {
    let all: serde_json::Value = serde_json::from_slice(&fixture("responses.json")).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in entry["headers"].as_object().unwrap() {
                let name: reqwest::header::HeaderName = name.parse().unwrap();
                headers.insert(name, value.as_str().unwrap().parse().unwrap());
            }
            let key = public_key(entry["public_key"].as_str().unwrap());
            let body = fixture(entry["body_file"].as_str().unwrap());
            (entry.clone(), key, headers, body)
        })
        .collect()
}

fn check_response(
    entry: &serde_json::Value,
    key: &PublicKey,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let field = |name: &str| entry[name].as_str().unwrap();
    verify_response(
        field("algorithm"),
        key,
        field("method"),
        field("target"),
        field("host"),
        headers,
        body,
    )
}

#[test]
fn every_golden_response_signature_verifies() {
    let responses = golden_responses();
    assert_eq!(responses.len(), 5);
    for (entry, key, headers, body) in &responses {
        check_response(entry, key, headers, body).unwrap_or_else(|e| panic!("{}: {e}", entry["algorithm"]));
    }
}

#[test]
fn a_golden_response_with_one_body_byte_changed_is_rejected() {
    for (entry, key, headers, body) in golden_responses() {
        for index in 0..body.len() {
            assert!(check_response(&entry, &key, &headers, &flip_byte(&body, index)).is_err());
        }
        let mut longer = body.clone();
        longer.push(b' ');
        assert!(check_response(&entry, &key, &headers, &longer).is_err());
    }
}

#[test]
fn a_golden_response_with_any_header_character_changed_is_rejected() {
    for (entry, key, headers, body) in golden_responses() {
        for name in ["date", "keygen-date", "digest", "keygen-digest", "keygen-signature"] {
            let value = headers[name].to_str().unwrap().to_string();
            for tampered in one_byte_changes(&value) {
                // The keyid is not signed (and the verifier is not told the account id): any other
                // UUID passes, so only a keyid that is no longer a UUID (`!`) must be rejected.
                let keyid_only =
                    name == "keygen-signature" && tampered[..7] == value[..7] && tampered[43..] == value[43..];
                if keyid_only && !tampered.contains('!') {
                    continue;
                }
                let mut changed = headers.clone();
                changed.insert(name, tampered.parse().unwrap());
                assert!(
                    check_response(&entry, &key, &changed, &body).is_err(),
                    "{name}: {tampered}"
                );
            }
        }
    }
}

#[test]
fn a_golden_response_with_one_signature_byte_changed_is_rejected() {
    for (entry, key, headers, body) in golden_responses() {
        let value = headers["keygen-signature"].to_str().unwrap();
        let signature = value.split("signature=\"").nth(1).unwrap().split('"').next().unwrap();
        let raw = STANDARD.decode(signature).unwrap();
        for index in 0..raw.len() {
            let changed = value.replace(signature, &STANDARD.encode(flip_byte(&raw, index)));
            let mut tampered = headers.clone();
            tampered.insert("keygen-signature", changed.parse().unwrap());
            assert!(
                check_response(&entry, &key, &tampered, &body).is_err(),
                "{} byte {index}",
                entry["algorithm"]
            );
        }
    }
}

#[test]
fn a_golden_response_checked_against_another_request_is_rejected() {
    for (entry, key, headers, body) in golden_responses() {
        let field = |name: &str| entry[name].as_str().unwrap().to_string();
        let (alg, method, target, host) = (field("algorithm"), field("method"), field("target"), field("host"));
        let check =
            |method: &str, target: &str, host: &str| verify_response(&alg, &key, method, target, host, &headers, &body);
        assert!(check(&method, &target, &host).is_ok());
        assert!(check("POST", &target, &host).is_err());
        assert!(check(&method, &format!("{target}x"), &host).is_err());
        assert!(check(&method, &target, "other.host").is_err());
        for tampered in one_byte_changes(&target) {
            assert!(check(&method, &tampered, &host).is_err(), "{tampered}");
        }
        for tampered in one_byte_changes(&host) {
            assert!(check(&method, &target, &tampered).is_err(), "{tampered}");
        }
    }
}

#[test]
fn a_golden_response_is_rejected_for_another_algorithm_or_key() {
    for (entry, key, headers, body) in golden_responses() {
        let field = |name: &str| entry[name].as_str().unwrap().to_string();
        let (alg, method, target, host) = (field("algorithm"), field("method"), field("target"), field("host"));
        for other in ["ed25519", "ecdsa-p256", "rsa-sha256", "rsa-pss-sha256", "hmac-sha256"] {
            if other != alg {
                assert!(verify_response(other, &key, &method, &target, &host, &headers, &body).is_err());
            }
        }
        for other_key in [ed25519(), ecdsa(), rsa()] {
            if other_key != key {
                assert!(verify_response(&alg, &other_key, &method, &target, &host, &headers, &body).is_err());
            }
        }
    }
}

#[test]
fn a_golden_response_missing_any_signed_header_is_rejected() {
    for (entry, key, headers, body) in golden_responses() {
        for name in ["date", "keygen-date", "digest", "keygen-digest", "keygen-signature"] {
            let mut missing = headers.clone();
            missing.remove(name);
            assert!(check_response(&entry, &key, &missing, &body).is_err(), "without {name}");
            let mut doubled = headers.clone();
            doubled.append(name, headers[name].clone());
            assert!(check_response(&entry, &key, &doubled, &body).is_err(), "{name} twice");
        }
    }
}

/// The entries of `certificates.json`: (certificate text, prefix, public key, secret, expected payload).
fn golden_certificates() -> Vec<(String, String, PublicKey, Option<String>, serde_json::Value)> {
    let all: serde_json::Value = serde_json::from_slice(&fixture("certificates.json")).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let payload = serde_json::from_slice(&fixture(entry["payload_file"].as_str().unwrap())).unwrap();
            (
                fixture_text(entry["file"].as_str().unwrap()),
                entry["prefix"].as_str().unwrap().to_string(),
                public_key(entry["public_key"].as_str().unwrap()),
                entry["secret"].as_str().map(str::to_string),
                payload,
            )
        })
        .collect()
}

#[test]
fn every_golden_certificate_opens_to_its_payload() {
    let certificates = golden_certificates();
    assert_eq!(certificates.len(), 6);
    for (certificate, prefix, key, secret, payload) in &certificates {
        let opened = open_certificate(certificate, prefix, key, secret.as_deref())
            .unwrap_or_else(|e| panic!("{}: {e}", certificate.lines().nth(1).unwrap()));
        assert_eq!(&opened, payload);
    }
}

#[test]
fn a_golden_certificate_with_any_one_character_changed_is_rejected() {
    for (certificate, prefix, key, secret, _) in golden_certificates() {
        for tampered in one_byte_changes(&certificate) {
            assert!(
                open_certificate(&tampered, &prefix, &key, secret.as_deref()).is_err(),
                "{tampered}"
            );
        }
    }
}

#[test]
fn a_golden_certificate_with_a_changed_enc_or_sig_byte_is_rejected() {
    for (certificate, prefix, key, secret, _) in golden_certificates() {
        let doc = certificate_document(&certificate);
        for field in ["enc", "sig"] {
            let text = doc[field].as_str().unwrap();
            for part in text.split('.') {
                let raw = STANDARD.decode(part).unwrap();
                for index in 0..raw.len() {
                    let mut changed = doc.clone();
                    changed[field] = text.replacen(part, &STANDARD.encode(flip_byte(&raw, index)), 1).into();
                    let rewrapped = armour(&prefix, &changed);
                    assert!(
                        open_certificate(&rewrapped, &prefix, &key, secret.as_deref()).is_err(),
                        "{field} {index}"
                    );
                }
            }
        }
        // Re-armouring the untouched document gives back exactly the golden file.
        assert_eq!(armour(&prefix, &doc), certificate);
    }
}

#[test]
fn a_golden_certificate_is_rejected_with_the_wrong_secret_prefix_or_key() {
    for (certificate, prefix, key, secret, _) in golden_certificates() {
        let other_prefix = if prefix == "license" { "machine" } else { "license" };
        assert!(open_certificate(&certificate, other_prefix, &key, secret.as_deref()).is_err());
        assert!(open_certificate(&certificate, "key", &key, secret.as_deref()).is_err());
        for other_key in [ed25519(), ecdsa(), rsa()] {
            if other_key != key {
                assert!(open_certificate(&certificate, &prefix, &other_key, secret.as_deref()).is_err());
            }
        }
        if let Some(secret) = secret {
            assert!(open_certificate(&certificate, &prefix, &key, None).is_err());
            assert!(open_certificate(&certificate, &prefix, &key, Some(&format!("{secret}x"))).is_err());
            assert!(open_certificate(&certificate, &prefix, &key, Some(&secret[..secret.len() - 1])).is_err());
        }
    }
}

#[test]
fn a_golden_certificate_with_a_different_armour_layout_is_rejected() {
    for (certificate, prefix, key, secret, _) in golden_certificates() {
        let open = |text: &str| open_certificate(text, &prefix, &key, secret.as_deref());
        let doc = certificate_document(&certificate);
        let body = STANDARD.encode(serde_json::to_vec(&doc).unwrap());
        let label = if prefix == "license" {
            "LICENSE FILE"
        } else {
            "MACHINE FILE"
        };
        let wrapped = |width: usize| {
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(width)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
        };
        assert!(open(&certificate).is_ok());
        assert!(open(&wrapped(64)).is_err(), "64-char lines");
        assert!(open(&wrapped(59)).is_err(), "59-char lines");
        assert!(
            open(&format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")).is_err(),
            "one line"
        );
        assert!(open(certificate.trim_end()).is_err(), "no trailing newline");
        assert!(open(&format!("{certificate}\n")).is_err(), "two trailing newlines");
        assert!(open(&certificate.replace('\n', "\r\n")).is_err(), "CRLF");
        assert!(
            open(&certificate.replace(label, &label.to_lowercase())).is_err(),
            "lowercase label"
        );
    }
}

#[test]
fn a_golden_certificate_with_an_unknown_or_swapped_algorithm_is_rejected() {
    for (certificate, prefix, key, secret, _) in golden_certificates() {
        let doc = certificate_document(&certificate);
        let alg = doc["alg"].as_str().unwrap().to_string();
        let (enc_alg, sig_alg) = alg.split_once('+').unwrap();
        let other_enc = if enc_alg == "base64" { "aes-256-gcm" } else { "base64" };
        for bad in [
            format!("{other_enc}+{sig_alg}"),
            format!("{enc_alg}+hmac-sha256"),
            format!("aes-128-gcm+{sig_alg}"),
            sig_alg.to_string(),
            format!("{enc_alg}+{sig_alg}+{sig_alg}"),
            alg.to_uppercase(),
        ] {
            let mut changed = doc.clone();
            changed["alg"] = bad.clone().into();
            let secret = secret.as_deref().or(Some("secret"));
            assert!(
                open_certificate(&armour(&prefix, &changed), &prefix, &key, secret).is_err(),
                "{bad}"
            );
        }
        let mut extra = doc.clone();
        extra["extra"] = true.into();
        assert!(
            open_certificate(&armour(&prefix, &extra), &prefix, &key, secret.as_deref()).is_err(),
            "extra key"
        );
    }
}

/// The `{enc,sig,alg}` document inside a certificate.
fn certificate_document(certificate: &str) -> serde_json::Value {
    let body: String = certificate.lines().filter(|l| !l.starts_with("-----")).collect();
    serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap()
}

/// Armours a document exactly as Keygen armours files (60-char lines, one trailing newline), keeping key order enc, sig, alg.
fn armour(prefix: &str, doc: &serde_json::Value) -> String {
    let mut json = format!(r#"{{"enc":{},"sig":{},"alg":{}"#, doc["enc"], doc["sig"], doc["alg"]);
    for (name, value) in doc.as_object().unwrap() {
        if !matches!(name.as_str(), "enc" | "sig" | "alg") {
            json.push_str(&format!(",{}:{value}", serde_json::Value::from(name.as_str())));
        }
    }
    json.push('}');
    let body = STANDARD.encode(json);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let label = if prefix == "license" {
        "LICENSE FILE"
    } else {
        "MACHINE FILE"
    };
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}
