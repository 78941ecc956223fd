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
async fn parallel_updates_of_one_product_all_succeed_through_retries() {
    let app = Arc::new(spawn_app().await);
    let product = app.create_product("Busy", None).await;
    let id = product["id"].as_str().unwrap().to_string();
    // Each conflict a command meets is another command's success, so four writers with three
    // retries each always get through.
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move {
                let body = json!({"data": {"type": "products", "attributes": {"metadata": {"writer": i}}}});
                app.send(
                    Method::PATCH,
                    &app.path(&format!("products/{id}")),
                    Some(app.admin()),
                    Some(body),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    }
}
