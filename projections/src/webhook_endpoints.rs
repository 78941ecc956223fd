//! The `webhook_endpoints` read model. Deleted endpoints stay as tombstone rows (so a replayed
//! create cannot bring one back) and are filtered from every query.

use crate::filter::{Filter, Source};
use crate::{fetch_row, json_text, micros, on_conn, Conn, EventRef, Page, PageRequest, ProjectionError, Statements};
use aggregates::webhook_endpoint::{EndpointAttributes, EndpointEvent};
use store::{on_pool, Database};

/// A webhook endpoint row; `subscriptions` is JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookEndpointRow {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub subscriptions: String,
    pub signature_algorithm: String,
    pub api_version: String,
    pub product_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookEndpointRow {
    /// The subscriptions as a list (an unreadable value subscribes to nothing).
    pub fn subscription_list(&self) -> Vec<String> {
        serde_json::from_str(&self.subscriptions).unwrap_or_default()
    }

    /// Whether this endpoint takes `event` (`*` takes every Keygen event name).
    pub fn subscribes_to(&self, event: &str) -> bool {
        aggregates::webhook_endpoint::subscribed(&self.subscription_list(), event)
    }
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        let (sql, id, account_id, a, at): (_, String, String, EndpointAttributes, _) =
            match event.decode::<EndpointEvent>()? {
                EndpointEvent::Created {
                    id,
                    account_id,
                    attributes,
                    created_at,
                } => (INSERT, id, account_id, attributes, created_at),
                EndpointEvent::Updated {
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
                EndpointEvent::Deleted { deleted_at, .. } => {
                    c.mark_gone("webhook_endpoints", "deleted_at", micros(&deleted_at), &event)
                        .await?;
                    return Ok(());
                }
            };
        sqlx::query(sql)
            .bind(id)
            .bind(account_id)
            .bind(a.url)
            .bind(json_text(&a.subscriptions)?)
            .bind(a.signature_algorithm)
            .bind(a.api_version)
            .bind(a.product_id)
            .bind(micros(&at))
            .bind(event.sequence)
            .execute(&mut *c)
            .await?;
        Ok(())
    })
}

const INSERT: &str = "insert into webhook_endpoints (id, account_id, url, subscriptions, signature_algorithm, \
    api_version, product_id, created_at, updated_at, last_sequence) \
    values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) on conflict (id) do nothing";

const UPDATE: &str = "update webhook_endpoints set url = $3, subscriptions = $4, signature_algorithm = $5, \
    api_version = $6, product_id = $7, updated_at = $8, last_sequence = $9 \
    where id = $1 and account_id = $2 and last_sequence < $9";

const COLUMNS: &str =
    "id, account_id, url, subscriptions, signature_algorithm, api_version, product_id, created_at, updated_at";

/// A live endpoint of the account.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<WebhookEndpointRow>, ProjectionError> {
    let sql =
        format!("select {COLUMNS} from webhook_endpoints where account_id = $1 and id = $2 and deleted_at is null");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// Live endpoints of the account; `product` restricts the list to one product's (a product
/// bearer sees its own).
pub async fn list(
    db: &Database,
    account_id: &str,
    product: Option<&str>,
    page: PageRequest,
) -> Result<Page<WebhookEndpointRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    filter.push("deleted_at is null");
    if let Some(id) = product {
        filter.eq("product_id", id);
    }
    filter
        .page(
            db,
            COLUMNS,
            "from webhook_endpoints",
            Source::table("webhook_endpoints"),
            page,
        )
        .await
}

/// Every live endpoint of the accounts named, for fan-out.
pub async fn live_of(db: &Database, account_ids: &[&str]) -> Result<Vec<WebhookEndpointRow>, ProjectionError> {
    if account_ids.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<String> = (1..=account_ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "select {COLUMNS} from webhook_endpoints where deleted_at is null and account_id in ({}) order by created_at, id",
        params.join(", ")
    );
    Ok(on_pool!(db, |pool| {
        let mut query = sqlx::query_as(&sql);
        for id in account_ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await?
    }))
}
