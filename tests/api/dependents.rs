//! What depends on what: a license needs a live policy and a policy a live product in the
//! transaction that creates it, and a cascading delete finds every dependent — also one created
//! concurrently, which the read models may not show yet.

use crate::helpers::{spawn_app, spawn_app_without_runner, TestApp};
use aggregates::license::{LicenseCommand, NewKey, PolicySnapshot};
use aggregates::policy::PolicyCommand;
use api::error::Source;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::atomic::Ordering;

/// The policy as a command carries it, read while it still exists.
async fn snapshot(app: &TestApp, policy_id: &str) -> PolicySnapshot {
    let row = projections::policies::find_any(&app.state.db, &app.account.account_id, policy_id)
        .await
        .unwrap()
        .expect("the policy is there");
    PolicySnapshot {
        attributes: row.attributes().unwrap(),
        id: aggregates::PolicyId::from(row.id),
        product_id: aggregates::ProductId::from(row.product_id),
    }
}

/// Creates a license straight through its aggregate, as a request that read the policy earlier.
async fn create_license(app: &TestApp, policy: PolicySnapshot) -> Result<String, api::error::ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let command = LicenseCommand::Create {
        id: aggregates::LicenseId::from(id.clone()),
        account_id: aggregates::AccountId::from(app.account.account_id.clone()),
        policy,
        key: NewKey::Custom(format!("KEY-{}", uuid::Uuid::new_v4().simple())),
        attributes: Default::default(),
        at: api::state::now(),
    };
    api::state::execute(
        &app.state.frameworks.license,
        &aggregates::LicenseId::from(&id),
        command,
        Default::default(),
    )
    .await
    .map(|()| id)
}

async fn delete(app: &TestApp, path: &str) {
    let reply = app.send(Method::DELETE, &app.path(path), Some(app.admin()), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.json);
}

async fn event_types(app: &TestApp, aggregate_id: &str) -> Vec<String> {
    let sql = "select event_type from events where aggregate_id = $1 order by sequence";
    store::on_pool!(app.state.db, |pool| sqlx::query_scalar(sql)
        .bind(aggregate_id)
        .fetch_all(pool)
        .await
        .unwrap())
}

#[tokio::test]
async fn a_license_for_a_policy_deleted_meanwhile_is_refused() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let policy = app.create_policy(product["id"].as_str().unwrap(), json!({})).await;
    let policy_id = policy["id"].as_str().unwrap();
    // The request read the policy, then the policy was deleted before the license committed.
    let read_earlier = snapshot(&app, policy_id).await;
    delete(&app, &format!("policies/{policy_id}")).await;
    let err = create_license(&app, read_earlier)
        .await
        .expect_err("a license needs a live policy");
    assert_eq!(
        (err.status, err.error.code.as_deref(), err.error.source),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("POLICY_NOT_FOUND"),
            Some(Source::Pointer("/data/relationships/policy".into()))
        )
    );
    let sql = "select count(*) from events where aggregate_type = 'license'";
    let licenses: i64 = store::on_pool!(app.state.db, |pool| sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(licenses, 0, "nothing was written");
}

#[tokio::test]
async fn a_policy_for_a_product_deleted_meanwhile_is_refused() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let product_id = product["id"].as_str().unwrap();
    delete(&app, &format!("products/{product_id}")).await;
    let id = uuid::Uuid::new_v4().to_string();
    let command = PolicyCommand::Create {
        id: aggregates::PolicyId::from(id.clone()),
        account_id: aggregates::AccountId::from(app.account.account_id.clone()),
        product_id: product_id.into(),
        attributes: json!({"name": "Late"}).as_object().unwrap().clone(),
        account_protected: false,
        at: api::state::now(),
    };
    let err = api::state::execute(
        &app.state.frameworks.policy,
        &aggregates::PolicyId::from(&id),
        command,
        Default::default(),
    )
    .await
    .expect_err("a policy needs a live product");
    assert_eq!(err.error.code.as_deref(), Some("PRODUCT_NOT_FOUND"));
    assert!(event_types(&app, &id).await.is_empty());
}

#[tokio::test]
async fn a_cascade_finds_a_license_the_read_models_do_not_show_yet() {
    let app = spawn_app_without_runner().await;
    let product = app.create_product("App", None).await;
    let product_id = product["id"].as_str().unwrap();
    let policy = app.create_policy(product_id, json!({})).await;
    let policy_id = policy["id"].as_str().unwrap();
    let shown = app.create_license(policy_id, json!({})).await;
    // A license committed on another node whose projection has not run here yet.
    let read = snapshot(&app, policy_id).await;
    app.state.inline_projections.store(false, Ordering::SeqCst);
    let unseen = create_license(&app, read).await.unwrap();
    app.state.inline_projections.store(true, Ordering::SeqCst);
    assert_eq!(
        app.get(&format!("licenses/{unseen}")).await.status,
        StatusCode::NOT_FOUND,
        "the read model does not show it"
    );

    delete(&app, &format!("products/{product_id}")).await;
    for license in [shown["id"].as_str().unwrap(), unseen.as_str()] {
        let events = event_types(&app, license).await;
        assert_eq!(
            events.last().map(String::as_str),
            Some("license.deleted"),
            "{license}: {events:?}"
        );
    }
    assert_eq!(
        event_types(&app, policy_id).await.last().map(String::as_str),
        Some("policy.deleted")
    );
    projections::catch_up(&app.state.db).await.unwrap();
    assert_eq!(app.get("licenses").await.json["data"], json!([]));
}

