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
                app.client
                    .patch(format!("{base}{}", app.path(&format!("products/{id}"))))
                    .bearer_auth(app.admin())
                    .header("Content-Type", "application/vnd.api+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let events: i64 = sqlx::query_scalar("select count(*) from events where aggregate_id = $1")
        .bind(&id)
        .fetch_one(&app.state.db.any)
        .await
        .unwrap();
    assert_eq!(events, 5, "one create and four updates, none lost or doubled");
}
