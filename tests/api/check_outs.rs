//! License and machine files (`…/actions/check-out`): every algorithm checked by the suite's own
//! verifier and by keygen-rs as its docs show an app doing it, Keygen's options and refusals,
//! the raw attachment, and the `lastCheckOut` / `*.checked-out` each check-out leaves.
//! Long on purpose: one endpoint pair's options, algorithms and side effects read best side by
//! side.

use crate::account_keys::{account_keys, AccountKeys};
use crate::helpers::{one_char_changed, spawn_app, TestApp};
use crate::machines::activate;
use crate::offline_verifier::open_certificate;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const FILE_ALGORITHMS: [&str; 8] = [
    "aes-256-gcm+ed25519",
    "aes-256-gcm+rsa-pss-sha256",
    "aes-256-gcm+rsa-sha256",
    "aes-256-gcm+ecdsa-p256",
    "base64+ed25519",
    "base64+rsa-pss-sha256",
    "base64+rsa-sha256",
    "base64+ecdsa-p256",
];

/// A license (policy with `policy`) with one entitlement of its own and one machine:
/// (license, machine).
async fn licensed_machine(app: &TestApp, policy: Value) -> (Value, Value) {
    let (_, license) = app.licensed(policy, json!({})).await;
    let license_id = license["id"].as_str().unwrap();
    let entitlement = app.create_entitlement("offline").await;
    let attach = app
        .send(
            Method::POST,
            &app.path(&format!("licenses/{license_id}/entitlements")),
            Some(app.admin()),
            Some(json!({"data": [{"type": "entitlements", "id": entitlement["id"]}]})),
        )
        .await;
    assert_eq!(attach.status, StatusCode::OK, "{}", attach.json);
    let machine = activate(app, app.admin(), license_id, "fp-offline-1", json!({})).await;
    assert_eq!(machine.status, StatusCode::CREATED, "{}", machine.json);
    (license, machine.json["data"].clone())
}

async fn check_out(app: &TestApp, path: &str, query: &str, meta: Option<Value>) -> crate::helpers::Reply {
    let target = app.path(&format!("{path}/actions/check-out{query}"));
    app.send(
        Method::POST,
        &target,
        Some(app.admin()),
        meta.map(|m| json!({ "meta": m })),
    )
    .await
}

fn public_key_for<'k>(keys: &'k AccountKeys, algorithm: &str) -> &'k crate::offline_verifier::PublicKey {
    keys.for_algorithm(algorithm.split_once('+').unwrap().1)
}

/// One changed character in the middle of a certificate's body.
fn tampered(certificate: &str) -> String {
    one_char_changed(certificate, certificate.len() / 2)
}

#[tokio::test]
async fn license_files_in_every_algorithm_open_with_the_accounts_keys_and_the_license_key() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let (license, _) = licensed_machine(&app, json!({})).await;
    let id = license["id"].as_str().unwrap();
    let key = license["attributes"]["key"].as_str().unwrap();
    for algorithm in FILE_ALGORITHMS {
        let reply = check_out(
            &app,
            &format!("licenses/{id}"),
            &format!(
                "?algorithm={}&include=entitlements,product,policy",
                algorithm.replace('+', "%2B")
            ),
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{algorithm}: {}", reply.json);
        let file = &reply.json["data"];
        assert_eq!(file["type"], "license-files");
        assert_eq!(file["attributes"]["algorithm"], algorithm);
        assert_eq!(
            file["attributes"]["includes"],
            json!(["entitlements", "product", "policy"])
        );
        assert_eq!(file["relationships"]["license"]["data"]["id"], id);
        let certificate = file["attributes"]["certificate"].as_str().unwrap();
        let public = public_key_for(&keys, algorithm);
        let payload =
            open_certificate(certificate, "license", public, Some(key)).unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert_eq!(payload["data"]["id"], id);
        assert_eq!(payload["data"]["type"], "licenses");
        assert_eq!(payload["meta"]["ttl"], 2_629_746);
        assert_eq!(payload["meta"]["issued"], file["attributes"]["issued"]);
        assert_eq!(payload["meta"]["expiry"], file["attributes"]["expiry"]);
        let types: Vec<&str> = payload["included"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["entitlements", "products", "policies"], "{algorithm}");
        assert!(
            open_certificate(&tampered(certificate), "license", public, Some(key)).is_err(),
            "{algorithm}"
        );
        assert!(
            open_certificate(certificate, "machine", public, Some(key)).is_err(),
            "the prefix is signed"
        );
        if algorithm.starts_with("aes") {
            assert!(open_certificate(certificate, "license", public, Some("another key")).is_err());
        }
    }
}

