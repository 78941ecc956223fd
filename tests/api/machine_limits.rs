//! The limits a license puts on activation, decided by the license under parallel requests:
//! `maxMachines` with every overage, node-locked licenses, cores, memory and disk, and
//! fingerprint uniqueness per license, policy, product and account.

use crate::helpers::{spawn_app, TestApp};
use crate::machines::{activate, count, id, machines_meta, parallel};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn fifty_parallel_activations_on_five_slots_make_exactly_five_machines() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"floating": true, "maxMachines": 5}), json!({}))
        .await;
    let outcomes = parallel(&app, id(&license), 50, |i| format!("fp-{i}")).await;
    assert_eq!(count(&outcomes, StatusCode::CREATED, ""), 5, "{outcomes:?}");
    assert_eq!(
        count(&outcomes, StatusCode::UNPROCESSABLE_ENTITY, "MACHINE_LIMIT_EXCEEDED"),
        45,
        "{outcomes:?}"
    );
    assert_eq!(machines_meta(&app, id(&license)).await["count"], 5);
    let listed = app.get(&format!("licenses/{}/machines", id(&license))).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_quarter_overage_on_four_slots_makes_exactly_five_machines_under_parallel_activation() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "maxMachines": 4, "overageStrategy": "ALLOW_1_25X_OVERAGE"});
    let (_, license) = app.licensed(policy, json!({})).await;
    let outcomes = parallel(&app, id(&license), 30, |i| format!("fp-{i}")).await;
    assert_eq!(count(&outcomes, StatusCode::CREATED, ""), 5, "{outcomes:?}");
    assert_eq!(machines_meta(&app, id(&license)).await["count"], 5);
}

#[tokio::test]
async fn twenty_parallel_activations_of_one_fingerprint_make_one_machine() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let outcomes = parallel(&app, id(&license), 20, |_| "fp-same".to_string()).await;
    assert_eq!(count(&outcomes, StatusCode::CREATED, ""), 1, "{outcomes:?}");
    assert_eq!(
        count(&outcomes, StatusCode::UNPROCESSABLE_ENTITY, "FINGERPRINT_TAKEN"),
        19,
        "{outcomes:?}"
    );
    assert_eq!(machines_meta(&app, id(&license)).await["count"], 1);
}

/// Two licenses in the scope `strategy` names, and one outside it: answers (inside, outside).
async fn licenses_around(app: &TestApp, strategy: &str) -> (Vec<String>, String) {
    let attributes = json!({"floating": true, "machineUniquenessStrategy": strategy});
    let product = app.create_product("Scoped", None).await;
    let policy = app.create_policy(id(&product), attributes.clone()).await;
    let sibling_policy = app.create_policy(id(&product), attributes.clone()).await;
    let other_product = app.create_product("Elsewhere", None).await;
    let other_policy = app.create_policy(id(&other_product), attributes).await;
    let first = app.create_license(id(&policy), json!({})).await;
    let (second, outside) = match strategy {
        "UNIQUE_PER_POLICY" => (
            app.create_license(id(&policy), json!({})).await,
            app.create_license(id(&sibling_policy), json!({})).await,
        ),
        "UNIQUE_PER_PRODUCT" => (
            app.create_license(id(&sibling_policy), json!({})).await,
            app.create_license(id(&other_policy), json!({})).await,
        ),
        _ => {
            let other_account = app.create_license(id(&other_policy), json!({})).await;
            (other_account, app.create_license(id(&sibling_policy), json!({})).await)
        }
    };
    (
        vec![id(&first).to_string(), id(&second).to_string()],
        id(&outside).to_string(),
    )
}

