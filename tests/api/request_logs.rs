//! Request logs: what a request leaves behind (Keygen's fields, short header lists, masked
//! bodies, the response signature), what is not logged, who may read them, and that no secret
//! (token, license key, password) is ever stored.

use crate::helpers::{spawn_app, TestApp};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// The account's request logs once at least `count` are there (the writer commits them with
/// its next batch).
async fn request_logs(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let reply = app.get("request-logs?page[size]=100&page[number]=1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let rows = reply.json["data"].as_array().unwrap().clone();
        if rows.len() >= count {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "fewer than {count} request logs: {:?}",
        app.get("request-logs?page[size]=100&page[number]=1").await.json["data"]
            .as_array()
            .map(|a| a.iter().map(|r| r["attributes"]["url"].to_string()).collect::<Vec<_>>())
    );
}

/// Every column of every stored request log, as text.
async fn stored_text(app: &TestApp) -> String {
    let sql = "select coalesce(url, '') || ' ' || coalesce(user_agent, '') || ' ' || coalesce(request_headers, '') || ' ' || \
        coalesce(request_body, '') || ' ' || coalesce(response_headers, '') || ' ' || coalesce(response_body, '') || ' ' || \
        coalesce(response_signature, '') from request_logs";
    let rows: Vec<String> = store::on_pool!(&app.state.db, |pool| sqlx::query_scalar(sql)
        .fetch_all(pool)
        .await
        .unwrap());
    rows.join("\n")
}

#[tokio::test]
async fn requests_are_logged_as_keygen_logs_them_with_no_secret_stored() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap().to_string();
    let license_id = license["id"].as_str().unwrap().to_string();
    // A license key in a body, a token in a response body and in a query, a password in a header.
    let validated = app
        .send(
            Method::POST,
            &app.path("licenses/actions/validate-key"),
            None,
            Some(json!({"meta": {"key": key}})),
        )
        .await;
    assert_eq!(validated.json["meta"]["code"], "VALID");
    let (_, license_token) = app.license_token(&license_id).await;
    let me = app
        .send(
            Method::GET,
            &format!("{}?token={}", app.path("me"), app.admin()),
            None,
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    let basic = base64::engine::general_purpose::STANDARD.encode("admin@example.com:correct horse");
    let login = app
        .send_authorized(Method::POST, &app.path("tokens"), Some(&format!("Basic {basic}")), None)
        .await;
    assert_eq!(login.status, StatusCode::CREATED, "{}", login.json);
    let issued = login.json["data"]["attributes"]["token"].as_str().unwrap().to_string();
    let by_key = app.get(&format!("licenses/{key}")).await;
    assert_eq!(by_key.status, StatusCode::OK);
    // Not logged, as in Keygen: webhook endpoints, event and request logs.
    app.get("webhook-endpoints").await;
    app.get("event-logs").await;

    let logs = request_logs(&app, 8).await;
    assert!(
        logs.iter().all(|l| l["attributes"].get("requestBody").is_none()),
        "lists leave the blobs out"
    );
    let urls: Vec<&str> = logs.iter().map(|l| l["attributes"]["url"].as_str().unwrap()).collect();
    assert!(
        urls.iter()
            .all(|u| !u.contains("webhook-endpoints") && !u.contains("event-logs") && !u.contains("request-logs")),
        "{urls:?}"
    );

    let validation = logs
        .iter()
        .find(|l| {
            l["attributes"]["url"]
                .as_str()
                .unwrap()
                .ends_with("/licenses/actions/validate-key")
        })
        .expect("the validation is logged");
    let shown = app
        .get(&format!("request-logs/{}", validation["id"].as_str().unwrap()))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.json);
    let a = &shown.json["data"]["attributes"];
    assert_eq!(
        (a["method"].as_str(), a["status"].as_str()),
        (Some("POST"), Some("200"))
    );
    assert_eq!(a["ip"], "127.0.0.1");
    let masked_key = a["requestBody"]["meta"]["key"].as_str().unwrap();
    assert!(masked_key.contains("...") && masked_key.len() < 16, "{masked_key}");
    assert_eq!(a["responseBody"]["meta"]["code"], "VALID");
    assert!(a["responseSignature"]
        .as_str()
        .is_some_and(|s| s.contains("algorithm=\"ed25519\"")));
    assert!(a["requestHeaders"]["Content-Type"].is_string());
    assert!(a["requestHeaders"].get("Authorization").is_none());
    assert!(a["responseHeaders"]["Keygen-Signature"].is_string());
    assert_eq!(validation["relationships"]["requestor"]["data"], Value::Null);

    let me_log = logs
        .iter()
        .find(|l| l["attributes"]["url"].as_str().unwrap().contains("/me?"))
        .expect("the /me request is logged");
    assert!(me_log["attributes"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/me?token=[FILTERED]"));
    assert_eq!(me_log["relationships"]["requestor"]["data"]["type"], "users");

    let stored = stored_text(&app).await;
    for secret in [
        app.admin(),
        key.as_str(),
        license_token.as_str(),
        issued.as_str(),
        "correct horse",
    ] {
        assert!(!stored.contains(secret), "a request log holds a secret");
    }

    let (_, token) = app.license_token(&license_id).await;
    let refused = app
        .send(Method::GET, &app.path("request-logs"), Some(&token), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let beta = api::bootstrap::create_account(&app.state, "Beta", "beta", "admin@beta.test", "beta pass")
        .await
        .unwrap();
    let theirs = app
        .send(
            Method::GET,
            &format!(
                "/v1/accounts/{}/request-logs/{}",
                beta.account_id,
                validation["id"].as_str().unwrap()
            ),
            Some(&beta.admin_token),
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn with_request_logs_off_nothing_is_logged() {
    let app = crate::helpers::spawn_app_with_settings(api::state::Settings {
        request_logs: false,
        ..Default::default()
    })
    .await;
    app.create_product("Unlogged", None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let logs = app.get("request-logs").await;
    assert_eq!(logs.status, StatusCode::OK);
    assert_eq!(logs.json["data"], json!([]));
}
