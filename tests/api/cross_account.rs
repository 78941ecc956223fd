//! One account never sees another's data: ids of account A are 404 under account B, and
//! A's tokens are not credentials under B.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn another_accounts_resources_and_tokens_are_out_of_reach() {
    let app = spawn_app().await;
    let beta = api::bootstrap::create_account(&app.state, "Beta", "beta", "admin@beta.test", "beta pass")
        .await
        .unwrap();
    let b = |rest: &str| format!("/v1/accounts/{}/{rest}", beta.account_id);

    let product = app.create_product("Secret", Some("secret")).await;
    let product_id = product["id"].as_str().unwrap();
    let (product_token_id, product_token) = app.product_token(product_id).await;
    let admin_token_id = app.get("tokens").await.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["attributes"]["kind"] == "admin-token")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // B's admin, on B's routes, asking for A's ids: 404 for every resource type.
    let b_admin = beta.admin_token.as_str();
    for target in [
        b(&format!("products/{product_id}")),
        b("products/secret"),
        b(&format!("products/{product_id}/tokens")),
        b(&format!("tokens/{product_token_id}")),
        b(&format!("tokens/{admin_token_id}")),
    ] {
        let reply = app.send(Method::GET, &target, Some(b_admin), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{target}: {}", reply.json);
    }
    for (method, target, body) in [
        (
            Method::PATCH,
            b(&format!("products/{product_id}")),
            Some(json!({"data": {"type": "products", "attributes": {"name": "Mine now"}}})),
        ),
        (Method::DELETE, b(&format!("products/{product_id}")), None),
        (Method::PUT, b(&format!("tokens/{product_token_id}")), None),
        (Method::DELETE, b(&format!("tokens/{admin_token_id}")), None),
        (Method::POST, b(&format!("products/{product_id}/tokens")), None),
    ] {
        let reply = app.send(method.clone(), &target, Some(b_admin), body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {target}: {}", reply.json);
    }
    // Lists under B hold nothing of A's.
    assert_eq!(
        app.send(Method::GET, &b("products"), Some(b_admin), None).await.json["data"],
        json!([])
    );
    let b_tokens = app.send(Method::GET, &b("tokens"), Some(b_admin), None).await;
    assert_eq!(
        b_tokens.json["data"].as_array().unwrap().len(),
        1,
        "only B's own admin token"
    );

    // A's tokens on B's routes, and B's token on A's routes: 401 TOKEN_INVALID.
    for (token, target) in [
        (app.admin(), b("products")),
        (product_token.as_str(), b("products")),
        (b_admin, app.path("products")),
        (b_admin, app.path(&format!("products/{product_id}"))),
    ] {
        let reply = app.send(Method::GET, &target, Some(token), None).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_INVALID"),
            "{target}"
        );
    }

    // A is untouched.
    assert_eq!(
        app.get(&format!("products/{product_id}")).await.json["data"]["attributes"]["name"],
        "Secret"
    );
}

#[tokio::test]
async fn codes_are_unique_per_account_not_across_accounts() {
    let app = spawn_app().await;
    let beta = api::bootstrap::create_account(&app.state, "Beta", "beta", "admin@beta.test", "beta pass")
        .await
        .unwrap();
    app.create_product("A", Some("shared")).await;
    let body = json!({"data": {"type": "products", "attributes": {"name": "B", "code": "shared"}}});
    let reply = app
        .send(
            Method::POST,
            &format!("/v1/accounts/{}/products", beta.account_id),
            Some(&beta.admin_token),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
}
