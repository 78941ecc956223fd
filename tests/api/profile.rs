//! `GET /me` (the bearer, with the request's token included) and `GET /profile` (Keygen's older
//! form, naming the token in `meta.tokenId`), for every kind of bearer.

use crate::helpers::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A license whose policy allows tokens and keys, and an activation token for it:
/// (license, token id, raw token).
async fn license_and_token(app: &TestApp) -> (Value, String, String) {
    let (_, license) = app
        .licensed(json!({"authenticationStrategy": "MIXED"}), json!({}))
        .await;
    let (id, raw) = app.license_token(license["id"].as_str().unwrap()).await;
    (license, id, raw)
}

#[tokio::test]
async fn me_includes_exactly_the_requests_token_naming_its_bearer() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let (product_token_id, product_token) = app.product_token(product["id"].as_str().unwrap()).await;
    let (license, license_token_id, license_token) = license_and_token(&app).await;
    // A second admin token: /me must include the one used, not any token of the bearer.
    let minted = app
        .send(Method::POST, &app.path("tokens"), Some(app.admin()), None)
        .await;
    let second_admin = minted.json["data"]["attributes"]["token"].as_str().unwrap();
    let second_admin_id = minted.json["data"]["id"].as_str().unwrap().to_string();
    let admin_id = app.get("me").await.json["data"]["id"].as_str().unwrap().to_string();
    let all = app.get("tokens").await.json["data"].as_array().unwrap().clone();
    let first_admin_id = all
        .iter()
        .find(|t| t["attributes"]["kind"] == "admin-token" && t["id"] != second_admin_id.as_str())
        .expect("the setup's admin token")["id"]
        .as_str()
        .unwrap()
        .to_string();

    for (raw, token_id, bearer_type, bearer_id, kind) in [
        (app.admin(), &first_admin_id, "users", admin_id.as_str(), "admin-token"),
        (
            second_admin,
            &second_admin_id,
            "users",
            admin_id.as_str(),
            "admin-token",
        ),
        (
            product_token.as_str(),
            &product_token_id,
            "products",
            product["id"].as_str().unwrap(),
            "product-token",
        ),
        (
            license_token.as_str(),
            &license_token_id,
            "licenses",
            license["id"].as_str().unwrap(),
            "activation-token",
        ),
    ] {
        let me = app.send(Method::GET, &app.path("me"), Some(raw), None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.json);
        assert_eq!(me.json["data"]["type"], bearer_type);
        assert_eq!(me.json["data"]["id"], bearer_id);
        let included = me.json["included"].as_array().expect("included");
        assert_eq!(included.len(), 1, "{}", me.json);
        let token = &included[0];
        assert_eq!(token["type"], "tokens");
        assert_eq!(token["attributes"]["kind"], kind);
        assert!(token["attributes"].get("token").is_none(), "never the raw token");
        assert_eq!(
            token["relationships"]["bearer"]["data"],
            json!({"type": bearer_type, "id": bearer_id})
        );
        assert_eq!(token["id"], token_id.as_str());
        app.verify_signature(&me).expect("signed");
    }
}

#[tokio::test]
async fn a_license_key_is_no_token_so_me_includes_nothing() {
    let app = spawn_app().await;
    let (license, _, _) = license_and_token(&app).await;
    let auth = format!("License {}", license["attributes"]["key"].as_str().unwrap());
    let me = app
        .send_with_authorization(Method::GET, &app.path("me"), Some(&auth))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(me.json["data"]["id"], license["id"]);
    assert!(me.json.get("included").is_none(), "{}", me.json);
    let profile = app
        .send_with_authorization(Method::GET, &app.path("profile"), Some(&auth))
        .await;
    assert_eq!(profile.json["data"]["id"], license["id"]);
    assert_eq!(profile.json["meta"], json!({"tokenId": null}));
}

#[tokio::test]
async fn profile_answers_the_bearer_and_its_token_id() {
    let app = spawn_app().await;
    let (license, token_id, raw) = license_and_token(&app).await;
    let profile = app.send(Method::GET, &app.path("profile"), Some(&raw), None).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.json);
    assert_eq!(profile.json["data"]["type"], "licenses");
    assert_eq!(profile.json["data"]["id"], license["id"]);
    assert_eq!(profile.json["meta"]["tokenId"], token_id.as_str());
    assert!(profile.json.get("included").is_none());
    let anonymous = app.send(Method::GET, &app.path("profile"), None, None).await;
    assert_eq!(
        (anonymous.status, anonymous.error_code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
}
