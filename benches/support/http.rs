//! Load over loopback HTTP for the benchmarks: `measure` sends a path's requests from concurrent
//! clients and prints its row (requests per second, p50 and p99 latency); `admin` makes what a
//! benchmark needs before it measures.

use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request of a path under load: method, path after the account, bearer, body.
#[derive(Clone)]
pub struct Call {
    pub method: reqwest::Method,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<String>,
}

/// Sends `requests` calls (`call(n)` for the n-th) from `clients` concurrent clients; prints
/// a row of the table; answers the requests per second.
#[allow(dead_code)]
pub async fn measure<F>(label: &str, path: &str, base: &str, requests: usize, clients: usize, call: F) -> f64
where
    F: Fn(usize) -> Call + Send + Sync + 'static,
{
    measure_with(label, path, base, requests, clients, &[], call).await
}

/// [`measure`], every request carrying `headers` too (e.g. `Keygen-Accept-Signature`).
pub async fn measure_with<F>(
    label: &str,
    path: &str,
    base: &str,
    requests: usize,
    clients: usize,
    headers: &[(&'static str, &str)],
    call: F,
) -> f64
where
    F: Fn(usize) -> Call + Send + Sync + 'static,
{
    let headers: Arc<Vec<(&'static str, String)>> =
        Arc::new(headers.iter().map(|(k, v)| (*k, v.to_string())).collect());
    let client = reqwest::Client::new();
    let call = Arc::new(call);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, call, base, headers) = (client.clone(), call.clone(), base.to_string(), headers.clone());
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
                    for (name, value) in headers.iter() {
                        request = request.header(*name, value);
                    }
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
    let rate = requests as f64 / elapsed.as_secs_f64();
    println!(
        "| {label:<10} | {path:<24} | {clients:>7} | {requests:>8} | {rate:>8.0} | {:>8.2} | {:>8.2} |",
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    rate
}

/// Sends one admin request during setup; its JSON.
#[allow(dead_code)]
pub async fn admin(base: &str, token: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
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

/// Requests per path and concurrent clients: `KEYLEDGER_BENCH_REQUESTS` (else `requests`) and
/// `KEYLEDGER_BENCH_CLIENTS` (else 32).
pub fn load(requests: usize) -> (usize, usize) {
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    (
        env("KEYLEDGER_BENCH_REQUESTS", requests),
        env("KEYLEDGER_BENCH_CLIENTS", 32),
    )
}

/// The table's head, above the rows [`measure`] prints.
pub fn print_header(title: &str) {
    println!("{title}");
    println!("| backend    | path                     | clients | requests | per s    | p50 ms   | p99 ms   |");
    println!("|------------|--------------------------|---------|----------|----------|----------|----------|");
}
