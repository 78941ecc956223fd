//! The npm engine: the registry's package document for an account's `npm` package.
//!
//! `/engines/npm/{name}` (and `/engines/npm/@scope/name`; npm sends `@scope%2fname`) answers
//! `name`, `time`, `dist-tags` (`latest`: the newest stable version; each release's tag) and
//! `versions`: for each published release with an uploaded `.tgz` whose `package.json` was read
//! at upload, that manifest with `dist.tarball` (the artifact's vanity URL) and
//! `dist.integrity` or `dist.shasum` from the artifact's checksum. npm's own endpoints under
//! `/-/` (audit, search) are gone (410).

use crate::access::release::{audience, visible_package};
use crate::error::{ApiError, ApiResult};
use crate::extract::{request_origin, MaybeCall, Segments};
use crate::resources::artifact_vanity_path;
use crate::state::AppState;
use aggregates::release::version::VersionParts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use projections::artifacts::ArtifactFilter;
use projections::releases::ReleaseFilter;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/engines/npm/-/{*rest}", get(gone).post(gone))
        .route("/engines/npm/{package}", get(document))
        .route("/engines/npm/{scope}/{package}", get(document))
}

async fn gone() -> Response {
    StatusCode::GONE.into_response()
}

/// `dist.integrity` (SRI, base64 SHA-256/384/512) or `dist.shasum` (hex SHA-1) from a checksum
/// given in hex or base64.
fn dist_digest(checksum: &str) -> Option<(&'static str, String)> {
    let checksum = checksum.trim();
    let bytes = hex::decode(checksum)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(checksum).ok())?;
    let b64 = || base64::engine::general_purpose::STANDARD.encode(&bytes);
    match bytes.len() {
        20 => Some(("shasum", hex::encode(&bytes))),
        32 => Some(("integrity", format!("sha256-{}", b64()))),
        48 => Some(("integrity", format!("sha384-{}", b64()))),
        64 => Some(("integrity", format!("sha512-{}", b64()))),
        _ => None,
    }
}

fn stamp(us: i64) -> Value {
    json!(projections::from_micros(us)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string())
}

async fn document(call: MaybeCall, headers: HeaderMap, path: Segments) -> ApiResult<Response> {
    let name = match path.0.get("scope") {
        Some(scope) => format!("{scope}/{}", path.get("package")),
        None => path.get("package").to_string(),
    };
    let state = &call.state;
    let account_id = &call.account.row.id;
    let audience = audience(state, call.auth.as_ref()).await?;
    let package = visible_package(state, account_id, &audience, &name).await?;
    if package.engine.as_deref() != Some("npm") {
        return Err(ApiError::not_found("package", &name));
    }
    let releases = ReleaseFilter {
        product: Some(package.product_id.clone()),
        package: Some(Some(package.id.clone())),
        status: Some("PUBLISHED".into()),
        ..Default::default()
    };
    let everything = projections::PageRequest::everything();
    let published = projections::releases::list(&state.db, account_id, &audience, &releases, everything).await?;
    let filter = ArtifactFilter {
        status: Some("UPLOADED".into()),
        ..Default::default()
    };
    let artifacts = projections::artifacts::list(&state.db, account_id, &audience, &releases, &filter, everything)
        .await?
        .items;
    let origin = request_origin(&headers);
    let (mut versions, mut time, mut tags) = (Map::new(), Map::new(), Map::new());
    let mut latest: Option<(VersionParts, String)> = None;
    for release in &published.items {
        let tarball = artifacts
            .iter()
            .filter(|a| a.release_id == release.id && a.filename.ends_with(".tgz"))
            .find_map(|a| Some((a, serde_json::from_str::<Value>(a.manifest.as_deref()?).ok()?)));
        let Some((artifact, Value::Object(mut manifest))) = tarball else {
            continue;
        };
        let mut dist = Map::new();
        dist.insert(
            "tarball".into(),
            json!(format!("{origin}{}", artifact_vanity_path(artifact))),
        );
        if let Some((field, digest)) = artifact.checksum.as_deref().and_then(dist_digest) {
            dist.insert(field.into(), json!(digest));
        }
        manifest.insert("name".into(), json!(package.key));
        manifest.insert("version".into(), json!(release.version));
        manifest.insert("dist".into(), Value::Object(dist));
        versions.insert(release.version.clone(), Value::Object(manifest));
        time.insert(release.version.clone(), stamp(release.created_at));
        if let Some(tag) = &release.tag {
            tags.insert(tag.clone(), json!(release.version));
        }
        if let Some(parts) =
            VersionParts::parse(&release.version).filter(|p| p.pre_word.is_none() && p.pre_num.is_none())
        {
            if latest.as_ref().is_none_or(|(best, _)| parts.order(best).is_gt()) {
                latest = Some((parts, release.version.clone()));
            }
        }
    }
    if let Some((_, version)) = latest {
        tags.insert("latest".into(), json!(version));
    }
    time.insert("created".into(), stamp(package.created_at));
    let modified = published
        .items
        .iter()
        .map(|r| r.updated_at)
        .chain([package.updated_at])
        .max();
    time.insert("modified".into(), stamp(modified.unwrap_or(package.updated_at)));
    let body = json!({
        "_id": package.key,
        "name": package.key,
        "dist-tags": tags,
        "time": time,
        "versions": versions,
    });
    Ok(axum::Json(body).into_response())
}
