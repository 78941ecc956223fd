//! Signed license keys: a policy's `scheme` signs (or encrypts) each new license's key with the
//! account's keys, in Keygen's layouts, over Keygen's default seed or a supplied `{{var}}`
//! template — checked by the suite's own verifier and, for ED25519_SIGN, by keygen-rs offline.

use crate::account_keys::account_keys;
use crate::helpers::{one_char_changed, spawn_app, TestApp};
use crate::offline_verifier::verify_key;
use keygen_rs::config::KeygenConfig;
use keygen_rs::license::SchemeCode;
use reqwest::StatusCode;
use serde_json::{json, Value};

const SCHEMES: [(&str, &str); 8] = [
    ("ED25519_SIGN", "ed25519"),
    ("ECDSA_P256_SIGN", "ecdsa-p256"),
    ("RSA_2048_PKCS1_SIGN_V2", "rsa-sha256"),
    ("RSA_2048_PKCS1_PSS_SIGN_V2", "rsa-pss-sha256"),
    ("RSA_2048_PKCS1_SIGN", "rsa-sha256"),
    ("RSA_2048_PKCS1_PSS_SIGN", "rsa-pss-sha256"),
    ("RSA_2048_PKCS1_ENCRYPT", "rsa-sha256"),
    ("RSA_2048_JWT_RS256", "rsa-sha256"),
];

/// A license under a new policy with `scheme` (and a one-day duration): (policy, license).
async fn signed_license(app: &TestApp, scheme: &str, attributes: Value) -> (Value, Value) {
    let product = app.create_product("Signed", None).await;
    let policy = app
        .create_policy(
            product["id"].as_str().unwrap(),
            json!({"scheme": scheme, "duration": 86400}),
        )
        .await;
    let license = app.create_license(policy["id"].as_str().unwrap(), attributes).await;
    (policy, license)
}

fn key_of(license: &Value) -> &str {
    license["attributes"]["key"].as_str().unwrap()
}