#[tokio::test]
async fn machine_files_in_every_algorithm_open_with_the_license_key_and_fingerprint() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let (license, machine) = licensed_machine(&app, json!({})).await;
    let machine_id = machine["id"].as_str().unwrap();
    let secret = format!("{}fp-offline-1", license["attributes"]["key"].as_str().unwrap());
    for algorithm in FILE_ALGORITHMS {
        let reply = check_out(
            &app,
            &format!("machines/{machine_id}"),
            "",
            Some(json!({"algorithm": algorithm, "include": ["license", "license.entitlements", "components"], "ttl": 3600})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{algorithm}: {}", reply.json);
        let file = &reply.json["data"];
        assert_eq!(file["type"], "machine-files");
        assert_eq!(file["relationships"]["machine"]["data"]["id"], machine_id);
        let certificate = file["attributes"]["certificate"].as_str().unwrap();
        assert!(certificate.starts_with("-----BEGIN MACHINE FILE-----\n"));
        let public = public_key_for(&keys, algorithm);
        let payload = open_certificate(certificate, "machine", public, Some(&secret))
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert_eq!(payload["data"]["id"], machine_id);
        assert_eq!(payload["meta"]["ttl"], 3600);
        let types: Vec<&str> = payload["included"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["licenses", "entitlements"], "{algorithm}");
        assert!(open_certificate(&tampered(certificate), "machine", public, Some(&secret)).is_err());
        if algorithm.starts_with("aes") {
            let license_key_alone = license["attributes"]["key"].as_str().unwrap();
            assert!(open_certificate(certificate, "machine", public, Some(license_key_alone)).is_err());
        }
    }
}

#[tokio::test]
async fn the_default_algorithm_follows_encrypt_and_the_licenses_scheme() {
    let app = spawn_app().await;
    let (_, plain) = app.licensed(json!({}), json!({})).await;
    let reply = check_out(&app, &format!("licenses/{}", plain["id"].as_str().unwrap()), "", None).await;
    assert_eq!(reply.json["data"]["attributes"]["algorithm"], "base64+ed25519");
    let (_, pss) = app
        .licensed(json!({"scheme": "RSA_2048_PKCS1_PSS_SIGN_V2"}), json!({}))
        .await;
    let pss_path = format!("licenses/{}", pss["id"].as_str().unwrap());
    let reply = check_out(&app, &pss_path, "?encrypt=true", None).await;
    assert_eq!(
        reply.json["data"]["attributes"]["algorithm"],
        "aes-256-gcm+rsa-pss-sha256"
    );
    let reply = check_out(&app, &pss_path, "?encrypt=true&algorithm=base64%2Becdsa-p256", None).await;
    assert_eq!(
        reply.json["data"]["attributes"]["algorithm"], "base64+ecdsa-p256",
        "algorithm overrides encrypt"
    );
    let (_, jwt) = app.licensed(json!({"scheme": "RSA_2048_JWT_RS256"}), json!({})).await;
    let reply = check_out(
        &app,
        &format!("licenses/{}", jwt["id"].as_str().unwrap()),
        "",
        Some(json!({"encrypt": true})),
    )
    .await;
    assert_eq!(reply.json["data"]["attributes"]["algorithm"], "aes-256-gcm+rsa-sha256");
}

#[tokio::test]
async fn ttl_bounds_and_bad_options_get_keygens_errors() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let path = format!("licenses/{}", license["id"].as_str().unwrap());
    for (query, meta, code, source) in [
        ("?ttl=3599", None, "CHECKOUT_TTL_INVALID", json!({"parameter": "ttl"})),
        ("?ttl=soon", None, "CHECKOUT_TTL_INVALID", json!({"parameter": "ttl"})),
        (
            "?ttl=9223372036854775807",
            None,
            "CHECKOUT_TTL_INVALID",
            json!({"parameter": "ttl"}),
        ),
        (
            "",
            Some(json!({"ttl": 60})),
            "CHECKOUT_TTL_INVALID",
            json!({"pointer": "/meta/ttl"}),
        ),
        (
            "?algorithm=aes-256-gcm%2Bmd5",
            None,
            "CHECKOUT_ALGORITHM_INVALID",
            json!({"parameter": "algorithm"}),
        ),
        (
            "?include=machines",
            None,
            "CHECKOUT_INCLUDE_INVALID",
            json!({"parameter": "include"}),
        ),
        (
            "",
            Some(json!({"include": ["license"]})),
            "CHECKOUT_INCLUDE_INVALID",
            json!({"pointer": "/meta/include"}),
        ),
    ] {
        let reply = check_out(&app, &path, query, meta.clone()).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (StatusCode::BAD_REQUEST, code),
            "{query} {meta:?}"
        );
        assert_eq!(reply.json["errors"][0]["source"], source, "{query} {meta:?}");
    }
    // The shortest ttl is an hour; a month is a calendar month; `null` never expires.
    let hour = check_out(&app, &path, "?ttl=3600", None).await;
    assert_eq!(hour.status, StatusCode::OK);
    let month = check_out(&app, &path, "", None).await;
    let a = &month.json["data"]["attributes"];
    let issued = chrono::DateTime::parse_from_rfc3339(a["issued"].as_str().unwrap()).unwrap();
    let expiry = chrono::DateTime::parse_from_rfc3339(a["expiry"].as_str().unwrap()).unwrap();
    assert_eq!(expiry, issued.checked_add_months(chrono::Months::new(1)).unwrap());
    assert_eq!(a["ttl"], 2_629_746);
    for (query, meta) in [("?ttl=null", None), ("", Some(json!({"ttl": null})))] {
        let never = check_out(&app, &path, query, meta).await;
        assert_eq!(never.status, StatusCode::OK, "{}", never.json);
        assert_eq!(never.json["data"]["attributes"]["expiry"], Value::Null);
        assert_eq!(never.json["data"]["attributes"]["ttl"], Value::Null);
    }
}

