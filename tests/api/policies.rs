//! Policies: Keygen's defaults and rules, the key pool and entitlements.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_policy_gets_keygens_defaults_and_node_locked_means_one_machine() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let policy = app.create_policy(pid, json!({"requireHeartbeat": true})).await;
    let a = &policy["attributes"];
    assert_eq!(policy["type"], "policies");
    assert_eq!(a["maxMachines"], 1, "node-locked without a limit holds one machine");
    assert_eq!(a["floating"], false);
    assert_eq!(a["strict"], false);
    assert_eq!(a["duration"], json!(null));
    assert_eq!(a["expirationStrategy"], "RESTRICT_ACCESS");
    assert_eq!(a["expirationBasis"], "FROM_CREATION");
    assert_eq!(a["renewalBasis"], "FROM_EXPIRY");
    assert_eq!(a["transferStrategy"], "KEEP_EXPIRY");
    assert_eq!(a["authenticationStrategy"], "TOKEN");
    assert_eq!(a["machineUniquenessStrategy"], "UNIQUE_PER_LICENSE");
    assert_eq!(a["machineMatchingStrategy"], "MATCH_ANY");
    assert_eq!(a["componentUniquenessStrategy"], "UNIQUE_PER_MACHINE");
    assert_eq!(a["overageStrategy"], "NO_OVERAGE");
    assert_eq!(a["heartbeatCullStrategy"], "DEACTIVATE_DEAD");
    assert_eq!(a["heartbeatResurrectionStrategy"], "NO_REVIVE");
    assert_eq!(a["heartbeatBasis"], "FROM_CREATION", "requireHeartbeat at creation");
    assert_eq!(a["processLeasingStrategy"], "PER_MACHINE");
    assert_eq!(
        policy["relationships"]["product"]["data"],
        json!({"type": "products", "id": pid})
    );

    let floating = app
        .create_policy(pid, json!({"floating": true, "maxMachines": 5, "duration": 86400}))
        .await;
    assert_eq!(floating["attributes"]["maxMachines"], 5);
    assert_eq!(floating["attributes"]["heartbeatBasis"], "FROM_FIRST_PING");
}

#[tokio::test]
async fn invalid_policy_combinations_are_422_with_codes() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let cases = [
        (
            json!({"duration": 3600}),
            "DURATION_INVALID",
            "/data/attributes/duration",
        ),
        (
            json!({"floating": true, "maxMachines": 0}),
            "MAX_MACHINES_INVALID",
            "/data/attributes/maxMachines",
        ),
        (
            json!({"overageStrategy": "ALLOW_1_5X_OVERAGE"}),
            "OVERAGE_STRATEGY_NOT_ALLOWED",
            "/data/attributes/overageStrategy",
        ),
        (
            json!({"floating": true, "maxMachines": 3, "overageStrategy": "ALLOW_1_25X_OVERAGE"}),
            "MAX_MACHINES_INVALID",
            "/data/attributes/maxMachines",
        ),
        (
            json!({"expirationStrategy": "FOREVER"}),
            "EXPIRATION_STRATEGY_NOT_ALLOWED",
            "/data/attributes/expirationStrategy",
        ),
        (
            json!({"requireCheckIn": true}),
            "CHECK_IN_INTERVAL_NOT_ALLOWED",
            "/data/attributes/checkInInterval",
        ),
        (
            json!({"requireCheckIn": true, "checkInInterval": "day", "checkInIntervalCount": 400}),
            "CHECK_IN_INTERVAL_COUNT_INVALID",
            "/data/attributes/checkInIntervalCount",
        ),
        (
            json!({"heartbeatResurrectionStrategy": "ALWAYS_REVIVE"}),
            "HEARTBEAT_CULL_STRATEGY_NOT_ALLOWED",
            "/data/attributes/heartbeatCullStrategy",
        ),
        (
            json!({"heartbeatDuration": 10}),
            "HEARTBEAT_DURATION_INVALID",
            "/data/attributes/heartbeatDuration",
        ),
        (
            json!({"scheme": "LEGACY_ENCRYPT"}),
            "SCHEME_NOT_ALLOWED",
            "/data/attributes/scheme",
        ),
        (
            json!({"scheme": "ED25519_SIGN", "usePool": true}),
            "SCHEME_NOT_ALLOWED",
            "/data/attributes/scheme",
        ),
    ];
    for (attributes, code, pointer) in cases {
        let body = json!({"data": {"type": "policies", "attributes": {"name": "P"}, "relationships": {"product": {"data": {"type": "products", "id": pid}}}}});
        let mut body = body;
        body["data"]["attributes"]
            .as_object_mut()
            .unwrap()
            .extend(attributes.as_object().unwrap().clone());
        let reply = app
            .send(Method::POST, &app.path("policies"), Some(app.admin()), Some(body))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{attributes}: {}",
            reply.json
        );
        assert_eq!(
            (reply.error_code(), reply.error_pointer()),
            (code, pointer),
            "{attributes}"
        );
    }
    let no_product = json!({"data": {"type": "policies", "attributes": {"name": "P"}}});
    let reply = app
        .send(Method::POST, &app.path("policies"), Some(app.admin()), Some(no_product))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "PRODUCT_NOT_FOUND")
    );
    let wrong_type = json!({"data": {"type": "policies", "attributes": {"name": "P", "strict": "yes"}, "relationships": {"product": {"data": {"type": "products", "id": pid}}}}});
    let reply = app
        .send(Method::POST, &app.path("policies"), Some(app.admin()), Some(wrong_type))
        .await;
    assert_eq!(
        (reply.status, reply.error_pointer()),
        (StatusCode::BAD_REQUEST, "/data/attributes/strict")
    );
}

