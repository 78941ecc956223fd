//! Tokens: generation by email/password and by token, listing, retrieval, regeneration,
//! revocation, `GET /me`, and every way of presenting a credential.

use crate::helpers::{spawn_app, TestApp};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn login(app: &TestApp, email: &str, password: &str) -> crate::helpers::Reply {
    let basic = format!("Basic {}", B64.encode(format!("{email}:{password}")));
    app.send_with_authorization(Method::POST, &app.path("tokens"), Some(&basic))
        .await
}

#[tokio::test]
async fn email_and_password_generate_an_admin_token() {
    let app = spawn_app().await;
    let reply = login(&app, "admin@example.com", "correct horse").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let data = &reply.json["data"];
    assert_eq!(data["type"], "tokens");
    assert_eq!(data["attributes"]["kind"], "admin-token");
    assert_eq!(data["attributes"]["expiry"], json!(null));
    let raw = data["attributes"]["token"].as_str().unwrap();
    assert!(
        raw.starts_with("admin-") && raw.ends_with("v3") && raw.len() == 72,
        "{raw}"
    );
    assert_eq!(data["relationships"]["bearer"]["data"]["type"], "users");
    let me = app.send(Method::GET, &app.path("me"), Some(raw), None).await;
    assert_eq!(me.json["data"]["attributes"]["email"], "admin@example.com");
    assert_eq!(me.json["data"]["attributes"]["role"], "admin");
}

#[tokio::test]
async fn bad_credentials_get_keygens_codes() {
    let app = spawn_app().await;
    let reply = login(&app, "admin@example.com", "wrong").await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNAUTHORIZED, "PASSWORD_INVALID")
    );
    let reply = login(&app, "nobody@example.com", "x").await;
    assert_eq!(reply.error_code(), "EMAIL_INVALID");
    let legacy = app
        .client
        .post(format!("{}{}", app.base, app.path("tokens")))
        .header(
            "Authorization",
            format!("Basic {}", B64.encode("admin@example.com:wrong")),
        )
        .header("Keygen-Version", "1.7")
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.headers()["keygen-version"], "1.7");
    let body: serde_json::Value = legacy.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "CREDENTIALS_INVALID");
}

#[tokio::test]
async fn a_login_checks_one_password_whether_or_not_the_email_exists() {
    let app = spawn_app().await;
    let checks = || app.state.password_checks.load(std::sync::atomic::Ordering::Relaxed);
    for (email, password, code) in [
        ("nobody@example.com", "x", "EMAIL_INVALID"),
        ("admin@example.com", "wrong", "PASSWORD_INVALID"),
    ] {
        let before = checks();
        let reply = login(&app, email, password).await;
        assert_eq!(reply.error_code(), code);
        assert_eq!(checks() - before, 1, "{email}: one argon2 check, as for any login");
    }
}

