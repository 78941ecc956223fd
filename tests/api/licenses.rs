//! Licenses: keys, expiry, retrieval by id or key, updates, lists with filters, and who sees
//! what (a license bearer sees only itself).
//!
//! Over 400 lines on purpose: one file per resource keeps a resource's scenarios together.

use crate::helpers::spawn_app;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;

fn is_default_key(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() == 6
        && groups[..5]
            .iter()
            .all(|g| g.len() == 6 && g.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()))
        && groups[5] == "V3"
}

#[tokio::test]
async fn a_license_gets_a_keygen_key_and_its_policys_values() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(
            json!({"strict": true, "maxUses": 5}),
            json!({"name": "Customer", "metadata": {"customerId": "c1"}}),
        )
        .await;
    let a = &license["attributes"];
    assert_eq!(license["type"], "licenses");
    assert!(is_default_key(a["key"].as_str().unwrap()), "{}", a["key"]);
    assert_eq!(a["name"], "Customer");
    assert_eq!(a["status"], "ACTIVE");
    assert_eq!(a["uses"], 0);
    assert_eq!(a["suspended"], false);
    assert_eq!(a["strict"], true);
    assert_eq!(a["floating"], false);
    assert_eq!(a["maxMachines"], 1);
    assert_eq!(a["maxUses"], 5);
    assert_eq!(a["expiry"], json!(null));
    assert_eq!(a["lastValidated"], json!(null));
    assert_eq!(a["metadata"], json!({"customerId": "c1"}));
    let rel = &license["relationships"];
    assert_eq!(rel["policy"]["data"], json!({"type": "policies", "id": policy["id"]}));
    assert_eq!(rel["machines"]["meta"]["count"], 0);
    assert_eq!(rel["owner"]["data"], json!(null));

    let key = a["key"].as_str().unwrap();
    let by_key = app.get(&format!("licenses/{key}")).await;
    assert_eq!(by_key.json["data"]["id"], license["id"]);
}

#[tokio::test]
async fn expiry_follows_the_policy_duration_and_explicit_expiry_wins() {
    let app = spawn_app().await;
    let (policy, license) = app.licensed(json!({"duration": 2629746}), json!({})).await;
    let created = chrono::DateTime::parse_from_rfc3339(license["attributes"]["created"].as_str().unwrap()).unwrap();
    let expiry = chrono::DateTime::parse_from_rfc3339(license["attributes"]["expiry"].as_str().unwrap()).unwrap();
    let expected = created.checked_add_months(chrono::Months::new(1)).unwrap();
    assert_eq!(expiry, expected, "a month of seconds is one calendar month");
    let explicit = app
        .create_license(
            policy["id"].as_str().unwrap(),
            json!({"expiry": "2031-01-02T03:04:05.000Z"}),
        )
        .await;
    assert_eq!(explicit["attributes"]["expiry"], "2031-01-02T03:04:05.000Z");
}

#[tokio::test]
async fn custom_keys_are_unique_per_account_even_in_parallel() {
    let app = Arc::new(spawn_app().await);
    let product = app.create_product("App", None).await;
    let policy = app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    let policy_id = policy["id"].as_str().unwrap().to_string();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, policy_id) = (app.clone(), policy_id.clone());
            tokio::spawn(async move { app.try_create_license(&policy_id, json!({"key": "CUSTOM-KEY-1"})).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(
                    (reply.error_code(), reply.error_pointer()),
                    ("KEY_TAKEN", "/data/attributes/key")
                )
            }
            other => panic!("{other}: {}", reply.json),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.get("licenses").await.json["data"].as_array().unwrap().len(), 1);
    let short = app.try_create_license(&policy_id, json!({"key": "abc"})).await;
    assert_eq!(short.error_code(), "KEY_INVALID");
}

#[tokio::test]
async fn custom_keys_of_3000_and_16384_bytes_are_claimed_and_found_on_both_backends() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let policy = app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    let policy_id = policy["id"].as_str().unwrap();
    for length in [3_000, 16_384] {
        let key: String = (0..length).map(|i| (b'A' + (i % 26) as u8) as char).collect();
        let created = app.try_create_license(policy_id, json!({ "key": key })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{length}: {}", created.json);
        let again = app.try_create_license(policy_id, json!({ "key": key })).await;
        assert_eq!(
            (again.status, again.error_code(), again.error_pointer()),
            (StatusCode::UNPROCESSABLE_ENTITY, "KEY_TAKEN", "/data/attributes/key"),
            "{length}"
        );
        let validated = app
            .send(
                Method::POST,
                &app.path("licenses/actions/validate-key"),
                None,
                Some(json!({"meta": {"key": key}})),
            )
            .await;
        assert_eq!(validated.json["meta"]["code"], "VALID", "{length}: {}", validated.json);
        let found = app.get(&format!("licenses/{key}")).await;
        assert_eq!(found.json["data"]["id"], created.json["data"]["id"], "{length}");
    }
}

