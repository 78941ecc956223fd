//! The `policies`, `policy_entitlements` and `pool_keys` read models.

use crate::filter::{Filter, Source};
use crate::{
    fetch_row, json_text, micros, on_conn, Conn, EventRef, Joins, Page, PageRequest, ProjectionError, Statements,
};
use aggregates::policy::{PolicyAttributes, PolicyEvent};
use store::Database;

/// A policy row; `attributes` is the full attribute set as JSON.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub id: String,
    pub account_id: String,
    pub product_id: String,
    pub attributes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PolicyRow {
    /// The stored attributes.
    pub fn attributes(&self) -> Result<PolicyAttributes, ProjectionError> {
        Ok(serde_json::from_str(&self.attributes)?)
    }
}

/// A key waiting in a pool.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PoolKeyRow {
    pub id: String,
    pub account_id: String,
    pub policy_id: String,
    pub product_id: String,
    pub key: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        let payload: PolicyEvent = event.decode()?;
        if let PolicyEvent::Created {
            id,
            account_id,
            product_id,
            attributes,
            created_at,
        } = payload
        {
            sqlx::query(
                "insert into policies (id, account_id, product_id, name, attributes, created_at, updated_at, last_sequence) \
                 values ($1, $2, $3, $4, $5, $6, $6, $7) on conflict (id) do nothing",
            )
            .bind(id.into_string())
            .bind(account_id.into_string())
            .bind(product_id.into_string())
            .bind(attributes.name.clone())
            .bind(json_text(&attributes)?)
            .bind(micros(&created_at))
            .bind(event.sequence)
            .execute(&mut *c)
            .await?;
            return Ok(());
        }
        let id = event.aggregate_id;
        let touched = match &payload {
            PolicyEvent::Updated { updated_at, .. } => Some(micros(updated_at)),
            PolicyEvent::Deleted { deleted_at, .. } => Some(micros(deleted_at)),
            _ => None,
        };
        if c.advance("policies", id, event.sequence, touched).await? {
            match payload {
                PolicyEvent::Updated { attributes, .. } => {
                    sqlx::query("update policies set name = $1, attributes = $2 where id = $3")
                        .bind(attributes.name.clone())
                        .bind(json_text(&attributes)?)
                        .bind(id)
                        .execute(&mut *c)
                        .await?;
                }
                PolicyEvent::Deleted { deleted_at, .. } => {
                    sqlx::query("update policies set deleted_at = $1 where id = $2")
                        .bind(micros(&deleted_at))
                        .bind(id)
                        .execute(&mut *c)
                        .await?;
                    sqlx::query("update pool_keys set deleted_at = $1 where policy_id = $2 and deleted_at is null")
                        .bind(micros(&deleted_at))
                        .bind(id)
                        .execute(&mut *c)
                        .await?;
                }
                PolicyEvent::KeyCreated {
                    account_id,
                    key,
                    created_at,
                } => {
                    sqlx::query(
                        "insert into pool_keys (id, account_id, policy_id, product_id, key, created_at, updated_at) \
                         select $1, $2, $3, product_id, $4, $5, $5 from policies where id = $3 \
                         on conflict (id) do update set key = excluded.key, deleted_at = null, updated_at = excluded.updated_at",
                    )
                    .bind(key.id.into_string())
                    .bind(account_id.into_string())
                    .bind(id)
                    .bind(key.key)
                    .bind(micros(&created_at))
                    .execute(&mut *c)
                    .await?;
                }
                PolicyEvent::KeyDeleted {
                    key, deleted_at: at, ..
                }
                | PolicyEvent::PoolPopped { key, popped_at: at, .. } => {
                    sqlx::query("update pool_keys set deleted_at = $1, updated_at = $1 where id = $2")
                        .bind(micros(&at))
                        .bind(key.id.into_string())
                        .execute(&mut *c)
                        .await?;
                }
                PolicyEvent::EntitlementsAttached(change) => {
                    c.join_entitlements(Joins::POLICY, id, &change, true).await?
                }
                PolicyEvent::EntitlementsDetached(change) => {
                    c.join_entitlements(Joins::POLICY, id, &change, false).await?
                }
                PolicyEvent::Created { .. } => {}
            }
        }
        Ok(())
    })
}

const COLUMNS: &str = "id, account_id, product_id, attributes, created_at, updated_at";

/// A policy of a deleted product is gone with it.
const LIVE_PRODUCT: &str =
    "exists (select 1 from products pr where pr.id = policies.product_id and pr.deleted_at is null)";

/// A live policy of the account.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<PolicyRow>, ProjectionError> {
    let sql = format!(
        "select {COLUMNS} from policies where account_id = $1 and id = $2 and deleted_at is null and {LIVE_PRODUCT}"
    );
    fetch_row(db, &sql, &[account_id, id]).await
}

/// A policy even if deleted (licenses keep pointing at theirs).
pub async fn find_any(db: &Database, account_id: &str, id: &str) -> Result<Option<PolicyRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from policies where account_id = $1 and id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// Live policies, optionally of one product.
pub async fn list(
    db: &Database,
    account_id: &str,
    product: Option<&str>,
    page: PageRequest,
) -> Result<Page<PolicyRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    filter.push("deleted_at is null");
    filter.push(LIVE_PRODUCT);
    if let Some(product) = product {
        filter.eq("product_id", product);
    }
    filter
        .page(db, COLUMNS, "from policies", Source::table("policies"), page)
        .await
}

const KEY_COLUMNS: &str = "id, account_id, policy_id, product_id, key, created_at, updated_at";

/// A key still in its pool.
pub async fn find_key(db: &Database, account_id: &str, id: &str) -> Result<Option<PoolKeyRow>, ProjectionError> {
    let sql = format!("select {KEY_COLUMNS} from pool_keys where account_id = $1 and id = $2 and deleted_at is null");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// Keys still in pools, optionally of one product or one policy.
pub async fn list_keys(
    db: &Database,
    account_id: &str,
    product: Option<&str>,
    policy: Option<&str>,
    page: PageRequest,
) -> Result<Page<PoolKeyRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    filter.push("deleted_at is null");
    if let Some(product) = product {
        filter.eq("product_id", product);
    }
    if let Some(policy) = policy {
        filter.eq("policy_id", policy);
    }
    filter
        .page(db, KEY_COLUMNS, "from pool_keys", Source::table("pool_keys"), page)
        .await
}
