//! Access to webhook endpoints and webhook events: admins all of the account's, a product those
//! of its own endpoints; no other bearer.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::webhook_endpoints::WebhookEndpointRow;
use projections::webhook_events::WebhookEventRow;

/// The product the bearer's webhook work is limited to: none for admins, itself for a product;
/// other bearers may not touch webhooks.
pub(crate) fn webhook_scope(auth: &Auth) -> ApiResult<Option<&str>> {
    match &auth.bearer {
        Bearer::Admin { .. } => Ok(None),
        Bearer::Product { product_id } => Ok(Some(product_id.as_str())),
        Bearer::User { .. } | Bearer::License { .. } => {
            Err(ApiError::forbidden("bearer lacks permission to perform this action"))
        }
    }
}

/// A webhook endpoint the bearer may see.
pub(crate) async fn visible_endpoint(state: &AppState, auth: &Auth, id: &str) -> ApiResult<WebhookEndpointRow> {
    let scope = webhook_scope(auth)?;
    let row = projections::webhook_endpoints::find(&state.db, &auth.account.row.id, id).await?;
    match row {
        Some(row) if scope.is_none() || scope == row.product_id.as_deref() => Ok(row),
        _ => Err(ApiError::not_found("webhook endpoint", id)),
    }
}

/// A webhook event the bearer may see (a product: one sent to its own endpoint).
pub(crate) async fn visible_webhook_event(state: &AppState, auth: &Auth, id: &str) -> ApiResult<WebhookEventRow> {
    let scope = webhook_scope(auth)?;
    let account_id = &auth.account.row.id;
    let row = projections::webhook_events::find(&state.db, account_id, id).await?;
    let Some(row) = row else {
        return Err(ApiError::not_found("webhook event", id));
    };
    if let Some(product) = scope {
        let endpoint = projections::webhook_endpoints::find(&state.db, account_id, &row.endpoint_id).await?;
        if endpoint.and_then(|e| e.product_id).as_deref() != Some(product) {
            return Err(ApiError::not_found("webhook event", id));
        }
    }
    Ok(row)
}
