//! Webhooks, end to end: endpoints, fan-out over the bus (in process and through NATS
//! JetStream), signed delivery to a receiver on loopback, retries on Keygen's schedule with the
//! clock moved, and the address rule.

use crate::helpers::{spawn_app_with_webhooks, verify_signed, TestApp};
use crate::webhook_harness::{
    create_endpoint, loopback_allowed, try_create_endpoint, try_create_endpoint_with, NatsServer, Received, Receiver,
};
use keyledger::WebhookConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Checks one delivery: Keygen's headers, a signature the account's public key verifies over
/// `(request-target) host date digest`, and the webhook-event document around a payload string.
fn check_delivery(app: &TestApp, received: &Received) -> (String, Value) {
    let target = format!("post {}", received.target);
    verify_signed(
        &app.account.public_key,
        &target,
        "127.0.0.1",
        &received.headers,
        &received.body,
    )
    .expect("the signature verifies with the account's public key");
    let header = |name: &str| {
        received
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("keygen-version"), "1.8");
    assert!(header("user-agent").starts_with("Keygen/1.8 (+https://keygen.sh/docs/api/webhooks/)"));
    assert!(header("keygen-signature").starts_with(&format!("keyid=\"{}\"", app.account.account_id)));
    let body = received.json();
    let data = &body["data"];
    assert_eq!(data["type"], "webhook-events");
    assert!(data["meta"]["idempotencyToken"].as_str().is_some_and(|t| !t.is_empty()));
    let attributes = &data["attributes"];
    assert_eq!(attributes["status"], "DELIVERING");
    assert_eq!(attributes["apiVersion"], "1.8");
    let payload: Value = serde_json::from_str(attributes["payload"].as_str().expect("payload is a JSON string"))
        .expect("the payload string is JSON");
    (attributes["event"].as_str().unwrap().to_string(), payload)
}

