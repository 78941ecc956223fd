//! Snapshots: a command loads an aggregate from its latest snapshot and the events after it.
//! Whatever the interval, the state loaded that way is the state replayed from the events alone,
//! for every aggregate; and a snapshot of another shape is ignored.

use crate::helpers::{spawn_app_with_settings, TestApp};
use crate::projections::licensing_scenario;
use aggregates::{account::Account, entitlement::Entitlement, license::License, policy::Policy};
use aggregates::{machine::Machine, product::Product, token::Token, user::User, Snapshotted};
use aggregates::{package::Package, release::Release};
use cqrs_es::{Aggregate, EventStore};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;
use store::{on_pool, Database, SnapshotStore};

/// Loads one aggregate through its snapshot and by replay; asserts they agree. True when it
/// had a snapshot.
async fn loads_alike<A: Aggregate + Snapshotted>(db: &Database, id: &str) -> bool {
    let store = SnapshotStore::<A>::new(db.event_repo(), 0);
    let loaded = store.load_aggregate(id).await.expect("load through the snapshot");
    let (replayed, sequence) = store.replay(id).await.expect("replay");
    assert_eq!(
        serde_json::to_value(&loaded.aggregate).unwrap(),
        serde_json::to_value(&replayed).unwrap(),
        "{} {id}: the state loaded through its snapshot differs from the replayed one",
        A::TYPE
    );
    assert_eq!(loaded.current_sequence, sequence, "{} {id}", A::TYPE);
    let snapshot = db.event_repo().snapshot(A::TYPE, id).await.unwrap();
    snapshot.is_some()
}

