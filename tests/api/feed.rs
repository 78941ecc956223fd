//! The global feed never skips an event whose transaction commits late.

use crate::helpers::{on_postgres, spawn_app};
use store::FeedPosition;

async fn insert_event(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, id: &str) {
    sqlx::query(
        "insert into events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         values ('probe', $1, 1, 'probe.happened', '1.0', '{}', '{}')",
    )
    .bind(id)
    .execute(&mut **tx)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_late_commit_is_held_back_then_delivered_in_order() {
    if !on_postgres() {
        return; // SQLite has one writer at a time: rowid order is commit order
    }
    let app = spawn_app().await;
    let db = &app.state.db;
    let existing = db.read_feed(FeedPosition::default(), 10_000).await.unwrap();
    let start = existing.last().map(|e| e.position).unwrap_or_default();

    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let mut first = pool.begin().await.unwrap();
    insert_event(&mut first, "first").await; // takes the lower position and xid, commits last
    let mut second = pool.begin().await.unwrap();
    insert_event(&mut second, "second").await;
    second.commit().await.unwrap();

    // A naive `position > checkpoint` reader would see "second" now and skip "first" forever.
    let naive: Vec<String> = sqlx::query_scalar("select aggregate_id from events where aggregate_type = 'probe'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(naive, ["second"], "the race is real");
    let held = db.read_feed(start, 100).await.unwrap();
    assert!(
        held.iter().all(|e| e.aggregate_type != "probe"),
        "nothing past the open transaction is delivered"
    );

    first.commit().await.unwrap();
    let mut delivered = Vec::new();
    let started = std::time::Instant::now();
    while delivered.len() < 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "feed never delivered both"
        );
        let batch = db.read_feed(start, 100).await.unwrap();
        delivered = batch
            .iter()
            .filter(|e| e.aggregate_type == "probe")
            .map(|e| e.aggregate_id.clone())
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(delivered, ["first", "second"]);
}

#[tokio::test]
async fn a_transaction_open_in_another_database_holds_neither_the_feed_nor_a_rebuild_back() {
    if !on_postgres() {
        return; // SQLite has no other databases on a server
    }
    let app = spawn_app().await;
    let neighbour = crate::helpers::fresh_database().await;
    let other = sqlx::PgPool::connect(&neighbour.url).await.unwrap();
    let mut open = other.begin().await.unwrap();
    // A transaction id, and a transaction left open as long as the test runs.
    let _: i64 = sqlx::query_scalar("select pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *open)
        .await
        .unwrap();

    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    insert_event(&mut tx, "after-the-neighbour").await;
    tx.commit().await.unwrap();
    let delivered = app.state.db.read_feed(FeedPosition::default(), 10_000).await.unwrap();
    assert!(
        delivered.iter().any(|e| e.aggregate_id == "after-the-neighbour"),
        "an event committed after another database's open transaction is delivered"
    );
    let rebuilt = tokio::time::timeout(std::time::Duration::from_secs(30), projections::rebuild(&app.state.db)).await;
    assert!(matches!(rebuilt, Ok(Ok(_))), "{rebuilt:?}");
    open.rollback().await.unwrap();
    other.close().await;
}
