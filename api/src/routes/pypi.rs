//! The PyPI engine: a PEP 503 simple index of the account's `pypi` packages.
//!
//! `/engines/pypi/simple/` lists the packages the caller may see; `/engines/pypi/simple/{name}/`
//! links each uploaded artifact of the package's published releases (the artifact's vanity URL,
//! with `#<algorithm>=<hex>` when its checksum is hex). A name the account has no package for
//! is sent on to `https://pypi.org/simple/<name>/` (so a public dependency still resolves, and a
//! private name is never looked up elsewhere); an anonymous caller asking for a package it may
//! not see is asked for credentials (401).

use crate::access::release::{audience, package_filter};
use crate::error::{ApiError, ApiResult};
use crate::extract::{request_origin, MaybeCall, Segments};
use crate::resources::artifact_vanity_path;
use crate::state::AppState;
use aggregates::package::pep503_name;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use projections::artifacts::ArtifactFilter;
use projections::packages::{PackageFilter, PackageRow};
use projections::releases::{Audience, ReleaseFilter};
use sha2::{Digest, Sha256};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/engines/pypi/simple", get(index))
        .route("/engines/pypi/simple/", get(index))
        .route("/engines/pypi/simple/{package}", get(package))
        .route("/engines/pypi/simple/{package}/", get(package))
}

/// Text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML page with Keygen's caching headers and an ETag of its body.
fn page(body: String, last_modified: Option<i64>) -> ApiResult<Response> {
    let etag = format!("W/\"{}\"", hex::encode(&Sha256::digest(body.as_bytes())[..16]));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=600"));
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
    if let Some(at) = last_modified {
        let stamp = projections::from_micros(at)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        headers.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_str(&stamp).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

/// The account's `pypi` packages the audience may see.
async fn packages(state: &AppState, account_id: &str, audience: &Audience) -> ApiResult<Vec<PackageRow>> {
    let filter = package_filter(
        audience,
        PackageFilter {
            engine: Some("pypi".into()),
            ..Default::default()
        },
    );
    let everything = projections::PageRequest::everything();
    Ok(projections::packages::list(&state.db, account_id, &filter, everything)
        .await?
        .items)
}

async fn index(call: MaybeCall) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let rows = packages(&call.state, &call.account.row.id, &audience).await?;
    let links: String = rows
        .iter()
        .map(|p| format!("    <a href=\"{0}/\">{0}</a><br/>\n", escape(&p.key)))
        .collect();
    let body = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
         <title>Simple index</title>\n  </head>\n  <body>\n{links}  </body>\n</html>\n"
    );
    page(body, rows.iter().map(|p| p.updated_at).max())
}

/// The algorithm of a hex checksum, by its length (Keygen's rule); none for other encodings.
fn hex_checksum(checksum: Option<&str>) -> Option<(&'static str, String)> {
    let checksum = checksum?.trim().to_lowercase();
    if !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let algorithm = match checksum.len() / 2 {
        16 => "md5",
        20 => "sha1",
        28 => "sha224",
        32 => "sha256",
        48 => "sha384",
        64 => "sha512",
        _ => return None,
    };
    Some((algorithm, checksum))
}

async fn package(call: MaybeCall, headers: HeaderMap, path: Segments) -> ApiResult<Response> {
    let name = path.get("package").to_string();
    let state = &call.state;
    let account_id = &call.account.row.id;
    let audience = audience(state, call.auth.as_ref()).await?;
    let key = pep503_name(&name);
    let visible = packages(state, account_id, &audience).await?;
    let Some(package) = visible.into_iter().find(|p| p.key.eq_ignore_ascii_case(&key)) else {
        let known = packages(state, account_id, &Audience::Everyone).await?;
        if known.iter().any(|p| p.key.eq_ignore_ascii_case(&key)) {
            return match call.auth {
                // pip answers a Basic challenge with the index's credentials.
                None => {
                    let mut response = ApiError::token_missing().into_response();
                    let challenge = HeaderValue::from_static("Basic realm=\"keygen\"");
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
                    Ok(response)
                }
                Some(_) => Err(ApiError::not_found("package", &name)),
            };
        }
        let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
        let location = format!("https://pypi.org/simple/{}/", key.to_lowercase());
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&location).map_err(ApiError::internal)?,
        );
        return Ok(response);
    };
    let releases = ReleaseFilter {
        product: Some(package.product_id.clone()),
        package: Some(Some(package.id.clone())),
        status: Some("PUBLISHED".into()),
        ..Default::default()
    };
    let filter = ArtifactFilter {
        status: Some("UPLOADED".into()),
        ..Default::default()
    };
    let everything = projections::PageRequest::everything();
    let artifacts = projections::artifacts::list(&state.db, account_id, &audience, &releases, &filter, everything)
        .await?
        .items;
    let origin = request_origin(&headers);
    let links: String = artifacts
        .iter()
        .map(|a| {
            let fragment = hex_checksum(a.checksum.as_deref())
                .map(|(algorithm, hex)| format!("#{algorithm}={hex}"))
                .unwrap_or_default();
            let href = format!("{origin}{}{fragment}", artifact_vanity_path(a));
            format!("    <a href=\"{}\">{}</a><br/>\n", escape(&href), escape(&a.filename))
        })
        .collect();
    let title = escape(&package.key);
    let body = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
         <title>Links for {title}</title>\n  </head>\n  <body>\n    <h1>Links for {title}</h1>\n{links}  </body>\n</html>\n"
    );
    let last = artifacts.iter().map(|a| a.updated_at).chain([package.updated_at]).max();
    page(body, last)
}
