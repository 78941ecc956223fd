//! Access to packages and releases: admins and the product itself manage them; who may see a
//! release follows its product's distribution strategy, the licensee's entitlements and the
//! policy's expiration strategy (see `projections::releases::Audience`).

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult, Source};
use crate::state::AppState;
use aggregates::vocabulary::ExpirationStrategy;
use projections::artifacts::ArtifactFilter;
use projections::entitlements::EntitlementSet;
use projections::packages::{PackageFilter, PackageRow};
use projections::releases::{Audience, ReleaseFilter, ReleaseRow, Window};
use std::collections::HashMap;

/// How long a presigned upload or download URL lasts unless asked otherwise (Keygen's hour).
pub(crate) const URL_TTL: u64 = 3600;

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

/// The seconds a download URL lasts: `?ttl=` (60 to 604800) for the vendor, else an hour.
pub(crate) fn download_ttl(audience: &Audience, query: &HashMap<String, String>) -> ApiResult<u64> {
    let Some(ttl) = query.get("ttl") else {
        return Ok(URL_TTL);
    };
    let invalid = || {
        ApiError::bad_request(
            "must be an integer between 60 and 604800",
            "PARAMETER_INVALID",
            Some(Source::Parameter("ttl".into())),
        )
    };
    match audience {
        Audience::Everyone | Audience::Product(_) => {
            let ttl: u64 = ttl.parse().map_err(|_| invalid())?;
            if (60..=604_800).contains(&ttl) {
                Ok(ttl)
            } else {
                Err(invalid())
            }
        }
        _ => Ok(URL_TTL),
    }
}

/// Keygen's 403 for a licensee asking for an artifact of its own product when the product's
/// distribution is `CLOSED` (anything else it may not see is a 404).
pub(crate) async fn closed_to(
    state: &AppState,
    account_id: &str,
    audience: &Audience,
    filter: &ArtifactFilter,
    id: &str,
) -> ApiResult<Option<ApiError>> {
    let Audience::License { product_id, .. } = audience else {
        return Ok(None);
    };
    let releases = ReleaseFilter::default();
    let found = projections::artifacts::find(&state.db, account_id, &Audience::Everyone, &releases, filter, id).await?;
    let Some(row) = found else {
        return Ok(None);
    };
    let product = projections::products::find(&state.db, account_id, &row.product_id).await?;
    let closed = product.is_some_and(|p| p.distribution_strategy == "CLOSED" && p.id == *product_id);
    Ok(closed.then(|| ApiError::forbidden("release distribution strategy is closed")))
}
