//! Validation throughput: `POST /licenses/actions/validate-key` requests per second and p50/p99
//! latency over loopback HTTP, on SQLite and — when `KEYLEDGER_BENCH_DATABASE_URL` names a
//! PostgreSQL server — on PostgreSQL.
//!
//! `cargo bench --bench validate` (`KEYLEDGER_BENCH_REQUESTS`, `KEYLEDGER_BENCH_CLIENTS` to tune).

#[path = "support/backends.rs"]
mod backends;

use std::sync::Arc;
use std::time::{Duration, Instant};

const LICENSES: usize = 1_000;

async fn run(label: &str, database_url: &str, requests: usize, clients: usize) {
    let (state, account_id) = backends::with_account(database_url).await;
    let (licenses, _) = backends::licenses(&state, &account_id, serde_json::json!({}), LICENSES).await;
    let keys: Vec<String> = licenses.into_iter().map(|(_, key)| key).collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = keyledger::start(state.clone(), listener).unwrap();
    let url = format!(
        "http://{}/v1/accounts/bench/licenses/actions/validate-key",
        running.addr
    );
    let client = reqwest::Client::new();
    let keys = Arc::new(keys);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, url, keys) = (client.clone(), url.clone(), keys.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in (c..requests).step_by(clients) {
                    let body = serde_json::json!({"meta": {"key": keys[n % keys.len()], "scope": {}}});
                    let t = Instant::now();
                    let reply = client
                        .post(&url)
                        .header("Content-Type", "application/vnd.api+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    assert!(reply.status().is_success());
                    reply.bytes().await.unwrap();
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
        "| {label:<10} | {clients:>7} | {requests:>8} | {:>8.0} | {:>8.2} | {:>8.2} |",
        requests as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
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
    println!("validate-key over loopback HTTP, {LICENSES} licenses, each request a full validation (scope {{}})");
    println!("| backend    | clients | requests | req/s    | p50 ms   | p99 ms   |");
    println!("|------------|---------|----------|----------|----------|----------|");
    backends::each(|label, url| async move { run(label, &url, requests, clients).await }).await;
}