#[tokio::test]
async fn missing_and_invalid_tokens_are_401_with_codes() {
    let app = spawn_app().await;
    let none = app.send(Method::GET, &app.path("products"), None, None).await;
    assert_eq!(
        (none.status, none.error_code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
    assert_eq!(none.header("www-authenticate"), Some("Bearer realm=\"keygen\""));
    let bad = app
        .send(Method::GET, &app.path("products"), Some("admin-deadbeefv3"), None)
        .await;
    assert_eq!(bad.error_code(), "TOKEN_INVALID");
    let id_not_token = app
        .send(
            Method::GET,
            &app.path("products"),
            Some("6a7562be-b302-43d2-a550-30d6026247aa"),
            None,
        )
        .await;
    assert_eq!(id_not_token.error_code(), "TOKEN_FORMAT_INVALID");
    let license = app
        .send_with_authorization(Method::GET, &app.path("products"), Some("License UNKNOWN-KEY"))
        .await;
    assert_eq!(license.error_code(), "LICENSE_INVALID");
}

#[tokio::test]
async fn a_token_is_accepted_from_every_carrier() {
    let app = spawn_app().await;
    let token = app.admin().to_string();
    let carriers = [
        (app.path("products"), Some(format!("Bearer {token}"))),
        (app.path("products"), Some(format!("Token {token}"))),
        (
            app.path("products"),
            Some(format!("Basic {}", B64.encode(format!("token:{token}")))),
        ),
        (
            app.path("products"),
            Some(format!("Basic {}", B64.encode(format!("{token}:")))),
        ),
        (format!("{}?auth=token:{token}", app.path("products")), None),
        (format!("{}?token={token}", app.path("products")), None),
    ];
    for (target, authorization) in carriers {
        let reply = app
            .send_with_authorization(Method::GET, &target, authorization.as_deref())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{target} {authorization:?}: {}",
            reply.json
        );
    }
}

#[tokio::test]
async fn tokens_are_listed_retrieved_regenerated_and_revoked() {
    let app = spawn_app().await;
    let minted = app
        .send(
            Method::POST,
            &app.path("tokens"),
            Some(app.admin()),
            Some(json!({"data": {"type": "tokens", "attributes": {"name": "ci"}}})),
        )
        .await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.json);
    let id = minted.json["data"]["id"].as_str().unwrap().to_string();
    let raw = minted.json["data"]["attributes"]["token"].as_str().unwrap().to_string();
    assert_eq!(minted.json["data"]["attributes"]["name"], "ci");

    let list = app.get("tokens").await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 2);
    assert!(
        list.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["attributes"].get("token").is_none()),
        "raw tokens are shown once"
    );

    let shown = app.get(&format!("tokens/{id}")).await;
    assert_eq!(shown.json["data"]["attributes"]["kind"], "admin-token");
    assert!(shown.json["data"]["attributes"].get("token").is_none());

    let regenerated = app
        .send(Method::PUT, &app.path(&format!("tokens/{id}")), Some(app.admin()), None)
        .await;
    assert_eq!(regenerated.status, StatusCode::OK);
    assert_eq!(regenerated.json["data"]["id"], id.as_str());
    let new_raw = regenerated.json["data"]["attributes"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_raw, raw);
    assert_eq!(
        app.send(Method::GET, &app.path("products"), Some(&raw), None)
            .await
            .error_code(),
        "TOKEN_INVALID"
    );
    assert_eq!(
        app.send(Method::GET, &app.path("products"), Some(&new_raw), None)
            .await
            .status,
        StatusCode::OK
    );

    let revoked = app
        .send(
            Method::DELETE,
            &app.path(&format!("tokens/{id}")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(revoked.bytes.is_empty());
    assert_eq!(
        app.send(Method::GET, &app.path("products"), Some(&new_raw), None)
            .await
            .error_code(),
        "TOKEN_INVALID"
    );
    assert_eq!(app.get(&format!("tokens/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_current_token_regenerates_itself_with_put_tokens() {
    let app = spawn_app().await;
    let old = app.admin().to_string();
    let reply = app.send(Method::PUT, &app.path("tokens"), Some(&old), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let new = reply.json["data"]["attributes"]["token"].as_str().unwrap();
    assert_eq!(
        app.send(Method::GET, &app.path("me"), Some(&old), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(Method::GET, &app.path("me"), Some(new), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn product_tokens_are_minted_by_admins_and_scoped_to_their_product() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let (token_id, raw) = app.product_token(pid).await;
    assert!(raw.starts_with("prod-") && raw.ends_with("v3"));

    let listed = app.get(&format!("products/{pid}/tokens")).await;
    let ids: Vec<_> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [token_id.as_str()]);
    assert_eq!(listed.json["data"][0]["attributes"]["kind"], "product-token");
    assert_eq!(
        listed.json["data"][0]["relationships"]["bearer"]["data"],
        json!({"type": "products", "id": pid})
    );

    // A product token sees only its own tokens and cannot mint product tokens.
    let own = app.send(Method::GET, &app.path("tokens"), Some(&raw), None).await;
    assert_eq!(own.json["data"].as_array().unwrap().len(), 1);
    let admin_token_id = app.get("tokens").await.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["attributes"]["kind"] == "admin-token")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.send(
            Method::GET,
            &app.path(&format!("tokens/{admin_token_id}")),
            Some(&raw),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            Method::POST,
            &app.path(&format!("products/{pid}/tokens")),
            Some(&raw),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_token_cannot_be_created_already_expired() {
    let app = spawn_app().await;
    let before = app.get("tokens").await.json["data"].as_array().unwrap().len();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let refused = app
        .send(
            Method::POST,
            &app.path("tokens"),
            Some(app.admin()),
            Some(json!({"data": {"type": "tokens", "attributes": {"expiry": past}}})),
        )
        .await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "EXPIRY_INVALID"),
        "{}",
        refused.json
    );
    assert_eq!(
        refused.json["errors"][0]["source"]["pointer"],
        "/data/attributes/expiry"
    );
    let after = app.get("tokens").await.json["data"].as_array().unwrap().len();
    assert_eq!(after, before, "nothing was written");
}

#[tokio::test]
async fn a_token_expires_when_the_servers_clock_passes_its_expiry() {
    let app = spawn_app().await;
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let minted = app
        .send(
            Method::POST,
            &app.path("tokens"),
            Some(app.admin()),
            Some(json!({"data": {"type": "tokens", "attributes": {"expiry": in_an_hour}}})),
        )
        .await;
    let raw = minted.json["data"]["attributes"]["token"].as_str().unwrap();
    assert_eq!(
        app.send(Method::GET, &app.path("me"), Some(raw), None).await.status,
        StatusCode::OK
    );
    app.state.clock.advance(chrono::Duration::hours(2));
    let reply = app.send(Method::GET, &app.path("me"), Some(raw), None).await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED")
    );
}
