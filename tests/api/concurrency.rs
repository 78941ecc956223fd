//! Concurrency: uniqueness claims and optimistic-concurrency retries under parallel requests.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn twenty_parallel_creates_of_one_code_yield_exactly_one_product() {
    let app = Arc::new(spawn_app().await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body =
                    json!({"data": {"type": "products", "attributes": {"name": format!("Racer {i}"), "code": "race"}}});
                app.send(Method::POST, &app.path("products"), Some(app.admin()), Some(body))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created += 1,
            StatusCode::UNPROCESSABLE_ENTITY => assert_eq!(reply.error_code(), "CODE_TAKEN"),
            other => panic!("unexpected {other}: {}", reply.json),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.get("products").await.json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn parallel_updates_from_two_nodes_all_succeed_through_retries() {
    let app = Arc::new(spawn_app().await);
    let (other_base, _other) = app.second_node().await;
    let product = app.create_product("Busy", None).await;
    let id = product["id"].as_str().unwrap().to_string();
    // Within one node commands on an aggregate queue; across nodes they collide and the loser
    // reloads and retries. A conflict is always another writer's success, so two writers per
    // node (at most two foreign commits to collide with) always get through three retries.
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (app, id) = (app.clone(), id.clone());
            let base = if i % 2 == 0 {
                app.base.clone()
            } else {
                other_base.clone()
            };
            tokio::spawn(async move {
                let body = json!({"data": {"type": "products", "attributes": {"metadata": {"writer": i}}}});
                let path = app.path(&format!("products/{id}"));
                app.send_to(&base, Method::PATCH, &path, Some(app.admin()), Some(body))
                    .await
                    .status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let sql = "select count(*) from events where aggregate_id = $1";
    let events: i64 = store::on_pool!(app.state.db, |pool| sqlx::query_scalar(sql)
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(events, 5, "one create and four updates, none lost or doubled");
}

#[tokio::test]
async fn usage_increments_from_two_nodes_collide_retry_and_never_pass_max_uses() {
    let app = Arc::new(spawn_app().await);
    let (other_base, _other) = app.second_node().await;
    let (_, license) = app.licensed(json!({"maxUses": 4}), json!({})).await;
    let id = license["id"].as_str().unwrap().to_string();
    // Three writers a node: each node queues its own, so a command collides only with the other
    // node's commits (three at most) and its three retries always get it through — to a
    // success or to the limit, never to a 409 or a lost update.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (app, id) = (app.clone(), id.clone());
            let base = if i % 2 == 0 {
                app.base.clone()
            } else {
                other_base.clone()
            };
            tokio::spawn(async move {
                let path = app.path(&format!("licenses/{id}/actions/increment-usage"));
                let reply = app.send_to(&base, Method::POST, &path, Some(app.admin()), None).await;
                let code = reply.json["errors"][0]["code"].as_str().unwrap_or_default();
                (reply.status, code.to_string())
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            (StatusCode::OK, _) => succeeded += 1,
            (StatusCode::UNPROCESSABLE_ENTITY, code) => assert_eq!(code, "USES_LIMIT_EXCEEDED"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(succeeded, 4, "exactly maxUses increments get through");
    let shown = app.get(&format!("licenses/{id}")).await;
    assert_eq!(shown.json["data"]["attributes"]["uses"], 4);
    let sql = "select count(*) from events where aggregate_id = $1 and event_type = 'license.usage.incremented'";
    let increments: i64 = store::on_pool!(app.state.db, |pool| sqlx::query_scalar(sql)
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(increments, 4, "none lost or doubled");
}

#[tokio::test]
async fn thirty_parallel_pooled_creates_on_two_nodes_get_exactly_the_ten_keys() {
    let app = Arc::new(spawn_app().await);
    let (other_base, _other) = app.second_node().await;
    let product = app.create_product("Pooled", None).await;
    let policy = app
        .create_policy(product["id"].as_str().unwrap(), json!({"usePool": true}))
        .await;
    let policy_id = policy["id"].as_str().unwrap().to_string();
    for i in 0..10 {
        let body = json!({"data": {"type": "keys", "attributes": {"key": format!("POOLED-KEY-{i:04}")},
            "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
        let reply = app
            .send(Method::POST, &app.path("keys"), Some(app.admin()), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    }
    // Every request that could get a key gets one: min(requests, keys) succeed, the rest are
    // told the pool is empty — never a 409 while keys remain.
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (app, policy_id) = (app.clone(), policy_id.clone());
            let base = if i % 2 == 0 {
                app.base.clone()
            } else {
                other_base.clone()
            };
            tokio::spawn(async move {
                let body = json!({"data": {"type": "licenses",
                    "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
                let reply = app
                    .send_to(
                        &base,
                        Method::POST,
                        &app.path("licenses"),
                        Some(app.admin()),
                        Some(body),
                    )
                    .await;
                (reply.status, reply.json)
            })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (StatusCode::CREATED, body) => keys.push(body["data"]["attributes"]["key"].as_str().unwrap().to_string()),
            (StatusCode::UNPROCESSABLE_ENTITY, body) => {
                assert_eq!(body["errors"][0]["code"], "POLICY_POOL_EMPTY", "{body}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    keys.sort();
    let expected: Vec<_> = (0..10).map(|i| format!("POOLED-KEY-{i:04}")).collect();
    assert_eq!(keys, expected, "each key went to exactly one license");
    let pool = app.get(&format!("policies/{policy_id}/pool")).await;
    assert_eq!(pool.json["data"], json!([]), "the pool is empty");
}