#[tokio::test]
async fn every_scheme_signs_keygens_default_seed_with_the_accounts_key() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    for (scheme, algorithm) in SCHEMES {
        let (policy, license) = signed_license(&app, scheme, json!({})).await;
        assert_eq!(license["attributes"]["scheme"], scheme);
        let key = key_of(&license);
        let seed = verify_key(scheme, key, keys.for_algorithm(algorithm)).unwrap_or_else(|e| panic!("{scheme}: {e}"));
        let seed: Value = serde_json::from_slice(&seed).unwrap();
        let a = &license["attributes"];
        let id = license["id"].clone();
        let expected = match scheme {
            "RSA_2048_PKCS1_ENCRYPT" => {
                json!({"id": id, "created": a["created"], "duration": 86400, "expiry": a["expiry"]})
            }
            "RSA_2048_JWT_RS256" => {
                let created = chrono::DateTime::parse_from_rfc3339(a["created"].as_str().unwrap()).unwrap();
                let expiry = chrono::DateTime::parse_from_rfc3339(a["expiry"].as_str().unwrap()).unwrap();
                assert!(uuid::Uuid::parse_str(seed["jti"].as_str().unwrap()).is_ok());
                json!({"jti": seed["jti"], "iss": "https://keygen.sh", "aud": app.account.account_id,
                    "sub": id, "iat": created.timestamp(), "nbf": created.timestamp(), "exp": expiry.timestamp()})
            }
            _ => json!({
                "account": {"id": app.account.account_id},
                "product": {"id": policy["relationships"]["product"]["data"]["id"]},
                "policy": {"id": policy["id"], "duration": 86400},
                "user": null,
                "license": {"id": id, "created": a["created"], "expiry": a["expiry"]},
            }),
        };
        assert_eq!(seed, expected, "{scheme}");
        // The key is the license's key: it validates.
        let validated = app
            .send(
                reqwest::Method::POST,
                &app.path("licenses/actions/validate-key"),
                None,
                Some(json!({"meta": {"key": key}})),
            )
            .await;
        assert_eq!(validated.json["meta"]["code"], "VALID", "{scheme}: {}", validated.json);
        // One changed character of the key and it no longer verifies.
        let tampered = one_char_changed(key, key.len() / 3);
        assert!(
            verify_key(scheme, &tampered, keys.for_algorithm(algorithm)).is_err(),
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn the_default_seed_is_keygens_compact_json_in_keygens_key_order() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let (_, license) = signed_license(&app, "ED25519_SIGN", json!({})).await;
    let seed = verify_key("ED25519_SIGN", key_of(&license), &keys.ed25519).unwrap();
    let seed = String::from_utf8(seed).unwrap();
    let order: Vec<usize> = [
        "\"account\":{\"id\":",
        "\"product\":",
        "\"policy\":",
        "\"user\":null",
        "\"license\":",
    ]
    .iter()
    .map(|part| seed.find(part).unwrap_or_else(|| panic!("{part} in {seed}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{seed}");
    assert!(!seed.contains(' '), "compact: {seed}");
    assert!(
        seed.ends_with(&format!(
            "\"expiry\":\"{}\"}}}}",
            license["attributes"]["expiry"].as_str().unwrap()
        )),
        "{seed}"
    );
}

#[tokio::test]
async fn a_supplied_key_is_the_seed_with_its_placeholders_filled() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let (policy, license) = signed_license(
        &app,
        "RSA_2048_PKCS1_PSS_SIGN_V2",
        json!({"key": "lic={{id}};pol={{policy}};acct={{account}};exp={{expiry}};who={{email}};x={{unknown}}"}),
    )
    .await;
    let seed = verify_key("RSA_2048_PKCS1_PSS_SIGN_V2", key_of(&license), &keys.rsa).unwrap();
    assert_eq!(
        String::from_utf8(seed).unwrap(),
        format!(
            "lic={};pol={};acct={};exp={};who=;x=",
            license["id"].as_str().unwrap(),
            policy["id"].as_str().unwrap(),
            app.account.account_id,
            license["attributes"]["expiry"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn keygens_errors_for_seeds_a_scheme_cannot_carry() {
    let app = spawn_app().await;
    let product = app.create_product("Signed", None).await;
    let product_id = product["id"].as_str().unwrap();
    let encrypt = app
        .create_policy(product_id, json!({"scheme": "RSA_2048_PKCS1_ENCRYPT"}))
        .await;
    let encrypt = encrypt["id"].as_str().unwrap();
    let fits = app.try_create_license(encrypt, json!({"key": "x".repeat(245)})).await;
    assert_eq!(fits.status, StatusCode::CREATED, "{}", fits.json);
    let too_long = app.try_create_license(encrypt, json!({"key": "x".repeat(246)})).await;
    assert_eq!(
        (too_long.status, too_long.error_code(), too_long.error_pointer()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "KEY_BYTE_SIZE_EXCEEDED",
            "/data/attributes/key"
        )
    );
    let jwt = app
        .create_policy(product_id, json!({"scheme": "RSA_2048_JWT_RS256"}))
        .await;
    let jwt = jwt["id"].as_str().unwrap();
    let not_claims = app.try_create_license(jwt, json!({"key": "[1,2]"})).await;
    assert_eq!(
        (not_claims.status, not_claims.error_code(), not_claims.error_pointer()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "KEY_JWT_CLAIMS_INVALID",
            "/data/attributes/key"
        )
    );
    let claims = app
        .try_create_license(jwt, json!({"key": "{\"sub\":\"{{id}}\",\"plan\":\"pro\"}"}))
        .await;
    assert_eq!(claims.status, StatusCode::CREATED, "{}", claims.json);
    let keys = account_keys(&app).await;
    let seed = verify_key("RSA_2048_JWT_RS256", key_of(&claims.json["data"]), &keys.rsa).unwrap();
    let seed: Value = serde_json::from_slice(&seed).unwrap();
    assert_eq!(seed, json!({"sub": claims.json["data"]["id"], "plan": "pro"}));
    // Nothing was half-written: the refused licenses are not there.
    let listed = app.get(&format!("licenses?policy={encrypt}")).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn keygen_rs_verifies_an_ed25519_signed_key_offline() {
    let app = spawn_app().await;
    let (_, license) = signed_license(&app, "ED25519_SIGN", json!({})).await;
    let key = key_of(&license);
    // As keygen-rs's docs show an app doing it: the account's public key in the config, then
    // `verify(SchemeCode::Ed25519Sign, key)` with no network.
    let config = KeygenConfig {
        public_key: Some(app.account.public_key.clone()),
        ..KeygenConfig::default()
    };
    let seed = keygen_rs::verify_with_config(&config, SchemeCode::Ed25519Sign, key).expect("genuine");
    let seed: Value = serde_json::from_slice(&seed).unwrap();
    assert_eq!(seed["license"]["id"], license["id"]);
    let mut forged = key.to_string();
    forged.insert(10, 'A');
    assert!(keygen_rs::verify_with_config(&config, SchemeCode::Ed25519Sign, &forged).is_err());
}
