//! Request logs: list (without bodies; `date[start]`/`date[end]`) and retrieve (with them);
//! admins only.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::render::{paged_rows, single};
use crate::resources::{account_path, request_log_resource};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/request-logs", get(index))
        .route("/request-logs/{id}", get(show))
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    auth.require_admin()?;
    let account_id = &auth.account.row.id;
    let from = crate::extract::date_param(&list.query, "date[start]", false)?;
    let until = crate::extract::date_param(&list.query, "date[end]", true)?;
    let result = projections::request_logs::list(&state.db, account_id, from, until, list.page).await?;
    Ok(paged_rows(
        &result,
        |row| request_log_resource(row, false),
        &account_path(account_id, "request-logs"),
        &list,
    ))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    auth.require_admin()?;
    let row = projections::request_logs::find(&state.db, &auth.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("request log", &id))?;
    Ok(single(StatusCode::OK, request_log_resource(&row, true)))
}
