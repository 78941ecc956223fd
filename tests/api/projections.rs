//! Read models depend on the event store alone: a rebuild reproduces them exactly, and the
//! catch-up runner brings them up to date when the inline path did not run.
//!
//! Over 400 lines on purpose: each scenario builds a store, breaks or bypasses its read models
//! and compares them row by row, which takes room.

use crate::helpers::{output_of, spawn_app, spawn_app_without_runner, TestApp};
use aggregates::product::{ProductAttributes, ProductCommand, ProductPatch};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Column, Row};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Every read-model table as sorted rows of text.
async fn dump(db: &store::Database) -> Vec<(String, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for table in projections::TABLES {
        let sql = format!("select * from {table} order by 1, 2");
        let rows: Vec<Vec<String>> = store::on_pool!(db, |pool| {
            let rows = sqlx::query(&sql).fetch_all(pool).await.unwrap();
            rows.iter()
                .map(|row| {
                    (0..row.columns().len())
                        .map(|i| {
                            let name = row.column(i).name().to_string();
                            let value = row
                                .try_get::<Option<String>, _>(i)
                                .map(|v| format!("{v:?}"))
                                .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                                .unwrap_or_else(|e| format!("<{e}>"));
                            format!("{name}={value}")
                        })
                        .collect()
                })
                .collect()
        });
        out.push((table.to_string(), rows));
    }
    out
}

