//! Event logs: every API write of the licensing surface produces its Keygen-named event, about
//! the right resource and caused by its bearer in its request; validations are logged from the
//! observation log; filters, access and secrets.

use crate::helpers::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Sends a write as the admin and answers its `data` (null for a 204).
async fn write(app: &TestApp, method: Method, rest: &str, body: Option<Value>) -> Value {
    let reply = app.send(method.clone(), &app.path(rest), Some(app.admin()), body).await;
    assert!(
        reply.status.is_success(),
        "{method} {rest}: {} {}",
        reply.status,
        reply.json
    );
    reply.json["data"].clone()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

fn rel(kind: &str, id: &str) -> Value {
    json!({"data": {"type": kind, "id": id}})
}

/// Every event log of the account (the runner logs within a round of its interval).
async fn event_logs(app: &TestApp, at_least: usize) -> Vec<Value> {
    for _ in 0..200 {
        let reply = app.get("event-logs?page[size]=100&page[number]=1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let mut rows = reply.json["data"].as_array().unwrap().clone();
        rows.extend(
            app.get("event-logs?page[size]=100&page[number]=2").await.json["data"]
                .as_array()
                .unwrap()
                .clone(),
        );
        if rows.len() >= at_least {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {at_least} event logs");
}

/// A list once it holds something (the runner logs within a round of its interval).
async fn listed(app: &TestApp, rest: &str) -> crate::helpers::Reply {
    for _ in 0..200 {
        let reply = app.get(rest).await;
        if reply.json["data"].as_array().is_some_and(|rows| !rows.is_empty()) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.get(rest).await
}

#[tokio::test]
async fn every_api_write_produces_its_keygen_named_event_about_its_resource() {
    let app = spawn_app().await;
    // (event, resource type, resource id) for each write, in order.
    let mut expected: Vec<(&str, &str, String)> = Vec::new();
    let product = write(
        &app,
        Method::POST,
        "products",
        Some(json!({"data": {"type": "products", "attributes": {"name": "Logged"}}})),
    )
    .await;
    let p = id(&product);
    expected.push(("product.created", "products", p.clone()));
    write(
        &app,
        Method::PATCH,
        &format!("products/{p}"),
        Some(json!({"data": {"type": "products", "attributes": {"name": "Renamed"}}})),
    )
    .await;
    expected.push(("product.updated", "products", p.clone()));
    let spare = id(&write(
        &app,
        Method::POST,
        "products",
        Some(json!({"data": {"type": "products", "attributes": {"name": "Spare"}}})),
    )
    .await);
    expected.push(("product.created", "products", spare.clone()));
    write(&app, Method::DELETE, &format!("products/{spare}"), None).await;
    expected.push(("product.deleted", "products", spare));

    let e = id(&write(
        &app,
        Method::POST,
        "entitlements",
        Some(json!({"data": {"type": "entitlements", "attributes": {"name": "E", "code": "logged-e"}}})),
    )
    .await);
    expected.push(("entitlement.created", "entitlements", e.clone()));
    write(
        &app,
        Method::PATCH,
        &format!("entitlements/{e}"),
        Some(json!({"data": {"type": "entitlements", "attributes": {"name": "E2"}}})),
    )
    .await;
    expected.push(("entitlement.updated", "entitlements", e.clone()));

    let policy_body = |attributes: Value| json!({"data": {"type": "policies", "attributes": attributes, "relationships": {"product": rel("products", &p)}}});
    let checked = json!({"name": "Checked", "duration": 86400, "requireCheckIn": true, "checkInInterval": "day", "checkInIntervalCount": 1});
    let pol = id(&write(&app, Method::POST, "policies", Some(policy_body(checked))).await);
    expected.push(("policy.created", "policies", pol.clone()));
    write(
        &app,
        Method::PATCH,
        &format!("policies/{pol}"),
        Some(json!({"data": {"type": "policies", "attributes": {"name": "Checked 2"}}})),
    )
    .await;
    expected.push(("policy.updated", "policies", pol.clone()));
    let attach = json!({"data": [{"type": "entitlements", "id": e}]});
    write(
        &app,
        Method::POST,
        &format!("policies/{pol}/entitlements"),
        Some(attach.clone()),
    )
    .await;
    expected.push(("policy.entitlements.attached", "policies", pol.clone()));
    write(
        &app,
        Method::DELETE,
        &format!("policies/{pol}/entitlements"),
        Some(attach.clone()),
    )
    .await;
    expected.push(("policy.entitlements.detached", "policies", pol.clone()));
    let other = id(&write(
        &app,
        Method::POST,
        "policies",
        Some(policy_body(json!({"name": "Other"}))),
    )
    .await);
    expected.push(("policy.created", "policies", other.clone()));
    let pooled = id(&write(
        &app,
        Method::POST,
        "policies",
        Some(policy_body(json!({"name": "Pooled", "usePool": true}))),
    )
    .await);
    expected.push(("policy.created", "policies", pooled.clone()));
    let key_body = |key: &str| json!({"data": {"type": "keys", "attributes": {"key": key}, "relationships": {"policy": rel("policies", &pooled)}}});
    let k1 = id(&write(&app, Method::POST, "keys", Some(key_body("LOGGED-POOL-1"))).await);
    expected.push(("key.created", "keys", k1.clone()));
    let k2 = id(&write(&app, Method::POST, "keys", Some(key_body("LOGGED-POOL-2"))).await);
    expected.push(("key.created", "keys", k2.clone()));
    write(&app, Method::DELETE, &format!("keys/{k1}"), None).await;
    expected.push(("key.deleted", "keys", k1));
    write(&app, Method::DELETE, &format!("policies/{pooled}/pool"), None).await;
    expected.push(("policy.pool.popped", "keys", k2));

    let license_body =
        json!({"data": {"type": "licenses", "attributes": {}, "relationships": {"policy": rel("policies", &pol)}}});
    let license = write(&app, Method::POST, "licenses", Some(license_body.clone())).await;
    let (l, key) = (id(&license), license["attributes"]["key"].as_str().unwrap().to_string());
    expected.push(("license.created", "licenses", l.clone()));
    let secret_metadata = json!({"data": {"type": "licenses", "attributes": {"name": "Named", "metadata": {"vendorSecret": "LOGGED-VENDOR-SECRET-0001"}}}});
    write(&app, Method::PATCH, &format!("licenses/{l}"), Some(secret_metadata)).await;
    expected.push(("license.updated", "licenses", l.clone()));
    for (action, event) in [
        ("suspend", "license.suspended"),
        ("reinstate", "license.reinstated"),
        ("renew", "license.renewed"),
        ("check-in", "license.checked-in"),
        ("increment-usage", "license.usage.incremented"),
        ("decrement-usage", "license.usage.decremented"),
        ("reset-usage", "license.usage.reset"),
    ] {
        write(&app, Method::POST, &format!("licenses/{l}/actions/{action}"), None).await;
        expected.push((event, "licenses", l.clone()));
    }
    write(
        &app,
        Method::POST,
        &format!("licenses/{l}/entitlements"),
        Some(attach.clone()),
    )
    .await;
    expected.push(("license.entitlements.attached", "licenses", l.clone()));
    write(
        &app,
        Method::DELETE,
        &format!("licenses/{l}/entitlements"),
        Some(attach),
    )
    .await;
    expected.push(("license.entitlements.detached", "licenses", l.clone()));
    write(
        &app,
        Method::PUT,
        &format!("licenses/{l}/policy"),
        Some(json!({"data": {"type": "policies", "id": other}})),
    )
    .await;
    expected.push(("license.policy.updated", "licenses", l.clone()));

    let machine_body = json!({"data": {"type": "machines", "attributes": {"fingerprint": "logged-fp"}, "relationships": {"license": rel("licenses", &l)}}});
    let m = id(&write(&app, Method::POST, "machines", Some(machine_body)).await);
    expected.push(("machine.created", "machines", m.clone()));
    write(
        &app,
        Method::PATCH,
        &format!("machines/{m}"),
        Some(json!({"data": {"type": "machines", "attributes": {"name": "Box"}}})),
    )
    .await;
    expected.push(("machine.updated", "machines", m.clone()));
    write(&app, Method::POST, &format!("machines/{m}/actions/ping"), None).await;
    expected.push(("machine.heartbeat.ping", "machines", m.clone()));
    write(&app, Method::POST, &format!("machines/{m}/actions/reset"), None).await;
    expected.push(("machine.heartbeat.reset", "machines", m.clone()));
    let process_body = json!({"data": {"type": "processes", "attributes": {"pid": "4242"}, "relationships": {"machine": rel("machines", &m)}}});
    let pr = id(&write(&app, Method::POST, "processes", Some(process_body)).await);
    expected.push(("process.created", "processes", pr.clone()));
    write(
        &app,
        Method::PATCH,
        &format!("processes/{pr}"),
        Some(json!({"data": {"type": "processes", "attributes": {"metadata": {"w": 1}}}})),
    )
    .await;
    expected.push(("process.updated", "processes", pr.clone()));
    write(&app, Method::DELETE, &format!("processes/{pr}"), None).await;
    expected.push(("process.deleted", "processes", pr));
    let component_body = json!({"data": {"type": "components", "attributes": {"fingerprint": "logged-c", "name": "CPU"}, "relationships": {"machine": rel("machines", &m)}}});
    let c = id(&write(&app, Method::POST, "components", Some(component_body)).await);
    expected.push(("component.created", "components", c.clone()));
    write(
        &app,
        Method::PATCH,
        &format!("components/{c}"),
        Some(json!({"data": {"type": "components", "attributes": {"name": "GPU"}}})),
    )
    .await;
    expected.push(("component.updated", "components", c.clone()));
    write(&app, Method::DELETE, &format!("components/{c}"), None).await;
    expected.push(("component.deleted", "components", c));

    let token = write(&app, Method::POST, &format!("licenses/{l}/tokens"), None).await;
    let t = id(&token);
    expected.push(("token.generated", "tokens", t.clone()));
    let regenerated = write(&app, Method::PUT, &format!("tokens/{t}"), None).await;
    let raw_tokens = [&token, &regenerated].map(|t| t["attributes"]["token"].as_str().unwrap().to_string());
    expected.push(("token.regenerated", "tokens", t.clone()));
    write(&app, Method::DELETE, &format!("tokens/{t}"), None).await;
    expected.push(("token.revoked", "tokens", t));

    let valid = app.validate(&l, json!({})).await;
    assert_eq!(valid.json["meta"]["code"], "VALID", "{}", valid.json);
    expected.push(("license.validation.succeeded", "licenses", l.clone()));
    write(&app, Method::DELETE, &format!("machines/{m}"), None).await;
    expected.push(("machine.deleted", "machines", m));
    write(&app, Method::DELETE, &format!("licenses/{l}/actions/revoke"), None).await;
    expected.push(("license.revoked", "licenses", l));
    let gone = id(&write(&app, Method::POST, "licenses", Some(license_body)).await);
    expected.push(("license.created", "licenses", gone.clone()));
    write(&app, Method::DELETE, &format!("licenses/{gone}"), None).await;
    expected.push(("license.deleted", "licenses", gone));
    write(&app, Method::DELETE, &format!("entitlements/{e}"), None).await;
    expected.push(("entitlement.deleted", "entitlements", e));

    let admin = app.get("me").await.json["data"]["id"].as_str().unwrap().to_string();
    let found = |logs: &[Value], event: &str, kind: &str, resource: &str| {
        logs.iter()
            .find(|log| {
                log["attributes"]["event"] == event
                    && log["relationships"]["resource"]["data"] == json!({"type": kind, "id": resource})
            })
            .cloned()
    };
    // The runner logs events and observations in rounds of their own: wait for the last ones.
    let mut logs = event_logs(&app, expected.len()).await;
    for _ in 0..200 {
        if expected.iter().all(|(e, k, r)| found(&logs, e, k, r).is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        logs = event_logs(&app, expected.len()).await;
    }
    let mut missing = Vec::new();
    for (event, kind, resource) in &expected {
        match found(&logs, event, kind, resource) {
            None => missing.push(format!("{event} {kind}/{resource}")),
            Some(log) => {
                assert_eq!(
                    log["relationships"]["whodunnit"]["data"],
                    json!({"type": "users", "id": admin}),
                    "{event}"
                );
                assert!(
                    log["relationships"]["request"]["data"]["id"].is_string(),
                    "{event}: {log}"
                );
            }
        }
    }
    assert!(missing.is_empty(), "no event log for: {missing:#?}");
    // No secret reaches an event log: license keys, raw tokens, a secret in metadata (its
    // change is in the diff, masked as Keygen masks it).
    let text = serde_json::to_string(&logs).unwrap();
    for secret in raw_tokens
        .iter()
        .map(String::as_str)
        .chain([key.as_str(), "LOGGED-VENDOR-SECRET-0001"])
    {
        assert!(!text.contains(secret), "an event log holds a secret");
    }
    assert!(
        text.contains("LOGG...0001"),
        "the secret's change is logged, masked: {text}"
    );
}

#[tokio::test]
async fn event_logs_carry_keygens_metadata_filter_and_stay_in_their_account() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let l = id(&license);
    write(
        &app,
        Method::PATCH,
        &format!("licenses/{l}"),
        Some(json!({"data": {"type": "licenses", "attributes": {"name": "After"}}})),
    )
    .await;
    let failed = app.validate(&l, json!({"scope": {"fingerprint": "nowhere"}})).await;
    assert_eq!(failed.json["meta"]["valid"], false, "{}", failed.json);
    let updated = listed(
        &app,
        &format!("event-logs?event=license.updated&resource[type]=licenses&resource[id]={l}"),
    )
    .await;
    let rows = updated.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", updated.json);
    assert_eq!(
        rows[0]["attributes"]["metadata"]["diff"]["name"],
        json!([null, "After"])
    );
    let shown = app.get(&format!("event-logs/{}", id(&rows[0]))).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json["data"]["attributes"]["event"], "license.updated");

    let validation = listed(&app, "event-logs?event=license.validation.failed").await;
    let rows = validation.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", validation.json);
    assert!(rows[0]["attributes"]["metadata"]["code"].is_string());

    let bad = app.get("event-logs?date[start]=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.json);
    assert_eq!(bad.json["errors"][0]["source"]["parameter"], "date[start]");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let none = app.get(&format!("event-logs?date[start]={tomorrow}")).await;
    assert_eq!(none.json["data"], json!([]));

    let (_, token) = app.license_token(&l).await;
    let refused = app.send(Method::GET, &app.path("event-logs"), Some(&token), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let beta = api::bootstrap::create_account(&app.state, "Beta", "beta", "admin@beta.test", "beta pass")
        .await
        .unwrap();
    let theirs = app
        .send(
            Method::GET,
            &format!("/v1/accounts/{}/event-logs/{}", beta.account_id, id(&rows[0])),
            Some(&beta.admin_token),
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
}
