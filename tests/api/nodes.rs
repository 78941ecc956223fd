//! Two nodes over one store answer from the store, never from what they saw before: a change
//! made through one node shows in the very next validation on the other.

use crate::helpers::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `validate-key` on the node at `base`: the validation's code.
async fn code_on(app: &TestApp, base: &str, key: &str) -> String {
    let body = json!({"meta": {"key": key}});
    let path = app.path("licenses/actions/validate-key");
    let reply = app
        .send_to(base, Method::POST, &path, Some(app.admin()), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json["meta"]["code"].as_str().unwrap_or_default().to_string()
}

async fn ok(app: &TestApp, method: Method, rest: &str, body: Option<Value>) {
    let reply = app.send(method, &app.path(rest), Some(app.admin()), body).await;
    assert!(reply.status.is_success(), "{rest}: {}", reply.json);
}

#[tokio::test]
async fn a_change_on_one_node_shows_in_the_next_validation_on_the_other() {
    let app = spawn_app().await;
    let (other, _running) = app.second_node().await;
    let (_, license) = app.licensed(json!({}), json!({"key": "TWO-NODES-1"})).await;
    let id = license["id"].as_str().unwrap();
    let key = "TWO-NODES-1";
    // The second node has validated the key (and warmed whatever it keeps) before each change.
    assert_eq!(code_on(&app, &other, key).await, "VALID");
    ok(&app, Method::POST, &format!("licenses/{id}/actions/suspend"), None).await;
    assert_eq!(code_on(&app, &other, key).await, "SUSPENDED");
    ok(&app, Method::POST, &format!("licenses/{id}/actions/reinstate"), None).await;
    assert_eq!(code_on(&app, &other, key).await, "VALID");
    let expired = json!({"data": {"type": "licenses", "attributes": {"expiry": "2020-01-01T00:00:00Z"}}});
    ok(&app, Method::PATCH, &format!("licenses/{id}"), Some(expired)).await;
    assert_eq!(code_on(&app, &other, key).await, "EXPIRED");
    // And the other way round: a change on the second node, seen by the first.
    let renewed = json!({"data": {"type": "licenses", "attributes": {"expiry": null}}});
    let path = app.path(&format!("licenses/{id}"));
    let reply = app
        .send_to(&other, Method::PATCH, &path, Some(app.admin()), Some(renewed))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(code_on(&app, &app.base, key).await, "VALID");
    ok(&app, Method::DELETE, &format!("licenses/{id}"), None).await;
    assert_eq!(code_on(&app, &other, key).await, "NOT_FOUND");
}
