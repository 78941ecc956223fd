//! The stores a benchmark runs on: a SQLite file in a temporary folder, and a fresh PostgreSQL
//! database when `KEYLEDGER_BENCH_DATABASE_URL` names a server. Each is removed afterwards.
//! On each, Keyledger runs in-process with one account.

use std::future::Future;

/// Runs `run(label, url)` on SQLite, then on PostgreSQL when a server is named.
pub async fn each<F, Fut>(mut run: F)
where
    F: FnMut(&'static str, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("keyledger-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    run("SQLite", format!("sqlite://{}/bench.db", dir.display())).await;
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(server) = std::env::var("KEYLEDGER_BENCH_DATABASE_URL") else {
        println!("(set KEYLEDGER_BENCH_DATABASE_URL=postgres://… to include PostgreSQL)");
        return;
    };
    let name = format!("kl_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&server).await.expect("PostgreSQL server");
    sqlx::query(&format!("create database \"{name}\""))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = server.rsplit_once('/').unwrap();
    run("PostgreSQL", format!("{prefix}/{name}")).await;
    let _ = sqlx::query(&format!("drop database \"{name}\" with (force)"))
        .execute(&admin)
        .await;
}

/// Keyledger's state over the store at `database_url`, with a new account; its id.
pub async fn with_account(database_url: &str) -> (api::AppState, String) {
    let secret = api::crypto::MasterKey::generate_hex();
    let state = keyledger::build_state(database_url, Some(&secret))
        .await
        .expect("store");
    let account = api::bootstrap::create_account(&state, "Bench", "bench", "bench@example.com", "pw")
        .await
        .unwrap();
    (state, account.account_id)
}
