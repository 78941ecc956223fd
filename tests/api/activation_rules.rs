//! Keygen's rules at activation beside its limits: a license's validity counts only through its
//! key, and a fingerprint may not be another machine's id.

use crate::helpers::{spawn_app, Reply, TestApp};
use crate::machines::{activate, id};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_fingerprint_may_be_a_uuid_but_not_another_machines_id() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let license_id = id(&license);
    let uuid = "0b6f9a4e-5d1c-4c55-9f0e-2a7a3c1d9e01";
    let first = activate(&app, app.admin(), license_id, uuid, json!({})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let first_id = id(&first.json["data"]).to_string();
    // On another license too: machine ids are the account's.
    let (_, other) = app.licensed(json!({"floating": true}), json!({})).await;
    let refused = activate(&app, app.admin(), id(&other), &first_id, json!({})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.json);
    assert_eq!(refused.error_code(), "FINGERPRINT_CONFLICT");
    assert_eq!(refused.error_pointer(), "/data/attributes/fingerprint");
    assert_eq!(
        refused.json["errors"][0]["detail"],
        "must not conflict with another machine's identifier (UUID)"
    );
}

/// Activates `fingerprint` on `license_id` authenticated by the license's own key.
async fn activate_with_key(app: &TestApp, license_id: &str, key: &str, fingerprint: &str) -> Reply {
    let body = json!({"data": {"type": "machines", "attributes": {"fingerprint": fingerprint},
        "relationships": {"license": {"data": {"type": "licenses", "id": license_id}}}}});
    let authorization = format!("License {key}");
    app.send_authorized(Method::POST, &app.path("machines"), Some(&authorization), Some(body))
        .await
}

#[tokio::test]
async fn activation_checks_a_licenses_validity_only_through_its_key_as_keygen_does() {
    let app = spawn_app().await;
    let keyed =
        |strategy: &str| json!({"floating": true, "authenticationStrategy": "LICENSE", "expirationStrategy": strategy});
    // Suspended: its key may not authenticate, but an admin still activates on it.
    let (_, suspended) = app.licensed(keyed("RESTRICT_ACCESS"), json!({"suspended": true})).await;
    let key = suspended["attributes"]["key"].as_str().unwrap();
    let refused = activate_with_key(&app, id(&suspended), key, "fp-1").await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_SUSPENDED"),
        "{}",
        refused.json
    );
    let by_admin = activate(&app, app.admin(), id(&suspended), "fp-1", json!({})).await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.json);
    // Expired: still activates with its key, unless its policy revokes access on expiry.
    let yesterday = (app.state.clock.now() - chrono::Duration::days(1)).to_rfc3339();
    for (strategy, expected) in [
        ("RESTRICT_ACCESS", (StatusCode::CREATED, "")),
        ("MAINTAIN_ACCESS", (StatusCode::CREATED, "")),
        ("REVOKE_ACCESS", (StatusCode::FORBIDDEN, "LICENSE_EXPIRED")),
    ] {
        let (_, license) = app.licensed(keyed(strategy), json!({})).await;
        let body = json!({"data": {"type": "licenses", "attributes": {"expiry": yesterday}}});
        let path = app.path(&format!("licenses/{}", id(&license)));
        let patched = app.send(Method::PATCH, &path, Some(app.admin()), Some(body)).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.json);
        let key = license["attributes"]["key"].as_str().unwrap();
        let reply = activate_with_key(&app, id(&license), key, "fp-2").await;
        assert_eq!(
            (reply.status, reply.error_code()),
            expected,
            "{strategy}: {}",
            reply.json
        );
    }
}

#[tokio::test]
async fn a_license_that_changes_policy_takes_its_fingerprints_uniqueness_along() {
    let app = spawn_app().await;
    let per_policy = json!({"floating": true, "machineUniquenessStrategy": "UNIQUE_PER_POLICY"});
    let product = app.create_product("Moving", None).await;
    let (a, b) = (
        app.create_policy(id(&product), per_policy.clone()).await,
        app.create_policy(id(&product), per_policy).await,
    );
    let moving = app.create_license(id(&a), json!({})).await;
    let stays = app.create_license(id(&a), json!({})).await;
    let on_b = app.create_license(id(&b), json!({})).await;
    let first = activate(&app, app.admin(), id(&moving), "fp-x", json!({})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let taken = activate(&app, app.admin(), id(&stays), "fp-x", json!({})).await;
    assert_eq!(taken.error_code(), "FINGERPRINT_TAKEN", "{}", taken.json);

    let path = app.path(&format!("licenses/{}/policy", id(&moving)));
    let to_b = json!({"data": {"type": "policies", "id": id(&b)}});
    let changed = app.send(Method::PUT, &path, Some(app.admin()), Some(to_b)).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    // Policy A no longer has the fingerprint; policy B has it now.
    let freed = activate(&app, app.admin(), id(&stays), "fp-x", json!({})).await;
    assert_eq!(freed.status, StatusCode::CREATED, "{}", freed.json);
    let now_taken = activate(&app, app.admin(), id(&on_b), "fp-x", json!({})).await;
    assert_eq!(now_taken.error_code(), "FINGERPRINT_TAKEN", "{}", now_taken.json);
    // Deactivated, the moved machine gives its new claim up.
    let path = app.path(&format!("machines/{}", id(&first.json["data"])));
    assert_eq!(
        app.send(Method::DELETE, &path, Some(app.admin()), None).await.status,
        StatusCode::NO_CONTENT
    );
    let after = activate(&app, app.admin(), id(&on_b), "fp-x", json!({})).await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.json);
}