/// Every subscribed event reaches the receiver once, signed, in Keygen's shape; unsubscribed
/// ones never do.
async fn receives_every_subscribed_event_once(app: TestApp) {
    let receiver = Receiver::start().await;
    let subscriptions = json!([
        "product.created",
        "policy.created",
        "license.created",
        "license.validation.succeeded"
    ]);
    create_endpoint(&app, &receiver.url("/hooks?source=keyledger"), subscriptions).await;
    let (policy, license) = app.licensed(json!({}), json!({})).await;
    app.create_entitlement("not-subscribed").await;
    let valid = app.validate(license["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(valid.status, StatusCode::OK, "{}", valid.json);

    let received = receiver.wait_for(4, Duration::from_secs(20)).await;
    // Anything extra would arrive right behind the fourth.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = if received.len() == 4 {
        receiver.received()
    } else {
        received
    };
    let mut events = Vec::new();
    for delivery in &received {
        assert_eq!(delivery.target, "/hooks?source=keyledger");
        let (event, payload) = check_delivery(&app, delivery);
        match event.as_str() {
            "license.created" | "license.validation.succeeded" => {
                assert_eq!(payload["data"]["type"], "licenses");
                assert_eq!(payload["data"]["id"], license["id"]);
            }
            "policy.created" => assert_eq!(payload["data"]["id"], policy["id"]),
            "product.created" => assert_eq!(payload["data"]["type"], "products"),
            other => panic!("unsubscribed event {other} delivered"),
        }
        if event == "license.validation.succeeded" {
            assert_eq!(payload["meta"]["valid"], true);
            assert_eq!(payload["meta"]["code"], "VALID");
        }
        events.push(event);
    }
    events.sort();
    assert_eq!(
        events,
        [
            "license.created",
            "license.validation.succeeded",
            "policy.created",
            "product.created"
        ],
        "each subscribed event exactly once"
    );
    let tokens: HashSet<String> = received.iter().map(Received::idempotency_token).collect();
    assert_eq!(tokens.len(), 4);

    // The webhook events record the deliveries.
    let mut delivered = false;
    for _ in 0..100 {
        let list = app.get("webhook-events").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.json);
        let rows = list.json["data"].as_array().unwrap().clone();
        if rows.len() == 4 && rows.iter().all(|r| r["attributes"]["status"] == "DELIVERED") {
            assert!(rows.iter().all(|r| r["attributes"]["lastResponseCode"] == 200));
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered, "every webhook event ends DELIVERED");
}

#[tokio::test]
async fn a_receiver_gets_every_subscribed_event_once_signed_over_the_in_process_bus() {
    receives_every_subscribed_event_once(spawn_app_with_webhooks(loopback_allowed(None)).await).await;
}

#[tokio::test]
async fn a_receiver_gets_every_subscribed_event_once_signed_through_nats_jetstream() {
    let Some(nats) = NatsServer::start().await else { return };
    receives_every_subscribed_event_once(spawn_app_with_webhooks(loopback_allowed(Some(&nats.url))).await).await;
}

/// The webhook event the receiver's deliveries belong to, read back.
async fn webhook_event(app: &TestApp) -> Value {
    let list = app.get("webhook-events").await;
    let rows = list.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", list.json);
    rows[0].clone()
}

async fn wait_for_attempts(app: &TestApp, attempts: i64) -> Value {
    for _ in 0..400 {
        let list = app.get("webhook-events").await;
        if list.json["data"].as_array().is_some_and(|rows| rows.len() == 1) {
            let event = webhook_event(app).await;
            if event["meta"]["attempts"] == attempts {
                return event;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no attempt {attempts}: {}", webhook_event(app).await);
}

#[tokio::test]
async fn a_receiver_that_fails_four_times_gets_five_attempts_on_keygens_schedule() {
    let app = spawn_app_with_webhooks(loopback_allowed(None)).await;
    let receiver = Receiver::answering(&[500, 502, 503, 429]).await;
    create_endpoint(&app, &receiver.url("/hooks"), json!(["product.created"])).await;
    app.create_product("Retried", None).await;

    for attempt in 1..=4_i64 {
        let event = wait_for_attempts(&app, attempt).await;
        assert_eq!(event["attributes"]["status"], "FAILING");
        let id = event["id"].as_str().unwrap();
        let row = projections::webhook_events::find(&app.state.db, &app.account.account_id, id)
            .await
            .unwrap()
            .unwrap();
        // Retry n (0 for the first) waits n⁴ seconds plus 10 to 100 minutes.
        let n = attempt - 1;
        let wait = row.next_attempt_at.expect("a retry is due") - row.updated_at;
        let (least, most) = (n.pow(4) + 600, n.pow(4) + 6000);
        assert!(
            (least * 1_000_000..=most * 1_000_000 + 1_000_000).contains(&wait),
            "retry {n} waits {wait} µs"
        );
        // Nothing happens until the clock gets there.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(receiver.received().len() as i64, attempt, "no retry before it is due");
        app.state.clock.advance(chrono::Duration::seconds(most + 1));
    }
    let event = wait_for_attempts(&app, 5).await;
    assert_eq!(event["attributes"]["status"], "DELIVERED");
    assert_eq!(event["attributes"]["lastResponseCode"], 200);
    let received = receiver.received();
    assert_eq!(received.len(), 5);
    let tokens: HashSet<String> = received.iter().map(Received::idempotency_token).collect();
    assert_eq!(tokens.len(), 1, "every attempt carries the same idempotency token");
}

#[tokio::test]
async fn an_endpoint_on_loopback_is_refused_without_an_allow_list_and_nothing_connects() {
    let app = spawn_app_with_webhooks(WebhookConfig::default()).await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url("/hooks"),
        receiver.url("/hooks").replace("http://", "https://"),
    ] {
        let reply = try_create_endpoint(&app, &url, json!(["*"])).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", reply.json);
        assert_eq!(reply.error_code(), "URL_INVALID");
        assert_eq!(reply.error_pointer(), "/data/attributes/url");
    }
    app.create_product("Quiet", None).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.received().is_empty(), "the receiver saw a connection");
    let list = app.get("webhook-endpoints").await;
    assert_eq!(list.json["data"], json!([]));
}

#[tokio::test]
async fn a_webhook_event_can_be_filtered_retried_with_its_token_and_deleted() {
    let app = spawn_app_with_webhooks(loopback_allowed(None)).await;
    let receiver = Receiver::start().await;
    create_endpoint(
        &app,
        &receiver.url("/hooks"),
        json!(["product.created", "policy.created"]),
    )
    .await;
    let product = app.create_product("Filtered", None).await;
    app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    receiver.wait_for(2, Duration::from_secs(20)).await;

    let filtered = app.get("webhook-events?events[]=policy.created").await;
    let rows = filtered.json["data"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{}", filtered.json);
    let original = &rows[0];
    assert_eq!(original["attributes"]["event"], "policy.created");

    let retry = app
        .send(
            Method::POST,
            &app.path(&format!(
                "webhook-events/{}/actions/retry",
                original["id"].as_str().unwrap()
            )),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.json);
    let again = &retry.json["data"];
    assert_ne!(again["id"], original["id"]);
    assert_eq!(again["meta"]["idempotencyToken"], original["meta"]["idempotencyToken"]);
    assert_eq!(again["attributes"]["payload"], original["attributes"]["payload"]);
    assert!(retry.header("location").is_some());
    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[2].idempotency_token(),
        original["meta"]["idempotencyToken"].as_str().unwrap()
    );

    let path = app.path(&format!("webhook-events/{}", original["id"].as_str().unwrap()));
    let gone = app.send(Method::DELETE, &path, Some(app.admin()), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.send(Method::GET, &path, Some(app.admin()), None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_410_gone_disables_the_endpoint_and_a_retry_without_its_endpoint_is_refused() {
    let app = spawn_app_with_webhooks(loopback_allowed(None)).await;
    let receiver = Receiver::answering(&[410]).await;
    let endpoint = create_endpoint(&app, &receiver.url("/gone"), json!(["product.created"])).await;
    app.create_product("Gone", None).await;
    let event = wait_for_attempts(&app, 1).await;
    assert_eq!(event["attributes"]["status"], "FAILED");
    assert_eq!(event["attributes"]["lastResponseCode"], 410);
    let path = format!("webhook-endpoints/{}", endpoint["id"].as_str().unwrap());
    let mut disabled = Value::Null;
    for _ in 0..200 {
        disabled = app.get(&path).await.json["data"]["attributes"]["subscriptions"].clone();
        if disabled == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(disabled, json!([]), "Keygen empties a gone endpoint's subscriptions");

    let gone = app
        .send(Method::DELETE, &app.path(&path), Some(app.admin()), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let retry = app
        .send(
            Method::POST,
            &app.path(&format!(
                "webhook-events/{}/actions/retry",
                event["id"].as_str().unwrap()
            )),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(retry.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", retry.json);
    assert_eq!(retry.json["errors"][0]["detail"], "webhook event failed to retry");
    assert_eq!(receiver.received().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn deliveries_are_signed_with_the_endpoints_signature_algorithm() {
    let app = spawn_app_with_webhooks(loopback_allowed(None)).await;
    let keys = crate::account_keys::account_keys(&app).await;
    let receiver = Receiver::start().await;
    for algorithm in ["rsa-pss-sha256", "rsa-sha256", "ecdsa-p256"] {
        let attributes = json!({
            "url": receiver.url(&format!("/{algorithm}")),
            "subscriptions": ["product.created"],
            "signatureAlgorithm": algorithm,
        });
        let reply = try_create_endpoint_with(&app, attributes).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        assert_eq!(reply.json["data"]["attributes"]["signatureAlgorithm"], algorithm);
    }
    app.create_product("Signed three ways", None).await;
    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3);
    for delivery in &received {
        let algorithm = delivery.target.trim_start_matches('/');
        let key = keys.for_algorithm(algorithm);
        crate::offline_verifier::verify_response(
            algorithm,
            key,
            "POST",
            &delivery.target,
            "127.0.0.1",
            &delivery.headers,
            &delivery.body,
        )
        .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        let mut body = delivery.body.clone();
        body[5] ^= 1;
        assert!(crate::offline_verifier::verify_response(
            algorithm,
            key,
            "POST",
            &delivery.target,
            "127.0.0.1",
            &delivery.headers,
            &body
        )
        .is_err());
    }
}
