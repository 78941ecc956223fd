//! Access to tokens: admins see every token, other bearers their own; product tokens are
//! managed by admins.

use super::product::visible_product;
use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::products::ProductRow;
use projections::tokens::TokenRow;

/// Admins see every token; other bearers their own.
pub(crate) fn visible(auth: &Auth, row: &TokenRow) -> bool {
    let (kind, id) = auth.bearer.reference();
    auth.bearer.is_admin() || (row.bearer_type == kind && row.bearer_id == id)
}

/// A token the bearer can see, or a 404.
pub(crate) async fn visible_token(state: &AppState, auth: &Auth, id: &str) -> ApiResult<TokenRow> {
    match projections::tokens::find(&state.db, &auth.account.row.id, id).await? {
        Some(row) if visible(auth, &row) => Ok(row),
        _ => Err(ApiError::not_found("token", id)),
    }
}

/// A product the bearer may manage tokens of: admins any, a product itself.
pub(crate) async fn token_product(state: &AppState, auth: &Auth, id: &str) -> ApiResult<ProductRow> {
    let product = visible_product(state, auth, id).await?;
    match &auth.bearer {
        Bearer::Admin { .. } => Ok(product),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage product tokens")),
    }
}

/// Keygen's license permissions hold no `token.generate`: activation tokens are minted for a
/// license by its admin or product.
pub(crate) fn may_generate(auth: &Auth) -> ApiResult<()> {
    if matches!(auth.bearer, Bearer::License { .. }) {
        return Err(ApiError::forbidden("bearer lacks permission to generate tokens"));
    }
    Ok(())
}
