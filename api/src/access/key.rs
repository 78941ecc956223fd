//! Access to pool keys: admins any, a product the keys of its own policies.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::policies::PoolKeyRow;

/// A key the bearer can see: admins any, a product its own.
pub(crate) async fn visible_key(state: &AppState, auth: &Auth, id: &str) -> ApiResult<PoolKeyRow> {
    let row = projections::policies::find_key(&state.db, &auth.account.row.id, id).await?;
    match (row, &auth.bearer) {
        (Some(row), Bearer::Admin { .. }) => Ok(row),
        (Some(row), Bearer::Product { product_id }) if *product_id == row.product_id => Ok(row),
        _ => Err(ApiError::not_found("key", id)),
    }
}

/// The product a key list is limited to: admins the `product` they asked for (if any), a product
/// itself; other bearers may not list keys.
pub(crate) fn listed_product(auth: &Auth, requested: Option<&String>) -> ApiResult<Option<String>> {
    match &auth.bearer {
        Bearer::Admin { .. } => Ok(requested.cloned()),
        Bearer::Product { product_id } => Ok(Some(product_id.clone())),
        _ => Err(ApiError::forbidden("bearer lacks permission to list keys")),
    }
}
