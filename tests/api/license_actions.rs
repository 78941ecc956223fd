//! License actions: suspend, reinstate, renew, revoke, check-in, usage, policy transfer and
//! entitlements.

use crate::helpers::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

async fn action(app: &TestApp, license: &Value, name: &str, meta: Option<Value>) -> crate::helpers::Reply {
    let path = app.path(&format!("licenses/{}/actions/{name}", license["id"].as_str().unwrap()));
    let method = if name == "revoke" { Method::DELETE } else { Method::POST };
    app.send(method, &path, Some(app.admin()), meta.map(|m| json!({ "meta": m })))
        .await
}

#[tokio::test]
async fn suspend_and_reinstate_refuse_to_repeat_themselves() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let reply = action(&app, &license, "suspend", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["data"]["attributes"]["suspended"], true);
    assert_eq!(reply.json["data"]["attributes"]["status"], "SUSPENDED");
    let again = action(&app, &license, "suspend", None).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.json["errors"][0]["detail"], "is already suspended");
    assert_eq!(again.error_pointer(), "/data/attributes/suspended");
    assert_eq!(
        action(&app, &license, "reinstate", None).await.json["data"]["attributes"]["suspended"],
        false
    );
    assert_eq!(
        action(&app, &license, "reinstate", None).await.json["errors"][0]["detail"],
        "is not suspended"
    );
}

#[tokio::test]
async fn renewal_extends_the_expiry_by_the_renewal_basis() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let day = 86_400;
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    // An expired license renewed under each basis.
    for basis in ["FROM_EXPIRY", "FROM_NOW", "FROM_NOW_IF_EXPIRED"] {
        let policy = app
            .create_policy(pid, json!({"duration": day, "renewalBasis": basis}))
            .await;
        let license = app
            .create_license(
                policy["id"].as_str().unwrap(),
                json!({"expiry": "2024-01-01T00:00:00Z"}),
            )
            .await;
        let before = chrono::Utc::now();
        let reply = action(&app, &license, "renew", None).await;
        assert_eq!(reply.status, StatusCode::OK, "{basis}: {}", reply.json);
        let expiry = parse(&reply.json["data"]["attributes"]["expiry"]);
        match basis {
            "FROM_EXPIRY" => assert_eq!(expiry, parse(&json!("2024-01-02T00:00:00Z"))),
            _ => assert!(
                expiry >= before + chrono::Duration::days(1) - chrono::Duration::seconds(1),
                "{basis}: {expiry}"
            ),
        }
    }
    let no_duration = app.create_policy(pid, json!({})).await;
    let license = app.create_license(no_duration["id"].as_str().unwrap(), json!({})).await;
    let reply = action(&app, &license, "renew", None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json["errors"][0]["detail"],
        "cannot be renewed because the policy does not have a duration"
    );
}

