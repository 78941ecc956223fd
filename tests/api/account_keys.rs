//! Account keys in all three kinds (ed25519, RSA-2048, ECDSA P-256) where Keygen exposes them,
//! older accounts gaining theirs by an event, and responses signed in every algorithm a client
//! asks for with `Keygen-Accept-Signature` — each checked by the suite's own verifier.

use crate::helpers::{one_char_changed, spawn_app, TestApp};
use crate::offline_verifier::{verify_response, PublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use reqwest::{Method, StatusCode};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

/// An account's public keys as its resource shows them.
pub struct AccountKeys {
    pub ed25519: PublicKey,
    pub rsa: PublicKey,
    pub ecdsa: PublicKey,
    pub rsa_pem: String,
    pub ecdsa_pem: String,
}

impl AccountKeys {
    /// The key that verifies `algorithm`.
    pub fn for_algorithm(&self, algorithm: &str) -> &PublicKey {
        match algorithm {
            "ed25519" => &self.ed25519,
            "rsa-pss-sha256" | "rsa-sha256" => &self.rsa,
            "ecdsa-p256" => &self.ecdsa,
            other => panic!("no key for {other}"),
        }
    }
}

fn decoded(meta: &serde_json::Value, pointer: &str) -> String {
    let encoded = meta
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{pointer} in {meta}"));
    String::from_utf8(B64.decode(encoded).expect("base64")).expect("text")
}

/// Reads the account's public keys from `GET /v1/accounts/{id}` (`meta`).
pub async fn account_keys(app: &TestApp) -> AccountKeys {
    let reply = app.send(Method::GET, &app.path(""), Some(app.admin()), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let meta = &reply.json["data"]["meta"];
    let rsa_pem = decoded(meta, "/keys/rsa2048");
    let ecdsa_pem = decoded(meta, "/keys/ecdsa");
    AccountKeys {
        ed25519: PublicKey::Ed25519Hex(decoded(meta, "/keys/ed25519")),
        rsa: PublicKey::RsaPem(rsa_pem.clone()),
        ecdsa: PublicKey::EcdsaPem(ecdsa_pem.clone()),
        rsa_pem,
        ecdsa_pem,
    }
}

pub const ALGORITHMS: [&str; 4] = ["ed25519", "rsa-pss-sha256", "rsa-sha256", "ecdsa-p256"];

#[tokio::test]
async fn the_account_shows_its_rsa_ed25519_and_ecdsa_public_keys_as_keygen_does() {
    let app = spawn_app().await;
    let reply = app.send(Method::GET, &app.path(""), Some(app.admin()), None).await;
    let meta = &reply.json["data"]["meta"];
    assert_eq!(meta["publicKey"], meta["keys"]["rsa2048"], "publicKey is the RSA key");
    assert_eq!(
        decoded(meta, "/keys/ed25519"),
        app.account.public_key,
        "base64 of the hex string"
    );
    let keys = account_keys(&app).await;
    assert!(
        keys.rsa_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "SPKI PEM: {}",
        keys.rsa_pem
    );
    let rsa = rsa::RsaPublicKey::from_public_key_pem(&keys.rsa_pem).expect("an RSA public key");
    assert_eq!(rsa.size() * 8, 2048);
    assert!(keys.ecdsa_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    p256::ecdsa::VerifyingKey::from_public_key_pem(&keys.ecdsa_pem).expect("a P-256 public key");
}

#[tokio::test]
async fn responses_are_signed_in_the_algorithm_the_client_accepts() {
    let app = spawn_app().await;
    app.create_product("Signed", None).await;
    let keys = account_keys(&app).await;
    let target = app.path("products");
    for algorithm in ALGORITHMS {
        for header in [
            format!("algorithm=\"{algorithm}\""),
            format!(
                "keyid=\"{}\", algorithm=\"{}\";",
                app.account.account_id,
                algorithm.to_uppercase()
            ),
        ] {
            let reply = app
                .send_with_headers(Method::GET, &target, &[("Keygen-Accept-Signature", &header)], None)
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{header}: {}", reply.json);
            let key = keys.for_algorithm(algorithm);
            verify_response(algorithm, key, "GET", &target, &app.host, &reply.headers, &reply.bytes)
                .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
            // One changed byte of the body, or of the signature, and it no longer verifies.
            let mut body = reply.bytes.clone();
            body[10] ^= 1;
            assert!(verify_response(algorithm, key, "GET", &target, &app.host, &reply.headers, &body).is_err());
            let mut headers = reply.headers.clone();
            let signature = headers["keygen-signature"].to_str().unwrap().to_string();
            let at = signature.find("signature=\"").unwrap() + "signature=\"".len() + 4;
            headers.insert("keygen-signature", one_char_changed(&signature, at).parse().unwrap());
            assert!(
                verify_response(algorithm, key, "GET", &target, &app.host, &headers, &reply.bytes).is_err(),
                "{algorithm}: a changed signature byte is rejected"
            );
            // Nor does another algorithm's key verify it.
            let other = if algorithm == "ed25519" {
                "ecdsa-p256"
            } else {
                "ed25519"
            };
            assert!(verify_response(
                other,
                keys.for_algorithm(other),
                "GET",
                &target,
                &app.host,
                &reply.headers,
                &reply.bytes
            )
            .is_err());
        }
    }
}

#[tokio::test]
async fn errors_are_signed_in_the_accepted_algorithm_too() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let target = app.path("licenses/nope");
    let reply = app
        .send_with_headers(
            Method::GET,
            &target,
            &[("Keygen-Accept-Signature", "algorithm=\"rsa-pss-sha256\"")],
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    verify_response(
        "rsa-pss-sha256",
        &keys.rsa,
        "GET",
        &target,
        &app.host,
        &reply.headers,
        &reply.bytes,
    )
    .expect("a 404 is signed with RSA-PSS");
}

#[tokio::test]
async fn malformed_or_unknown_accept_signatures_are_refused() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let target = app.path("products");
    let other_account = format!("keyid=\"{}\", algorithm=\"ed25519\"", uuid::Uuid::new_v4());
    for header in [
        "algorithm=\"rsa-sha512\"",
        "algorithm=\"hmac-sha256\"",
        "keyid=\"x\"",
        "algorithm",
        "garbage",
        other_account.as_str(),
    ] {
        let reply = app
            .send_with_headers(Method::GET, &target, &[("Keygen-Accept-Signature", header)], None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{header}");
        assert_eq!(reply.json["errors"][0]["source"]["header"], "Keygen-Accept-Signature");
        verify_response(
            "ed25519",
            &keys.ed25519,
            "GET",
            &target,
            &app.host,
            &reply.headers,
            &reply.bytes,
        )
        .expect("the refusal is signed with the default algorithm");
    }
}

/// An account as an older server recorded it (only its ed25519 pair and token secret); its id.
pub(crate) async fn older_account(app: &TestApp) -> String {
    let mut keys = api::crypto::generate_account_keys(&app.state.master).unwrap();
    keys.rsa2048 = None;
    keys.ecdsa_p256 = None;
    let id = uuid::Uuid::new_v4().to_string();
    let create = aggregates::account::AccountCommand::Create {
        id: id.clone(),
        name: "Older".into(),
        slug: format!("older-{}", &id[..8]),
        keys,
        at: app.state.now(),
    };
    let metadata = [("account_id".to_string(), id.clone())].into_iter().collect();
    api::state::execute(
        &app.state.frameworks.account,
        &aggregates::AccountId::from(&id),
        create,
        metadata,
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn an_account_made_before_rsa_and_ecdsa_keys_gains_them_by_an_event_on_first_use() {
    let app = spawn_app().await;
    let id = older_account(&app).await;
    // Its first request: a ping answered with an RSA signature.
    let target = format!("/v1/accounts/{id}/ping");
    let reply = app
        .send_with_headers(
            Method::GET,
            &target,
            &[("Keygen-Accept-Signature", "algorithm=\"rsa-sha256\"")],
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let types: Vec<String> = store::on_pool!(app.state.db, |pool| sqlx::query_scalar(
        "select event_type from events where aggregate_id = $1 order by sequence"
    )
    .bind(&id)
    .fetch_all(pool)
    .await
    .unwrap());
    assert_eq!(types, ["account.created", "account.keys.added"]);
    let row = projections::accounts::find(&app.state.db, &id).await.unwrap().unwrap();
    let rsa = PublicKey::RsaPem(row.rsa2048_public_key.expect("the row has the added key"));
    verify_response(
        "rsa-sha256",
        &rsa,
        "GET",
        &target,
        &app.host,
        &reply.headers,
        &reply.bytes,
    )
    .expect("signed with the key the event added");
    // Later uses keep those keys: no second event.
    app.send_with_headers(
        Method::GET,
        &target,
        &[("Keygen-Accept-Signature", "algorithm=\"ecdsa-p256\"")],
        None,
    )
    .await;
    let count: i64 = store::on_pool!(app.state.db, |pool| sqlx::query_scalar(
        "select count(*) from events where aggregate_id = $1"
    )
    .bind(&id)
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(count, 2);
}