#[tokio::test]
async fn a_store_from_before_existence_claims_gets_them_when_it_migrates() {
    let app = spawn_app().await;
    let (policy, _) = app.licensed(json!({}), json!({})).await;
    // As a store migrated before these claims existed: the claims and the migration's record gone.
    let forget_claims = "delete from claims where scope in ('product.live', 'policy.live') \
        or scope like 'product.policies:%' or scope like 'policy.licenses:%'";
    let forget_migration = "delete from _sqlx_migrations where description = 'existence claims'";
    store::on_pool!(app.state.db, |pool| {
        sqlx::query(forget_claims).execute(pool).await.unwrap();
        sqlx::query(forget_migration).execute(pool).await.unwrap();
    });
    let refused = app.try_create_license(policy["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(refused.error_code(), "POLICY_NOT_FOUND", "without them nothing is live");

    app.state.db.migrate().await.unwrap();
    let created = app.try_create_license(policy["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let members = app
        .state
        .db
        .claim_group(aggregates::claims::POLICY_LICENSES, policy["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(members.len(), 2, "the old license was given its claim too");
}

#[tokio::test]
async fn a_pool_key_a_license_took_cannot_also_be_popped() {
    let app = spawn_app().await;
    let product = app.create_product("Pooled", None).await;
    let policy = app
        .create_policy(product["id"].as_str().unwrap(), json!({"usePool": true}))
        .await;
    let policy_id = policy["id"].as_str().unwrap();
    let body = json!({"data": {"type": "keys", "attributes": {"key": "ONLY-POOL-KEY-1"},
        "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
    let key = app
        .send(Method::POST, &app.path("keys"), Some(app.admin()), Some(body))
        .await;
    let key_id = key.json["data"]["id"].as_str().unwrap().to_string();
    let license = app.create_license(policy_id, json!({})).await;
    assert_eq!(license["attributes"]["key"], "ONLY-POOL-KEY-1");
    // A pop decided on a stale view of the pool (the policy still lists the key it held).
    let err = api::state::execute(
        &app.state.frameworks.policy,
        &aggregates::PolicyId::from(policy_id),
        PolicyCommand::PopKey {
            key_id: aggregates::PoolKeyId::from(key_id),
            at: api::state::now(),
        },
        Default::default(),
    )
    .await
    .expect_err("the key is the license's now");
    assert_eq!(err.error.code.as_deref(), Some("POLICY_POOL_EMPTY"));
    let popped = app
        .send(
            Method::DELETE,
            &app.path(&format!("policies/{policy_id}/pool")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(popped.error_code(), "POLICY_POOL_EMPTY");
}

#[tokio::test]
async fn a_policy_with_a_license_left_cannot_be_deleted_on_its_own() {
    let app = spawn_app().await;
    let (policy, license) = app.licensed(json!({}), json!({})).await;
    let policy_id = policy["id"].as_str().unwrap();
    // A delete that skipped the cascade (as one whose sweep missed a license created meanwhile).
    let err = api::state::execute(
        &app.state.frameworks.policy,
        &aggregates::PolicyId::from(policy_id),
        PolicyCommand::Delete { at: api::state::now() },
        Default::default(),
    )
    .await
    .expect_err("its license is still there");
    assert_eq!(err.error.code.as_deref(), Some(store::DEPENDENTS_REMAIN));
    // The cascade deletes the license first, then the policy.
    delete(&app, &format!("policies/{policy_id}")).await;
    let license_events = event_types(&app, license["id"].as_str().unwrap()).await;
    assert_eq!(license_events.last().map(String::as_str), Some("license.deleted"));
}

#[tokio::test]
async fn claims_on_text_made_before_digests_are_rewritten_when_the_store_migrates() {
    let app = spawn_app().await;
    let (policy, _) = app.licensed(json!({}), json!({"key": "OLD-STYLE-KEY"})).await;
    let policy_id = policy["id"].as_str().unwrap();
    let product = app.create_product("Coded", Some("coded")).await;
    assert_eq!(product["attributes"]["code"], "coded");
    // As a store from before claims held digests (or a node of an older version during an
    // upgrade wrote them): the text itself.
    let digest = aggregates::claims::digest;
    let undo = "update claims set value = $1 where value = $2";
    store::on_pool!(app.state.db, |pool| {
        for text in ["OLD-STYLE-KEY", "coded"] {
            let done = sqlx::query(undo)
                .bind(text)
                .bind(digest(text))
                .execute(pool)
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), 1, "{text} was claimed by its digest");
        }
    });
    app.state.db.migrate().await.unwrap();
    app.state.db.migrate().await.unwrap(); // a second start hashes nothing twice
    let key_again = app.try_create_license(policy_id, json!({"key": "OLD-STYLE-KEY"})).await;
    assert_eq!(key_again.error_code(), "KEY_TAKEN", "{}", key_again.json);
    let body = json!({"data": {"type": "products", "attributes": {"name": "Again", "code": "CODED"}}});
    let code_again = app
        .send(Method::POST, &app.path("products"), Some(app.admin()), Some(body))
        .await;
    assert_eq!(code_again.error_code(), "CODE_TAKEN", "{}", code_again.json);
}
