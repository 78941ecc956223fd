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

#[tokio::test]
async fn another_accounts_machines_and_components_are_out_of_reach() {
    let app = spawn_app().await;
    let beta = api::bootstrap::create_account(&app.state, "Beta", "beta", "admin@beta.test", "beta pass")
        .await
        .unwrap();
    let b = |rest: &str| format!("/v1/accounts/{}/{rest}", beta.account_id);
    let b_admin = beta.admin_token.as_str();
    let per_account = json!({"floating": true, "machineUniquenessStrategy": "UNIQUE_PER_ACCOUNT"});
    let (_, license) = app.licensed(per_account.clone(), json!({})).await;
    let license_id = license["id"].as_str().unwrap();
    let body = json!({"data": {"type": "machines", "attributes": {"fingerprint": "shared-fp"},
        "relationships": {"license": {"data": {"type": "licenses", "id": license_id}},
            "components": {"data": [{"type": "components", "attributes": {"fingerprint": "cpu", "name": "CPU"}}]}}}});
    let machine = app
        .send(
            Method::POST,
            &app.path("machines"),
            Some(app.admin()),
            Some(body.clone()),
        )
        .await;
    assert_eq!(machine.status, StatusCode::CREATED, "{}", machine.json);
    let machine_id = machine.json["data"]["id"].as_str().unwrap();
    let components = app.get(&format!("machines/{machine_id}/components")).await;
    let component_id = components.json["data"][0]["id"].as_str().unwrap().to_string();

    for (method, target) in [
        (Method::GET, b(&format!("machines/{machine_id}"))),
        (Method::GET, b("machines/shared-fp")),
        (Method::PATCH, b(&format!("machines/{machine_id}"))),
        (Method::DELETE, b(&format!("machines/{machine_id}"))),
        (Method::POST, b(&format!("machines/{machine_id}/actions/ping"))),
        (Method::POST, b(&format!("machines/{machine_id}/actions/reset"))),
        (Method::GET, b(&format!("machines/{machine_id}/components"))),
        (Method::GET, b(&format!("components/{component_id}"))),
        (Method::PATCH, b(&format!("components/{component_id}"))),
        (Method::DELETE, b(&format!("components/{component_id}"))),
        (Method::GET, b(&format!("licenses/{license_id}/machines"))),
    ] {
        let kind = if target.contains("components") {
            "components"
        } else {
            "machines"
        };
        let patch = json!({"data": {"type": kind, "attributes": {"name": "Mine now"}}});
        let body = (method == Method::PATCH).then_some(patch);
        let reply = app.send(method.clone(), &target, Some(b_admin), body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {target}: {}", reply.json);
    }
    for list in ["machines", "components"] {
        let reply = app.send(Method::GET, &b(list), Some(b_admin), None).await;
        assert_eq!(reply.json["data"], json!([]), "{list}");
    }
    // B cannot add a component to A's machine.
    let part = json!({"data": {"type": "components", "attributes": {"fingerprint": "gpu", "name": "GPU"},
        "relationships": {"machine": {"data": {"type": "machines", "id": machine_id}}}}});
    let refused = app
        .send(Method::POST, &b("components"), Some(b_admin), Some(part))
        .await;
    assert_eq!(refused.error_code(), "MACHINE_NOT_FOUND", "{}", refused.json);
    // B cannot activate on A's license, and B's own account-wide uniqueness is its own.
    let refused = app.send(Method::POST, &b("machines"), Some(b_admin), Some(body)).await;
    assert_eq!(refused.error_code(), "LICENSE_NOT_FOUND", "{}", refused.json);
    let b_product = app
        .send(
            Method::POST,
            &b("products"),
            Some(b_admin),
            Some(json!({"data": {"type": "products", "attributes": {"name": "B"}}})),
        )
        .await;
    let b_product_id = b_product.json["data"]["id"].as_str().unwrap();
    let policy = json!({"data": {"type": "policies", "attributes": {"name": "B", "floating": true, "machineUniquenessStrategy": "UNIQUE_PER_ACCOUNT"},
        "relationships": {"product": {"data": {"type": "products", "id": b_product_id}}}}});
    let b_policy = app
        .send(Method::POST, &b("policies"), Some(b_admin), Some(policy))
        .await;
    let b_policy_id = b_policy.json["data"]["id"].as_str().unwrap();
    let b_license = json!({"data": {"type": "licenses", "relationships": {"policy": {"data": {"type": "policies", "id": b_policy_id}}}}});
    let b_license = app
        .send(Method::POST, &b("licenses"), Some(b_admin), Some(b_license))
        .await;
    let b_license_id = b_license.json["data"]["id"].as_str().unwrap();
    let own = json!({"data": {"type": "machines", "attributes": {"fingerprint": "shared-fp"},
        "relationships": {"license": {"data": {"type": "licenses", "id": b_license_id}}}}});
    let own = app.send(Method::POST, &b("machines"), Some(b_admin), Some(own)).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.json);
}
