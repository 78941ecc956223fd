//! A license's activation tokens: `maxActivations` and `maxDeactivations` cap the machines
//! activated and deactivated with the token, under parallel requests, and the token shows its
//! counts.

use crate::helpers::{spawn_app, TestApp};
use crate::machines::{activate, count, id};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Mints an activation token for `license_id` with `attributes`; answers the reply's resource.
async fn mint(app: &TestApp, license_id: &str, attributes: Value) -> crate::helpers::Reply {
    let body = json!({"data": {"type": "tokens", "attributes": attributes}});
    app.send(
        Method::POST,
        &app.path(&format!("licenses/{license_id}/tokens")),
        Some(app.admin()),
        Some(body),
    )
    .await
}

async fn token_attributes(app: &TestApp, token_id: &str) -> Value {
    let reply = app.get(&format!("tokens/{token_id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    reply.json["data"]["attributes"].clone()
}

#[tokio::test]
async fn an_activation_token_activates_and_deactivates_no_more_machines_than_its_maxima() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"floating": true, "maxMachines": 20}), json!({}))
        .await;
    let license_id = id(&license);
    let minted = mint(&app, license_id, json!({"maxActivations": 3, "maxDeactivations": 1})).await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.json);
    let a = &minted.json["data"]["attributes"];
    assert_eq!(
        (
            &a["maxActivations"],
            &a["activations"],
            &a["maxDeactivations"],
            &a["deactivations"]
        ),
        (&json!(3), &json!(0), &json!(1), &json!(0))
    );
    let token_id = minted.json["data"]["id"].as_str().unwrap().to_string();
    let raw = a["token"].as_str().unwrap().to_string();

    // Twelve at once with the token: three are activated, the rest refused as Keygen does.
    let replies = join_all((0..12).map(|i| {
        let raw = raw.clone();
        let app = &app;
        async move { activate(app, &raw, license_id, &format!("fp-{i}"), json!({})).await }
    }))
    .await;
    let outcomes: Vec<(StatusCode, String)> = replies.iter().map(|r| (r.status, r.error_code().to_string())).collect();
    assert_eq!(count(&outcomes, StatusCode::CREATED, ""), 3, "{outcomes:?}");
    let refused = replies
        .iter()
        .find(|r| r.status == StatusCode::UNPROCESSABLE_ENTITY)
        .expect("a refusal");
    assert_eq!(refused.error_code(), "ACTIVATIONS_LIMIT_EXCEEDED", "{}", refused.json);
    assert_eq!(refused.error_pointer(), "/data/attributes/activations");
    assert_eq!(refused.json["errors"][0]["detail"], "exceeds maximum allowed (3)");
    assert_eq!(
        count(
            &outcomes,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ACTIVATIONS_LIMIT_EXCEEDED"
        ),
        9
    );
    assert_eq!(token_attributes(&app, &token_id).await["activations"], 3);

    // The admin's activations are not the token's.
    let admin = activate(&app, app.admin(), license_id, "fp-admin", json!({})).await;
    assert_eq!(admin.status, StatusCode::CREATED, "{}", admin.json);
    assert_eq!(token_attributes(&app, &token_id).await["activations"], 3);

    // One deactivation with the token; the second is refused and the machine stays.
    let machines: Vec<String> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| id(&r.json["data"]).to_string())
        .collect();
    let delete = |machine: &str| {
        let path = app.path(&format!("machines/{machine}"));
        let raw = raw.clone();
        let app = &app;
        async move { app.send(Method::DELETE, &path, Some(&raw), None).await }
    };
    assert_eq!(delete(&machines[0]).await.status, StatusCode::NO_CONTENT);
    let second = delete(&machines[1]).await;
    assert_eq!(second.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", second.json);
    assert_eq!(second.error_code(), "DEACTIVATIONS_LIMIT_EXCEEDED");
    assert_eq!(second.error_pointer(), "/data/attributes/deactivations");
    assert_eq!(
        app.get(&format!("machines/{}", machines[1])).await.status,
        StatusCode::OK
    );
    let a = token_attributes(&app, &token_id).await;
    assert_eq!((&a["activations"], &a["deactivations"]), (&json!(3), &json!(1)));
    // The admin still deactivates.
    let path = app.path(&format!("machines/{}", machines[1]));
    let by_admin = app.send(Method::DELETE, &path, Some(app.admin()), None).await;
    assert_eq!(by_admin.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_token_without_maxima_counts_without_limit_and_maxima_are_only_for_activation_tokens() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let license_id = id(&license);
    let (token_id, raw) = app.license_token(license_id).await;
    let a = token_attributes(&app, &token_id).await;
    assert_eq!((&a["maxActivations"], &a["activations"]), (&Value::Null, &json!(0)));
    for i in 0..4 {
        let reply = activate(&app, &raw, license_id, &format!("fp-{i}"), json!({})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    }
    assert_eq!(token_attributes(&app, &token_id).await["activations"], 4);

    let negative = mint(&app, license_id, json!({"maxActivations": -1})).await;
    assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", negative.json);
    assert_eq!(negative.error_code(), "MAX_ACTIVATIONS_INVALID");
    assert_eq!(negative.error_pointer(), "/data/attributes/maxActivations");
    let not_integer = mint(&app, license_id, json!({"maxDeactivations": "two"})).await;
    assert_eq!(not_integer.status, StatusCode::BAD_REQUEST, "{}", not_integer.json);
    assert_eq!(not_integer.error_pointer(), "/data/attributes/maxDeactivations");

    // A product token has no activation counts to cap; nor are they shown on it.
    let product = app.create_product("Other", None).await;
    let path = app.path(&format!("products/{}/tokens", id(&product)));
    let body = json!({"data": {"type": "tokens", "attributes": {"maxActivations": 1}}});
    let refused = app.send(Method::POST, &path, Some(app.admin()), Some(body)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    let (product_token, _) = app.product_token(id(&product)).await;
    let a = token_attributes(&app, &product_token).await;
    assert!(a.get("activations").is_none(), "{a}");
}