#[tokio::test]
async fn policies_update_list_by_product_and_delete() {
    let app = spawn_app().await;
    let a = app.create_product("A", Some("a")).await;
    let b = app.create_product("B", Some("b")).await;
    let pa = app
        .create_policy(a["id"].as_str().unwrap(), json!({"name": "PA"}))
        .await;
    app.create_policy(b["id"].as_str().unwrap(), json!({"name": "PB"}))
        .await;
    let id = pa["id"].as_str().unwrap();

    let update = json!({"data": {"type": "policies", "attributes": {"strict": true, "duration": 172800, "metadata": {"tier": "gold"}}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("policies/{id}")),
            Some(app.admin()),
            Some(update),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["data"]["attributes"]["strict"], true);
    assert_eq!(reply.json["data"]["attributes"]["duration"], 172800);
    assert_eq!(reply.json["data"]["attributes"]["name"], "PA");

    let create_only = json!({"data": {"type": "policies", "attributes": {"usePool": true}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("policies/{id}")),
            Some(app.admin()),
            Some(create_only),
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_pointer()),
        (StatusCode::BAD_REQUEST, "/data/attributes/usePool")
    );

    let listed = app
        .get(&format!("policies?product={}", a["id"].as_str().unwrap()))
        .await;
    let names: Vec<_> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PA"]);
    assert_eq!(app.get("policies").await.json["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("products/b/policies").await.json["data"][0]["attributes"]["name"],
        "PB"
    );

    let (_, token) = app.product_token(b["id"].as_str().unwrap()).await;
    let theirs = app
        .send(Method::GET, &app.path(&format!("policies/{id}")), Some(&token), None)
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::NOT_FOUND,
        "a product sees only its own policies"
    );
    let own = app.send(Method::GET, &app.path("policies"), Some(&token), None).await;
    assert_eq!(own.json["data"].as_array().unwrap().len(), 1);

    assert_eq!(
        app.send(
            Method::DELETE,
            &app.path(&format!("policies/{id}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("policies/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_pool_hands_out_its_newest_key_then_reports_empty() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let policy = app
        .create_policy(product["id"].as_str().unwrap(), json!({"usePool": true}))
        .await;
    let policy_id = policy["id"].as_str().unwrap();
    for key in ["POOL-KEY-0001", "POOL-KEY-0002", "POOL-KEY-0003"] {
        let body = json!({"data": {"type": "keys", "attributes": {"key": key}, "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
        let reply = app
            .send(Method::POST, &app.path("keys"), Some(app.admin()), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        assert_eq!(reply.json["data"]["type"], "keys");
    }
    let dup = json!({"data": {"type": "keys", "attributes": {"key": "POOL-KEY-0001"}, "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
    assert_eq!(
        app.send(Method::POST, &app.path("keys"), Some(app.admin()), Some(dup))
            .await
            .error_code(),
        "KEY_TAKEN"
    );

    let popped = app
        .send(
            Method::DELETE,
            &app.path(&format!("policies/{policy_id}/pool")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(popped.status, StatusCode::OK, "{}", popped.json);
    assert_eq!(popped.json["data"]["attributes"]["key"], "POOL-KEY-0003");

    // A license under a pooled policy takes the next key from the pool.
    let license = app.create_license(policy_id, json!({})).await;
    assert_eq!(license["attributes"]["key"], "POOL-KEY-0002");
    assert_eq!(
        app.get(&format!("policies/{policy_id}/pool")).await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    app.send(
        Method::DELETE,
        &app.path(&format!("policies/{policy_id}/pool")),
        Some(app.admin()),
        None,
    )
    .await;
    let empty = app
        .send(
            Method::DELETE,
            &app.path(&format!("policies/{policy_id}/pool")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(
        (empty.status, empty.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "POLICY_POOL_EMPTY")
    );
    let reply = app.try_create_license(policy_id, json!({})).await;
    assert_eq!(reply.error_code(), "POLICY_POOL_EMPTY");
}

#[tokio::test]
async fn entitlements_attach_to_and_detach_from_a_policy() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let policy = app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    let policy_id = policy["id"].as_str().unwrap();
    let a = app.create_entitlement("feature-a").await;
    let b = app.create_entitlement("feature-b").await;
    let path = app.path(&format!("policies/{policy_id}/entitlements"));
    let both = json!({"data": [{"type": "entitlements", "id": a["id"]}, {"type": "entitlements", "id": b["id"]}]});
    let reply = app
        .send(Method::POST, &path, Some(app.admin()), Some(both.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(
        app.get(&format!("policies/{policy_id}/entitlements")).await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.send(Method::POST, &path, Some(app.admin()), Some(both))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "already attached"
    );
    let one = json!({"data": [{"type": "entitlements", "id": a["id"]}]});
    assert_eq!(
        app.send(Method::DELETE, &path, Some(app.admin()), Some(one))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let left = app.get(&format!("policies/{policy_id}/entitlements")).await;
    assert_eq!(left.json["data"][0]["attributes"]["code"], "feature-b");
    let unknown = json!({"data": [{"type": "entitlements", "id": "nope"}]});
    let reply = app.send(Method::POST, &path, Some(app.admin()), Some(unknown)).await;
    assert_eq!(
        (reply.error_code(), reply.error_pointer()),
        ("ENTITLEMENT_NOT_FOUND", "/data/0/id")
    );
}
