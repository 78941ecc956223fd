//! Access to licenses: admins any, a product its product's, a license itself.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::licenses::{LicenseFilter, LicenseRow};

/// A live license the bearer can see: admins any, a product its product's, a license itself.
pub(crate) async fn visible_license(state: &AppState, auth: &Auth, id_or_key: &str) -> ApiResult<LicenseRow> {
    match projections::licenses::find(&state.db, &auth.account.row.id, id_or_key).await? {
        Some(row) if may_see_license(auth, &row) => Ok(row),
        _ => Err(ApiError::not_found("license", id_or_key)),
    }
}

/// Admins see every license, a product its own, a license itself.
pub(crate) fn may_see_license(auth: &Auth, row: &LicenseRow) -> bool {
    match &auth.bearer {
        Bearer::Admin { .. } => true,
        Bearer::Product { product_id } => *product_id == row.product_id,
        Bearer::License { license_id } => *license_id == row.id,
        Bearer::User { .. } => false,
    }
}

/// Admins and product bearers manage licenses.
pub(crate) fn may_manage(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage licenses")),
    }
}

/// A license the bearer may manage (admins, its product).
pub(crate) async fn managed_license(state: &AppState, auth: &Auth, id: &str) -> ApiResult<LicenseRow> {
    let row = visible_license(state, auth, id).await?;
    may_manage(auth)?;
    Ok(row)
}

/// Keygen lets admins, the license's product and the license itself validate it.
pub(crate) fn may_validate(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::User { .. } => Err(ApiError::forbidden("bearer lacks permission to validate licenses")),
        _ => Ok(()),
    }
}

/// Admins and the license's product may read a license's policy; the license itself may not.
pub(crate) fn may_read_policy(auth: &Auth) -> ApiResult<()> {
    if matches!(auth.bearer, Bearer::License { .. }) {
        return Err(ApiError::forbidden("bearer lacks permission to read the policy"));
    }
    Ok(())
}

/// Narrows a license list to what the bearer can see: a product its own licenses (none when it
/// asked for another product's), a license itself; users may not list licenses.
pub(crate) fn limit_to_visible(auth: &Auth, filter: &mut LicenseFilter) -> ApiResult<()> {
    match &auth.bearer {
        Bearer::Admin { .. } => {}
        Bearer::Product { product_id } => {
            if filter.product.as_ref().is_some_and(|p| p != product_id) {
                filter.only = Some(String::new());
            }
            filter.product = Some(product_id.clone());
        }
        Bearer::License { license_id } => filter.only = Some(license_id.clone()),
        Bearer::User { .. } => return Err(ApiError::forbidden("bearer lacks permission to list licenses")),
    }
    Ok(())
}
