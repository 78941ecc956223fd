//! An unchanged Keygen SDK (keygen-rs 0.14) against Keyledger: it validates licenses and
//! verifies every response's `Keygen-Signature` with the account's public key, failing on any
//! mismatch.

use crate::helpers::spawn_app;
use keygen_rs::config::KeygenConfig;
use keygen_rs::license::{LicenseValidationRequest, LicenseValidationScope};
use serde_json::json;

fn config(
    api_url: String,
    api_prefix: String,
    account: &str,
    product: &str,
    key: &str,
    public_key: &str,
) -> KeygenConfig {
    KeygenConfig {
        api_url,
        api_prefix,
        account: account.to_string(),
        product: product.to_string(),
        license_key: Some(key.to_string()),
        public_key: Some(public_key.to_string()),
        verify_keygen_signature: Some(true),
        ..KeygenConfig::default()
    }
}

#[tokio::test]
async fn keygen_rs_validates_licenses_and_verifies_our_signatures() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"maxMachines": 1}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let product = license["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let account = &app.account.account_id;

    // As the SDK is set up for a self-hosted server: api_url = <root>/v1/accounts, prefix = account.
    let full = config(
        format!("{}/v1/accounts", app.base),
        account.clone(),
        account,
        product,
        key,
        &app.account.public_key,
    );
    let result = keygen_rs::validate_with_config(
        full.clone(),
        &LicenseValidationRequest::new(LicenseValidationScope::default()),
    )
    .await
    .expect("the SDK accepts the response and its signature");
    assert!(result.meta.valid, "{:?}", result.meta);
    assert_eq!(result.meta.code, "VALID");
    assert_eq!(result.license.expect("a license").key, key);

    // Keygen's short routes, which the SDK uses with prefix `v1`.
    let short = config(
        app.base.clone(),
        "v1".into(),
        account,
        product,
        key,
        &app.account.public_key,
    );
    let result =
        keygen_rs::validate_with_config(short, &LicenseValidationRequest::new(LicenseValidationScope::default()))
            .await
            .expect("short routes are signed too");
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
    let forged = config(
        format!("{}/v1/accounts", app.base),
        account.clone(),
        account,
        product,
        key,
        &wrong_key,
    );
    let refused = keygen_rs::validate_with_config(
        forged,
        &LicenseValidationRequest::new(LicenseValidationScope::default()),
    )
    .await;
    assert!(refused.is_err(), "a signature from another key must not verify");
}
