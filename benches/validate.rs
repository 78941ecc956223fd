//! Read-path throughput over loopback HTTP: requests per second and p50/p99 latency of
//! `POST /licenses/actions/validate-key` (without a scope, and with a product and entitlements
//! scope) and of `GET /licenses/{id}`, on SQLite and — when `KEYLEDGER_BENCH_DATABASE_URL`
//! names a PostgreSQL server — on PostgreSQL.
//!
//! `cargo bench --bench validate` (`KEYLEDGER_BENCH_REQUESTS`, `KEYLEDGER_BENCH_CLIENTS` to tune).

#[path = "support/backends.rs"]
mod backends;

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LICENSES: usize = 1_000;

/// One request of a path under load: method, path after the account, bearer, body.
#[derive(Clone)]
struct Call {
    method: reqwest::Method,
    path: String,
    token: Option<String>,
    body: Option<String>,
}

/// Sends `requests` calls (`call(n)` for the n-th) from `clients` concurrent clients; prints
/// a row of the table.
async fn measure<F>(label: &str, path: &str, base: &str, requests: usize, clients: usize, call: F)
where
    F: Fn(usize) -> Call + Send + Sync + 'static,
{
    let client = reqwest::Client::new();
    let call = Arc::new(call);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, call, base) = (client.clone(), call.clone(), base.to_string());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in (c..requests).step_by(clients) {
                    let Call {
                        method,
                        path,
                        token,
                        body,
                    } = call(n);
                    let mut request = client
                        .request(method, format!("{base}{path}"))
                        .header("Accept", "application/vnd.api+json");
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    if let Some(body) = body {
                        request = request.header("Content-Type", "application/vnd.api+json").body(body);
                    }
                    let t = Instant::now();
                    let reply = request.send().await.unwrap();
                    let status = reply.status();
                    let bytes = reply.bytes().await.unwrap();
                    assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&bytes));
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::with_capacity(requests);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "| {label:<10} | {path:<24} | {clients:>7} | {requests:>8} | {:>8.0} | {:>8.2} | {:>8.2} |",
        requests as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
}

/// Sends one admin request during setup; its JSON.
async fn admin(base: &str, token: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let reply = reqwest::Client::new()
        .request(method, format!("{base}/v1/accounts/bench/{path}"))
        .bearer_auth(token)
        .header("Content-Type", "application/vnd.api+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{path}: {}", reply.status());
    reply.json().await.unwrap_or(Value::Null)
}

async fn run(label: &str, database_url: &str, requests: usize, clients: usize) {
    let (state, account) = backends::with_settings(database_url, Default::default()).await;
    let (licenses, policy) = backends::licenses(&state, &account.account_id, json!({}), LICENSES).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = keyledger::start(state.clone(), listener).unwrap();
    let base = format!("http://{}", running.addr);
    let token = account.admin_token.clone();

    // Two entitlements on the policy, which every license inherits, for scoped validations.
    let mut codes = Vec::new();
    for code in ["BENCH_FEATURE_A", "BENCH_FEATURE_B"] {
        let body = json!({"data": {"type": "entitlements", "attributes": {"name": code, "code": code}}});
        let made = admin(&base, &token, reqwest::Method::POST, "entitlements", body).await;
        codes.push((made["data"]["id"].as_str().unwrap().to_string(), code));
    }
    let link: Vec<Value> = codes
        .iter()
        .map(|(id, _)| json!({"type": "entitlements", "id": id}))
        .collect();
    let path = format!("policies/{}/entitlements", policy.id);
    admin(&base, &token, reqwest::Method::POST, &path, json!({ "data": link })).await;

    let keys: Arc<Vec<String>> = Arc::new(licenses.iter().map(|(_, key)| key.clone()).collect());
    let ids: Arc<Vec<String>> = Arc::new(licenses.iter().map(|(id, _)| id.clone()).collect());
    let validate = "/v1/accounts/bench/licenses/actions/validate-key".to_string();

    let (plain_keys, plain_path) = (keys.clone(), validate.clone());
    measure(label, "validate-key", &base, requests, clients, move |n| Call {
        method: reqwest::Method::POST,
        path: plain_path.clone(),
        token: None,
        body: Some(json!({"meta": {"key": plain_keys[n % plain_keys.len()], "scope": {}}}).to_string()),
    })
    .await;

    let product = policy.product_id.to_string();
    let scope_codes: Vec<&str> = codes.iter().map(|(_, code)| *code).collect();
    let scope = json!({"product": product, "entitlements": scope_codes});
    let probe = json!({"meta": {"key": keys[0], "scope": scope}});
    let answer = admin(
        &base,
        &token,
        reqwest::Method::POST,
        "licenses/actions/validate-key",
        probe,
    )
    .await;
    assert_eq!(
        answer["meta"]["code"], "VALID",
        "the scoped validation passes: {answer}"
    );
    measure(label, "validate-key, scoped", &base, requests, clients, move |n| Call {
        method: reqwest::Method::POST,
        path: validate.clone(),
        token: None,
        body: Some(json!({"meta": {"key": keys[n % keys.len()], "scope": scope}}).to_string()),
    })
    .await;

    measure(label, "GET /licenses/{id}", &base, requests, clients, move |n| Call {
        method: reqwest::Method::GET,
        path: format!("/v1/accounts/bench/licenses/{}", ids[n % ids.len()]),
        token: Some(token.clone()),
        body: None,
    })
    .await;
    running.stop().await.unwrap();
    state.db.close().await;
}

#[tokio::main]
async fn main() {
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (requests, clients) = (
        env("KEYLEDGER_BENCH_REQUESTS", 10_000),
        env("KEYLEDGER_BENCH_CLIENTS", 32),
    );
    println!("over loopback HTTP, {LICENSES} licenses; each validation a full one, recorded");
    println!("| backend    | path                     | clients | requests | req/s    | p50 ms   | p99 ms   |");
    println!("|------------|--------------------------|---------|----------|----------|----------|----------|");
    backends::each(|label, url| async move { run(label, &url, requests, clients).await }).await;
}
