//! License validation: every code that does not need machines, components, processes or
//! users, in Keygen's order, with Keygen's response shape; validations are observations and
//! never grow the event store.
//!
//! Over 400 lines on purpose: it walks every validation code in Keygen's order, and split files
//! would scatter that order.

use crate::helpers::{on_postgres, spawn_app, TestApp};
use aggregates::license::{LicenseCommand, NewKey, PolicySnapshot};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

async fn validate_key(app: &TestApp, meta: Value) -> crate::helpers::Reply {
    app.send(
        Method::POST,
        &app.path("licenses/actions/validate-key"),
        None,
        Some(json!({ "meta": meta })),
    )
    .await
}

fn code(reply: &crate::helpers::Reply) -> (&str, bool) {
    (
        reply.json["meta"]["code"].as_str().unwrap_or("<none>"),
        reply.json["meta"]["valid"].as_bool().unwrap_or(false),
    )
}

#[tokio::test]
async fn an_unknown_key_is_200_with_null_data_and_not_found() {
    let app = spawn_app().await;
    let reply = validate_key(&app, json!({"key": "NO-SUCH-KEY"})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["data"], json!(null));
    assert_eq!(reply.json["meta"]["detail"], "does not exist");
    assert_eq!(code(&reply), ("NOT_FOUND", false));
    app.verify_signature(&reply).expect("validation responses are signed");
    let by_id = app.validate("6a7562be-b302-43d2-a550-30d6026247aa", json!({})).await;
    assert_eq!(by_id.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_valid_license_answers_keygens_meta_and_records_last_validated() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let reply = validate_key(&app, json!({"key": key, "nonce": 42, "scope": {}})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let meta = &reply.json["meta"];
    assert_eq!(code(&reply), ("VALID", true));
    assert_eq!(meta["detail"], "is valid");
    assert_eq!(meta["nonce"], 42);
    assert_eq!(meta["scope"], json!({}), "an empty scope is echoed");
    assert!(meta["ts"].as_str().unwrap().ends_with('Z'));
    assert_eq!(reply.json["data"]["id"], license["id"]);
    assert!(reply.json["data"]["attributes"]["lastValidated"].is_string());

    let quick = app
        .get(&format!(
            "licenses/{}/actions/validate",
            license["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(code(&quick), ("VALID", true));
    let keys: Vec<_> = quick.json["meta"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 4, "quick meta has ts, valid, detail, code only: {keys:?}");
    let scoped = app
        .validate(
            license["id"].as_str().unwrap(),
            json!({"scope": {"product": license["relationships"]["product"]["data"]["id"]}}),
        )
        .await;
    assert_eq!(
        scoped.json["meta"]["scope"]["product"],
        license["relationships"]["product"]["data"]["id"]
    );
}

#[tokio::test]
async fn suspended_wins_over_expired_and_scope() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(
            json!({"expirationStrategy": "REVOKE_ACCESS"}),
            json!({"suspended": true, "expiry": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let reply = app
        .validate(license["id"].as_str().unwrap(), json!({"scope": {"product": "other"}}))
        .await;
    assert_eq!(code(&reply), ("SUSPENDED", false));
    assert_eq!(reply.json["meta"]["detail"], "is suspended");
}

#[tokio::test]
async fn each_expiration_strategy_decides_validity_and_when_expiry_is_checked() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    for (strategy, valid, with_bad_scope) in [
        ("REVOKE_ACCESS", false, "EXPIRED"),
        ("RESTRICT_ACCESS", false, "PRODUCT_SCOPE_MISMATCH"),
        ("MAINTAIN_ACCESS", true, "PRODUCT_SCOPE_MISMATCH"),
        ("ALLOW_ACCESS", true, "PRODUCT_SCOPE_MISMATCH"),
    ] {
        let policy = app.create_policy(pid, json!({"expirationStrategy": strategy})).await;
        let license = app
            .create_license(
                policy["id"].as_str().unwrap(),
                json!({"expiry": "2020-01-01T00:00:00Z"}),
            )
            .await;
        let id = license["id"].as_str().unwrap();
        let reply = app.validate(id, json!({})).await;
        assert_eq!(code(&reply), ("EXPIRED", valid), "{strategy}");
        assert_eq!(reply.json["meta"]["detail"], "is expired");
        let reply = app
            .validate(id, json!({"scope": {"product": "not-this-product"}}))
            .await;
        assert_eq!(code(&reply).0, with_bad_scope, "{strategy}");
        assert_eq!(reply.json["data"]["attributes"]["status"], "EXPIRED");
    }
}

#[tokio::test]
async fn an_overdue_check_in_is_overdue() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(
            json!({"requireCheckIn": true, "checkInInterval": "day", "checkInIntervalCount": 1}),
            json!({}),
        )
        .await;
    let id = license["id"].as_str().unwrap().to_string();
    assert_eq!(code(&app.validate(&id, json!({})).await), ("VALID", true));
    // Three days later, with no check-in since the license was created.
    app.state.clock.advance(chrono::Duration::days(3));
    let reply = app.validate(&id, json!({"scope": {"product": "other"}})).await;
    assert_eq!(code(&reply), ("OVERDUE", false));
    assert_eq!(reply.json["meta"]["detail"], "is overdue for check in");
    let checked_in = app
        .send(
            Method::POST,
            &app.path(&format!("licenses/{id}/actions/check-in")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(checked_in.status, StatusCode::OK);
    assert_eq!(code(&app.validate(&id, json!({})).await), ("VALID", true));
}

/// The stored (snake_case) attributes of a policy resource.
fn aggregates_attributes(policy: &Value) -> Value {
    let mut attributes = policy["attributes"].clone();
    let object = attributes.as_object_mut().unwrap();
    object.remove("created");
    object.remove("updated");
    let snake: serde_json::Map<String, Value> = object
        .iter()
        .map(|(k, v)| {
            let mut out = String::new();
            for c in k.chars() {
                if c.is_ascii_uppercase() {
                    out.push('_');
                    out.push(c.to_ascii_lowercase());
                } else {
                    out.push(c);
                }
            }
            (out, v.clone())
        })
        .collect();
    Value::Object(snake)
}

#[tokio::test]
async fn product_and_policy_scopes_must_match_and_may_be_required() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(
            json!({"requireProductScope": true, "requirePolicyScope": true}),
            json!({}),
        )
        .await;
    let id = license["id"].as_str().unwrap();
    let product_id = license["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let policy_id = policy["id"].as_str().unwrap();
    let cases = [
        (json!({}), "PRODUCT_SCOPE_REQUIRED", "product scope is required"),
        (
            json!({"scope": {}}),
            "PRODUCT_SCOPE_REQUIRED",
            "product scope is required",
        ),
        (
            json!({"scope": {"product": "x"}}),
            "PRODUCT_SCOPE_MISMATCH",
            "product scope does not match",
        ),
        (
            json!({"scope": {"product": product_id}}),
            "POLICY_SCOPE_REQUIRED",
            "policy scope is required",
        ),
        (
            json!({"scope": {"product": product_id, "policy": "x"}}),
            "POLICY_SCOPE_MISMATCH",
            "policy scope does not match",
        ),
        (
            json!({"scope": {"product": product_id, "policy": policy_id}}),
            "VALID",
            "is valid",
        ),
    ];
    for (meta, expected, detail) in cases {
        let reply = app.validate(id, meta.clone()).await;
        assert_eq!(code(&reply).0, expected, "{meta}");
        assert_eq!(reply.json["meta"]["detail"], detail, "{meta}");
    }
    assert_eq!(
        code(&app.get(&format!("licenses/{id}/actions/validate")).await),
        ("VALID", true),
        "quick validation skips scopes"
    );
}

#[tokio::test]
async fn entitlement_scopes_check_the_policys_and_the_licenses_entitlements() {
    let app = spawn_app().await;
    let (policy, license) = app.licensed(json!({}), json!({})).await;
    let id = license["id"].as_str().unwrap();
    let a = app.create_entitlement("a").await;
    let b = app.create_entitlement("b").await;
    app.create_entitlement("c").await;
    let attach = |e: &Value| json!({"data": [{"type": "entitlements", "id": e["id"]}]});
    app.send(
        Method::POST,
        &app.path(&format!("policies/{}/entitlements", policy["id"].as_str().unwrap())),
        Some(app.admin()),
        Some(attach(&a)),
    )
    .await;
    app.send(
        Method::POST,
        &app.path(&format!("licenses/{id}/entitlements")),
        Some(app.admin()),
        Some(attach(&b)),
    )
    .await;
    assert_eq!(
        code(&app.validate(id, json!({"scope": {"entitlements": ["a", "b"]}})).await),
        ("VALID", true)
    );
    let missing = app.validate(id, json!({"scope": {"entitlements": ["a", "c"]}})).await;
    assert_eq!(code(&missing), ("ENTITLEMENTS_MISSING", false));
    assert_eq!(
        missing.json["meta"]["detail"],
        "is missing one or more required entitlements"
    );
    assert_eq!(
        code(&app.validate(id, json!({"scope": {"entitlements": []}})).await),
        ("ENTITLEMENTS_SCOPE_EMPTY", false)
    );
}

#[tokio::test]
async fn each_required_scope_is_required() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    for (flag, expected) in [
        ("requireUserScope", "USER_SCOPE_REQUIRED"),
        ("requireMachineScope", "MACHINE_SCOPE_REQUIRED"),
        ("requireFingerprintScope", "FINGERPRINT_SCOPE_REQUIRED"),
        ("requireComponentsScope", "COMPONENTS_SCOPE_REQUIRED"),
        ("requireChecksumScope", "CHECKSUM_SCOPE_REQUIRED"),
        ("requireVersionScope", "VERSION_SCOPE_REQUIRED"),
    ] {
        let policy = app.create_policy(pid, json!({ flag: true })).await;
        let license = app.create_license(policy["id"].as_str().unwrap(), json!({})).await;
        let reply = app
            .validate(license["id"].as_str().unwrap(), json!({"scope": {}}))
            .await;
        assert_eq!(code(&reply), (expected, false), "{flag}");
    }
}

#[tokio::test]
async fn strict_policies_need_machines() {
    let app = spawn_app().await;
    let (_, node_locked) = app.licensed(json!({"strict": true}), json!({})).await;
    let reply = app.validate(node_locked["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(code(&reply), ("NO_MACHINE", false));
    assert_eq!(reply.json["meta"]["detail"], "must have exactly 1 associated machine");
    let (_, floating) = app.licensed(json!({"strict": true, "floating": true}), json!({})).await;
    let reply = app.validate(floating["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(code(&reply), ("NO_MACHINES", false));
    let (_, lenient) = app.licensed(json!({}), json!({})).await;
    let reply = app
        .validate(
            lenient["id"].as_str().unwrap(),
            json!({"scope": {"fingerprint": "abc"}}),
        )
        .await;
    assert_eq!(
        code(&reply),
        ("NO_MACHINE", false),
        "a fingerprint scope needs an activated machine even when not strict"
    );
}

#[tokio::test]
async fn the_first_validation_starts_the_expiry_when_the_policy_says_so() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(
            json!({"duration": 86400, "expirationBasis": "FROM_FIRST_VALIDATION"}),
            json!({}),
        )
        .await;
    assert_eq!(license["attributes"]["expiry"], json!(null));
    let reply = app.validate(license["id"].as_str().unwrap(), json!({})).await;
    assert!(reply.json["data"]["attributes"]["expiry"].is_string(), "{}", reply.json);
}

#[tokio::test]
async fn who_may_validate_what() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let other = app.create_license(policy["id"].as_str().unwrap(), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let auth = format!("License {key}");
    let own = app
        .send_with_authorization(
            Method::GET,
            &app.path(&format!(
                "licenses/{}/actions/validate",
                license["id"].as_str().unwrap()
            )),
            Some(&auth),
        )
        .await;
    assert_eq!(code(&own), ("VALID", true));
    let theirs = app
        .send_with_authorization(
            Method::GET,
            &app.path(&format!("licenses/{}/actions/validate", other["id"].as_str().unwrap())),
            Some(&auth),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let stranger = app.create_product("Stranger", None).await;
    let (_, token) = app.product_token(stranger["id"].as_str().unwrap()).await;
    let reply = app
        .send(
            Method::POST,
            &app.path(&format!(
                "licenses/{}/actions/validate",
                license["id"].as_str().unwrap()
            )),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let anonymous = app
        .send(
            Method::POST,
            &app.path(&format!(
                "licenses/{}/actions/validate",
                license["id"].as_str().unwrap()
            )),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.error_code(), "TOKEN_MISSING");
}

#[tokio::test]
async fn malformed_validation_bodies_are_400_with_pointers() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let id = license["id"].as_str().unwrap();
    for (meta, pointer) in [
        (json!({"scope": "everything"}), "/meta/scope"),
        (json!({"scope": []}), "/meta/scope"),
        (json!({"nonce": "42"}), "/meta/nonce"),
        (json!({"nonce": 4.2}), "/meta/nonce"),
        (json!({"scope": {"planet": "mars"}}), "/meta/scope/planet"),
        (json!({"scope": {"product": 7}}), "/meta/scope/product"),
        (json!({"scope": {"entitlements": "a"}}), "/meta/scope/entitlements"),
        (json!({"color": "red"}), "/meta/color"),
    ] {
        let reply = app.validate(id, meta.clone()).await;
        assert_eq!(
            (reply.status, reply.error_pointer()),
            (StatusCode::BAD_REQUEST, pointer),
            "{meta}: {}",
            reply.json
        );
    }
    let reply = validate_key(&app, json!({"key": ""})).await;
    assert_eq!(
        (reply.status, reply.error_pointer()),
        (StatusCode::BAD_REQUEST, "/meta/key")
    );
    let reply = validate_key(&app, json!({})).await;
    assert_eq!(
        (reply.status, reply.error_pointer()),
        (StatusCode::BAD_REQUEST, "/meta/key")
    );
    let reply = app
        .send_raw(
            Method::POST,
            &app.path(&format!("licenses/{id}/actions/validate")),
            app.admin(),
            "{nope",
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::BAD_REQUEST, "JSON_INVALID")
    );
}

#[tokio::test]
async fn validating_ten_thousand_licenses_does_not_grow_the_event_store() {
    // The acceptance test names SQLite; on PostgreSQL the same holds for a smaller batch.
    let count = if on_postgres() { 500 } else { 10_000 };
    let app = Arc::new(spawn_app().await);
    let product = app.create_product("Bulk", None).await;
    let policy = app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    let snapshot = PolicySnapshot {
        id: policy["id"].as_str().unwrap().into(),
        product_id: product["id"].as_str().unwrap().into(),
        attributes: serde_json::from_value(aggregates_attributes(&policy)).unwrap(),
    };
    let keys: Vec<String> = (0..count).map(|i| format!("BULK-{i:06}")).collect();
    for key in &keys {
        let id = uuid::Uuid::new_v4().to_string();
        let command = LicenseCommand::Create {
            id: aggregates::LicenseId::from(id.clone()),
            account_id: aggregates::AccountId::from(app.account.account_id.clone()),
            policy: snapshot.clone(),
            key: NewKey::Custom(key.clone()),
            attributes: Default::default(),
            at: chrono::Utc::now(),
        };
        app.state
            .frameworks
            .license
            .execute_with_metadata(&id, command, Default::default())
            .await
            .unwrap();
    }
    let before = app.state.db.event_count().await.unwrap();
    let keys = Arc::new(keys);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (app, keys) = (app.clone(), keys.clone());
            tokio::spawn(async move {
                for key in keys.iter().skip(w).step_by(8) {
                    let reply = validate_key(&app, json!({"key": key})).await;
                    assert_eq!(code(&reply), ("VALID", true), "{key}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(
        app.state.db.event_count().await.unwrap(),
        before,
        "validations are observations, not events"
    );
    let observed =
        projections::observations::count(&app.state.db, &app.account.account_id, "license.validation.succeeded")
            .await
            .unwrap();
    assert_eq!(
        observed, count as i64,
        "each validation is recorded for the event log and webhooks"
    );
}

#[tokio::test]
async fn a_license_credential_on_validate_key_is_authenticated_before_the_validation() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let tokens_only = app.create_policy(pid, json!({"authenticationStrategy": "TOKEN"})).await;
    let revoking = app
        .create_policy(
            pid,
            json!({"authenticationStrategy": "LICENSE", "expirationStrategy": "REVOKE_ACCESS"}),
        )
        .await;
    let revoking_id = revoking["id"].as_str().unwrap();
    let valid = app.create_license(revoking_id, json!({})).await;
    let other = app.create_license(revoking_id, json!({})).await;
    let suspended = app.create_license(revoking_id, json!({"suspended": true})).await;
    let expired = app
        .create_license(revoking_id, json!({"expiry": "2020-01-01T00:00:00Z"}))
        .await;
    let not_allowed = app.create_license(tokens_only["id"].as_str().unwrap(), json!({})).await;
    let key = |license: &Value| license["attributes"]["key"].as_str().unwrap().to_string();

    // Each carrier of a license key: the header, Basic `license:<key>`, `?auth=license:<key>`.
    let send = |credential_key: String, validated_key: String| {
        let app = &app;
        async move {
            let path = app.path("licenses/actions/validate-key");
            let body = json!({"meta": {"key": validated_key}}).to_string();
            let mut replies = Vec::new();
            for carrier in 0..3 {
                let url = format!("{}{path}", app.base);
                let request = match carrier {
                    0 => app
                        .client
                        .post(url)
                        .header("Authorization", format!("License {credential_key}")),
                    1 => app.client.post(url).basic_auth("license", Some(&credential_key)),
                    _ => app.client.post(format!("{url}?auth=license:{credential_key}")),
                };
                let response = request
                    .header("Content-Type", "application/vnd.api+json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let json: Value = response.json().await.unwrap();
                replies.push((carrier, status, json));
            }
            replies
        }
    };
    let refused = [
        (
            "UNKNOWN-KEY-0000".to_string(),
            StatusCode::UNAUTHORIZED,
            "LICENSE_INVALID",
        ),
        (key(&suspended), StatusCode::FORBIDDEN, "LICENSE_SUSPENDED"),
        (key(&expired), StatusCode::FORBIDDEN, "LICENSE_EXPIRED"),
        (key(&not_allowed), StatusCode::FORBIDDEN, "LICENSE_NOT_ALLOWED"),
    ];
    for (credential, status, expected) in refused {
        for (carrier, got, json) in send(credential.clone(), credential.clone()).await {
            assert_eq!(
                (got, json["errors"][0]["code"].as_str().unwrap_or_default()),
                (status, expected),
                "carrier {carrier}: {json}"
            );
        }
    }
    for (carrier, got, json) in send(key(&valid), key(&valid)).await {
        assert_eq!(got, StatusCode::OK, "carrier {carrier}: {json}");
        assert_eq!(json["meta"]["code"], "VALID", "carrier {carrier}");
    }
    // A license authenticates as itself: another license's key is out of its sight.
    for (carrier, got, json) in send(key(&valid), key(&other)).await {
        assert_eq!(got, StatusCode::OK, "carrier {carrier}");
        assert_eq!(
            (&json["meta"]["code"], &json["data"]),
            (&json!("NOT_FOUND"), &json!(null))
        );
    }

    // Without a credential every one of them is validated in public, with its code in `meta`.
    for (license, expected) in [
        (&suspended, "SUSPENDED"),
        (&expired, "EXPIRED"),
        (&not_allowed, "VALID"),
    ] {
        let reply = validate_key(&app, json!({"key": key(license)})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        assert_eq!(reply.json["meta"]["code"], expected);
    }
}

#[tokio::test]
async fn a_store_failure_during_validate_key_is_a_5xx_never_not_found() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let key = license["attributes"]["key"].as_str().unwrap().to_string();
    assert_eq!(code(&validate_key(&app, json!({"key": key})).await), ("VALID", true));
    // The database goes away (the account's keys are already cached).
    app.state.db.close().await;
    let anonymous = validate_key(&app, json!({"key": key})).await;
    assert!(
        anonymous.status.is_server_error(),
        "{}: {}",
        anonymous.status,
        anonymous.json
    );
    let as_license = app
        .client
        .post(format!("{}{}", app.base, app.path("licenses/actions/validate-key")))
        .header("Authorization", format!("License {key}"))
        .header("Content-Type", "application/vnd.api+json")
        .body(json!({"meta": {"key": key}}).to_string())
        .send()
        .await
        .unwrap();
    assert!(as_license.status().is_server_error(), "{}", as_license.status());
    let with_token = app
        .send(
            Method::POST,
            &app.path("licenses/actions/validate-key"),
            Some(app.admin()),
            Some(json!({"meta": {"key": key}})),
        )
        .await;
    assert!(with_token.status.is_server_error(), "{}", with_token.status);
}

/// Validates `key` from `count` parallel clients, anonymously; answers each reply.
async fn validate_in_parallel(app: &std::sync::Arc<TestApp>, key: &str, count: usize) -> Vec<crate::helpers::Reply> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (app, key) = (app.clone(), key.to_string());
            tokio::spawn(async move { validate_key(&app, json!({ "key": key })).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

async fn succeeded(app: &TestApp) -> i64 {
    projections::observations::count(&app.state.db, &app.account.account_id, "license.validation.succeeded")
        .await
        .unwrap()
}

#[tokio::test]
async fn parallel_validations_are_each_observed_once_and_last_validated_is_the_latest() {
    let app = std::sync::Arc::new(spawn_app().await);
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap();
    let replies = validate_in_parallel(&app, key, 40).await;
    let mut latest = String::new();
    for reply in &replies {
        assert_eq!(code(reply), ("VALID", true), "{}", reply.json);
        let shown = reply.json["data"]["attributes"]["lastValidated"]
            .as_str()
            .unwrap()
            .to_string();
        latest = latest.max(shown);
    }
    assert_eq!(
        succeeded(&app).await,
        40,
        "one observation per validation, none lost or doubled"
    );
    let id = license["id"].as_str().unwrap();
    let stored = app.get(&format!("licenses/{id}")).await;
    assert_eq!(stored.json["data"]["attributes"]["lastValidated"], latest.as_str());
}

#[tokio::test]
async fn with_the_observation_writer_held_validations_wait_then_complete_each_observed() {
    let app = std::sync::Arc::new(spawn_app().await);
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap().to_string();
    app.state.observations.hold(true);
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move { validate_in_parallel(&app, &key, 10).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "no validation is answered before its observation commits"
    );
    assert_eq!(succeeded(&app).await, 0);
    app.state.observations.hold(false);
    let replies = waiting.await.unwrap();
    assert!(replies.iter().all(|r| code(r) == ("VALID", true)));
    assert_eq!(succeeded(&app).await, 10);
}
