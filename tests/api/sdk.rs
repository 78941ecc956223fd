//! An unchanged Keygen SDK (keygen-rs 0.14) against Keyledger, configured as an app would be:
//! it validates licenses, authenticates with the license key it validates (and sees Keygen's
//! errors when that key may not authenticate), reads its profile and pings the service, and
//! activates, pings, lists and deactivates a machine —
//! verifying every response's `Keygen-Signature` with the account's public key throughout.

use crate::helpers::{spawn_app, TestApp};
use keygen_rs::config::KeygenConfig;
use keygen_rs::errors::{ApiErrorKind, Error};
use keygen_rs::license::{LicenseValidationRequest, LicenseValidationScope};
use keygen_rs::KeygenClient;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// As the SDK is set up for a self-hosted server: api_url = <root>/v1/accounts, prefix = account,
/// the account's public key, signature verification on (its default).
fn config(app: &TestApp, product: &str) -> KeygenConfig {
    KeygenConfig {
        api_url: format!("{}/v1/accounts", app.base),
        api_prefix: app.account.account_id.clone(),
        account: app.account.account_id.clone(),
        product: product.to_string(),
        public_key: Some(app.account.public_key.clone()),
        verify_keygen_signature: Some(true),
        ..KeygenConfig::default()
    }
}

/// The configuration of an app that holds a license key.
fn with_key(app: &TestApp, license: &Value) -> KeygenConfig {
    KeygenConfig {
        license_key: Some(license["attributes"]["key"].as_str().unwrap().to_string()),
        ..config(app, license["relationships"]["product"]["data"]["id"].as_str().unwrap())
    }
}

/// The configuration of a backend that holds a token.
fn with_token(app: &TestApp, token: &str) -> KeygenConfig {
    KeygenConfig {
        token: Some(token.to_string()),
        ..config(app, "")
    }
}

async fn validate(config: KeygenConfig) -> Result<keygen_rs::license::LicenseValidationResult, Error> {
    keygen_rs::validate_with_config(
        config,
        &LicenseValidationRequest::new(LicenseValidationScope::default()),
    )
    .await
}

/// The SDK's view of a refusal: the HTTP status, Keygen's code and the SDK's error kind.
fn refusal(result: Result<keygen_rs::license::LicenseValidationResult, Error>) -> (u16, String, ApiErrorKind) {
    let err = result.expect_err("the server refuses the license credential");
    let document = err.api_error().unwrap_or_else(|| panic!("an API error, not {err:?}"));
    let code = document
        .primary()
        .and_then(|e| e.code())
        .unwrap_or_default()
        .to_string();
    (document.status().as_u16(), code, err.api_error_kind())
}

#[tokio::test]
async fn keygen_rs_validates_licenses_and_verifies_our_signatures() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let full = with_key(&app, &license);
    let result = validate(full.clone())
        .await
        .expect("the SDK accepts the response and its signature");
    assert!(result.meta.valid, "{:?}", result.meta);
    assert_eq!(result.meta.code, "VALID");
    assert_eq!(result.license.expect("a license").key, key);

    // Keygen's short routes, which the SDK uses with prefix `v1`.
    let short = KeygenConfig {
        api_url: app.base.clone(),
        api_prefix: "v1".into(),
        ..full.clone()
    };
    let result = validate(short).await.expect("short routes are signed too");
    assert!(result.meta.valid);

    // A fingerprint scope with nothing activated: the SDK sees Keygen's code.
    let request = LicenseValidationRequest::for_fingerprint("machine-1".into());
    let result = keygen_rs::validate_with_config(full.clone(), &request)
        .await
        .expect("answered");
    assert_eq!((result.meta.valid, result.meta.code.as_str()), (false, "NO_MACHINE"));

    // The wrong public key: the SDK refuses the answer.
    let wrong_key = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
            .verifying_key()
            .to_bytes(),
    );
    let forged = KeygenConfig {
        public_key: Some(wrong_key),
        ..full
    };
    assert!(
        validate(forged).await.is_err(),
        "a signature from another key must not verify"
    );
}

#[tokio::test]
async fn keygen_rs_with_a_key_that_may_not_authenticate_gets_keygens_errors() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let keys = app
        .create_policy(pid, json!({"authenticationStrategy": "LICENSE"}))
        .await;
    let tokens_only = app.create_policy(pid, json!({"authenticationStrategy": "TOKEN"})).await;
    let valid = app.create_license(keys["id"].as_str().unwrap(), json!({})).await;
    let suspended = app
        .create_license(keys["id"].as_str().unwrap(), json!({"suspended": true}))
        .await;
    let not_allowed = app.create_license(tokens_only["id"].as_str().unwrap(), json!({})).await;
    let mut unknown = valid.clone();
    unknown["attributes"]["key"] = json!("UNKNOWN-LICENSE-KEY");

    assert_eq!(
        refusal(validate(with_key(&app, &unknown)).await),
        (401, "LICENSE_INVALID".into(), ApiErrorKind::LicenseKeyInvalid)
    );
    assert_eq!(
        refusal(validate(with_key(&app, &suspended)).await),
        (403, "LICENSE_SUSPENDED".into(), ApiErrorKind::LicenseSuspended)
    );
    assert_eq!(
        refusal(validate(with_key(&app, &not_allowed)).await),
        (403, "LICENSE_NOT_ALLOWED".into(), ApiErrorKind::LicenseNotAllowed)
    );
    let result = validate(with_key(&app, &valid)).await.expect("a valid license");
    assert_eq!((result.meta.valid, result.meta.code.as_str()), (true, "VALID"));

    // The public path is unchanged: without a credential the same suspended key is a 200.
    let body = json!({"meta": {"key": suspended["attributes"]["key"]}});
    let reply = app
        .send(
            Method::POST,
            &app.path("licenses/actions/validate-key"),
            None,
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(
        (&reply.json["meta"]["valid"], &reply.json["meta"]["code"]),
        (&json!(false), &json!("SUSPENDED"))
    );
}