#[tokio::test]
async fn licenses_update_and_delete() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"floating": true, "maxMachines": 4}), json!({}))
        .await;
    let id = license["id"].as_str().unwrap();
    let patch = json!({"data": {"type": "licenses", "attributes": {"name": "Renamed", "maxMachines": 8, "metadata": {"a": 1}}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("licenses/{id}")),
            Some(app.admin()),
            Some(patch),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["data"]["attributes"]["name"], "Renamed");
    assert_eq!(reply.json["data"]["attributes"]["maxMachines"], 8);
    let bad = json!({"data": {"type": "licenses", "attributes": {"maxMachines": 0}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("licenses/{id}")),
            Some(app.admin()),
            Some(bad),
        )
        .await;
    assert_eq!(
        (reply.error_code(), reply.error_pointer()),
        ("MAX_MACHINES_INVALID", "/data/attributes/maxMachines")
    );
    assert_eq!(
        app.send(
            Method::DELETE,
            &app.path(&format!("licenses/{id}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("licenses/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lists_filter_by_product_policy_status_and_metadata() {
    let app = spawn_app().await;
    let a = app.create_product("A", Some("a")).await;
    let b = app.create_product("B", Some("b")).await;
    let pa = app.create_policy(a["id"].as_str().unwrap(), json!({})).await;
    let pb = app.create_policy(b["id"].as_str().unwrap(), json!({})).await;
    let pa_id = pa["id"].as_str().unwrap();
    let active = app
        .create_license(pa_id, json!({"metadata": {"tier": "gold", "seats": 5, "beta": true}}))
        .await;
    let expired = app
        .create_license(pa_id, json!({"expiry": "2020-01-01T00:00:00Z"}))
        .await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let expiring = app.create_license(pa_id, json!({"expiry": soon})).await;
    let suspended = app
        .create_license(pb["id"].as_str().unwrap(), json!({"suspended": true}))
        .await;

    let ids = |reply: &crate::helpers::Reply| -> Vec<String> {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let mut ids: Vec<String> = reply.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&serde_json::Value>| {
        v.sort_by_key(|l| l["id"].as_str().unwrap().to_string());
        v.iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&app
            .get(&format!("licenses?product={}", b["id"].as_str().unwrap()))
            .await),
        sorted(vec![&suspended])
    );
    assert_eq!(
        ids(&app.get("licenses?product=a").await).len(),
        3,
        "products by code too"
    );
    assert_eq!(ids(&app.get(&format!("licenses?policy={pa_id}")).await).len(), 3);
    assert_eq!(ids(&app.get("licenses?status=ACTIVE").await), sorted(vec![&active]));
    assert_eq!(ids(&app.get("licenses?status=EXPIRED").await), sorted(vec![&expired]));
    assert_eq!(ids(&app.get("licenses?status=EXPIRING").await), sorted(vec![&expiring]));
    assert_eq!(
        ids(&app.get("licenses?status=SUSPENDED").await),
        sorted(vec![&suspended])
    );
    assert_eq!(ids(&app.get("licenses?suspended=true").await), sorted(vec![&suspended]));
    assert_eq!(ids(&app.get("licenses?expired=true").await), sorted(vec![&expired]));
    assert_eq!(ids(&app.get("licenses?expiring=true").await), sorted(vec![&expiring]));
    assert_eq!(
        ids(&app.get("licenses?expires[before]=2021-01-01T00:00:00Z").await),
        sorted(vec![&expired])
    );
    assert_eq!(
        ids(&app.get("licenses?metadata[tier]=gold").await),
        sorted(vec![&active])
    );
    assert_eq!(ids(&app.get("licenses?metadata[seats]=5").await), sorted(vec![&active]));
    assert_eq!(
        ids(&app.get("licenses?metadata[beta]=true").await),
        sorted(vec![&active])
    );
    assert!(ids(&app.get("licenses?metadata[tier]=silver").await).is_empty());
    assert_eq!(
        app.get("licenses?status=WHATEVER").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.get("licenses?expired=maybe").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get("licenses?page[number]=1&page[size]=2").await.json["links"]["meta"],
        json!({"pages": 2, "count": 4})
    );
}

#[tokio::test]
async fn a_license_bearer_sees_only_itself() {
    let app = spawn_app().await;
    let (policy, mine) = app
        .licensed(json!({"authenticationStrategy": "MIXED"}), json!({}))
        .await;
    let other = app.create_license(policy["id"].as_str().unwrap(), json!({})).await;
    let key = mine["attributes"]["key"].as_str().unwrap();
    let auth = format!("License {key}");

    let listed = app
        .send_with_authorization(Method::GET, &app.path("licenses"), Some(&auth))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    let ids: Vec<_> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].clone())
        .collect();
    assert_eq!(ids, [mine["id"].clone()]);
    let theirs = app
        .send_with_authorization(
            Method::GET,
            &app.path(&format!("licenses/{}", other["id"].as_str().unwrap())),
            Some(&auth),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let itself = app
        .send_with_authorization(
            Method::GET,
            &app.path(&format!("licenses/{}", mine["id"].as_str().unwrap())),
            Some(&auth),
        )
        .await;
    assert_eq!(itself.status, StatusCode::OK);
    let me = app
        .send_with_authorization(Method::GET, &app.path("me"), Some(&auth))
        .await;
    assert_eq!(me.json["data"]["type"], "licenses");
    let create = app
        .send_with_authorization(Method::POST, &app.path("licenses"), Some(&auth))
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    let suspend = app
        .send_with_authorization(
            Method::POST,
            &app.path(&format!("licenses/{}/actions/suspend", mine["id"].as_str().unwrap())),
            Some(&auth),
        )
        .await;
    assert_eq!(suspend.status, StatusCode::FORBIDDEN);

    // The same key through Basic and the query string.
    let basic = format!("Basic {}", B64.encode(format!("license:{key}")));
    assert_eq!(
        app.send_with_authorization(Method::GET, &app.path("licenses"), Some(&basic))
            .await
            .status,
        StatusCode::OK
    );
    let query = format!("{}?auth=license:{key}", app.path("licenses"));
    assert_eq!(
        app.send_with_authorization(Method::GET, &query, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn license_key_authentication_follows_the_policy_strategy() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let token_only = app.create_policy(pid, json!({"authenticationStrategy": "TOKEN"})).await;
    let revoking = app
        .create_policy(
            pid,
            json!({"authenticationStrategy": "LICENSE", "expirationStrategy": "REVOKE_ACCESS"}),
        )
        .await;
    let tok = app.create_license(token_only["id"].as_str().unwrap(), json!({})).await;
    let expired = app
        .create_license(
            revoking["id"].as_str().unwrap(),
            json!({"expiry": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let suspended = app
        .create_license(revoking["id"].as_str().unwrap(), json!({"suspended": true}))
        .await;
    let as_license =
        |license: &serde_json::Value| format!("License {}", license["attributes"]["key"].as_str().unwrap());
    let me = app.path("me");
    let reply = app
        .send_with_authorization(Method::GET, &me, Some(&as_license(&tok)))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_NOT_ALLOWED")
    );
    let reply = app
        .send_with_authorization(Method::GET, &me, Some(&as_license(&expired)))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_EXPIRED")
    );
    let reply = app
        .send_with_authorization(Method::GET, &me, Some(&as_license(&suspended)))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_SUSPENDED")
    );
    let reply = app
        .send_with_authorization(Method::GET, &me, Some("License NOPE-NOPE"))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNAUTHORIZED, "LICENSE_INVALID")
    );
}

#[tokio::test]
async fn activation_tokens_act_for_their_license_when_the_policy_allows_tokens() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let pid = product["id"].as_str().unwrap();
    let tokens_ok = app.create_policy(pid, json!({"authenticationStrategy": "TOKEN"})).await;
    let keys_only = app
        .create_policy(pid, json!({"authenticationStrategy": "LICENSE"}))
        .await;
    for (policy, expected) in [(&tokens_ok, StatusCode::OK), (&keys_only, StatusCode::FORBIDDEN)] {
        let license = app.create_license(policy["id"].as_str().unwrap(), json!({})).await;
        let id = license["id"].as_str().unwrap();
        let minted = app
            .send(
                Method::POST,
                &app.path(&format!("licenses/{id}/tokens")),
                Some(app.admin()),
                None,
            )
            .await;
        assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.json);
        assert_eq!(minted.json["data"]["attributes"]["kind"], "activation-token");
        let raw = minted.json["data"]["attributes"]["token"].as_str().unwrap();
        assert!(
            raw.starts_with("activ-") && raw.len() == "activ-".len() + 32 + 2,
            "{raw}"
        );
        let me = app.send(Method::GET, &app.path("me"), Some(raw), None).await;
        assert_eq!(me.status, expected, "{}", me.json);
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(me.error_code(), "TOKEN_NOT_ALLOWED");
        } else {
            assert_eq!(me.json["data"]["id"], id);
        }
        assert_eq!(
            app.get(&format!("licenses/{id}/tokens")).await.json["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn a_license_bearer_cannot_mint_tokens_for_itself() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let auth = format!("License {}", license["attributes"]["key"].as_str().unwrap());
    let reply = app
        .send_with_authorization(Method::POST, &app.path("tokens"), Some(&auth))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pagination_links_keep_the_filters() {
    let app = spawn_app().await;
    let (policy, _) = app.licensed(json!({}), json!({"suspended": true})).await;
    app.create_license(policy["id"].as_str().unwrap(), json!({"suspended": true}))
        .await;
    let reply = app.get("licenses?suspended=true&page[number]=1&page[size]=1").await;
    let next = reply.json["links"]["next"].as_str().unwrap().to_string();
    assert!(
        next.contains("suspended=true") && next.contains("page[number]=2"),
        "{next}"
    );
    let target = next.replace(&app.path(""), "");
    let second = app.get(target.trim_start_matches('/')).await;
    assert_eq!(second.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(second.json["data"][0]["attributes"]["suspended"], true);
}

#[tokio::test]
async fn deleting_a_product_takes_its_policies_licenses_and_tokens_with_it() {
    let app = spawn_app().await;
    let product = app.create_product("Doomed", Some("doomed")).await;
    let pid = product["id"].as_str().unwrap();
    let (_, product_token) = app.product_token(pid).await;
    let policy = app.create_policy(pid, json!({})).await;
    let license = app
        .create_license(policy["id"].as_str().unwrap(), json!({"key": "DOOMED-KEY-1"}))
        .await;
    let (_, activation) = app.license_token(license["id"].as_str().unwrap()).await;

    assert_eq!(
        app.send(
            Method::DELETE,
            &app.path(&format!("products/{pid}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("policies/{}", policy["id"].as_str().unwrap()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("licenses/DOOMED-KEY-1").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.send(Method::GET, &app.path("me"), Some(&product_token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(Method::GET, &app.path("me"), Some(&activation), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("tokens").await.json["data"].as_array().unwrap().len(),
        1,
        "only the admin's token is left"
    );
    let sql = "select count(*) from events where event_type in ('license.deleted', 'policy.deleted', 'token.revoked')";
    let events: i64 = store::on_pool!(app.state.db, |pool| sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(events, 4, "each removal is an event: license, policy, two tokens");
    // The key is free again.
    let product = app.create_product("Reborn", None).await;
    let policy = app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    app.create_license(policy["id"].as_str().unwrap(), json!({"key": "DOOMED-KEY-1"}))
        .await;
}

#[tokio::test]
async fn a_refused_license_gives_its_pooled_key_back() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let policy = app
        .create_policy(product["id"].as_str().unwrap(), json!({"usePool": true}))
        .await;
    let policy_id = policy["id"].as_str().unwrap();
    let body = json!({"data": {"type": "keys", "attributes": {"key": "ONLY-POOL-KEY"}, "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
    assert_eq!(
        app.send(Method::POST, &app.path("keys"), Some(app.admin()), Some(body))
            .await
            .status,
        StatusCode::CREATED
    );
    let refused = app.try_create_license(policy_id, json!({"maxMachines": 5})).await;
    assert_eq!(refused.error_code(), "MAX_MACHINES_INVALID");
    let pool = app.get(&format!("policies/{policy_id}/pool")).await;
    assert_eq!(
        pool.json["data"][0]["attributes"]["key"], "ONLY-POOL-KEY",
        "{}",
        pool.json
    );
    assert_eq!(
        app.create_license(policy_id, json!({})).await["attributes"]["key"],
        "ONLY-POOL-KEY"
    );
}
