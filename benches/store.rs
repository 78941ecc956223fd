//! Event-store throughput: events appended per second through the command path (one client,
//! then 32 concurrent clients) and projection rebuild speed, on SQLite and — when
//! `KEYLEDGER_BENCH_DATABASE_URL` names a PostgreSQL server — on PostgreSQL.
//!
//! `cargo bench --bench store` (set `KEYLEDGER_BENCH_EVENTS` to change the event count).

#[path = "support/backends.rs"]
mod backends;

use aggregates::license::LicenseCommand;
use aggregates::product::{ProductAttributes, ProductCommand};
use api::state::{execute, now};
use api::AppState;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use store::on_pool;

fn command(account_id: &str, id: &str, n: usize) -> ProductCommand {
    let attributes = ProductAttributes {
        code: Some(format!("bench-{n}")),
        ..ProductAttributes::named(format!("Bench {n}"))
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

/// Parameters per multi-row statement in the bench's bulk inserts. sqlx binds SQLite parameters
/// by name, and SQLite finds a name by walking the statement's list, so binding costs grow with
/// the square of a statement's parameters: a few hundred rows a statement is the fast end.
const PARAMETERS_PER_STATEMENT: usize = 240;

/// Inserts `rows` (each `columns` values) with multi-row statements in one transaction.
async fn insert_rows(db: &store::Database, head: &str, columns: usize, rows: &[Vec<serde_json::Value>]) {
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await.unwrap();
        for chunk in rows.chunks(PARAMETERS_PER_STATEMENT / columns) {
            let mut sql = String::from(head);
            for (r, _) in chunk.iter().enumerate() {
                let row: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
                sql.push_str(if r == 0 { " values (" } else { ", (" });
                sql.push_str(&row.join(", "));
                sql.push(')');
            }
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for value in row {
                    query = match value {
                        serde_json::Value::Number(n) => query.bind(n.as_i64().unwrap()),
                        serde_json::Value::String(text) => query.bind(text.clone()),
                        json => query.bind(json.clone()),
                    };
                }
            }
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    });
}

