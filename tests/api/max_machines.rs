//! Keygen's machine limit: a node-locked policy holds exactly one machine, a floating one at
//! least one; the same rule on policy create and update and on a license's override.

use crate::helpers::{spawn_app, Reply, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn update(app: &TestApp, kind: &str, id: &str, attributes: Value) -> Reply {
    let body = json!({"data": {"type": kind, "attributes": attributes}});
    app.send(
        Method::PATCH,
        &app.path(&format!("{kind}/{id}")),
        Some(app.admin()),
        Some(body),
    )
    .await
}

fn assert_refused(reply: &Reply, context: &str) {
    assert_eq!(
        (reply.status, reply.error_code(), reply.error_pointer()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "MAX_MACHINES_INVALID",
            "/data/attributes/maxMachines"
        ),
        "{context}: {}",
        reply.json
    );
}

fn max_machines(reply: &Reply) -> Value {
    reply.json["data"]["attributes"]["maxMachines"].clone()
}

#[tokio::test]
async fn a_node_locked_policy_without_a_limit_gets_one_machine() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    for attributes in [json!({}), json!({"floating": false}), json!({"maxMachines": null})] {
        let reply = app.try_create_policy(pid, attributes.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{attributes}: {}", reply.json);
        assert_eq!(max_machines(&reply), 1, "{attributes}");
    }
    let explicit = app.try_create_policy(pid, json!({"maxMachines": 1})).await;
    assert_eq!(max_machines(&explicit), 1);
}

#[tokio::test]
async fn a_node_locked_policy_refuses_any_limit_but_one() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    for limit in [-5, 0, 2, 5] {
        let reply = app
            .try_create_policy(pid, json!({"floating": false, "maxMachines": limit}))
            .await;
        assert_refused(&reply, &format!("node-locked create with {limit}"));
    }
    assert_eq!(
        app.get("policies").await.json["data"].as_array().unwrap().len(),
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_floating_policy_needs_at_least_one_machine() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let refused = app
        .try_create_policy(pid, json!({"floating": true, "maxMachines": 0}))
        .await;
    assert_refused(&refused, "floating create with 0");
    let five = app
        .try_create_policy(pid, json!({"floating": true, "maxMachines": 5}))
        .await;
    assert_eq!(max_machines(&five), 5);
    let unlimited = app.try_create_policy(pid, json!({"floating": true})).await;
    assert_eq!(
        max_machines(&unlimited),
        json!(null),
        "a floating policy may be unlimited"
    );
}

#[tokio::test]
async fn policy_updates_keep_the_node_locked_and_floating_rules() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let node = app.create_policy(pid, json!({})).await;
    let node_id = node["id"].as_str().unwrap();
    assert_refused(
        &update(&app, "policies", node_id, json!({"maxMachines": 2})).await,
        "node-locked update to 2",
    );
    let cleared = update(&app, "policies", node_id, json!({"maxMachines": null})).await;
    assert_eq!(
        max_machines(&cleared),
        1,
        "a node-locked policy stays at one: {}",
        cleared.json
    );

    let floating = app
        .create_policy(pid, json!({"floating": true, "maxMachines": 5}))
        .await;
    let floating_id = floating["id"].as_str().unwrap();
    assert_refused(
        &update(&app, "policies", floating_id, json!({"maxMachines": 0})).await,
        "floating update to 0",
    );
    assert_refused(
        &update(&app, "policies", floating_id, json!({"floating": false})).await,
        "floating to node-locked while holding 5",
    );
    assert_eq!(
        max_machines(&app.get(&format!("policies/{floating_id}")).await),
        5,
        "a refused update changes nothing"
    );
    let locked = update(
        &app,
        "policies",
        floating_id,
        json!({"floating": false, "maxMachines": 1}),
    )
    .await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.json);
    assert_eq!(max_machines(&locked), 1);
}

#[tokio::test]
async fn a_license_override_follows_its_policys_rule() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let node = app.create_policy(pid, json!({})).await;
    let node_id = node["id"].as_str().unwrap();
    assert_refused(
        &app.try_create_license(node_id, json!({"maxMachines": 3})).await,
        "node-locked license created with 3",
    );
    let license = app.create_license(node_id, json!({"maxMachines": 1})).await;
    assert_eq!(license["attributes"]["maxMachines"], 1);
    let license_id = license["id"].as_str().unwrap();
    assert_refused(
        &update(&app, "licenses", license_id, json!({"maxMachines": 2})).await,
        "node-locked license updated to 2",
    );

    let floating = app
        .create_policy(pid, json!({"floating": true, "maxMachines": 2}))
        .await;
    let floating_id = floating["id"].as_str().unwrap();
    assert_refused(
        &app.try_create_license(floating_id, json!({"maxMachines": 0})).await,
        "floating license created with 0",
    );
    let license = app.create_license(floating_id, json!({"maxMachines": 10})).await;
    assert_eq!(license["attributes"]["maxMachines"], 10);
    assert_refused(
        &update(
            &app,
            "licenses",
            license["id"].as_str().unwrap(),
            json!({"maxMachines": 0}),
        )
        .await,
        "floating license updated to 0",
    );
    let inherited = app.create_license(floating_id, json!({})).await;
    assert_eq!(
        inherited["attributes"]["maxMachines"], 2,
        "no override: the policy's limit"
    );
}