#[tokio::test]
async fn revoking_deletes_the_license() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    assert_eq!(
        action(&app, &license, "revoke", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("licenses/{}", license["id"].as_str().unwrap()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn check_in_needs_a_policy_that_requires_it() {
    let app = spawn_app().await;
    let (_, plain) = app.licensed(json!({}), json!({})).await;
    let reply = action(&app, &plain, "check-in", None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json["errors"][0]["detail"],
        "cannot be checked in because the policy does not require it"
    );
    let (_, license) = app
        .licensed(
            json!({"requireCheckIn": true, "checkInInterval": "week", "checkInIntervalCount": 2}),
            json!({}),
        )
        .await;
    assert!(
        license["attributes"]["lastCheckIn"].is_string(),
        "checked in at creation"
    );
    let reply = action(&app, &license, "check-in", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let a = &reply.json["data"]["attributes"];
    let last = chrono::DateTime::parse_from_rfc3339(a["lastCheckIn"].as_str().unwrap()).unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(a["nextCheckIn"].as_str().unwrap()).unwrap();
    assert_eq!(next - last, chrono::Duration::weeks(2));
}

#[tokio::test]
async fn usage_counts_up_and_down_within_max_uses() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"maxUses": 3}), json!({})).await;
    assert_eq!(
        action(&app, &license, "increment-usage", Some(json!({"increment": 2})))
            .await
            .json["data"]["attributes"]["uses"],
        2
    );
    let over = action(&app, &license, "increment-usage", Some(json!({"increment": 2}))).await;
    assert_eq!(
        (over.status, over.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "USES_LIMIT_EXCEEDED")
    );
    assert_eq!(
        over.json["errors"][0]["detail"],
        "usage exceeds maximum allowed for license (3)"
    );
    assert_eq!(
        action(&app, &license, "decrement-usage", None).await.json["data"]["attributes"]["uses"],
        1
    );
    let under = action(&app, &license, "decrement-usage", Some(json!({"decrement": 5}))).await;
    assert_eq!(under.error_code(), "USES_INVALID");
    assert_eq!(
        action(&app, &license, "reset-usage", None).await.json["data"]["attributes"]["uses"],
        0
    );
    let bad = action(&app, &license, "increment-usage", Some(json!({"increment": "one"}))).await;
    assert_eq!(
        (bad.status, bad.error_pointer()),
        (StatusCode::BAD_REQUEST, "/meta/increment")
    );
}

#[tokio::test]
async fn fifty_parallel_increments_never_pass_max_uses() {
    let app = Arc::new(spawn_app().await);
    let (_, license) = app.licensed(json!({"maxUses": 10}), json!({})).await;
    let license = Arc::new(license);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, license) = (app.clone(), license.clone());
            tokio::spawn(async move { action(&app, &license, "increment-usage", None).await })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::OK => ok += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(reply.error_code(), "USES_LIMIT_EXCEEDED");
                refused += 1;
            }
            other => panic!("{other}: {}", reply.json),
        }
    }
    assert_eq!((ok, refused), (10, 40));
    let uses = app
        .get(&format!("licenses/{}", license["id"].as_str().unwrap()))
        .await
        .json["data"]["attributes"]["uses"]
        .clone();
    assert_eq!(uses, json!(10));
}

#[tokio::test]
async fn a_license_moves_to_a_compatible_policy_of_its_product() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let other = app.create_product("Other", None).await;
    let pid = product["id"].as_str().unwrap();
    let from = app.create_policy(pid, json!({})).await;
    let reset = app
        .create_policy(pid, json!({"transferStrategy": "RESET_EXPIRY", "duration": 172800}))
        .await;
    let stricter = app
        .create_policy(pid, json!({"machineUniquenessStrategy": "UNIQUE_PER_ACCOUNT"}))
        .await;
    let foreign = app.create_policy(other["id"].as_str().unwrap(), json!({})).await;
    let license = app.create_license(from["id"].as_str().unwrap(), json!({})).await;
    let path = app.path(&format!("licenses/{}/policy", license["id"].as_str().unwrap()));
    let to = |policy: &Value| json!({"data": {"type": "policies", "id": policy["id"]}});

    let moved = app.send(Method::PUT, &path, Some(app.admin()), Some(to(&reset))).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    assert_eq!(moved.json["data"]["relationships"]["policy"]["data"]["id"], reset["id"]);
    assert!(
        moved.json["data"]["attributes"]["expiry"].is_string(),
        "RESET_EXPIRY starts a new expiry"
    );
    for target in [&stricter, &foreign] {
        let reply = app.send(Method::PUT, &path, Some(app.admin()), Some(to(target))).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "POLICY_NOT_COMPATIBLE"),
            "{}",
            reply.json
        );
    }
}

