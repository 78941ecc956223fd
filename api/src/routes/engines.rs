//! Package engines: the read-only endpoints package managers and updaters call.
//!
//! - `raw`: `/engines/raw/{product}[/@{package}]/{release}/{artifact}` answers 303 to the
//!   artifact's vanity URL (the query string goes along).
//! - `tauri`: `/engines/tauri/{package}?platform=&arch=&version=[&channel=&constraint=]` finds
//!   the release of `version`, its upgrade, and the upgrade's artifact for the platform and arch
//!   (preferring `.zip`/`.gz`, then `.nsis.zip`, then `.exe`, then the newest; never a `.sig`),
//!   and answers Tauri's update description; 204 when there is no release of that version, no
//!   upgrade, or no such artifact.

use crate::access::release::{audience, visible_package, visible_release};
use crate::error::{ApiError, ApiResult, Source};
use crate::extract::{request_origin, MaybeCall, QueryParams, Segments};
use crate::resources::artifact_vanity_path;
use crate::state::AppState;
use aggregates::release::version::UpgradeConstraint;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use projections::artifacts::{ArtifactFilter, ArtifactRow};
use projections::releases::ReleaseFilter;
use serde_json::json;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/engines/raw/{product}/{release}/{artifact}", get(raw))
        .route(
            "/engines/raw/{product}/{package}/{release}/{artifact}",
            get(raw_in_package),
        )
        .route("/engines/tauri/{package}", get(tauri))
}

/// 303 to the vanity URL of `artifact` (a filename) of `release` (version, tag or id) of
/// `product` (id or code), in `package` or in none.
async fn raw_redirect(
    call: MaybeCall,
    product: &str,
    package: Option<&str>,
    release: &str,
    artifact: &str,
    query: Option<String>,
) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    let product_row = projections::products::find(&call.state.db, account_id, product)
        .await?
        .ok_or_else(|| ApiError::not_found("product", product))?;
    let package_id = match package {
        Some(key) => Some(visible_package(&call.state, account_id, &audience, key).await?.id),
        None => None,
    };
    let filter = ReleaseFilter {
        product: Some(product_row.id),
        package: Some(package_id),
        ..Default::default()
    };
    let release = visible_release(&call.state, account_id, &audience, &filter, release).await?;
    let artifacts = ArtifactFilter {
        release: Some(release.id),
        ..Default::default()
    };
    let row = projections::artifacts::find(
        &call.state.db,
        account_id,
        &audience,
        &ReleaseFilter::default(),
        &artifacts,
        artifact,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("artifact", artifact))?;
    let mut location = artifact_vanity_path(&row);
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        location = format!("{location}?{query}");
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    let value = HeaderValue::from_str(&location).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}

async fn raw(call: MaybeCall, path: Segments, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let (product, release, artifact) = (path.get("product"), path.get("release"), path.get("artifact"));
    raw_redirect(call, product, None, release, artifact, query).await
}

async fn raw_in_package(call: MaybeCall, path: Segments, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let Some(package) = path.get("package").strip_prefix('@') else {
        return Err(ApiError::route_not_found());
    };
    let (product, release, artifact) = (path.get("product"), path.get("release"), path.get("artifact"));
    raw_redirect(call, product, Some(package), release, artifact, query).await
}

/// How much Tauri's updater wants an artifact, best first.
fn tauri_rank(row: &ArtifactRow) -> u8 {
    let name = row.filename.to_lowercase();
    if name.ends_with(".nsis.zip") {
        1
    } else if name.ends_with(".zip") || name.ends_with(".gz") {
        0
    } else if name.ends_with(".exe") {
        2
    } else {
        3
    }
}

async fn tauri(
    call: MaybeCall,
    headers: HeaderMap,
    path: Segments,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let state = &call.state;
    let account_id = &call.account.row.id;
    let package = visible_package(state, account_id, &audience, path.get("package")).await?;
    let no_content = || Ok(StatusCode::NO_CONTENT.into_response());
    let constraint = match query.get("constraint").filter(|c| !c.is_empty()) {
        Some(text) => Some(UpgradeConstraint::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid version constraint",
                "CONSTRAINT_INVALID",
                Some(Source::Parameter("constraint".into())),
            )
        })?),
        None => None,
    };
    let Some(version) = query.get("version") else {
        return no_content();
    };
    let lookup = ReleaseFilter {
        product: Some(package.product_id.clone()),
        package: Some(Some(package.id.clone())),
        version: Some(version.clone()),
        ..Default::default()
    };
    let Some(current) = projections::releases::find(&state.db, account_id, &audience, &lookup, version).await? else {
        return no_content();
    };
    let channel = query.get("channel").cloned().unwrap_or_else(|| current.channel.clone());
    let package_id = Some(package.id.clone());
    let next = crate::commands::release::next_release(
        state,
        account_id,
        &audience,
        &current,
        package_id,
        &channel,
        constraint.as_ref(),
    )
    .await?;
    let Some(next) = next else {
        return no_content();
    };
    let filter = ArtifactFilter {
        release: Some(next.id.clone()),
        platform: query.get("platform").map(|p| p.to_lowercase()),
        arch: query.get("arch").map(|a| a.to_lowercase()),
        status: Some("UPLOADED".into()),
        ..Default::default()
    };
    let page = projections::PageRequest::everything();
    let releases = ReleaseFilter::default();
    let mut artifacts = projections::artifacts::list(&state.db, account_id, &audience, &releases, &filter, page)
        .await?
        .items;
    artifacts.retain(|a| a.filetype.as_deref() != Some("sig") && !a.filename.to_lowercase().ends_with(".sig"));
    artifacts.sort_by(|a, b| tauri_rank(a).cmp(&tauri_rank(b)).then(b.created_at.cmp(&a.created_at)));
    let Some(artifact) = artifacts.first() else {
        return no_content();
    };
    let published = next.backdated_at.unwrap_or(next.created_at);
    let body = json!({
        "url": format!("{}{}", request_origin(&headers), artifact_vanity_path(artifact)),
        "signature": artifact.signature,
        "version": next.version,
        "pub_date": projections::from_micros(published).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "notes": next.description,
    });
    Ok(axum::Json(body).into_response())
}