/// Replay speed: a store of `licenses` licenses with ten events each (created, usage moved,
/// suspended and reinstated), rebuilt; next to the rate of a bare multi-row insert of as many
/// rows into a scratch table, in the same run (the disk's ceiling for this work).
async fn replay(label: &str, database_url: &str, licenses: usize) {
    let (state, account) = backends::with_settings(database_url, Default::default()).await;
    let (made, policy) = backends::licenses(&state, &account.account_id, serde_json::json!({}), 1).await;
    let (template, template_key) = &made[0];
    let id = aggregates::LicenseId::from(template.as_str());
    for n in 0..9 {
        let command = match n {
            4 | 8 => LicenseCommand::Suspend { at: now() },
            5 => LicenseCommand::Reinstate { at: now() },
            _ => LicenseCommand::IncrementUsage {
                policy: policy.clone(),
                by: 1,
                at: now(),
            },
        };
        execute(&state.frameworks.license, &id, command, HashMap::new())
            .await
            .expect("license command");
    }
    // The template's events, copied for every other license with its own id and key.
    let stream: Vec<(String, i64, String, String, String, String)> = on_pool!(state.db, |pool| {
        sqlx::query_as(
            "select aggregate_type, sequence, event_type, event_version, cast(payload as text), \
             cast(metadata as text) from events where aggregate_id = $1 order by sequence",
        )
        .bind(template.as_str())
        .fetch_all(pool)
        .await
        .unwrap()
    });
    let mut rows = Vec::with_capacity(licenses * stream.len());
    for n in 1..licenses {
        let (copy, key) = (uuid::Uuid::new_v4().to_string(), format!("REPLAY-{n:07}"));
        for (kind, sequence, event_type, version, payload, metadata) in &stream {
            let payload = payload
                .replace(template.as_str(), &copy)
                .replace(template_key.as_str(), &key);
            rows.push(vec![
                kind.as_str().into(),
                copy.as_str().into(),
                (*sequence).into(),
                event_type.as_str().into(),
                version.as_str().into(),
                serde_json::from_str::<serde_json::Value>(&payload).unwrap(),
                serde_json::from_str::<serde_json::Value>(metadata).unwrap(),
            ]);
        }
    }
    let head =
        "insert into events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)";
    insert_rows(&state.db, head, 7, &rows).await;

    // The ceiling: as many rows, as wide as a read model's, into a scratch table.
    let scratch = "create table bench_scratch (id text primary key, account_id text not null, \
        name text, uses bigint not null, metadata text not null, created_at bigint not null)";
    on_pool!(state.db, |pool| sqlx::query(scratch)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    let stored = state.db.event_count().await.unwrap() as usize;
    let scratch_rows: Vec<Vec<serde_json::Value>> = (0..stored)
        .map(|n| {
            vec![
                uuid::Uuid::new_v4().to_string().into(),
                account.account_id.as_str().into(),
                format!("Row {n}").into(),
                (n as i64).into(),
                "{\"k\":1}".into(),
                now().timestamp_micros().into(),
            ]
        })
        .collect();
    let head = "insert into bench_scratch (id, account_id, name, uses, metadata, created_at)";
    let started = Instant::now();
    insert_rows(&state.db, head, 6, &scratch_rows).await;
    let insert_rate = stored as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let replayed = projections::rebuild(&state.db).await.unwrap();
    let rebuild_rate = replayed as f64 / started.elapsed().as_secs_f64();
    println!(
        "| {label:<10} | {replayed:>7} | {rebuild_rate:>12.0} | {insert_rate:>14.0} | {:>5.2} |",
        rebuild_rate / insert_rate
    );
    state.db.close().await;
}

/// Mean milliseconds of a license command (suspend and reinstate in turn) over `rounds`.
async fn per_command(state: &AppState, license_id: &str, rounds: usize) -> f64 {
    let id = aggregates::LicenseId::from(license_id);
    let started = Instant::now();
    for n in 0..rounds {
        let command = match n % 2 {
            0 => LicenseCommand::Suspend { at: now() },
            _ => LicenseCommand::Reinstate { at: now() },
        };
        execute(&state.frameworks.license, &id, command, HashMap::new())
            .await
            .expect("license command");
    }
    started.elapsed().as_secs_f64() * 1000.0 / rounds as f64
}

/// What a command costs on a license with `aged` events, next to a new license, and with the
/// snapshots taken away.
async fn aging(label: &str, database_url: &str, aged: usize) {
    let (state, account) = backends::with_settings(database_url, Default::default()).await;
    let (licenses, _) = backends::licenses(&state, &account.account_id, serde_json::json!({}), 2).await;
    let (fresh, old) = (&licenses[0].0, &licenses[1].0);
    per_command(&state, old, aged).await;
    let rounds = 200;
    let fresh_ms = per_command(&state, fresh, rounds).await;
    let aged_ms = per_command(&state, old, rounds).await;
    // The same license loaded from its events alone: no snapshot to start from, none taken.
    on_pool!(state.db, |pool| sqlx::query("delete from snapshots")
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    let settings = api::state::Settings {
        snapshot_every: 0,
        ..Default::default()
    };
    let unsnapshotted = AppState::with_settings(state.db.clone(), state.master.clone(), settings);
    let replayed_ms = per_command(&unsnapshotted, old, 20).await;
    let events = aged + rounds + 1;
    println!("| {label:<10} | new license            | {fresh_ms:>9.2} ms | 1.00 |");
    println!(
        "| {label:<10} | {events:>6} events          | {aged_ms:>9.2} ms | {:.2} |",
        aged_ms / fresh_ms
    );
    println!(
        "| {label:<10} | {events:>6}, no snapshots   | {replayed_ms:>9.2} ms | {:.2} |",
        replayed_ms / fresh_ms
    );
    state.db.close().await;
}

#[tokio::main]
async fn main() {
    let events = env_usize("KEYLEDGER_BENCH_EVENTS", 2000);
    println!("events per run: {events}; each command appends one event and claims one code");
    println!("| backend    | path                       | 1 client/s | 32 clients/s |");
    println!("|------------|----------------------------|------------|--------------|");
    backends::each(|label, url| async move { run(label, &url, events).await }).await;

    let aged = env_usize("KEYLEDGER_BENCH_AGED_EVENTS", 10_000);
    println!();
    println!(
        "a license command (suspend or reinstate) on a new license and on one with a long history, \
         snapshots every {} events",
        store::DEFAULT_SNAPSHOT_EVERY
    );
    println!("| backend    | license                | per command  | × new |");
    println!("|------------|------------------------|--------------|-------|");
    backends::each(|label, url| async move { aging(label, &url, aged).await }).await;

    let licenses = env_usize("KEYLEDGER_BENCH_REPLAY_LICENSES", 10_000);
    println!();
    println!("projections rebuild of {licenses} licenses × 10 events, against a bare multi-row insert of as many rows");
    println!("| backend    | events  | rebuild ev/s | bare insert/s  | ratio |");
    println!("|------------|---------|--------------|----------------|-------|");
    backends::each(|label, url| async move { replay(label, &url, licenses).await }).await;
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
