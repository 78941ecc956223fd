//! Access to packages and releases: admins and the product itself manage them; who may see a
//! release follows its product's distribution strategy, the licensee's entitlements and the
//! policy's expiration strategy (see `projections::releases::Audience`).

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use aggregates::vocabulary::ExpirationStrategy;
use projections::entitlements::EntitlementSet;
use projections::packages::{PackageFilter, PackageRow};
use projections::releases::{Audience, ReleaseFilter, ReleaseRow, Window};

/// Admins manage any product's packages and releases, a product its own.
pub(crate) fn may_manage(auth: &Auth, product_id: &str) -> ApiResult<()> {
    match &auth.bearer {
        Bearer::Admin { .. } => Ok(()),
        Bearer::Product { product_id: own } if own == product_id => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage releases")),
    }
}

/// Admins and products may create packages and releases (a product only for itself, which the
/// relationship checks).
pub(crate) fn may_create(auth: &Auth) -> ApiResult<()> {
    match &auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage releases")),
    }
}

/// Which releases the caller (or nobody, when unauthenticated) may see.
pub(crate) async fn audience(state: &AppState, auth: Option<&Auth>) -> ApiResult<Audience> {
    let Some(auth) = auth else {
        return Ok(Audience::Anonymous);
    };
    Ok(match &auth.bearer {
        Bearer::Admin { .. } => Audience::Everyone,
        Bearer::Product { product_id } => Audience::Product(product_id.clone()),
        Bearer::User { .. } => Audience::Anonymous,
        Bearer::License { license_id } => {
            let account_id = &auth.account.row.id;
            let license = projections::licenses::find(&state.db, account_id, license_id)
                .await?
                .ok_or_else(|| ApiError::not_found("license", license_id))?;
            let policy = license.policy()?;
            let set = EntitlementSet::License {
                license_id,
                policy_id: &license.policy_id,
            };
            let entitlement_ids = projections::entitlements::ids(&state.db, account_id, set).await?;
            let now = state.now().timestamp_micros();
            let window = match license.expiry {
                _ if license.suspended != 0 => Window::Nothing,
                None => Window::All,
                Some(_) if policy.expiration_strategy == ExpirationStrategy::AllowAccess => Window::All,
                Some(expiry) if expiry <= now && policy.expiration_strategy == ExpirationStrategy::RevokeAccess => {
                    Window::Nothing
                }
                Some(expiry) => Window::Until(expiry),
            };
            Audience::License {
                product_id: license.product_id,
                entitlement_ids,
                window,
            }
        }
    })
}

/// A release the audience may see, by id, version or tag, or a 404.
pub(crate) async fn visible_release(
    state: &AppState,
    account_id: &str,
    audience: &Audience,
    filter: &ReleaseFilter,
    id: &str,
) -> ApiResult<ReleaseRow> {
    projections::releases::find(&state.db, account_id, audience, filter, id)
        .await?
        .ok_or_else(|| ApiError::not_found("release", id))
}

/// A release the caller may manage, by id, version or tag, or a 404 (403 when it may only see it).
pub(crate) async fn managed_release(state: &AppState, auth: &Auth, id: &str) -> ApiResult<ReleaseRow> {
    let audience = audience(state, Some(auth)).await?;
    let row = visible_release(state, &auth.account.row.id, &audience, &ReleaseFilter::default(), id).await?;
    may_manage(auth, &row.product_id)?;
    Ok(row)
}

/// The distribution strategies whose packages the audience may see.
fn package_strategies(audience: &Audience) -> (Option<String>, Option<Vec<&'static str>>) {
    match audience {
        Audience::Everyone => (None, None),
        Audience::Product(product) => (Some(product.clone()), None),
        Audience::License { .. } => (None, Some(vec!["LICENSED", "OPEN"])),
        Audience::Anonymous => (None, Some(vec!["OPEN"])),
    }
}

/// The package filter the audience is held to.
pub(crate) fn package_filter(audience: &Audience, mut filter: PackageFilter) -> PackageFilter {
    let (product, strategies) = package_strategies(audience);
    if product.is_some() {
        filter.product = product;
    }
    filter.strategies = strategies;
    filter
}

/// A package the audience may see, by id or key, or a 404.
pub(crate) async fn visible_package(
    state: &AppState,
    account_id: &str,
    audience: &Audience,
    id: &str,
) -> ApiResult<PackageRow> {
    let not_found = || ApiError::not_found("package", id);
    let row = projections::packages::find(&state.db, account_id, id)
        .await?
        .ok_or_else(not_found)?;
    let product = projections::products::find(&state.db, account_id, &row.product_id)
        .await?
        .ok_or_else(not_found)?;
    let (own, strategies) = package_strategies(audience);
    let seen = match audience {
        Audience::License { product_id, .. } if *product_id != row.product_id => {
            product.distribution_strategy == "OPEN"
        }
        _ => {
            own.is_none_or(|p| p == row.product_id)
                && strategies.is_none_or(|s| s.contains(&product.distribution_strategy.as_str()))
        }
    };
    if seen {
        Ok(row)
    } else {
        Err(not_found())
    }
}
