//! The lookups every request makes search their indexes on SQLite, whose planner has no
//! statistics to go by: a lookup that walks an account's rows instead costs as much as the
//! account is large. Each test reads the plan SQLite chooses for a `find` query and names the
//! index that must drive it.

use store::Database;

/// The plan's lines (`SEARCH l USING INDEX …`), as `EXPLAIN QUERY PLAN` prints them.
async fn plan(sql: &str, params: usize) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("keyledger-plans-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Database::connect(&format!("sqlite://{}/plans.db", dir.display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let store::Pool::Sqlite(pool) = db.pool() else {
        unreachable!("a sqlite url")
    };
    let explain = format!("explain query plan {sql}");
    let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
    for _ in 0..params {
        query = query.bind("x");
    }
    let rows = query.fetch_all(pool).await.unwrap();
    let lines = rows.into_iter().map(|(_, _, _, line)| line).collect();
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    lines
}

/// Every access to `alias` in `sql` searches one of `indexes`, and each of them is searched.
async fn searches(sql: &str, params: usize, alias: &str, indexes: &[&str]) {
    let lines = plan(sql, params).await;
    let accesses: Vec<_> = lines
        .iter()
        .filter(|line| line.starts_with(&format!("SEARCH {alias} ")) || line.starts_with(&format!("SCAN {alias}")))
        .collect();
    for line in &accesses {
        assert!(
            indexes
                .iter()
                .any(|index| line.starts_with("SEARCH") && line.contains(&format!("INDEX {index} ("))),
            "{alias} is read by {line:?}, not by {indexes:?}: {lines:#?}"
        );
    }
    for index in indexes {
        assert!(
            accesses.iter().any(|line| line.contains(index)),
            "{index} is not searched: {lines:#?}"
        );
    }
}

#[tokio::test]
async fn a_license_is_found_by_key_through_the_key_index() {
    searches(&crate::licenses::find_by_key_sql(), 2, "l", &["licenses_account_key"]).await;
}

#[tokio::test]
async fn a_license_is_found_by_id_or_key_through_the_primary_key_and_the_key_index() {
    let indexes = ["sqlite_autoindex_licenses_1", "licenses_account_key"];
    searches(&crate::licenses::find_sql(), 2, "l", &indexes).await;
}

#[tokio::test]
async fn a_product_is_found_by_id_or_code_through_the_primary_key_and_the_code_index() {
    let indexes = ["sqlite_autoindex_products_1", "products_account_code"];
    searches(&crate::products::find_sql(), 3, "products", &indexes).await;
}

#[tokio::test]
async fn an_entitlement_is_found_by_id_or_code_through_the_primary_key_and_the_code_index() {
    let indexes = ["sqlite_autoindex_entitlements_1", "entitlements_account_code"];
    searches(&crate::entitlements::find_sql(), 3, "e", &indexes).await;
}
