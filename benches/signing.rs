//! What signing costs, side by side in one run: `POST /licenses/actions/validate-key` with its
//! response signed in ed25519 (the default) and in each RSA/ECDSA algorithm a client can accept,
//! and license-file check-outs per second in every file algorithm, on SQLite and — when
//! `KEYLEDGER_BENCH_DATABASE_URL` names a PostgreSQL server — on PostgreSQL.
//!
//! `cargo bench --bench signing` (`KEYLEDGER_BENCH_REQUESTS`, `KEYLEDGER_BENCH_CLIENTS` to tune).

#[path = "support/backends.rs"]
mod backends;
#[path = "support/http.rs"]
mod http;

use http::{measure_with, Call};
use serde_json::json;
use std::sync::Arc;

const LICENSES: usize = 1_000;

async fn run(label: &str, database_url: &str, requests: usize, clients: usize) {
    let (state, account) = backends::with_settings(database_url, Default::default()).await;
    let (licenses, _) = backends::licenses(&state, &account.account_id, json!({}), LICENSES).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = keyledger::start(state.clone(), listener).unwrap();
    let base = format!("http://{}", running.addr);
    let keys: Arc<Vec<String>> = Arc::new(licenses.iter().map(|(_, key)| key.clone()).collect());
    let ids: Arc<Vec<String>> = Arc::new(licenses.iter().map(|(id, _)| id.clone()).collect());

    let validate = |keys: Arc<Vec<String>>| {
        move |n: usize| Call {
            method: reqwest::Method::POST,
            path: "/v1/accounts/bench/licenses/actions/validate-key".into(),
            token: None,
            body: Some(json!({"meta": {"key": keys[n % keys.len()]}}).to_string()),
        }
    };
    let ed25519 = measure_with(
        label,
        "validate-key, ed25519",
        &base,
        requests,
        clients,
        &[],
        validate(keys.clone()),
    )
    .await;
    for algorithm in ["rsa-pss-sha256", "rsa-sha256", "ecdsa-p256"] {
        let accept = format!("algorithm=\"{algorithm}\"");
        let headers = [("Keygen-Accept-Signature", accept.as_str())];
        let path = format!("validate-key, {algorithm}");
        let rate = measure_with(label, &path, &base, requests, clients, &headers, validate(keys.clone())).await;
        println!(
            "{label:<11} validate-key signed with {algorithm} keeps {:.2} of the ed25519 rate",
            rate / ed25519
        );
    }

    // Check-outs write an observation each and sign a larger body: fewer of them.
    let check_outs = (requests / 4).max(clients);
    for algorithm in [
        "base64+ed25519",
        "aes-256-gcm+ed25519",
        "aes-256-gcm+rsa-pss-sha256",
        "aes-256-gcm+rsa-sha256",
        "aes-256-gcm+ecdsa-p256",
    ] {
        let (ids, token) = (ids.clone(), account.admin_token.clone());
        let query = algorithm.replace('+', "%2B");
        measure_with(
            label,
            &format!("check-out {algorithm}"),
            &base,
            check_outs,
            clients,
            &[],
            move |n| Call {
                method: reqwest::Method::POST,
                path: format!(
                    "/v1/accounts/bench/licenses/{}/actions/check-out?algorithm={query}",
                    ids[n % ids.len()]
                ),
                token: Some(token.clone()),
                body: None,
            },
        )
        .await;
    }
    running.stop().await.unwrap();
    state.db.close().await;
}

#[tokio::main]
async fn main() {
    let (requests, clients) = http::load(10_000);
    http::print_header(&format!(
        "over loopback HTTP, {LICENSES} licenses; responses and license files signed per algorithm"
    ));
    backends::each(|label, url| async move { run(label, &url, requests, clients).await }).await;
}
