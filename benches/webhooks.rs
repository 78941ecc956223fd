//! Webhook throughput: events relayed per second through NATS JetStream (a nats-server of the
//! benchmark's own; skipped when none is installed), and webhook deliveries per second to a
//! receiver on loopback (signed, recorded, through the delivery loop with its per-endpoint
//! bound), on SQLite and — when `KEYLEDGER_BENCH_DATABASE_URL` names a PostgreSQL server — on
//! PostgreSQL. Goal: 2,000 deliveries per second.
//!
//! `cargo bench --bench webhooks` (`KEYLEDGER_BENCH_EVENTS` to tune).

#[path = "support/backends.rs"]
mod backends;

use futures::future::join_all;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use workers::{Bus, WebhookHost};

/// Endpoints the deliveries fan out to (each delivers at most `PER_ENDPOINT` at once).
const ENDPOINTS: usize = 4;

/// `count` product.created events, made by commands from 32 tasks.
async fn make_events(state: &api::AppState, account_id: &str, count: usize) {
    let made = Arc::new(AtomicUsize::new(0));
    join_all((0..32).map(|_| {
        let (state, account_id, made) = (state.clone(), account_id.to_string(), made.clone());
        async move {
            while made.fetch_add(1, Ordering::SeqCst) < count {
                let id = uuid::Uuid::new_v4().to_string();
                let command = aggregates::product::ProductCommand::Create {
                    id: id.clone(),
                    account_id: account_id.clone(),
                    attributes: aggregates::product::ProductAttributes::named("Hooked"),
                    at: api::state::now(),
                };
                state.frameworks.product.execute(&id, command).await.unwrap();
            }
        }
    }))
    .await;
}

/// A nats-server with JetStream on a free port; stopped when dropped.
struct Nats(std::process::Child, String, std::path::PathBuf);

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.2);
    }
}

async fn nats() -> Option<Nats> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(format!("keyledger-bench-nats-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).ok()?;
    let child = std::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(Nats(child, format!("nats://127.0.0.1:{port}"), dir));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn delivered(db: &store::Database) -> i64 {
    let sql = "select count(*) from webhook_events where status = 'DELIVERED'";
    store::on_pool!(db, |pool| sqlx::query_scalar(sql).fetch_one(pool).await.unwrap())
}

async fn run(label: &str, database_url: &str, events: usize) {
    let (state, account) = backends::with_settings(database_url, Default::default()).await;
    let db = state.db.clone();
    make_events(&state, &account.account_id, events).await;

    // Relay: every event of the store through JetStream, from the start of the feed.
    match nats().await {
        Some(server) => {
            let bus = workers::NatsBus::connect(&server.1).await.expect("JetStream");
            let mut session = db.lock_session().await.unwrap();
            let started = Instant::now();
            let sent = workers::relay::relay_round(&db, &bus, &mut session)
                .await
                .unwrap()
                .unwrap();
            let rate = sent as f64 / started.elapsed().as_secs_f64();
            println!("| {label:<10} | relay → JetStream          | {sent:>8} events | {rate:>8.0} /s |");
            session.close().await;
        }
        None => println!("| {label:<10} | relay → JetStream          | skipped: nats-server is not installed |"),
    }

    // Deliveries: a receiver on loopback, `ENDPOINTS` endpoints on it, every event fanned out
    // (not timed), then the delivery loop until all are delivered (timed).
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = keyledger::WebhookConfig::parse(None, Some("127.0.0.0/8")).unwrap();
    let host: Arc<dyn WebhookHost> = Arc::new(api::webhooks::Host(state.clone()));
    *state.webhook_networks.write().unwrap() = config.allow_nets.clone();
    for n in 0..ENDPOINTS {
        let attributes = aggregates::webhook_endpoint::EndpointAttributes {
            url: format!("http://127.0.0.1:{port}/hooks/{n}"),
            subscriptions: vec!["product.created".into()],
            signature_algorithm: "ed25519".into(),
            api_version: "1.8".into(),
            product_id: None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let command = aggregates::webhook_endpoint::EndpointCommand::Create {
            id: id.clone(),
            account_id: account.account_id.clone(),
            attributes,
            plain_http_allowed: true,
            at: api::state::now(),
        };
        state.frameworks.webhook_endpoint.execute(&id, command).await.unwrap();
    }
    let bus = workers::InProcessBus::new();
    let consumer = bus.consumer(workers::fanout::DURABLE).await.unwrap();
    let (stop, shutdown) = watch::channel(false);
    let fanout = tokio::spawn(workers::fanout::run_fanout(
        db.clone(),
        host.clone(),
        consumer,
        Arc::new(Notify::new()),
        shutdown.clone(),
    ));
    let mut session = db.lock_session().await.unwrap();
    for checkpoint in [
        workers::relay::EVENTS_CHECKPOINT,
        workers::relay::OBSERVATIONS_CHECKPOINT,
    ] {
        assert!(session.try_lock(checkpoint).await.unwrap());
        session
            .save_checkpoint(&db, checkpoint, Default::default())
            .await
            .unwrap();
        session.unlock(checkpoint).await.unwrap();
    }
    workers::relay::relay_round(&db, &bus, &mut session).await.unwrap();
    session.close().await;
    let expected = (events * ENDPOINTS) as i64;
    let options = workers::DeliveryOptions {
        allowed: config.allow_nets.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    let delivery = tokio::spawn(workers::delivery::run_delivery(
        db.clone(),
        host.clone(),
        options,
        Arc::new(Notify::new()),
        shutdown,
    ));
    while delivered(&db).await < expected {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(started.elapsed() < Duration::from_secs(600), "deliveries stalled");
    }
    let elapsed = started.elapsed();
    let rate = expected as f64 / elapsed.as_secs_f64();
    println!(
        "| {label:<10} | deliveries → loopback     | {expected:>8} webhooks | {rate:>8.0} /s | {ENDPOINTS} endpoints, receiver saw {} |",
        received.load(Ordering::Relaxed)
    );
    let _ = stop.send(true);
    let _ = fanout.await;
    let _ = delivery.await;
    db.close().await;
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("KEYLEDGER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    println!("webhooks: {events} product.created events; relay through JetStream, then delivery to {ENDPOINTS} endpoints on one loopback receiver");
    backends::each(|label, url| async move { run(label, &url, events).await }).await;
}
