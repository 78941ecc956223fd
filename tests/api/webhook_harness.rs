//! What webhook tests need besides a server: a receiver on loopback that records every request
//! and answers as told, and a throwaway `nats-server` with JetStream.

use crate::helpers::{Reply, TestApp};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use keyledger::WebhookConfig;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Webhooks allowed onto loopback, over NATS at `nats_url` or the in-process bus.
pub fn loopback_allowed(nats_url: Option<&str>) -> WebhookConfig {
    WebhookConfig::parse(nats_url, Some("127.0.0.0/8")).expect("config")
}

/// Creates a webhook endpoint as the admin.
pub async fn create_endpoint(app: &TestApp, url: &str, subscriptions: Value) -> Value {
    let reply = try_create_endpoint(app, url, subscriptions).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json["data"].clone()
}

/// `POST /webhook-endpoints` as the admin.
pub async fn try_create_endpoint(app: &TestApp, url: &str, subscriptions: Value) -> Reply {
    try_create_endpoint_with(app, json!({"url": url, "subscriptions": subscriptions})).await
}

/// `POST /webhook-endpoints` as the admin, with these attributes.
pub async fn try_create_endpoint_with(app: &TestApp, attributes: Value) -> Reply {
    let body = json!({"data": {"type": "webhook-endpoints", "attributes": attributes}});
    app.send(
        Method::POST,
        &app.path("webhook-endpoints"),
        Some(app.admin()),
        Some(body),
    )
    .await
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query, as signed in `(request-target)`.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a webhook body is JSON")
    }

    pub fn idempotency_token(&self) -> String {
        self.json()["data"]["meta"]["idempotencyToken"]
            .as_str()
            .expect("meta.idempotencyToken")
            .to_string()
    }
}

#[derive(Default)]
struct Log {
    /// Requests answered (a held request is not: it never got its answer).
    received: Mutex<Vec<Received>>,
    /// While set, requests wait, then get 503 and do not count.
    held: std::sync::atomic::AtomicBool,
    /// Statuses to answer first, in order; then 200.
    plan: Mutex<VecDeque<u16>>,
}

/// A webhook receiver on 127.0.0.1.
pub struct Receiver {
    pub port: u16,
    log: Arc<Log>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(State(log): State<Arc<Log>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    use std::sync::atomic::Ordering;
    if log.held.load(Ordering::SeqCst) {
        while log.held.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let target = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    log.received.lock().unwrap().push(Received {
        target,
        headers,
        body: body.to_vec(),
    });
    let status = log.plan.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub async fn start() -> Self {
        Self::answering(&[]).await
    }

    /// A receiver that answers `statuses` in turn, then 200.
    pub async fn answering(statuses: &[u16]) -> Self {
        let log = Arc::new(Log::default());
        log.plan.lock().unwrap().extend(statuses.iter().copied());
        let app = axum::Router::new().fallback(record).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, log, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Holds every request from now on unanswered (`true`) or lets them go unanswered (`false`:
    /// each gets 503 and does not count as received).
    pub fn hold(&self, held: bool) {
        self.log.held.store(held, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived (at most `within`), then returns them all.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let started = Instant::now();
        while self.received().len() < count && started.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `nats-server -js` of the test's own, on a free loopback port with its store in a
/// temporary folder; stopped when dropped.
pub struct NatsServer {
    child: std::process::Child,
    pub url: String,
    dir: std::path::PathBuf,
}

impl NatsServer {
    /// `None` (and a note on stderr) when `nats-server` is not installed, unless
    /// `KEYLEDGER_TEST_REQUIRE_NATS` is set (CI sets it), which makes its absence a failure.
    pub async fn start() -> Option<Self> {
        let found = std::process::Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok();
        if !found {
            assert!(
                std::env::var_os("KEYLEDGER_TEST_REQUIRE_NATS").is_none(),
                "nats-server is not installed (KEYLEDGER_TEST_REQUIRE_NATS is set)"
            );
            eprintln!("nats-server is not installed: this NATS test is skipped");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("keyledger-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server did not listen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            dir,
        })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
