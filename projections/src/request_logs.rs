//! Request logs: one row per API request, recorded by the observation writer in its batches
//! (the request path waits for no database), masked before it is queued. Operational state: a
//! rebuild leaves the table alone.

use crate::filter::{Bind, Filter, Source};
use crate::{fetch_row, Page, PageRequest, ProjectionError};
use store::Database;

/// A request log, as stored and as queued (JSON text in the blob columns).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestLogRow {
    pub id: String,
    pub account_id: String,
    pub method: String,
    pub url: String,
    pub status: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub requestor_type: Option<String>,
    pub requestor_id: Option<String>,
    pub request_headers: Option<String>,
    pub request_body: Option<String>,
    pub response_headers: Option<String>,
    pub response_body: Option<String>,
    pub response_signature: Option<String>,
    /// Milliseconds.
    pub run_time: i64,
    pub created_at: i64,
}

pub(crate) const COLUMNS: &str = "id, account_id, method, url, status, ip, user_agent, requestor_type, requestor_id, \
    request_headers, request_body, response_headers, response_body, response_signature, run_time, created_at";
pub(crate) const WIDTH: usize = 16;

/// A request log of the account, with its blobs.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<RequestLogRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from request_logs where account_id = $1 and id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// The account's request logs, newest first; `from`/`until` in microseconds, inclusive.
pub async fn list(
    db: &Database,
    account_id: &str,
    from: Option<i64>,
    until: Option<i64>,
    page: PageRequest,
) -> Result<Page<RequestLogRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    if let Some(from) = from {
        let p = filter.param(Bind::Int(from));
        filter.push(format!("created_at >= {p}"));
    }
    if let Some(until) = until {
        let p = filter.param(Bind::Int(until));
        filter.push(format!("created_at <= {p}"));
    }
    filter
        .page(db, COLUMNS, "from request_logs", Source::table("request_logs"), page)
        .await
}
