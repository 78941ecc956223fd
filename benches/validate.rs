//! Read-path throughput over loopback HTTP: requests per second and p50/p99 latency of
//! `POST /licenses/actions/validate-key` (without a scope, and with a product and entitlements
//! scope) and of `GET /licenses/{id}`, on SQLite and — when `KEYLEDGER_BENCH_DATABASE_URL`
//! names a PostgreSQL server — on PostgreSQL.
//!
//! `cargo bench --bench validate` (`KEYLEDGER_BENCH_REQUESTS`, `KEYLEDGER_BENCH_CLIENTS` to tune).

#[path = "support/backends.rs"]
mod backends;
#[path = "support/http.rs"]
mod http;

use http::{admin, measure, Call};
use serde_json::{json, Value};
use std::sync::Arc;

const LICENSES: usize = 1_000;

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

    let plain = |keys: Arc<Vec<String>>, path: String| {
        move |n: usize| Call {
            method: reqwest::Method::POST,
            path: path.clone(),
            token: None,
            body: Some(json!({"meta": {"key": keys[n % keys.len()], "scope": {}}}).to_string()),
        }
    };
    // What request logging costs, side by side: the same validations without it, then with.
    use std::sync::atomic::Ordering;
    state.request_logs.store(false, Ordering::SeqCst);
    let unlogged = measure(
        label,
        "validate-key, request logs off",
        &base,
        requests,
        clients,
        plain(keys.clone(), validate.clone()),
    )
    .await;
    state.request_logs.store(true, Ordering::SeqCst);
    let logged = measure(
        label,
        "validate-key",
        &base,
        requests,
        clients,
        plain(keys.clone(), validate.clone()),
    )
    .await;
    println!(
        "{label:<11} request logging keeps {:.2} of the validate-key rate",
        logged / unlogged
    );

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
    let (requests, clients) = http::load(10_000);
    http::print_header(&format!(
        "over loopback HTTP, {LICENSES} licenses; each validation a full one, recorded"
    ));
    backends::each(|label, url| async move { run(label, &url, requests, clients).await }).await;
}
