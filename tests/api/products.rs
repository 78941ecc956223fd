//! Products: create, retrieve (by id and code), update, delete, list, and who may do what.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_created_product_has_keygens_shape_and_defaults() {
    let app = spawn_app().await;
    let body = json!({"data": {"type": "products", "attributes": {
        "name": "Example App", "code": "example", "url": "https://example.com",
        "platforms": ["Windows", "macOS"], "metadata": {"customer_id": "c1", "tierLevel": 2}
    }}});
    let reply = app
        .send(Method::POST, &app.path("products"), Some(app.admin()), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let data = &reply.json["data"];
    let id = data["id"].as_str().unwrap();
    assert_eq!(data["type"], "products");
    assert_eq!(reply.header("location").unwrap(), app.path(&format!("products/{id}")));
    assert_eq!(data["links"]["self"], json!(app.path(&format!("products/{id}"))));
    let a = &data["attributes"];
    assert_eq!(a["name"], "Example App");
    assert_eq!(a["code"], "example");
    assert_eq!(a["distributionStrategy"], "LICENSED");
    assert_eq!(a["platforms"], json!(["Windows", "macOS"]));
    assert_eq!(a["metadata"], json!({"customerId": "c1", "tierLevel": 2}));
    assert!(a["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        data["relationships"]["account"]["data"],
        json!({"type": "accounts", "id": app.account.account_id})
    );
    assert_eq!(
        data["relationships"]["policies"]["links"]["related"],
        json!(app.path(&format!("products/{id}/policies")))
    );
    assert_eq!(reply.header("content-type"), Some("application/vnd.api+json"));
}

#[tokio::test]
async fn a_product_is_found_by_id_and_by_code() {
    let app = spawn_app().await;
    let product = app.create_product("App", Some("my-app")).await;
    let id = product["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("products/{id}")).await.json["data"]["id"], id);
    assert_eq!(app.get("products/my-app").await.json["data"]["id"], id);
    assert_eq!(app.get("products/MY-APP").await.json["data"]["id"], id);
}

#[tokio::test]
async fn an_update_changes_only_the_given_attributes() {
    let app = spawn_app().await;
    let product = app.create_product("App", Some("app")).await;
    let id = product["id"].as_str().unwrap();
    let body =
        json!({"data": {"type": "products", "attributes": {"platforms": ["Linux"], "distributionStrategy": "OPEN"}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("products/{id}")),
            Some(app.admin()),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let a = &reply.json["data"]["attributes"];
    assert_eq!(a["platforms"], json!(["Linux"]));
    assert_eq!(a["distributionStrategy"], "OPEN");
    assert_eq!(a["name"], "App");
    assert_eq!(a["code"], "app");
    assert_eq!(
        app.get(&format!("products/{id}")).await.json["data"]["attributes"]["platforms"],
        json!(["Linux"])
    );
}

#[tokio::test]
async fn a_deleted_product_is_gone_and_its_code_is_free_again() {
    let app = spawn_app().await;
    let product = app.create_product("App", Some("reuse")).await;
    let id = product["id"].as_str().unwrap();
    let reply = app
        .send(
            Method::DELETE,
            &app.path(&format!("products/{id}")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("products/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error_code(), "NOT_FOUND");
    assert_eq!(app.get("products").await.json["data"], json!([]));
    app.create_product("Again", Some("reuse")).await;
}

#[tokio::test]
async fn a_taken_code_is_refused_with_code_taken() {
    let app = spawn_app().await;
    app.create_product("One", Some("dup")).await;
    let body = json!({"data": {"type": "products", "attributes": {"name": "Two", "code": "DUP"}}});
    let reply = app
        .send(Method::POST, &app.path("products"), Some(app.admin()), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_code(), "CODE_TAKEN");
    assert_eq!(reply.error_pointer(), "/data/attributes/code");
    assert_eq!(reply.json["errors"][0]["title"], "Unprocessable resource");

    let other = app.create_product("Three", Some("free")).await;
    let id = other["id"].as_str().unwrap();
    let body = json!({"data": {"type": "products", "attributes": {"code": "dup"}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("products/{id}")),
            Some(app.admin()),
            Some(body),
        )
        .await;
    assert_eq!(
        reply.error_code(),
        "CODE_TAKEN",
        "renaming onto a taken code is refused too"
    );
}

#[tokio::test]
async fn domain_rules_answer_422_with_keygens_codes() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"name": "A", "distributionStrategy": "FREE"}),
            "DISTRIBUTION_STRATEGY_NOT_ALLOWED",
            "/data/attributes/distributionStrategy",
        ),
        (
            json!({"name": "A", "url": "ftp://x"}),
            "URL_INVALID",
            "/data/attributes/url",
        ),
        (
            json!({"name": "A", "code": "6a7562be-b302-43d2-a550-30d6026247aa"}),
            "CODE_INVALID",
            "/data/attributes/code",
        ),
        (json!({"name": ""}), "NAME_MISSING", "/data/attributes/name"),
        (
            json!({"name": "A", "permissions": ["license.fly"]}),
            "PERMISSIONS_NOT_ALLOWED",
            "/data/attributes/permissions",
        ),
    ];
    for (attributes, code, pointer) in cases {
        let body = json!({"data": {"type": "products", "attributes": attributes}});
        let reply = app
            .send(Method::POST, &app.path("products"), Some(app.admin()), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{attributes}");
        assert_eq!((reply.error_code(), reply.error_pointer()), (code, pointer));
    }
}

#[tokio::test]
async fn lists_are_newest_first_and_paginated_with_links() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_product(&format!("P{i}"), None).await;
    }
    let all = app.get("products").await;
    let names: Vec<_> = all.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["P4", "P3", "P2", "P1", "P0"]);

    let asc = app.get("products?order=asc&limit=2").await;
    assert_eq!(asc.json["data"][0]["attributes"]["name"], "P0");
    assert_eq!(asc.json["data"].as_array().unwrap().len(), 2);

    let page = app.get("products?page[number]=2&page[size]=2").await;
    assert_eq!(page.status, StatusCode::OK);
    let names: Vec<_> = page.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["P2", "P1"]);
    let base = app.path("products");
    let links = &page.json["links"];
    assert_eq!(links["self"], json!(format!("{base}?page[number]=2&page[size]=2")));
    assert_eq!(links["prev"], json!(format!("{base}?page[number]=1&page[size]=2")));
    assert_eq!(links["next"], json!(format!("{base}?page[number]=3&page[size]=2")));
    assert_eq!(links["first"], json!(format!("{base}?page[number]=1&page[size]=2")));
    assert_eq!(links["last"], json!(format!("{base}?page[number]=3&page[size]=2")));
    assert_eq!(links["meta"], json!({"pages": 3, "count": 5}));

    for bad in [
        "products?page[number]=101",
        "products?page[size]=5",
        "products?limit=0",
        "products?order=sideways",
        "products?page[number]=x",
    ] {
        let reply = app.get(bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.json["errors"][0]["source"]["parameter"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn a_product_token_sees_only_its_own_product() {
    let app = spawn_app().await;
    let mine = app.create_product("Mine", Some("mine")).await;
    let theirs = app.create_product("Theirs", Some("theirs")).await;
    let mine_id = mine["id"].as_str().unwrap();
    let theirs_id = theirs["id"].as_str().unwrap();
    let (_, token) = app.product_token(mine_id).await;

    let list = app.send(Method::GET, &app.path("products"), Some(&token), None).await;
    let ids: Vec<_> = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine_id]);
    assert_eq!(
        app.send(
            Method::GET,
            &app.path(&format!("products/{mine_id}")),
            Some(&token),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(
            Method::GET,
            &app.path(&format!("products/{theirs_id}")),
            Some(&token),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let update = json!({"data": {"type": "products", "attributes": {"name": "Renamed"}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("products/{mine_id}")),
            Some(&token),
            Some(update),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "a product may update itself");

    let create = json!({"data": {"type": "products", "attributes": {"name": "New"}}});
    let reply = app
        .send(Method::POST, &app.path("products"), Some(&token), Some(create))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json["errors"][0]["title"], "Access denied");
    let reply = app
        .send(
            Method::DELETE,
            &app.path(&format!("products/{mine_id}")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let me = app.send(Method::GET, &app.path("me"), Some(&token), None).await;
    assert_eq!(me.json["data"]["type"], "products");
    assert_eq!(me.json["data"]["id"], mine_id);
}

#[tokio::test]
async fn cursor_pagination_walks_the_list_with_self_and_next_links() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_product(&format!("C{i}"), None).await;
    }
    let mut target = "products?page[cursor]=&page[size]=2".to_string();
    let mut names = Vec::new();
    for _ in 0..5 {
        let reply = app.get(&target).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        names.extend(
            reply.json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["attributes"]["name"].as_str().unwrap().to_string()),
        );
        assert!(reply.json["links"]["self"].as_str().unwrap().contains("page[cursor]="));
        assert!(reply.json["links"].get("meta").is_none(), "keyset pages carry no count");
        match reply.json["links"]["next"].as_str() {
            Some(next) => target = next.replace(&format!("{}/", app.path("")), ""),
            None => break,
        }
    }
    assert_eq!(names, ["C4", "C3", "C2", "C1", "C0"]);
    for bad in [
        "products?page[cursor]=not-a-uuid",
        "products?page[cursor]=&page[number]=1",
    ] {
        assert_eq!(app.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
