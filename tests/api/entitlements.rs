//! Entitlements: CRUD, codes unique per account, and what products may do.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn entitlements_are_created_found_by_code_updated_and_deleted() {
    let app = spawn_app().await;
    let e = app.create_entitlement("sso").await;
    let id = e["id"].as_str().unwrap();
    assert_eq!(e["type"], "entitlements");
    assert_eq!(e["attributes"]["code"], "sso");
    assert_eq!(app.get("entitlements/sso").await.json["data"]["id"], id);

    let dup = json!({"data": {"type": "entitlements", "attributes": {"name": "Again", "code": "SSO"}}});
    let reply = app
        .send(Method::POST, &app.path("entitlements"), Some(app.admin()), Some(dup))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "CODE_TAKEN")
    );
    let missing = json!({"data": {"type": "entitlements", "attributes": {"name": "No code"}}});
    let reply = app
        .send(
            Method::POST,
            &app.path("entitlements"),
            Some(app.admin()),
            Some(missing),
        )
        .await;
    assert_eq!(reply.error_pointer(), "/data/attributes/code");

    let patch = json!({"data": {"type": "entitlements", "attributes": {"name": "Single sign-on"}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("entitlements/{id}")),
            Some(app.admin()),
            Some(patch),
        )
        .await;
    assert_eq!(reply.json["data"]["attributes"]["name"], "Single sign-on");

    let product = app.create_product("App", None).await;
    let (_, token) = app.product_token(product["id"].as_str().unwrap()).await;
    assert_eq!(
        app.send(Method::GET, &app.path("entitlements"), Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let create = json!({"data": {"type": "entitlements", "attributes": {"name": "X", "code": "x"}}});
    assert_eq!(
        app.send(Method::POST, &app.path("entitlements"), Some(&token), Some(create))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        app.send(
            Method::DELETE,
            &app.path(&format!("entitlements/{id}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("entitlements/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    app.create_entitlement("sso").await;
}

#[tokio::test]
async fn product_and_entitlement_codes_follow_keygens_code_format() {
    let app = spawn_app().await;
    let cases = [
        (" ", "CODE_MISSING"),
        ("\t", "CODE_MISSING"),
        ("\\", "CODE_INVALID"),
        ("two words", "CODE_INVALID"),
        ("tab\there", "CODE_INVALID"),
        ("slash/code", "CODE_INVALID"),
    ];
    for collection in ["products", "entitlements"] {
        for (code, expected) in cases {
            let body = json!({"data": {"type": collection, "attributes": {"name": "N", "code": code}}});
            let reply = app
                .send(Method::POST, &app.path(collection), Some(app.admin()), Some(body))
                .await;
            assert_eq!(
                (reply.status, reply.error_code(), reply.error_pointer()),
                (StatusCode::UNPROCESSABLE_ENTITY, expected, "/data/attributes/code"),
                "{collection} with code {code:?}"
            );
        }
        assert_eq!(
            app.get(collection).await.json["data"].as_array().unwrap().len(),
            0,
            "no {collection} was written"
        );
        let body = json!({"data": {"type": collection, "attributes": {"name": "N", "code": "pro-plan_v2.0:eu"}}});
        let reply = app
            .send(Method::POST, &app.path(collection), Some(app.admin()), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{collection}: {}", reply.json);
    }
}
