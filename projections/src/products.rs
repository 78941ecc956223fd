//! The `products` read model. Deleted products stay as tombstone rows (so a replayed
//! `product.created` cannot bring one back) and are filtered from every query.

use crate::filter::{Filter, Source};
use crate::{fetch_row, micros, oldest_of, on_conn, Conn, EventRef, Page, PageRequest, ProjectionError, Statements};
use aggregates::product::{ProductAttributes, ProductEvent};
use store::Database;

/// A product row; list-valued attributes are JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub code: Option<String>,
    pub distribution_strategy: String,
    pub url: Option<String>,
    pub platforms: Option<String>,
    pub permissions: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

struct Encoded {
    platforms: Option<String>,
    permissions: String,
    metadata: String,
}

fn encode(a: &ProductAttributes) -> Result<Encoded, serde_json::Error> {
    Ok(Encoded {
        platforms: a.platforms.as_ref().map(serde_json::to_string).transpose()?,
        permissions: serde_json::to_string(&a.permissions)?,
        metadata: serde_json::to_string(&a.metadata)?,
    })
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        // Created and Updated bind the same values in the same order.
        let (sql, id, account_id, a, at) = match event.decode::<ProductEvent>()? {
            ProductEvent::Created {
                id,
                account_id,
                attributes,
                created_at,
            } => (INSERT, id, account_id, attributes, created_at),
            ProductEvent::Updated {
                account_id,
                attributes,
                updated_at,
            } => (
                UPDATE,
                event.aggregate_id.to_string(),
                account_id,
                attributes,
                updated_at,
            ),
            ProductEvent::Deleted { deleted_at, .. } => {
                c.mark_gone("products", "deleted_at", micros(&deleted_at), &event)
                    .await?;
                return Ok(());
            }
        };
        let e = encode(&a)?;
        sqlx::query(sql)
            .bind(id)
            .bind(account_id)
            .bind(a.name)
            .bind(a.code)
            .bind(a.distribution_strategy)
            .bind(a.url)
            .bind(e.platforms)
            .bind(e.permissions)
            .bind(e.metadata)
            .bind(micros(&at))
            .bind(event.sequence)
            .execute(&mut *c)
            .await?;
        Ok(())
    })
}

const INSERT: &str = "insert into products (id, account_id, name, code, distribution_strategy, url, platforms, \
    permissions, metadata, created_at, updated_at, last_sequence) \
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) on conflict (id) do nothing";

const UPDATE: &str = "update products set name = $3, code = $4, distribution_strategy = $5, url = $6, platforms = $7, \
    permissions = $8, metadata = $9, updated_at = $10, last_sequence = $11 \
    where id = $1 and account_id = $2 and last_sequence < $11";

const COLUMNS: &str = "id, account_id, name, code, distribution_strategy, url, platforms, permissions, \
    metadata, created_at, updated_at";

/// A live product of the account by id or by code (oldest match wins, as in Keygen).
pub async fn find(db: &Database, account_id: &str, id_or_code: &str) -> Result<Option<ProductRow>, ProjectionError> {
    fetch_row(db, &find_sql(), &[account_id, id_or_code, &id_or_code.to_lowercase()]).await
}

pub(crate) fn find_sql() -> String {
    let select = format!("select {COLUMNS} from products where account_id = $1 and deleted_at is null and");
    oldest_of(&select, "id = $2", "lower(code) = $3", "created_at")
}

/// Live products of the account; `only` restricts the list to one product (a product bearer).
pub async fn list(
    db: &Database,
    account_id: &str,
    only: Option<&str>,
    page: PageRequest,
) -> Result<Page<ProductRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    filter.push("deleted_at is null");
    if let Some(id) = only {
        filter.eq("id", id);
    }
    filter
        .page(db, COLUMNS, "from products", Source::table("products"), page)
        .await
}
