//! Access to products: admins any of the account's, a product only itself.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::products::ProductRow;

/// A product the bearer can see: admins any of the account's, a product only itself.
pub(crate) async fn visible_product(state: &AppState, auth: &Auth, id: &str) -> ApiResult<ProductRow> {
    let row = projections::products::find(&state.db, &auth.account.row.id, id).await?;
    match (row, &auth.bearer) {
        (Some(row), Bearer::Admin { .. }) => Ok(row),
        (Some(row), Bearer::Product { product_id }) if *product_id == row.id => Ok(row),
        _ => Err(ApiError::not_found("product", id)),
    }
}

/// The product a product list is limited to: none for admins, itself for a product; other
/// bearers may not list products.
pub(crate) fn listed_product(auth: &Auth) -> ApiResult<Option<&str>> {
    match &auth.bearer {
        Bearer::Admin { .. } => Ok(None),
        Bearer::Product { product_id } => Ok(Some(product_id.as_str())),
        Bearer::User { .. } | Bearer::License { .. } => {
            Err(ApiError::forbidden("bearer lacks permission to list products"))
        }
    }
}
