//! Access to policies: admins any, a product its own.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::policies::PolicyRow;

/// A live policy the bearer can see: admins any, a product its own.
pub(crate) async fn visible_policy(state: &AppState, auth: &Auth, id: &str) -> ApiResult<PolicyRow> {
    let row = projections::policies::find(&state.db, &auth.account.row.id, id).await?;
    match (row, &auth.bearer) {
        (Some(row), Bearer::Admin { .. }) => Ok(row),
        (Some(row), Bearer::Product { product_id }) if *product_id == row.product_id => Ok(row),
        _ => Err(ApiError::not_found("policy", id)),
    }
}

/// Admins and product bearers manage policies.
pub(crate) fn may_manage(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage policies")),
    }
}

/// The product a policy list is limited to: admins whatever they asked for, a product itself
/// (naming another product is a 404); other bearers may not list policies.
pub(crate) fn listed_product(auth: &Auth, product: Option<String>) -> ApiResult<Option<String>> {
    match (&auth.bearer, product) {
        (Bearer::Admin { .. }, product) => Ok(product),
        (Bearer::Product { product_id }, None) => Ok(Some(product_id.clone())),
        (Bearer::Product { product_id }, Some(p)) if *product_id == p => Ok(Some(p)),
        (Bearer::Product { .. }, Some(_)) => Err(ApiError::not_found("product", "")),
        _ => Err(ApiError::forbidden("bearer lacks permission to list policies")),
    }
}
