//! `keyledger verify`: the offline check of a checked-out file or a signed key, run as the
//! binary, with nothing but the account's public key (no store, no server).

use crate::account_keys::account_keys;
use crate::helpers::{keyledger_command, one_char_changed, output_of, spawn_app, TestApp};
use crate::machines::activate;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The certificate of a GET check-out, saved to a file of its own.
async fn saved_file(app: &TestApp, path: &str, query: &str) -> tempfile_path::Saved {
    let target = app.path(&format!("{path}/actions/check-out{query}"));
    let reply = app.send(Method::GET, &target, Some(app.admin()), None).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    tempfile_path::Saved::new(&reply.bytes)
}

/// Runs `keyledger verify …`: (succeeded, stdout, stderr).
async fn verify(args: &[&str]) -> (bool, String, String) {
    let mut command = keyledger_command();
    command.arg("verify").args(args);
    let output = output_of(command).await;
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

mod tempfile_path {
    /// A file in the system's temporary directory, removed when dropped.
    pub struct Saved(pub std::path::PathBuf);

    impl Saved {
        pub fn new(bytes: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!("keyledger-{}.lic", uuid::Uuid::new_v4()));
            std::fs::write(&path, bytes).unwrap();
            Self(path)
        }

        pub fn arg(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for Saved {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test]
async fn verify_prints_the_payload_of_a_genuine_license_file_and_refuses_a_changed_one() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let id = license["id"].as_str().unwrap();
    let key = license["attributes"]["key"].as_str().unwrap();
    let file = saved_file(&app, &format!("licenses/{id}"), "?encrypt=true").await;
    let public = app.account.public_key.clone();
    let (ok, stdout, stderr) = verify(&[
        "license-file",
        file.arg(),
        "--public-key",
        &public,
        "--license-key",
        key,
    ])
    .await;
    assert!(ok, "{stderr}");
    let payload: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(payload["data"]["id"], id);

    let (ok, _, stderr) = verify(&["license-file", file.arg(), "--public-key", &public]).await;
    assert!(!ok && stderr.contains("--license-key"), "{stderr}");
    let (ok, _, stderr) = verify(&[
        "license-file",
        file.arg(),
        "--public-key",
        &public,
        "--license-key",
        "WRONG",
    ])
    .await;
    assert!(!ok && stderr.contains("does not decrypt"), "{stderr}");

    let text = std::fs::read_to_string(&file.0).unwrap();
    let changed = tempfile_path::Saved::new(one_char_changed(&text, text.len() / 2).as_bytes());
    let (ok, stdout, stderr) = verify(&[
        "license-file",
        changed.arg(),
        "--public-key",
        &public,
        "--license-key",
        key,
    ])
    .await;
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("not verified"), "{stderr}");
    assert!(!stderr.contains(key), "no license key in what it prints");
}

#[tokio::test]
async fn verify_opens_a_machine_file_signed_with_rsa_given_the_fingerprint() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let machine = activate(&app, app.admin(), license["id"].as_str().unwrap(), "fp-cli", json!({})).await;
    let machine_id = machine.json["data"]["id"].as_str().unwrap();
    let file = saved_file(
        &app,
        &format!("machines/{machine_id}"),
        "?algorithm=aes-256-gcm%2Brsa-pss-sha256&include=license",
    )
    .await;
    // The RSA key as the account's meta shows it (base64 of the PEM).
    let rsa = B64.encode(account_keys(&app).await.rsa_pem);
    let args = [
        "license-file",
        file.arg(),
        "--public-key",
        &rsa,
        "--license-key",
        key,
        "--fingerprint",
        "fp-cli",
    ];
    let (ok, stdout, stderr) = verify(&args).await;
    assert!(ok, "{stderr}");
    let payload: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(payload["data"]["id"], machine_id);
    assert_eq!(payload["included"][0]["type"], "licenses");
    let ed25519 = app.account.public_key.clone();
    let args = [
        "license-file",
        file.arg(),
        "--public-key",
        &ed25519,
        "--license-key",
        key,
        "--fingerprint",
        "fp-cli",
    ];
    let (ok, _, stderr) = verify(&args).await;
    assert!(
        !ok && stderr.contains("rsa-pss-sha256"),
        "the wrong kind of key: {stderr}"
    );
}

#[tokio::test]
async fn verify_refuses_an_expired_file() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    // Issued two hours ago (the server's clock moved back), for an hour.
    app.state.clock.advance(chrono::Duration::hours(-2));
    let file = saved_file(
        &app,
        &format!("licenses/{}", license["id"].as_str().unwrap()),
        "?ttl=3600",
    )
    .await;
    let (ok, stdout, stderr) = verify(&["license-file", file.arg(), "--public-key", &app.account.public_key]).await;
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("expired"), "{stderr}");
    // A file that never expires stays good.
    let forever = saved_file(
        &app,
        &format!("licenses/{}", license["id"].as_str().unwrap()),
        "?ttl=null",
    )
    .await;
    let (ok, _, stderr) = verify(&["license-file", forever.arg(), "--public-key", &app.account.public_key]).await;
    assert!(ok, "{stderr}");
}

#[tokio::test]
async fn verify_prints_the_seed_of_a_signed_key() {
    let app = spawn_app().await;
    let (_, ed25519) = app.licensed(json!({"scheme": "ED25519_SIGN"}), json!({})).await;
    let key = ed25519["attributes"]["key"].as_str().unwrap();
    let (ok, stdout, stderr) = verify(&["key", key, "--public-key", &app.account.public_key]).await;
    assert!(ok, "{stderr}");
    let seed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seed["license"]["id"], ed25519["id"]);
    let forged = key.replacen("key/", "key/A", 1);
    let (ok, _, stderr) = verify(&["key", &forged, "--public-key", &app.account.public_key]).await;
    assert!(!ok && stderr.contains("not genuine"), "{stderr}");

    let (_, jwt) = app.licensed(json!({"scheme": "RSA_2048_JWT_RS256"}), json!({})).await;
    let rsa_pem = account_keys(&app).await.rsa_pem;
    let pem_file = tempfile_path::Saved::new(rsa_pem.as_bytes());
    let jwt_key = jwt["attributes"]["key"].as_str().unwrap();
    let args = [
        "key",
        jwt_key,
        "--public-key",
        pem_file.arg(),
        "--scheme",
        "RSA_2048_JWT_RS256",
    ];
    let (ok, stdout, stderr) = verify(&args).await;
    assert!(ok, "{stderr}");
    let claims: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(claims["sub"], jwt["id"]);
    let (ok, _, stderr) = verify(&["key", jwt_key, "--public-key", pem_file.arg()]).await;
    assert!(
        !ok && stderr.contains("--scheme"),
        "RSA keys need their scheme named: {stderr}"
    );
}
