//! Webhook endpoints and who may reach them and their webhook events: Keygen's defaults and
//! validations, a product's own endpoints, and one account's never reaching another's.
//! Public endpoints are addresses of a documentation range (198.51.100.0/24): no name to look
//! up, and these servers run no delivery, so nothing connects outside loopback.

use crate::helpers::{spawn_app, spawn_app_with_webhooks};
use crate::webhook_harness::{create_endpoint, loopback_allowed, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn an_endpoint_takes_keygens_defaults_and_refuses_what_keygen_refuses() {
    let app = spawn_app().await;
    let created = create_endpoint(&app, "https://198.51.100.7/keygen", json!(["*"])).await;
    let a = &created["attributes"];
    assert_eq!(a["url"], "https://198.51.100.7/keygen");
    assert_eq!(a["subscriptions"], json!(["*"]));
    assert_eq!(a["signatureAlgorithm"], "ed25519");
    assert_eq!(a["apiVersion"], "1.8");
    assert_eq!(created["relationships"]["product"]["data"], Value::Null);
    let id = created["id"].as_str().unwrap();

    let cases = [
        (
            json!({"url": "http://198.51.100.7/keygen"}),
            "URL_INVALID",
            "/data/attributes/url",
        ),
        (
            json!({"url": "https://198.51.100.7/k", "subscriptions": ["license.exploded"]}),
            "SUBSCRIPTIONS_NOT_ALLOWED",
            "/data/attributes/subscriptions",
        ),
        (
            json!({"url": "https://198.51.100.7/k", "subscriptions": []}),
            "SUBSCRIPTIONS_TOO_SHORT",
            "/data/attributes/subscriptions",
        ),
        (
            json!({"url": "https://10.1.2.3/k"}),
            "URL_INVALID",
            "/data/attributes/url",
        ),
        (
            json!({"url": "https://[::ffff:192.168.0.1]/k"}),
            "URL_INVALID",
            "/data/attributes/url",
        ),
        (
            json!({"url": "https://198.51.100.7/k", "signatureAlgorithm": "md5"}),
            "SIGNATURE_ALGORITHM_NOT_ALLOWED",
            "/data/attributes/signatureAlgorithm",
        ),
    ];
    for (attributes, code, pointer) in cases {
        let body = json!({"data": {"type": "webhook-endpoints", "attributes": attributes}});
        let reply = app
            .send(
                Method::POST,
                &app.path("webhook-endpoints"),
                Some(app.admin()),
                Some(body),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{attributes}: {}",
            reply.json
        );
        assert_eq!(
            (reply.error_code(), reply.error_pointer()),
            (code, pointer),
            "{attributes}"
        );
    }

    let patch = json!({"data": {"type": "webhook-endpoints", "attributes": {"subscriptions": ["license.created", "license.created"]}}});
    let path = app.path(&format!("webhook-endpoints/{id}"));
    let updated = app.send(Method::PATCH, &path, Some(app.admin()), Some(patch)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json);
    assert_eq!(
        updated.json["data"]["attributes"]["subscriptions"],
        json!(["license.created"])
    );
    let list = app.get("webhook-endpoints").await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 1);
    let gone = app.send(Method::DELETE, &path, Some(app.admin()), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("webhook-endpoints/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_product_sees_and_manages_only_its_own_endpoints_and_a_license_none() {
    let app = spawn_app().await;
    let (policy, license) = app.licensed(json!({}), json!({})).await;
    let product_id = policy["relationships"]["product"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    create_endpoint(&app, "https://198.51.100.7/admin", json!(["*"])).await;
    let (_, token) = app.product_token(&product_id).await;
    let body = json!({"data": {"type": "webhook-endpoints", "attributes": {"url": "https://198.51.100.7/product"}}});
    let own = app
        .send(Method::POST, &app.path("webhook-endpoints"), Some(&token), Some(body))
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.json);
    assert_eq!(
        own.json["data"]["relationships"]["product"]["data"]["id"],
        product_id.as_str()
    );
    let listed = app
        .send(Method::GET, &app.path("webhook-endpoints"), Some(&token), None)
        .await;
    let urls: Vec<&str> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://198.51.100.7/product"]);
    let (_, license_token) = app.license_token(license["id"].as_str().unwrap()).await;
    let refused = app
        .send(Method::GET, &app.path("webhook-endpoints"), Some(&license_token), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_accounts_endpoints_events_and_deliveries_are_out_of_reach() {
    let app = spawn_app_with_webhooks(loopback_allowed(None)).await;
    let beta = api::bootstrap::create_account(&app.state, "Beta", "beta", "admin@beta.test", "beta pass")
        .await
        .unwrap();
    let b = |rest: &str| format!("/v1/accounts/{}/{rest}", beta.account_id);
    let b_admin = beta.admin_token.as_str();
    let (mine, theirs) = (Receiver::start().await, Receiver::start().await);
    let endpoint = create_endpoint(&app, &mine.url("/a"), json!(["*"])).await;
    let body = json!({"data": {"type": "webhook-endpoints", "attributes": {"url": theirs.url("/b")}}});
    let b_endpoint = app
        .send(Method::POST, &b("webhook-endpoints"), Some(b_admin), Some(body))
        .await;
    assert_eq!(b_endpoint.status, StatusCode::CREATED, "{}", b_endpoint.json);
    app.create_product("Only A's", None).await;
    mine.wait_for(1, Duration::from_secs(20)).await;
    let event = app.get("webhook-events").await.json["data"][0].clone();
    let (endpoint_id, event_id) = (endpoint["id"].as_str().unwrap(), event["id"].as_str().unwrap());

    for (method, target) in [
        (Method::GET, b(&format!("webhook-endpoints/{endpoint_id}"))),
        (Method::PATCH, b(&format!("webhook-endpoints/{endpoint_id}"))),
        (Method::DELETE, b(&format!("webhook-endpoints/{endpoint_id}"))),
        (Method::GET, b(&format!("webhook-events/{event_id}"))),
        (Method::DELETE, b(&format!("webhook-events/{event_id}"))),
        (Method::POST, b(&format!("webhook-events/{event_id}/actions/retry"))),
    ] {
        let body = (method == Method::PATCH)
            .then(|| json!({"data": {"type": "webhook-endpoints", "attributes": {"subscriptions": ["user.created"]}}}));
        let reply = app.send(method.clone(), &target, Some(b_admin), body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {target}: {}", reply.json);
    }
    let endpoints = app
        .send(Method::GET, &b("webhook-endpoints"), Some(b_admin), None)
        .await;
    assert_eq!(endpoints.json["data"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // B's endpoint may get B's own events (its setup, if the relay had not passed them yet),
    // never one of A's; and B lists no webhook event of A's.
    let account_of = |payload: &str| -> String {
        let payload: Value = serde_json::from_str(payload).unwrap();
        payload["data"]["relationships"]["account"]["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for delivery in theirs.received() {
        let body = delivery.json();
        assert_eq!(
            account_of(body["data"]["attributes"]["payload"].as_str().unwrap()),
            beta.account_id
        );
    }
    let events = app.send(Method::GET, &b("webhook-events"), Some(b_admin), None).await;
    for event in events.json["data"].as_array().unwrap() {
        assert_eq!(
            account_of(event["attributes"]["payload"].as_str().unwrap()),
            beta.account_id
        );
    }
    assert!(mine
        .received()
        .iter()
        .all(|d| account_of(d.json()["data"]["attributes"]["payload"].as_str().unwrap()) == app.account.account_id));
}