/// Every stream of the store compared; the aggregate types that had a snapshot.
async fn every_stream_loads_alike(db: &Database) -> BTreeSet<String> {
    let streams: Vec<(String, String)> = on_pool!(db, |pool| {
        sqlx::query_as("select distinct aggregate_type, aggregate_id from events")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    let mut snapshotted = BTreeSet::new();
    for (kind, id) in &streams {
        let had = match kind.as_str() {
            Account::TYPE_NAME => loads_alike::<Account>(db, id).await,
            User::TYPE_NAME => loads_alike::<User>(db, id).await,
            Token::TYPE_NAME => loads_alike::<Token>(db, id).await,
            Product::TYPE_NAME => loads_alike::<Product>(db, id).await,
            Entitlement::TYPE_NAME => loads_alike::<Entitlement>(db, id).await,
            Policy::TYPE_NAME => loads_alike::<Policy>(db, id).await,
            License::TYPE_NAME => loads_alike::<License>(db, id).await,
            Machine::TYPE_NAME => loads_alike::<Machine>(db, id).await,
            Package::TYPE_NAME => loads_alike::<Package>(db, id).await,
            Release::TYPE_NAME => loads_alike::<Release>(db, id).await,
            other => panic!("a stream of an unknown aggregate type {other}"),
        };
        if had {
            snapshotted.insert(kind.clone());
        }
    }
    snapshotted
}

async fn app_with_snapshots_every(every: u64) -> TestApp {
    spawn_app_with_settings(api::state::Settings {
        snapshot_every: every,
        ..Default::default()
    })
    .await
}

/// The licensing and distribution scenarios, and a license whose usage moves many times (a counter that a
/// snapshot which re-applied its events would count twice).
async fn history(app: &TestApp) -> String {
    let product = app.create_product("Snap", Some("snap")).await;
    let product_id = product["id"].as_str().unwrap();
    licensing_scenario(app, product_id).await;
    crate::releases::distribution_scenario(app, product_id).await;
    let (_, license) = app.licensed(json!({"maxUses": 100}), json!({})).await;
    let id = license["id"].as_str().unwrap().to_string();
    for _ in 0..7 {
        let path = app.path(&format!("licenses/{id}/actions/increment-usage"));
        let reply = app.send(Method::POST, &path, Some(app.admin()), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    }
    id
}

#[tokio::test]
async fn with_a_snapshot_after_every_event_each_aggregate_loads_as_replayed() {
    let app = app_with_snapshots_every(1).await;
    let license = history(&app).await;
    let snapshotted = every_stream_loads_alike(&app.state.db).await;
    let every_type: BTreeSet<String> = [
        Account::TYPE_NAME,
        User::TYPE_NAME,
        Token::TYPE_NAME,
        Product::TYPE_NAME,
        Entitlement::TYPE_NAME,
        Policy::TYPE_NAME,
        License::TYPE_NAME,
        Machine::TYPE_NAME,
        Package::TYPE_NAME,
        Release::TYPE_NAME,
    ]
    .map(String::from)
    .into();
    assert_eq!(snapshotted, every_type, "every aggregate type has snapshots");
    assert_eq!(
        app.get(&format!("licenses/{license}")).await.json["data"]["attributes"]["uses"],
        7
    );
}

#[tokio::test]
async fn with_snapshots_every_third_event_each_aggregate_loads_as_replayed() {
    let app = app_with_snapshots_every(3).await;
    let license = history(&app).await;
    let snapshotted = every_stream_loads_alike(&app.state.db).await;
    assert!(snapshotted.contains(License::TYPE_NAME), "{snapshotted:?}");
    // The license's last snapshot is behind its last event: it loads snapshot plus events.
    let snapshot = snapshot_of(&app.state.db, &license).await;
    let (_, events) = SnapshotStore::<License>::new(app.state.db.event_repo(), 0)
        .replay(&license)
        .await
        .unwrap();
    assert!(
        (snapshot.last_sequence as usize) < events,
        "{} of {events}",
        snapshot.last_sequence
    );
    // A command after it sees the count the events make.
    let path = app.path(&format!("licenses/{license}/actions/increment-usage"));
    let reply = app.send(Method::POST, &path, Some(app.admin()), None).await;
    assert_eq!(reply.json["data"]["attributes"]["uses"], 8, "{}", reply.json);
}

/// The license's stored snapshot.
async fn snapshot_of(db: &Database, license: &str) -> store::StoredSnapshot {
    let stored = db.event_repo().snapshot(License::TYPE_NAME, license).await.unwrap();
    stored.expect("the license has a snapshot")
}

/// Overwrites the license's snapshot with `payload` of `shape`.
async fn overwrite_snapshot(db: &Database, license: &str, shape: i64, payload: &str) {
    let set = "update snapshots set shape = $1, payload = $2 where aggregate_type = $3 and aggregate_id = $4";
    on_pool!(db, |pool| sqlx::query(set)
        .bind(shape)
        .bind(payload)
        .bind(License::TYPE_NAME)
        .bind(license)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
}

#[tokio::test]
async fn a_snapshot_of_another_shape_or_unreadable_is_ignored_and_replaced() {
    let app = app_with_snapshots_every(1).await;
    let license = history(&app).await;
    let db = &app.state.db;
    let shape = i64::from(License::SHAPE);
    let stored = snapshot_of(db, &license).await;
    assert_eq!(stored.shape, shape);
    // A snapshot that reads well but was written for another shape of the state: trusted, it
    // would make the license's usage 999.
    let mut other: serde_json::Value = serde_json::from_str(&stored.payload).unwrap();
    other["uses"] = json!(999);
    overwrite_snapshot(db, &license, shape + 1, &other.to_string()).await;
    assert!(loads_alike::<License>(db, &license).await);
    // One of the right shape that no longer deserializes.
    overwrite_snapshot(db, &license, shape, "{\"uses\": \"seven\"}").await;
    assert!(loads_alike::<License>(db, &license).await);
    // The next command counts from the events and writes a snapshot of the current shape.
    let path = app.path(&format!("licenses/{license}/actions/increment-usage"));
    let reply = app.send(Method::POST, &path, Some(app.admin()), None).await;
    assert_eq!(reply.json["data"]["attributes"]["uses"], 8, "{}", reply.json);
    let replaced = snapshot_of(db, &license).await;
    assert_eq!(replaced.shape, shape);
    let payload: serde_json::Value = serde_json::from_str(&replaced.payload).unwrap();
    assert_eq!(payload["uses"], 8);
}