#[tokio::test]
async fn keygen_rs_reads_the_profile_of_admin_product_and_license_tokens() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let product_id = product["id"].as_str().unwrap();
    let (_, product_token) = app.product_token(product_id).await;
    let (_, license) = app
        .licensed(json!({"authenticationStrategy": "TOKEN"}), json!({}))
        .await;
    let license_id = license["id"].as_str().unwrap();
    let (_, license_token) = app.license_token(license_id).await;
    let admin_id = app.get("me").await.json["data"]["id"].as_str().unwrap().to_string();

    for (token, bearer_type, bearer_id, kind) in [
        (app.admin(), "users", admin_id.as_str(), "admin-token"),
        (product_token.as_str(), "products", product_id, "product-token"),
        (license_token.as_str(), "licenses", license_id, "activation-token"),
    ] {
        let client = KeygenClient::new(with_token(&app, token)).expect("client");
        let profile = client
            .current_profile()
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(profile.bearer().resource_type(), bearer_type);
        assert_eq!(profile.bearer().id(), bearer_id);
        assert_eq!(profile.token().kind(), kind);
        assert_eq!(profile.token().expiry(), None);
    }
}

#[tokio::test]
async fn keygen_rs_pings_the_account_scoped_path() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let scoped = with_key(&app, &license);
    let client = KeygenClient::new(scoped.clone()).expect("client");
    let info = client
        .service_info()
        .await
        .expect("the SDK verifies the ping's signature and accepts it");
    assert_eq!(info.api_version.as_deref(), Some("1.8"));

    // The same through the short route, and refused under another account's key.
    let short = KeygenClient::new(KeygenConfig {
        api_url: app.base.clone(),
        api_prefix: "v1".into(),
        ..scoped.clone()
    })
    .expect("client");
    short.service_info().await.expect("short ping");
    let wrong_key = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32])
            .verifying_key()
            .to_bytes(),
    );
    let forged = KeygenClient::new(KeygenConfig {
        public_key: Some(wrong_key),
        ..scoped
    })
    .expect("client");
    assert!(forged.service_info().await.is_err(), "the ping's signature is checked");
}

#[tokio::test]
async fn keygen_rs_activates_pings_lists_validates_with_a_fingerprint_and_deactivates() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(
            json!({"authenticationStrategy": "LICENSE", "floating": true, "maxMachines": 2,
                   "requireHeartbeat": true, "heartbeatBasis": "FROM_FIRST_PING"}),
            json!({}),
        )
        .await;
    let license_id = license["id"].as_str().unwrap();
    let client = KeygenClient::new(with_key(&app, &license)).expect("client");
    let licenses = client.licenses();
    let cpu = keygen_rs::component::Component {
        fingerprint: "sdk-cpu".into(),
        name: "CPU".into(),
        ..Default::default()
    };
    let machine = licenses
        .activate(license_id, "sdk-fingerprint", &[cpu])
        .await
        .expect("the SDK activates a machine and accepts the signed answer");
    assert_eq!(machine.fingerprint, "sdk-fingerprint");
    assert_eq!(machine.heartbeat_status, "NOT_STARTED");
    assert!(machine.require_heartbeat);

    let fingerprint = LicenseValidationRequest::for_fingerprint("sdk-fingerprint".into());
    let before = licenses.validate(license_id, &fingerprint).await.expect("validates");
    assert_eq!(before.meta.code, "HEARTBEAT_NOT_STARTED");
    let pinged = machine.ping().await.expect("the SDK pings");
    assert_eq!(pinged.heartbeat_status, "ALIVE");
    let after = licenses.validate(license_id, &fingerprint).await.expect("validates");
    assert!(after.meta.valid, "{:?}", after.meta);
    assert_eq!(after.meta.code, "VALID");
    let with_components = LicenseValidationRequest::new(LicenseValidationScope {
        fingerprint: Some("sdk-fingerprint".into()),
        components: Some(vec!["sdk-cpu".into()]),
        ..Default::default()
    });
    let matched = licenses
        .validate(license_id, &with_components)
        .await
        .expect("validates");
    assert_eq!(matched.meta.code, "VALID");
    let elsewhere = LicenseValidationRequest::for_fingerprint("another-machine".into());
    let mismatch = licenses.validate(license_id, &elsewhere).await.expect("validates");
    assert_eq!(mismatch.meta.code, "FINGERPRINT_SCOPE_MISMATCH");

    let listed = licenses
        .machines(license_id, None)
        .await
        .expect("the SDK lists machines");
    assert_eq!(listed.data.len(), 1);
    assert_eq!(listed.data[0].id, machine.id);
    machine.deactivate().await.expect("the SDK deactivates");
    let listed = licenses.machines(license_id, None).await.expect("lists");
    assert!(listed.data.is_empty());
    let gone = licenses.validate(license_id, &fingerprint).await.expect("validates");
    assert_eq!(gone.meta.code, "NO_MACHINES");
}
