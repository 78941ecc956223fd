//! Webhook events: list (filter `events[]`), retrieve, delete, and `actions/retry`, which sends
//! the same event again as a new webhook event with the same idempotency token.

use crate::access::webhook::{visible_webhook_event, webhook_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, webhook_event_resource};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use projections::webhook_events::NewWebhookEvent;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook-events", get(index))
        .route("/webhook-events/{id}", get(show).merge(delete(destroy)))
        .route("/webhook-events/{id}/actions/retry", post(retry))
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let scope = webhook_scope(&auth)?;
    let events: Vec<String> = ["events[]", "events"]
        .iter()
        .filter_map(|key| list.query.get(*key))
        .flat_map(|value| value.split(','))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    let result = projections::webhook_events::list(&state.db, account_id, scope, &events, list.page).await?;
    Ok(paged_rows(
        &result,
        webhook_event_resource,
        &account_path(account_id, "webhook-events"),
        &list,
    ))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_webhook_event(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, webhook_event_resource(&row)))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_webhook_event(&state, &auth, &id).await?;
    auth.require_admin()?;
    projections::webhook_events::delete(&state.db, &row.account_id, &row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn retry(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_webhook_event(&state, &auth, &id).await?;
    auth.require_admin()?;
    let endpoint = projections::webhook_endpoints::find(&state.db, &row.account_id, &row.endpoint_id).await?;
    let Some(endpoint) = endpoint else {
        return Err(ApiError::unprocessable_without_code("webhook event failed to retry"));
    };
    let new_id = uuid::Uuid::new_v4().to_string();
    let again = NewWebhookEvent {
        id: new_id.clone(),
        account_id: row.account_id.clone(),
        endpoint_id: endpoint.id.clone(),
        endpoint_url: endpoint.url.clone(),
        source: format!("retry:{new_id}"),
        event: row.event.clone(),
        api_version: row.api_version.clone(),
        payload: row.payload.clone(),
        idempotency_token: row.idempotency_token.clone(),
        at: state.now().timestamp_micros(),
    };
    projections::webhook_events::create(&state.db, &[again]).await?;
    let row = visible_webhook_event(&state, &auth, &new_id).await?;
    Ok(created(webhook_event_resource(&row)))
}
