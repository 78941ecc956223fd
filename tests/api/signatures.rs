//! `Keygen-Signature` on every response under an account, checked with ed25519-dalek directly.

use crate::helpers::{spawn_app, verify_signature_with};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn responses_of_every_status_carry_a_valid_signature() {
    let app = spawn_app().await;
    let product = app.create_product("Signed", Some("signed")).await;
    let id = product["id"].as_str().unwrap();

    let ok = app.get(&format!("products/{id}")).await;
    assert_eq!(ok.status, StatusCode::OK);
    app.verify_signature(&ok).expect("200 is signed");

    let created = app
        .send(
            Method::POST,
            &app.path("products"),
            Some(app.admin()),
            Some(serde_json::json!({"data": {"type": "products", "attributes": {"name": "Other"}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    app.verify_signature(&created).expect("201 is signed");

    let deleted = app
        .send(
            Method::DELETE,
            &app.path(&format!("products/{id}")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.bytes.is_empty());
    app.verify_signature(&deleted).expect("204 is signed");

    let missing = app.get(&format!("products/{id}")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.verify_signature(&missing).expect("404 is signed");

    let unauthorized = app.send(Method::GET, &app.path("products"), None, None).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    app.verify_signature(&unauthorized).expect("401 is signed");
}

#[tokio::test]
async fn a_changed_body_byte_fails_verification() {
    let app = spawn_app().await;
    app.create_product("Tamper", None).await;
    let reply = app.get("products").await;
    app.verify_signature(&reply).expect("untouched body verifies");
    let mut tampered = reply.bytes.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    assert!(verify_signature_with(&app.account.public_key, &app.host, &reply, &tampered).is_err());
}

#[tokio::test]
async fn the_signature_covers_the_path_as_sent_and_the_host_with_its_port() {
    let app = spawn_app().await;
    let target = format!("{}?", app.path("products"));
    let reply = app.send(Method::GET, &target, Some(app.admin()), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    app.verify_signature(&reply)
        .expect("trailing ? is part of the request-target");
    let wrong_host = verify_signature_with(&app.account.public_key, "127.0.0.1", &reply, &reply.bytes);
    assert!(wrong_host.is_err(), "the host line includes the port");
}

#[tokio::test]
async fn ping_answers_200_on_both_paths_signed_by_the_account_it_addresses() {
    let app = spawn_app().await;
    let by_id = format!("/v1/accounts/{}/ping", app.account.account_id);
    let by_slug = format!("/v1/accounts/{}/ping", app.account.account_slug);
    // keygen-rs pings with the license key as its credential and no Keygen-Version.
    for target in ["/v1/ping", by_id.as_str(), by_slug.as_str()] {
        let reply = app
            .send_with_authorization(Method::GET, target, Some("License SOME-KEY"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{target}");
        assert!(reply.bytes.is_empty(), "{target}");
        assert!(reply.header("x-request-id").is_some(), "{target}");
        app.verify_signature(&reply)
            .unwrap_or_else(|e| panic!("{target} is signed: {e}"));
    }
    let unknown = app.send(Method::GET, "/v1/accounts/nobody/ping", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // With two accounts `/v1/ping` addresses none: still 200, with nothing to sign it.
    api::bootstrap::create_account(&app.state, "Second", "second", "s@example.com", "pw")
        .await
        .unwrap();
    let reply = app.send(Method::GET, "/v1/ping", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("keygen-signature").is_none());
    let scoped = app.send(Method::GET, &by_id, None, None).await;
    assert_eq!(scoped.status, StatusCode::OK);
    app.verify_signature(&scoped)
        .expect("the account-scoped ping stays signed");
}

#[tokio::test]
async fn unsupported_accept_signature_algorithms_are_refused() {
    let app = spawn_app().await;
    let reply = app
        .client
        .get(format!("{}{}", app.base, app.path("products")))
        .bearer_auth(app.admin())
        .header("Keygen-Accept-Signature", "algorithm=\"rsa-sha512\"")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let ok = app
        .client
        .get(format!("{}{}", app.base, app.path("products")))
        .bearer_auth(app.admin())
        .header(
            "Keygen-Accept-Signature",
            format!("keyid=\"{}\", algorithm=\"ed25519\"", app.account.account_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}