#[tokio::test]
async fn a_license_carries_its_policys_entitlements_and_its_own() {
    let app = spawn_app().await;
    let (policy, license) = app.licensed(json!({}), json!({})).await;
    let inherited = app.create_entitlement("inherited").await;
    let own = app.create_entitlement("own").await;
    let policy_path = app.path(&format!("policies/{}/entitlements", policy["id"].as_str().unwrap()));
    app.send(
        Method::POST,
        &policy_path,
        Some(app.admin()),
        Some(json!({"data": [{"type": "entitlements", "id": inherited["id"]}]})),
    )
    .await;
    let path = app.path(&format!("licenses/{}/entitlements", license["id"].as_str().unwrap()));
    let reply = app
        .send(
            Method::POST,
            &path,
            Some(app.admin()),
            Some(json!({"data": [{"type": "entitlements", "id": own["id"]}]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let listed = app
        .get(&format!("licenses/{}/entitlements", license["id"].as_str().unwrap()))
        .await;
    let mut codes: Vec<_> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    assert_eq!(codes, ["inherited", "own"]);
    let detach_inherited = app
        .send(
            Method::DELETE,
            &path,
            Some(app.admin()),
            Some(json!({"data": [{"type": "entitlements", "id": inherited["id"]}]})),
        )
        .await;
    assert_eq!(detach_inherited.status, StatusCode::FORBIDDEN);
    let detach_own = app
        .send(
            Method::DELETE,
            &path,
            Some(app.admin()),
            Some(json!({"data": [{"type": "entitlements", "id": own["id"]}]})),
        )
        .await;
    assert_eq!(detach_own.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_entitlement_named_twice_in_one_attach_is_attached_once() {
    let app = spawn_app().await;
    let (policy, license) = app.licensed(json!({}), json!({})).await;
    let a = app.create_entitlement("alpha").await;
    let b = app.create_entitlement("beta").await;
    let twice = json!({"data": [
        {"type": "entitlements", "id": a["id"]},
        {"type": "entitlements", "id": b["id"]},
        {"type": "entitlements", "id": a["id"]},
    ]});
    for owner in [
        format!("licenses/{}", license["id"].as_str().unwrap()),
        format!("policies/{}", policy["id"].as_str().unwrap()),
    ] {
        let path = app.path(&format!("{owner}/entitlements"));
        let reply = app
            .send(Method::POST, &path, Some(app.admin()), Some(twice.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{owner}: {}", reply.json);
        let codes: Vec<_> = reply.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["attributes"]["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(codes, ["alpha", "beta"], "{owner}");
        let listed = app.get(&format!("{owner}/entitlements")).await;
        assert_eq!(listed.json["data"].as_array().unwrap().len(), 2, "{owner}");
    }
}

#[tokio::test]
async fn renewing_past_the_year_9999_is_a_422_and_the_last_expiry_reads_back() {
    let app = spawn_app().await;
    // The largest duration Keygen allows (about 68 years), from an expiry near the end of time.
    let (_, license) = app
        .licensed(
            json!({"duration": 2_147_483_647, "renewalBasis": "FROM_EXPIRY"}),
            json!({"expiry": "9990-01-01T00:00:00Z"}),
        )
        .await;
    for _ in 0..2 {
        let reply = action(&app, &license, "renew", None).await;
        assert_eq!(
            (reply.status, reply.error_code(), reply.error_pointer()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "EXPIRY_INVALID",
                "/data/attributes/expiry"
            ),
            "{}",
            reply.json
        );
    }
    let id = license["id"].as_str().unwrap();
    let shown = app.get(&format!("licenses/{id}")).await;
    assert_eq!(shown.json["data"]["attributes"]["expiry"], "9990-01-01T00:00:00.000Z");

    // The latest expiry is printed in a form the API accepts back.
    let (policy, _) = app.licensed(json!({}), json!({})).await;
    let last = app
        .create_license(
            policy["id"].as_str().unwrap(),
            json!({"expiry": "9999-12-31T23:59:59Z"}),
        )
        .await;
    let printed = last["attributes"]["expiry"].clone();
    assert_eq!(printed, "9999-12-31T23:59:59.000Z");
    let path = app.path(&format!("licenses/{}", last["id"].as_str().unwrap()));
    let body = json!({"data": {"type": "licenses", "attributes": {"expiry": printed}}});
    let again = app.send(Method::PATCH, &path, Some(app.admin()), Some(body)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
}
