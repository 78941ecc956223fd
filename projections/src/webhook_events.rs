//! Webhook events: one delivery of one event to one endpoint, and its attempts. Operational
//! state (deliveries are not decisions, and Keygen prunes them after 30 days), so a rebuild
//! leaves the table alone. Rows are due while `next_attempt_at` is set and has passed; a worker
//! claims due rows with a lease (`for update skip locked` on PostgreSQL), so several workers
//! never deliver one attempt twice.

use crate::filter::{Bind, Filter, Source};
use crate::{fetch_row, Page, PageRequest, ProjectionError};
use store::{on_pool, Backend, Database};

/// Keygen's statuses.
pub const DELIVERING: &str = "DELIVERING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILING: &str = "FAILING";
pub const FAILED: &str = "FAILED";

/// A webhook event row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookEventRow {
    pub id: String,
    pub account_id: String,
    pub endpoint_id: String,
    pub endpoint_url: String,
    pub event: String,
    pub api_version: String,
    pub payload: String,
    pub idempotency_token: String,
    pub status: String,
    pub last_response_code: Option<i64>,
    pub last_response_body: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, account_id, endpoint_id, endpoint_url, event, api_version, payload, idempotency_token, \
    status, last_response_code, last_response_body, attempts, next_attempt_at, created_at, updated_at";

/// A webhook event to create: due at once, status DELIVERING.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent {
    pub id: String,
    pub account_id: String,
    pub endpoint_id: String,
    pub endpoint_url: String,
    /// The bus message it came from; one row per (endpoint, source).
    pub source: String,
    pub event: String,
    pub api_version: String,
    pub payload: String,
    pub idempotency_token: String,
    pub at: i64,
}

/// Creates the rows that are not there yet (a message seen twice fans out once); returns how
/// many were new.
pub async fn create(db: &Database, rows: &[NewWebhookEvent]) -> Result<u64, ProjectionError> {
    const WIDTH: usize = 11;
    let mut created = 0;
    for chunk in rows.chunks(64) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let p = |c: usize| format!("${}", r * WIDTH + c);
                let params: Vec<String> = (1..=WIDTH).map(p).collect();
                format!("({}, '{DELIVERING}', 0, {})", params.join(", "), p(10))
            })
            .collect();
        let sql = format!(
            "insert into webhook_events (id, account_id, endpoint_id, endpoint_url, source, event, api_version, payload, \
             idempotency_token, created_at, next_attempt_at, status, attempts, updated_at) values {} \
             on conflict (endpoint_id, source) do nothing",
            rows.join(", ")
        );
        created += on_pool!(db, |pool| {
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(&r.id)
                    .bind(&r.account_id)
                    .bind(&r.endpoint_id)
                    .bind(&r.endpoint_url)
                    .bind(&r.source)
                    .bind(&r.event)
                    .bind(&r.api_version)
                    .bind(&r.payload)
                    .bind(&r.idempotency_token)
                    .bind(r.at)
                    .bind(r.at);
            }
            query.execute(pool).await?.rows_affected()
        });
    }
    Ok(created)
}

/// Claims up to `limit` due rows until `lease_until` (microseconds) and returns them, oldest
/// due first, leaving out the endpoints in `skip` (busy ones). A row stays claimed until
/// [`record_attempts`] or until the lease runs out.
pub async fn claim_due(
    db: &Database,
    now: i64,
    lease_until: i64,
    limit: i64,
    skip: &[String],
) -> Result<Vec<WebhookEventRow>, ProjectionError> {
    let lock = match db.backend() {
        Backend::Postgres => "for update skip locked",
        Backend::Sqlite => "",
    };
    let skipped = match skip.len() {
        0 => String::new(),
        n => format!(
            "and endpoint_id not in ({})",
            (4..4 + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        ),
    };
    let sql = format!(
        "update webhook_events set claimed_until = $2 where id in (select id from webhook_events \
         where next_attempt_at is not null and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
         {skipped} order by next_attempt_at limit $3 {lock}) returning {COLUMNS}"
    );
    Ok(on_pool!(db, |pool| {
        let mut query = sqlx::query_as(&sql).bind(now).bind(lease_until).bind(limit);
        for endpoint in skip {
            query = query.bind(endpoint);
        }
        query.fetch_all(pool).await?
    }))
}

/// What one attempt ended in.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: &'static str,
    pub response_code: Option<i64>,
    pub response_body: Option<String>,
    /// When to try again (`None`: never).
    pub next_attempt_at: Option<i64>,
    pub at: i64,
}

/// Records attempts (row id and outcome) and releases their leases, in one statement a chunk.
pub async fn record_attempts(db: &Database, attempts: &[(String, Attempt)]) -> Result<(), ProjectionError> {
    const WIDTH: usize = 6;
    for chunk in attempts.chunks(100) {
        let sql = format!(
            "with v (id, status, code, body, next, at) as (values {}) \
             update webhook_events set status = v.status, last_response_code = v.code, last_response_body = v.body, \
             attempts = webhook_events.attempts + 1, next_attempt_at = v.next, claimed_until = null, updated_at = v.at \
             from v where webhook_events.id = v.id",
            crate::value_rows(chunk.len(), WIDTH)
        );
        on_pool!(db, |pool| {
            let mut query = sqlx::query(&sql);
            for (id, a) in chunk {
                query = query
                    .bind(id)
                    .bind(a.status)
                    .bind(a.response_code)
                    .bind(a.response_body.as_deref())
                    .bind(a.next_attempt_at)
                    .bind(a.at);
            }
            query.execute(pool).await?.rows_affected()
        });
    }
    Ok(())
}

/// A webhook event of the account.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<WebhookEventRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from webhook_events where account_id = $1 and id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// The account's webhook events, newest first; `product` keeps those sent to that product's
/// endpoints, `events` only those names.
pub async fn list(
    db: &Database,
    account_id: &str,
    product: Option<&str>,
    events: &[String],
    page: PageRequest,
) -> Result<Page<WebhookEventRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    if let Some(product) = product {
        let p = filter.param(Bind::Text(product.to_string()));
        filter.push(format!(
            "endpoint_id in (select id from webhook_endpoints where product_id = {p})"
        ));
    }
    if !events.is_empty() {
        let params: Vec<String> = events.iter().map(|e| filter.param(Bind::Text(e.clone()))).collect();
        filter.push(format!("event in ({})", params.join(", ")));
    }
    filter
        .page(
            db,
            COLUMNS,
            "from webhook_events",
            Source::table("webhook_events"),
            page,
        )
        .await
}

/// Deletes a webhook event of the account; whether there was one.
pub async fn delete(db: &Database, account_id: &str, id: &str) -> Result<bool, ProjectionError> {
    let sql = "delete from webhook_events where account_id = $1 and id = $2";
    let gone = on_pool!(db, |pool| sqlx::query(sql)
        .bind(account_id)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(gone > 0)
}

/// Gives back claimed rows without an attempt (their endpoint has enough waiting).
pub async fn release(db: &Database, ids: &[String]) -> Result<(), ProjectionError> {
    for chunk in ids.chunks(100) {
        let params: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "update webhook_events set claimed_until = null where id in ({})",
            params.join(", ")
        );
        on_pool!(db, |pool| {
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(pool).await?.rows_affected()
        });
    }
    Ok(())
}
