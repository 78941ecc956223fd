//! Event-store throughput: events appended per second through the command path (one client,
//! then 32 concurrent clients) and projection rebuild speed, on SQLite and — when
//! `KEYLEDGER_BENCH_DATABASE_URL` names a PostgreSQL server — on PostgreSQL.
//!
//! `cargo bench --bench store` (set `KEYLEDGER_BENCH_EVENTS` to change the event count).

#[path = "support/backends.rs"]
mod backends;

use aggregates::product::{ProductAttributes, ProductCommand};
use api::state::{execute, now};
use api::AppState;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

fn command(account_id: &str, id: &str, n: usize) -> ProductCommand {
    let attributes = ProductAttributes {
        name: format!("Bench {n}"),
        code: Some(format!("bench-{n}")),
        distribution_strategy: "LICENSED".into(),
        url: None,
        platforms: None,
        permissions: vec!["*".into()],
        metadata: Default::default(),
    };
    ProductCommand::Create {
        id: id.into(),
        account_id: account_id.into(),
        attributes,
        at: now(),
    }
}

async fn append(state: &AppState, account_id: &str, first: usize, count: usize) {
    for n in first..first + count {
        let id = uuid::Uuid::new_v4().to_string();
        execute(
            &state.frameworks.product,
            &aggregates::ProductId::from(&id),
            command(account_id, &id, n),
            HashMap::new(),
        )
        .await
        .expect("append");
    }
}

async fn run(label: &str, database_url: &str, events: usize) {
    let (state, account_id) = backends::with_account(database_url).await;
    let account_id = Arc::new(account_id);

    let mut rows = Vec::new();
    for inline in [true, false] {
        state.inline_projections.store(inline, Ordering::SeqCst);
        let offset = if inline { 0 } else { 10 * events };
        let started = Instant::now();
        append(&state, &account_id, offset, events).await;
        let single = events as f64 / started.elapsed().as_secs_f64();

        let clients = 32;
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (state, account_id) = (state.clone(), account_id.clone());
                let per = events / clients;
                tokio::spawn(async move { append(&state, &account_id, offset + events + c * per, per).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let concurrent = (events / clients * clients) as f64 / started.elapsed().as_secs_f64();
        rows.push((inline, single, concurrent));
    }
    let stored = state.db.event_count().await.unwrap();
    let started = Instant::now();
    let replayed = projections::rebuild(&state.db).await.unwrap();
    let rebuild = replayed as f64 / started.elapsed().as_secs_f64();

    for (inline, single, concurrent) in rows {
        let path = if inline {
            "commit + inline projection"
        } else {
            "commit only"
        };
        println!("| {label:<10} | {path:<26} | {single:>10.0} | {concurrent:>12.0} |");
    }
    println!("| {label:<10} | rebuild of {stored:>6} events   | {rebuild:>10.0} ev/s (replay) |");
    state.db.close().await;
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("KEYLEDGER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("events per run: {events}; each command appends one event and claims one code");
    println!("| backend    | path                       | 1 client/s | 32 clients/s |");
    println!("|------------|----------------------------|------------|--------------|");
    backends::each(|label, url| async move { run(label, &url, events).await }).await;
}