#[tokio::test]
async fn a_fingerprint_unique_per_policy_product_or_account_holds_across_licenses_under_parallel_activation() {
    for (strategy, detail) in [
        ("UNIQUE_PER_POLICY", "has already been taken for this policy"),
        ("UNIQUE_PER_PRODUCT", "has already been taken for this product"),
        ("UNIQUE_PER_ACCOUNT", "has already been taken for this account"),
    ] {
        let app = spawn_app().await;
        let (inside, outside) = licenses_around(&app, strategy).await;
        let replies = join_all((0..12).map(|i| {
            let license = inside[i % 2].clone();
            let app = &app;
            async move { activate(app, app.admin(), &license, "fp-shared", json!({})).await }
        }))
        .await;
        let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
        assert_eq!(created, 1, "{strategy}");
        for refused in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
            assert_eq!(
                (refused.status, refused.error_code(), refused.error_pointer()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "FINGERPRINT_TAKEN",
                    "/data/attributes/fingerprint"
                ),
                "{strategy}: {}",
                refused.json
            );
            assert_eq!(refused.json["errors"][0]["detail"], detail, "{strategy}");
        }
        if strategy != "UNIQUE_PER_ACCOUNT" {
            let elsewhere = activate(&app, app.admin(), &outside, "fp-shared", json!({})).await;
            assert_eq!(elsewhere.status, StatusCode::CREATED, "{strategy}: {}", elsewhere.json);
        }
    }
}

#[tokio::test]
async fn a_fingerprint_unique_per_license_may_repeat_on_another_license() {
    let app = spawn_app().await;
    let (policy, first) = app.licensed(json!({"floating": true}), json!({})).await;
    let second = app.create_license(id(&policy), json!({})).await;
    for license in [&first, &second] {
        let reply = activate(&app, app.admin(), id(license), "fp-both", json!({})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    }
    let repeated = activate(&app, app.admin(), id(&first), "fp-both", json!({})).await;
    assert_eq!(
        (
            repeated.status,
            repeated.error_code(),
            repeated.json["errors"][0]["detail"].as_str()
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "FINGERPRINT_TAKEN",
            Some("has already been taken")
        )
    );
}

#[tokio::test]
async fn a_node_locked_license_takes_one_machine_or_two_with_double_overage() {
    let app = spawn_app().await;
    for (overage, allowed) in [("NO_OVERAGE", 1), ("ALLOW_2X_OVERAGE", 2), ("ALWAYS_ALLOW_OVERAGE", 4)] {
        let (_, license) = app.licensed(json!({"overageStrategy": overage}), json!({})).await;
        for i in 0..4 {
            let reply = activate(&app, app.admin(), id(&license), &format!("fp-{i}"), json!({})).await;
            if i < allowed {
                assert_eq!(reply.status, StatusCode::CREATED, "{overage} #{i}: {}", reply.json);
            } else {
                assert_eq!(
                    (reply.status, reply.error_code(), reply.error_pointer()),
                    (StatusCode::UNPROCESSABLE_ENTITY, "MACHINE_LIMIT_EXCEEDED", "/data"),
                    "{overage} #{i}"
                );
                assert_eq!(
                    reply.json["errors"][0]["detail"],
                    "machine count has exceeded maximum allowed for license (1)"
                );
            }
        }
    }
}

#[tokio::test]
async fn cores_memory_and_disk_are_summed_against_their_limits() {
    let app = spawn_app().await;
    for (limit, attribute, code) in [
        ("maxCores", "cores", "MACHINE_CORE_LIMIT_EXCEEDED"),
        ("maxMemory", "memory", "MACHINE_MEMORY_LIMIT_EXCEEDED"),
        ("maxDisk", "disk", "MACHINE_DISK_LIMIT_EXCEEDED"),
    ] {
        let (_, license) = app
            .licensed(json!({"floating": true, "maxMachines": 10, limit: 8}), json!({}))
            .await;
        for (i, size) in [4, 4].into_iter().enumerate() {
            let reply = activate(
                &app,
                app.admin(),
                id(&license),
                &format!("fp-{i}"),
                json!({attribute: size}),
            )
            .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{attribute}: {}", reply.json);
        }
        let over = activate(&app, app.admin(), id(&license), "fp-over", json!({attribute: 1})).await;
        assert_eq!(
            (over.status, over.error_code(), over.error_pointer()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, "/data"),
            "{attribute}: {}",
            over.json
        );
    }
}
