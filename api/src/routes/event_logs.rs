//! Event logs: list (filters `event`, `resource[type]`+`resource[id]`, `whodunnit[type]`+
//! `whodunnit[id]`, `request`, `date[start]`/`date[end]`) and retrieve; admins only.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::render::{paged_rows, single};
use crate::resources::{account_path, event_log_resource};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::event_logs::EventLogFilter;
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/event-logs", get(index))
        .route("/event-logs/{id}", get(show))
}

fn pair(query: &HashMap<String, String>, name: &str) -> Option<(String, String)> {
    let kind = query.get(&format!("{name}[type]"))?;
    let id = query.get(&format!("{name}[id]"))?;
    Some((kind.clone(), id.clone()))
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    auth.require_admin()?;
    let account_id = &auth.account.row.id;
    let q = &list.query;
    let wanted = EventLogFilter {
        events: q.get("event").map(|e| vec![e.clone()]).unwrap_or_default(),
        resource: pair(q, "resource"),
        whodunnit: pair(q, "whodunnit"),
        request: q.get("request").cloned(),
        from: crate::extract::date_param(q, "date[start]", false)?,
        until: crate::extract::date_param(q, "date[end]", true)?,
    };
    let result = projections::event_logs::list(&state.db, account_id, &wanted, list.page).await?;
    Ok(paged_rows(
        &result,
        event_log_resource,
        &account_path(account_id, "event-logs"),
        &list,
    ))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    auth.require_admin()?;
    let row = projections::event_logs::find(&state.db, &auth.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event log", &id))?;
    Ok(single(StatusCode::OK, event_log_resource(&row)))
}
