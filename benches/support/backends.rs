//! The stores a benchmark runs on: a SQLite file in a temporary folder, and a fresh PostgreSQL
//! database when `KEYLEDGER_BENCH_DATABASE_URL` names a server. Each is removed afterwards.
//! On each, Keyledger runs in-process with one account.

use std::future::Future;

/// Runs `run(label, url)` on SQLite, then on PostgreSQL when a server is named.
pub async fn each<F, Fut>(mut run: F)
where
    F: FnMut(&'static str, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("keyledger-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    run("SQLite", format!("sqlite://{}/bench.db", dir.display())).await;
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(server) = std::env::var("KEYLEDGER_BENCH_DATABASE_URL") else {
        println!("(set KEYLEDGER_BENCH_DATABASE_URL=postgres://… to include PostgreSQL)");
        return;
    };
    let name = format!("kl_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&server).await.expect("PostgreSQL server");
    sqlx::query(&format!("create database \"{name}\""))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = server.rsplit_once('/').unwrap();
    run("PostgreSQL", format!("{prefix}/{name}")).await;
    let _ = sqlx::query(&format!("drop database \"{name}\" with (force)"))
        .execute(&admin)
        .await;
}

/// Keyledger's state over the store at `database_url`, with a new account; its id.
#[allow(dead_code)]
pub async fn with_account(database_url: &str) -> (api::AppState, String) {
    let (state, account) = with_settings(database_url, Default::default()).await;
    (state, account.account_id)
}

/// [`with_account`] with the given tuning; the whole bootstrap (admin token included).
pub async fn with_settings(
    database_url: &str,
    settings: api::state::Settings,
) -> (api::AppState, api::bootstrap::Bootstrap) {
    let secret = api::crypto::MasterKey::generate_hex();
    let state = keyledger::build_state_with(database_url, Some(&secret), settings)
        .await
        .expect("store");
    let account = api::bootstrap::create_account(&state, "Bench", "bench", "bench@example.com", "pw")
        .await
        .unwrap();
    (state, account)
}

/// A product, a policy with `policy_attributes` (JSON:API names) and `count` licenses under it
/// with the keys `BENCH-000000`…; the licenses' ids and keys, and the policy as commands see it.
#[allow(dead_code)]
pub async fn licenses(
    state: &api::AppState,
    account_id: &str,
    policy_attributes: serde_json::Value,
    count: usize,
) -> (Vec<(String, String)>, aggregates::license::PolicySnapshot) {
    use aggregates::license::{LicenseCommand, NewKey, PolicySnapshot};
    use aggregates::{AccountId, LicenseId, PolicyId, ProductId};
    let product_id = uuid::Uuid::new_v4().to_string();
    let policy_id = uuid::Uuid::new_v4().to_string();
    let at = api::state::now();
    let product = aggregates::product::ProductCommand::Create {
        id: product_id.clone(),
        account_id: account_id.into(),
        attributes: aggregates::product::ProductAttributes::named("Bench"),
        at,
    };
    state.frameworks.product.execute(&product_id, product).await.unwrap();
    let mut attributes = policy_attributes.as_object().cloned().unwrap_or_default();
    attributes.insert("name".into(), "Bench".into());
    let policy = aggregates::policy::PolicyCommand::Create {
        id: PolicyId::from(policy_id.clone()),
        account_id: AccountId::from(account_id),
        product_id: ProductId::from(product_id.clone()),
        attributes,
        account_protected: false,
        at,
    };
    state.frameworks.policy.execute(&policy_id, policy).await.unwrap();
    let row = projections::policies::find(&state.db, account_id, &policy_id)
        .await
        .unwrap()
        .expect("the policy's row");
    let snapshot = PolicySnapshot {
        id: PolicyId::from(policy_id),
        product_id: ProductId::from(product_id),
        attributes: row.attributes().unwrap(),
    };
    let mut licenses = Vec::with_capacity(count);
    for i in 0..count {
        let (id, key) = (uuid::Uuid::new_v4().to_string(), format!("BENCH-{i:06}"));
        let command = LicenseCommand::Create {
            id: LicenseId::from(id.clone()),
            account_id: AccountId::from(account_id),
            policy: snapshot.clone(),
            key: NewKey::Custom(key.clone()),
            attributes: Default::default(),
            at,
        };
        state.frameworks.license.execute(&id, command).await.unwrap();
        licenses.push((id, key));
    }
    (licenses, snapshot)
}
