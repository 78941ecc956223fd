//! Access to entitlements: admins manage them, products may read them.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::entitlements::EntitlementRow;

/// Admins manage entitlements; products may read them.
pub(crate) fn may_read(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to read entitlements")),
    }
}

/// A live entitlement of the request's account, or a 404.
pub(crate) async fn find(state: &AppState, auth: &Auth, id: &str) -> ApiResult<EntitlementRow> {
    projections::entitlements::find(&state.db, &auth.account.row.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("entitlement", id))
}
