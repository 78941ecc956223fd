//! Webhook workers as operators run them: `serve --role worker` processes over the app's store,
//! killed mid-stream and restarted, or two at once sharing one PostgreSQL (or SQLite file) and
//! one nats-server.

use crate::helpers::{keyledger_command, spawn_app, ServeProcess, TestApp};
use crate::webhook_harness::{create_endpoint, NatsServer, Received, Receiver};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A `serve --role worker` process over the app's store, with webhooks allowed onto loopback,
/// a two-second delivery timeout (a dead worker's rows pass to another after eight seconds) and
/// the bus at `nats_url` (in process without one).
async fn webhook_worker(app: &TestApp, nats_url: Option<&str>) -> ServeProcess {
    let mut command = keyledger_command();
    command
        .args(["serve", "--role", "worker", "--webhook-timeout-seconds", "2"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret)
        .env("KEYLEDGER_WEBHOOK_ALLOW_NETS", "127.0.0.0/8");
    if let Some(url) = nats_url {
        command.env("KEYLEDGER_NATS_URL", url);
    }
    // Started off the runtime thread: the app's own tasks go on meanwhile.
    tokio::task::spawn_blocking(move || ServeProcess::start_worker(command))
        .await
        .unwrap()
        .unwrap_or_else(|output| panic!("the worker did not start: {:?}", output.stderr))
}

/// An app that serves the API only (its webhook work is the worker processes'), with an
/// endpoint on a fresh receiver for `product.created`.
async fn app_with_endpoint() -> (TestApp, Receiver) {
    let app = spawn_app().await;
    *app.state.webhook_networks.write().unwrap() = "127.0.0.0/8".parse().unwrap();
    let receiver = Receiver::start().await;
    create_endpoint(&app, &receiver.url("/hooks"), json!(["product.created"])).await;
    (app, receiver)
}

/// Creates `count` products, one after another, in the background.
fn create_products(app: &TestApp, count: usize) -> tokio::task::JoinHandle<()> {
    let (client, base, token, path) = (
        app.client.clone(),
        app.base.clone(),
        app.admin().to_string(),
        app.path("products"),
    );
    tokio::spawn(async move {
        for n in 0..count {
            let body = json!({"data": {"type": "products", "attributes": {"name": format!("Product {n}")}}});
            let reply = client
                .post(format!("{base}{path}"))
                .bearer_auth(&token)
                .header("Content-Type", "application/vnd.api+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 201);
        }
    })
}

/// Receipts per idempotency token.
fn per_token(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in received {
        *counts.entry(delivery.idempotency_token()).or_default() += 1;
    }
    counts
}

async fn wait_for_tokens(receiver: &Receiver, count: usize, within: Duration) -> HashMap<String, usize> {
    let started = Instant::now();
    loop {
        let tokens = per_token(&receiver.received());
        if tokens.len() >= count || started.elapsed() > within {
            return tokens;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The relay's worker is SIGKILLed while products are still being created; a new worker picks
/// up from the stored checkpoints. Requests in flight at the kill were held unanswered by the
/// receiver, so everything it answered had been recorded: after the restart every event has
/// arrived once, and none twice.
async fn a_killed_worker_loses_and_doubles_nothing(nats_url: Option<&str>) {
    const PRODUCTS: usize = 120;
    let (app, receiver) = app_with_endpoint().await;
    let worker = webhook_worker(&app, nats_url).await;
    let creating = create_products(&app, PRODUCTS);
    wait_for_tokens(&receiver, PRODUCTS / 4, Duration::from_secs(30)).await;
    receiver.hold(true);
    // Long enough for every answered delivery to be recorded by the worker, short of the
    // delivery timeout (a held request that timed out would be retried an hour later).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = tokio::task::spawn_blocking(move || worker.kill()).await.unwrap();
    assert!(!killed.status.success());
    receiver.hold(false);
    let before_restart = per_token(&receiver.received()).len();
    assert!(before_restart < PRODUCTS, "the kill came after the stream ended");

    let restarted = webhook_worker(&app, nats_url).await;
    creating.await.unwrap();
    let tokens = wait_for_tokens(&receiver, PRODUCTS, Duration::from_secs(60)).await;
    // Rows the killed worker held come back after their lease; anything doubled right behind.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tokens_after = per_token(&receiver.received());
    tokio::task::spawn_blocking(move || restarted.stop()).await.unwrap();
    if tokens.len() != PRODUCTS {
        let stuck: Vec<String> = app.get("webhook-events?page[size]=100&page[number]=1").await.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .chain(
                app.get("webhook-events?page[size]=100&page[number]=2").await.json["data"]
                    .as_array()
                    .unwrap(),
            )
            .filter(|e| e["attributes"]["status"] != "DELIVERED")
            .map(|e| e["attributes"].to_string() + &e["meta"].to_string())
            .collect();
        panic!(
            "{} of {PRODUCTS} arrived ({before_restart} before the restart); not delivered: {stuck:?}",
            tokens.len()
        );
    }
    let doubled: Vec<_> = tokens_after.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "events delivered twice: {doubled:?}");
    assert_eq!(tokens_after.len(), PRODUCTS);
}

#[tokio::test]
async fn a_worker_killed_mid_stream_loses_no_webhook_and_doubles_none_over_the_in_process_bus() {
    a_killed_worker_loses_and_doubles_nothing(None).await;
}

#[tokio::test]
async fn a_worker_killed_mid_stream_loses_no_webhook_and_doubles_none_through_nats() {
    let Some(nats) = NatsServer::start().await else { return };
    a_killed_worker_loses_and_doubles_nothing(Some(&nats.url)).await;
}

#[tokio::test]
async fn two_worker_processes_on_one_store_and_one_nats_server_deliver_each_webhook_once() {
    const PRODUCTS: usize = 120;
    let Some(nats) = NatsServer::start().await else { return };
    let (app, receiver) = app_with_endpoint().await;
    let first = webhook_worker(&app, Some(&nats.url)).await;
    let second = webhook_worker(&app, Some(&nats.url)).await;
    create_products(&app, PRODUCTS).await.unwrap();
    let tokens = wait_for_tokens(&receiver, PRODUCTS, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tokens_after = per_token(&receiver.received());
    tokio::task::spawn_blocking(move || (first.stop(), second.stop()))
        .await
        .unwrap();
    assert_eq!(tokens.len(), PRODUCTS, "every event arrived");
    let doubled: Vec<_> = tokens_after.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "events delivered twice: {doubled:?}");
}