#[tokio::test]
async fn the_get_answers_the_certificate_as_an_attachment() {
    let app = spawn_app().await;
    let keys = account_keys(&app).await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let target = app.path(&format!(
        "licenses/{}/actions/check-out?encrypt=true",
        license["id"].as_str().unwrap()
    ));
    let reply = app.send(Method::GET, &target, Some(app.admin()), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/octet-stream"));
    let disposition = reply.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".lic\""),
        "{disposition}"
    );
    let certificate = String::from_utf8(reply.bytes.clone()).unwrap();
    assert!(
        certificate.starts_with("-----BEGIN LICENSE FILE-----\n")
            && certificate.ends_with("-----END LICENSE FILE-----\n")
    );
    let payload = open_certificate(&certificate, "license", &keys.ed25519, Some(key)).unwrap();
    assert_eq!(payload["data"]["id"], license["id"]);
    app.verify_signature(&reply)
        .expect("the attachment is signed like any response");
}

#[tokio::test]
async fn a_check_out_records_last_check_out_and_a_checked_out_event() {
    let app = spawn_app().await;
    let (license, machine) = licensed_machine(&app, json!({})).await;
    let license_path = format!("licenses/{}", license["id"].as_str().unwrap());
    let machine_path = format!("machines/{}", machine["id"].as_str().unwrap());
    assert_eq!(
        app.get(&license_path).await.json["data"]["attributes"]["lastCheckOut"],
        Value::Null
    );
    let file = check_out(&app, &license_path, "", None).await;
    let issued = file.json["data"]["attributes"]["issued"].clone();
    let shown = app.get(&license_path).await.json["data"]["attributes"].clone();
    assert_eq!(shown["lastCheckOut"], issued);
    assert_eq!(shown["lastValidated"], Value::Null, "a check-out is not a validation");
    let machine_file = check_out(&app, &machine_path, "", Some(json!({"include": ["license"]}))).await;
    assert_eq!(
        app.get(&machine_path).await.json["data"]["attributes"]["lastCheckOut"],
        machine_file.json["data"]["attributes"]["issued"]
    );
    for (event, subject) in [
        ("license.checked-out", &license["id"]),
        ("machine.checked-out", &machine["id"]),
    ] {
        let mut logs = Value::Null;
        for _ in 0..200 {
            logs = app.get(&format!("event-logs?event={event}")).await.json;
            if logs["data"].as_array().is_some_and(|rows| !rows.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let rows = logs["data"].as_array().unwrap_or_else(|| panic!("{event}: {logs}"));
        assert_eq!(rows.len(), 1, "{event}: {logs}");
        assert_eq!(rows[0]["relationships"]["resource"]["data"]["id"], *subject, "{event}");
    }
}

#[tokio::test]
async fn keygen_rs_verifies_and_decrypts_license_and_machine_files_as_its_docs_show() {
    use keygen_rs::config::{self, KeygenConfig};
    use keygen_rs::license::{LicenseCheckoutOpts, LicenseValidationRequest};
    use keygen_rs::machine::MachineCheckoutOpts;

    let app = spawn_app().await;
    let (license, _) = licensed_machine(&app, json!({"authenticationStrategy": "LICENSE"})).await;
    let license_key = license["attributes"]["key"].as_str().unwrap().to_string();
    // An app's configuration: the server, its account, its product, the license key it holds
    // and the account's public key.
    config::set_config(KeygenConfig {
        api_url: format!("{}/v1/accounts", app.base),
        api_prefix: app.account.account_id.clone(),
        account: app.account.account_id.clone(),
        product: license["relationships"]["product"]["data"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        license_key: Some(license_key.clone()),
        public_key: Some(app.account.public_key.clone()),
        ..KeygenConfig::default()
    })
    .unwrap();
    let fingerprint = "fp-offline-1".to_string();
    let license = keygen_rs::validate(&LicenseValidationRequest::for_fingerprint(fingerprint.clone()))
        .await
        .and_then(|result| result.into_license())
        .expect("the license validates for its machine");

    // The license file, encrypted, with its entitlements.
    let options = LicenseCheckoutOpts::with_include(vec!["entitlements".into()]).with_encrypt(true);
    let license_file = license.checkout(&options).await.expect("checked out");
    license_file.verify().expect("a genuine license file");
    let dataset = license_file
        .decrypt(&license_key)
        .expect("decrypted with the license key");
    assert_eq!(dataset.license.id, license.id);
    let entitlements = license_file.entitlements(&license_key).expect("entitlements included");
    assert_eq!(
        entitlements.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(),
        ["offline"]
    );

    // The machine file (keygen-rs asks for `license.entitlements`, encrypted).
    let machine = license.machine(&fingerprint).await.expect("the machine by fingerprint");
    let machine_file = machine
        .checkout(&MachineCheckoutOpts::with_ttl(604_800))
        .await
        .expect("checked out");
    machine_file.verify().expect("a genuine machine file");
    let dataset = machine_file
        .decrypt(&format!("{license_key}{}", machine.fingerprint))
        .expect("decrypted with the license key and fingerprint");
    assert_eq!(dataset.machine.fingerprint, fingerprint);
    assert_eq!(dataset.license.id, license.id);
    assert_eq!(dataset.ttl, 604_800);

    // A file changed in one byte is not genuine.
    let forged = keygen_rs::license_file::LicenseFile {
        certificate: tampered(&license_file.certificate),
        ..license_file.clone()
    };
    assert!(forged.verify().is_err());
}

#[tokio::test]
async fn a_license_used_only_through_license_files_is_not_inactive() {
    let app = spawn_app().await;
    let (_, checked_out) = app.licensed(json!({}), json!({})).await;
    let (_, idle) = app.licensed(json!({}), json!({})).await;
    // Ninety-one days on, one license is checked out; the other has seen nothing.
    app.state.clock.advance(chrono::Duration::days(91));
    let path = format!("licenses/{}", checked_out["id"].as_str().unwrap());
    assert_eq!(check_out(&app, &path, "", None).await.status, StatusCode::OK);
    assert_eq!(app.get(&path).await.json["data"]["attributes"]["status"], "ACTIVE");
    let idle_path = format!("licenses/{}", idle["id"].as_str().unwrap());
    assert_eq!(
        app.get(&idle_path).await.json["data"]["attributes"]["status"],
        "INACTIVE"
    );
    let inactive = app.get("licenses?status=INACTIVE").await;
    let ids: Vec<&Value> = inactive.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["id"])
        .collect();
    assert_eq!(ids, [&idle["id"]]);
}
