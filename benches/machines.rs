//! Machine activation and heartbeat throughput over loopback HTTP, on SQLite and — when
//! `KEYLEDGER_BENCH_DATABASE_URL` names a PostgreSQL server — on PostgreSQL. In one run per
//! backend it prints:
//! - the bare commit rate (32 clients appending events through the command path, no read
//!   model), then activations per second at 32 clients with p50/p99, and their ratio;
//! - validate-key, then heartbeat pings of machines whose heartbeat has started, each per second
//!   with p50/p99, and their ratio;
//! - the rate of a request costing one validate-key plus one bare commit (what an activation does
//!   at the least, before its read model), as a share of the bare commit rate.
//!
//! `cargo bench --bench machines` (`KEYLEDGER_BENCH_REQUESTS`, `KEYLEDGER_BENCH_CLIENTS`).

#[path = "support/backends.rs"]
mod backends;
#[path = "support/http.rs"]
mod http;

use aggregates::product::{ProductAttributes, ProductCommand};
use api::state::{execute, now};
use http::{measure, Call};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

const LICENSES: usize = 1_000;

/// Events per second that `clients` concurrent clients append through the command path with
/// no read model written (the store's bare commit rate).
async fn bare_commits(state: &api::AppState, account_id: &str, events: usize, clients: usize) -> f64 {
    state.inline_projections.store(false, Ordering::SeqCst);
    let account_id = Arc::new(account_id.to_string());
    let started = Instant::now();
    let per = events / clients;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (state, account_id) = (state.clone(), account_id.clone());
            tokio::spawn(async move {
                for n in 0..per {
                    let id = uuid::Uuid::new_v4().to_string();
                    let attributes = ProductAttributes::named(format!("Bare {c}-{n}"));
                    let command = ProductCommand::Create {
                        id: id.clone(),
                        account_id: account_id.to_string(),
                        attributes,
                        at: now(),
                    };
                    let product = aggregates::ProductId::from(&id);
                    execute(&state.frameworks.product, &product, command, HashMap::new())
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let rate = (per * clients) as f64 / started.elapsed().as_secs_f64();
    state.inline_projections.store(true, Ordering::SeqCst);
    rate
}

fn activation(license_id: &str, fingerprint: &str) -> String {
    json!({"data": {"type": "machines", "attributes": {"fingerprint": fingerprint, "cores": 4},
        "relationships": {"license": {"data": {"type": "licenses", "id": license_id}}}}})
    .to_string()
}

async fn run(label: &str, database_url: &str, requests: usize, clients: usize) {
    let (state, account) = backends::with_settings(database_url, Default::default()).await;
    let policy = json!({"floating": true, "require_heartbeat": true, "heartbeat_duration": 600});
    let (licenses, _) = backends::licenses(&state, &account.account_id, policy, LICENSES).await;
    let commits = bare_commits(&state, &account.account_id, requests, clients).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = keyledger::start(state.clone(), listener).unwrap();
    let base = format!("http://{}", running.addr);
    let token = account.admin_token.clone();
    println!(
        "| {label:<10} | {:<24} | {clients:>7} | {requests:>8} | {commits:>8.0} |          |          |",
        "bare commit (events)"
    );

    // Activations: each request a new machine, on licenses in turn.
    let ids: Arc<Vec<String>> = Arc::new(licenses.iter().map(|(id, _)| id.clone()).collect());
    let (activate_ids, activate_token) = (ids.clone(), token.clone());
    let activations = measure(label, "POST /machines", &base, requests, clients, move |n| Call {
        method: reqwest::Method::POST,
        path: "/v1/accounts/bench/machines".into(),
        token: Some(activate_token.clone()),
        body: Some(activation(
            &activate_ids[n % activate_ids.len()],
            &format!("bench-fp-{n}"),
        )),
    })
    .await;
    println!("activations / bare commits: {:.2} (goal >= 0.5)", activations / commits);

    // Pings on one machine of each license, beside validate-key of the same licenses.
    let machines = projections::machines::list(
        &state.db,
        &account.account_id,
        &Default::default(),
        projections::PageRequest {
            number: Some(1),
            size: LICENSES as i64,
            order: Default::default(),
            cursor: None,
        },
    )
    .await
    .unwrap();
    let machine_ids: Arc<Vec<String>> = Arc::new(machines.items.iter().map(|m| m.row.id.clone()).collect());
    // Each machine's first ping starts its heartbeat (a command); the pings measured are the
    // ones a running app sends every heartbeat, which only move the deadline.
    let client = reqwest::Client::new();
    for id in machine_ids.iter() {
        let path = format!("{base}/v1/accounts/bench/machines/{id}/actions/ping");
        let reply = client.post(path).bearer_auth(&token).send().await.unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
    }
    let keys: Arc<Vec<String>> = Arc::new(licenses.iter().map(|(_, key)| key.clone()).collect());
    let validations = measure(label, "validate-key", &base, requests, clients, move |n| Call {
        method: reqwest::Method::POST,
        path: "/v1/accounts/bench/licenses/actions/validate-key".into(),
        token: None,
        body: Some(json!({"meta": {"key": keys[n % keys.len()]}}).to_string()),
    })
    .await;
    let pings = measure(label, "ping", &base, requests, clients, move |n| Call {
        method: reqwest::Method::POST,
        path: format!(
            "/v1/accounts/bench/machines/{}/actions/ping",
            machine_ids[n % machine_ids.len()]
        ),
        token: Some(token.clone()),
        body: None,
    })
    .await;
    println!("pings / validate-key: {:.2} (goal >= 1)", pings / validations);
    // What bounds the activation ratio: a request that did no more than a validate-key's work
    // and one bare commit, one after the other, and wrote no read model.
    let floor = 1.0 / (1.0 / validations + 1.0 / commits);
    println!(
        "an activation costing one validate-key plus one bare commit: {floor:.0}/s, {:.2} of bare commits",
        floor / commits
    );
    running.stop().await.unwrap();
    state.db.close().await;
}

#[tokio::main]
async fn main() {
    let (requests, clients) = http::load(5_000);
    http::print_header(&format!(
        "over loopback HTTP, {LICENSES} floating licenses requiring heartbeats"
    ));
    backends::each(|label, url| async move { run(label, &url, requests, clients).await }).await;
}