#[tokio::test]
async fn a_rebuild_reproduces_every_read_model_exactly() {
    let app = spawn_app().await;
    let a = app.create_product("Alpha", Some("alpha")).await;
    let b = app.create_product("Beta", Some("beta")).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let patch = json!({"data": {"type": "products", "attributes": {"code": "alpha2", "metadata": {"k": "v"}, "platforms": ["Linux"]}}});
    assert_eq!(
        app.send(
            Method::PATCH,
            &app.path(&format!("products/{a_id}")),
            Some(app.admin()),
            Some(patch)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(
            Method::DELETE,
            &app.path(&format!("products/{b_id}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let (token_id, _) = app.product_token(a_id).await;
    assert_eq!(
        app.send(
            Method::PUT,
            &app.path(&format!("tokens/{token_id}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let (revoked, _) = app.product_token(a_id).await;
    assert_eq!(
        app.send(
            Method::DELETE,
            &app.path(&format!("tokens/{revoked}")),
            Some(app.admin()),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );

    licensing_scenario(&app, a_id).await;
    webhook_endpoint_scenario(&app, a_id).await;
    crate::releases::distribution_scenario(&app, a_id).await;
    // An account of an older version that gained its RSA and ECDSA keys on first use.
    let older = crate::account_keys::older_account(&app).await;
    let ping = app
        .send(Method::GET, &format!("/v1/accounts/{older}/ping"), None, None)
        .await;
    assert_eq!(ping.status, StatusCode::OK);
    // Event logs are written by the runner alone: let it reach the end of the feed first.
    projections::catch_up(&app.state.db).await.unwrap();

    let before = dump(&app.state.db).await;
    assert!(
        before.iter().all(|(_, rows)| !rows.is_empty()),
        "the scenario touches every table"
    );

    // The command-line rebuild, as an operator would run it.
    let mut rebuild = std::process::Command::new(env!("CARGO_BIN_EXE_keyledger"));
    rebuild
        .args(["projections", "rebuild"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url);
    let output = output_of(rebuild).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after = dump(&app.state.db).await;
    assert_eq!(before, after);
    assert_eq!(
        app.get("products/alpha2").await.json["data"]["attributes"]["metadata"],
        json!({"k": "v"})
    );
}

#[tokio::test]
async fn with_the_inline_path_off_reads_converge_once_the_runner_has_run() {
    let app = spawn_app_without_runner().await;
    let product = app.create_product("Before", Some("before")).await;
    let id = product["id"].as_str().unwrap().to_string();
    app.state
        .inline_projections
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // Commands go straight to the aggregates, as a node that crashed after its commit would
    // have left them: events stored, read models not yet touched.
    let at = chrono::Utc::now();
    let new_id = uuid::Uuid::new_v4().to_string();
    let attributes = ProductAttributes {
        name: "After".into(),
        code: Some("after".into()),
        distribution_strategy: "OPEN".into(),
        url: None,
        platforms: None,
        permissions: vec!["*".into()],
        metadata: Default::default(),
    };
    let frameworks = &app.state.frameworks;
    let create = ProductCommand::Create {
        id: new_id.clone(),
        account_id: app.account.account_id.clone(),
        attributes,
        at,
    };
    frameworks
        .product
        .execute_with_metadata(&new_id, create, HashMap::new())
        .await
        .unwrap();
    let patch = ProductPatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    frameworks
        .product
        .execute_with_metadata(&id, ProductCommand::Update { patch, at }, HashMap::new())
        .await
        .unwrap();

    assert_eq!(
        app.get(&format!("products/{new_id}")).await.status,
        StatusCode::NOT_FOUND,
        "not projected yet"
    );
    assert_eq!(
        app.get(&format!("products/{id}")).await.json["data"]["attributes"]["name"],
        "Before"
    );

    // The runner applies the feed from its checkpoint (another test's open transaction on a
    // shared PostgreSQL server may hold the feed back for a moment, so poll).
    // Both events must arrive: the update's transaction may be held back a moment longer.
    let started = Instant::now();
    loop {
        projections::catch_up(&app.state.db).await.unwrap();
        let created = app.get(&format!("products/{new_id}")).await.status == StatusCode::OK;
        let renamed = app.get(&format!("products/{id}")).await.json["data"]["attributes"]["name"] == "Renamed";
        if created && renamed {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "catch-up never converged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.get("products/after").await.json["data"]["attributes"]["distributionStrategy"],
        "OPEN"
    );
}

/// Webhook endpoints created, changed (one scoped to a product) and deleted.
async fn webhook_endpoint_scenario(app: &TestApp, product_id: &str) {
    let mut ids = Vec::new();
    for (url, product) in [
        ("https://198.51.100.7/a", None),
        ("https://198.51.100.7/b", Some(product_id)),
    ] {
        let mut body = json!({"data": {"type": "webhook-endpoints", "attributes": {"url": url}}});
        if let Some(id) = product {
            body["data"]["relationships"] = json!({"product": {"data": {"type": "products", "id": id}}});
        }
        let reply = app
            .send(
                Method::POST,
                &app.path("webhook-endpoints"),
                Some(app.admin()),
                Some(body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        ids.push(reply.json["data"]["id"].as_str().unwrap().to_string());
    }
    let patch = json!({"data": {"type": "webhook-endpoints", "attributes": {"subscriptions": ["license.created"]}}});
    let path = |id: &str| app.path(&format!("webhook-endpoints/{id}"));
    let changed = app
        .send(Method::PATCH, &path(&ids[0]), Some(app.admin()), Some(patch))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    let gone = app.send(Method::DELETE, &path(&ids[1]), Some(app.admin()), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
}

/// Policies with a pool and entitlements, licenses through their actions.
pub(crate) async fn licensing_scenario(app: &crate::helpers::TestApp, product_id: &str) {
    let ok = |status: StatusCode| assert!(status.is_success(), "{status}");
    let pooled = app.create_policy(product_id, json!({"usePool": true})).await;
    let pooled_id = pooled["id"].as_str().unwrap();
    for key in ["REBUILD-POOL-1", "REBUILD-POOL-2", "REBUILD-POOL-3"] {
        let body = json!({"data": {"type": "keys", "attributes": {"key": key},
            "relationships": {"policy": {"data": {"type": "policies", "id": pooled_id}}}}});
        ok(app
            .send(Method::POST, &app.path("keys"), Some(app.admin()), Some(body))
            .await
            .status);
    }
    let from_pool = app.create_license(pooled_id, json!({})).await;
    ok(app
        .send(
            Method::DELETE,
            &app.path(&format!("policies/{pooled_id}/pool")),
            Some(app.admin()),
            None,
        )
        .await
        .status);
    let policy = app
        .create_policy(product_id, json!({"duration": 86400, "maxUses": 5}))
        .await;
    let policy_id = policy["id"].as_str().unwrap();
    let e1 = app.create_entitlement("rebuild-one").await;
    let e2 = app.create_entitlement("rebuild-two").await;
    let link = |e: &serde_json::Value| json!({"data": [{"type": "entitlements", "id": e["id"]}]});
    ok(app
        .send(
            Method::POST,
            &app.path(&format!("policies/{policy_id}/entitlements")),
            Some(app.admin()),
            Some(link(&e1)),
        )
        .await
        .status);
    let patch = json!({"data": {"type": "policies", "attributes": {"strict": true}}});
    ok(app
        .send(
            Method::PATCH,
            &app.path(&format!("policies/{policy_id}")),
            Some(app.admin()),
            Some(patch),
        )
        .await
        .status);
    let license = app
        .create_license(policy_id, json!({"name": "Rebuilt", "metadata": {"k": 1}}))
        .await;
    let id = license["id"].as_str().unwrap();
    ok(app
        .send(
            Method::POST,
            &app.path(&format!("licenses/{id}/entitlements")),
            Some(app.admin()),
            Some(link(&e2)),
        )
        .await
        .status);
    for action in [
        "suspend",
        "reinstate",
        "renew",
        "increment-usage",
        "increment-usage",
        "decrement-usage",
    ] {
        let reply = app
            .send(
                Method::POST,
                &app.path(&format!("licenses/{id}/actions/{action}")),
                Some(app.admin()),
                None,
            )
            .await;
        ok(reply.status);
    }
    let patch = json!({"data": {"type": "licenses", "attributes": {"name": "Renamed"}}});
    ok(app
        .send(
            Method::PATCH,
            &app.path(&format!("licenses/{id}")),
            Some(app.admin()),
            Some(patch),
        )
        .await
        .status);
    // Machines: activated, deactivated and activated again on one license; one goes with its
    // license's revocation.
    // The first comes and goes with the license's activation token, which counts both.
    let (_, activation_token) = app.license_token(id).await;
    let first = crate::machines::activate(app, &activation_token, id, "rebuild-fp-1", json!({"cores": 2})).await;
    ok(first.status);
    let first_id = first.json["data"]["id"].as_str().unwrap();
    ok(app
        .send(
            Method::DELETE,
            &app.path(&format!("machines/{first_id}")),
            Some(&activation_token),
            None,
        )
        .await
        .status);
    let second = json!({"fingerprint": "rebuild-fp-2", "cores": 4, "name": "Kept", "platform": "Linux", "metadata": {"rack": "b12"}});
    let kept = json!({"data": {"type": "machines", "attributes": second,
        "relationships": {"license": {"data": {"type": "licenses", "id": id}},
            "components": {"data": [{"type": "components", "attributes": {"fingerprint": "rebuild-cpu", "name": "CPU"}}]}}}});
    let kept = app
        .send(Method::POST, &app.path("machines"), Some(app.admin()), Some(kept))
        .await;
    ok(kept.status);
    let kept_id = kept.json["data"]["id"].as_str().unwrap();
    let ping = app.path(&format!("machines/{kept_id}/actions/ping"));
    ok(app.send(Method::POST, &ping, Some(app.admin()), None).await.status);
    for pid in ["kept-pid", "killed-pid"] {
        let process = json!({"data": {"type": "processes", "attributes": {"pid": pid, "metadata": {"k": 1}},
            "relationships": {"machine": {"data": {"type": "machines", "id": kept_id}}}}});
        let made = app
            .send(Method::POST, &app.path("processes"), Some(app.admin()), Some(process))
            .await;
        ok(made.status);
        let path = app.path(&format!("processes/{}", made.json["data"]["id"].as_str().unwrap()));
        let (method, body) = match pid {
            "kept-pid" => (
                Method::PATCH,
                Some(json!({"data": {"type": "processes", "attributes": {"metadata": {"k": 2}}}})),
            ),
            _ => (Method::DELETE, None),
        };
        ok(app.send(method, &path, Some(app.admin()), body).await.status);
    }
    // Components on their own: one added and renamed, one added and removed.
    for fingerprint in ["rebuild-gpu", "rebuild-nic"] {
        let component = json!({"data": {"type": "components", "attributes": {"fingerprint": fingerprint, "name": "Part"},
            "relationships": {"machine": {"data": {"type": "machines", "id": kept_id}}}}});
        let made = app
            .send(
                Method::POST,
                &app.path("components"),
                Some(app.admin()),
                Some(component),
            )
            .await;
        ok(made.status);
        let path = app.path(&format!("components/{}", made.json["data"]["id"].as_str().unwrap()));
        let (method, body) = match fingerprint {
            "rebuild-gpu" => (
                Method::PATCH,
                Some(json!({"data": {"type": "components", "attributes": {"name": "GPU", "metadata": {"slot": 1}}}})),
            ),
            _ => (Method::DELETE, None),
        };
        ok(app.send(method, &path, Some(app.admin()), body).await.status);
    }
    let renamed = json!({"data": {"type": "machines", "attributes": {"name": "Renamed", "cores": 3}}});
    let machine = app.path(&format!("machines/{kept_id}"));
    ok(app
        .send(Method::PATCH, &machine, Some(app.admin()), Some(renamed))
        .await
        .status);
    let gone = app.create_license(policy_id, json!({})).await;
    let gone_id = gone["id"].as_str().unwrap();
    ok(
        crate::machines::activate(app, app.admin(), gone_id, "rebuild-fp-3", json!({}))
            .await
            .status,
    );
    ok(app
        .send(
            Method::DELETE,
            &app.path(&format!("licenses/{}/actions/revoke", gone["id"].as_str().unwrap())),
            Some(app.admin()),
            None,
        )
        .await
        .status);
    ok(app
        .send(
            Method::DELETE,
            &app.path(&format!("entitlements/{}", e1["id"].as_str().unwrap())),
            Some(app.admin()),
            None,
        )
        .await
        .status);
    let validated = app.validate(from_pool["id"].as_str().unwrap(), json!({})).await;
    ok(validated.status);
}

#[tokio::test]
async fn an_event_the_inline_path_missed_is_never_skipped() {
    let app = spawn_app_without_runner().await;
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let id = license["id"].as_str().unwrap();
    let inline = &app.state.inline_projections;
    // The suspension commits but is not projected (a crash after commit, or another node)...
    inline.store(false, std::sync::atomic::Ordering::SeqCst);
    let suspended = app
        .send(
            Method::POST,
            &app.path(&format!("licenses/{id}/actions/suspend")),
            Some(app.admin()),
            None,
        )
        .await;
    assert!(suspended.status.is_success() || suspended.status == StatusCode::NOT_FOUND);
    // ...and the next event of the same license is projected inline: the projector sees the
    // gap, reads the missing event from the store and applies both, in order.
    inline.store(true, std::sync::atomic::Ordering::SeqCst);
    let path = app.path(&format!("licenses/{id}/actions/increment-usage"));
    let reply = app.send(Method::POST, &path, Some(app.admin()), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let a = &reply.json["data"]["attributes"];
    assert_eq!(
        (a["uses"].clone(), a["suspended"].clone()),
        (json!(1), json!(true)),
        "read-your-writes holds: {a}"
    );
    // And the runner, replaying the feed over the same rows, changes nothing.
    projections::catch_up(&app.state.db).await.unwrap();
    let again = app.get(&format!("licenses/{id}")).await.json["data"]["attributes"].clone();
    assert_eq!(
        (again["uses"].clone(), again["suspended"].clone()),
        (json!(1), json!(true))
    );
}

#[tokio::test]
async fn events_export_prints_every_event_of_an_account_in_order() {
    let app = spawn_app().await;
    let other = api::bootstrap::create_account(&app.state, "Other", "other", "o@example.com", "pw")
        .await
        .unwrap();
    let (_, license) = app.licensed(json!({}), json!({})).await;
    let id = license["id"].as_str().unwrap();
    app.send(
        Method::POST,
        &app.path(&format!("licenses/{id}/actions/suspend")),
        Some(app.admin()),
        None,
    )
    .await;
    let mut export = std::process::Command::new(env!("CARGO_BIN_EXE_keyledger"));
    export
        .args(["events", "export", "--account", &app.account.account_id])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url);
    let output = output_of(export).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .all(|e| e["metadata"]["account_id"] == app.account.account_id.as_str()));
    assert!(
        !lines.iter().any(|e| e["aggregateId"] == other.account_id.as_str()),
        "another account's events stay out"
    );
    let license_events: Vec<_> = lines
        .iter()
        .filter(|e| e["aggregateId"] == id)
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(license_events, ["license.created", "license.suspended"]);
    let positions: Vec<i64> = lines.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "commit order");
    let text = serde_json::to_string(&lines).unwrap();
    assert!(
        !text.contains("$argon2") && text.contains("[FILTERED]"),
        "digests and sealed secrets are filtered"
    );
}

#[tokio::test]
async fn a_write_whose_inline_projection_failed_still_answers_what_it_committed() {
    // No catch-up runner: only the command's own repair can make the row appear in time.
    let app = spawn_app_without_runner().await;
    app.state.inline_failures.fail_next(1);
    let product = app.create_product("Shown", Some("shown")).await;
    assert_eq!(product["attributes"]["code"], "shown");
    let pid = product["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("products/{pid}")).await.status, StatusCode::OK);

    let policy = app.create_policy(pid, json!({})).await;
    app.state.inline_failures.fail_next(1);
    let license = app.create_license(policy["id"].as_str().unwrap(), json!({})).await;
    let id = license["id"].as_str().unwrap();

    // A delta row that missed an update shows the update, not the state before it.
    app.state.inline_failures.fail_next(1);
    let renamed = app
        .send(
            Method::PATCH,
            &app.path(&format!("licenses/{id}")),
            Some(app.admin()),
            Some(json!({"data": {"type": "licenses", "attributes": {"name": "Renamed"}}})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.json);
    assert_eq!(renamed.json["data"]["attributes"]["name"], "Renamed");
    app.state.inline_failures.fail_next(1);
    let suspended = app
        .send(
            Method::POST,
            &app.path(&format!("licenses/{id}/actions/suspend")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(suspended.json["data"]["attributes"]["suspended"], true);
    assert_eq!(
        app.get(&format!("licenses/{id}")).await.json["data"]["attributes"]["name"],
        "Renamed"
    );
}
