//! `/v1/storage/…`: the presigned URLs Keyledger serves itself when artifacts are kept in a
//! directory. Outside the account scope: each URL carries its own authority (an expiry and the
//! account's HMAC of method, key and expiry). A PUT streams the body to the store and marks the
//! artifact uploaded; a GET streams the object back.

use crate::commands::artifact::settle_upload;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::state::AppState;
use crate::storage::{local_signature_matches, Storage};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use projections::artifacts::ArtifactFilter;
use projections::releases::{Audience, ReleaseFilter};
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/storage/{*key}", get(storage_get).put(storage_put))
}

/// Checks a local presigned URL: the store is a directory, the URL has not expired and its
/// signature is the account's for this method and key. Answers the account's id.
async fn authorized(
    state: &AppState,
    method: &Method,
    key: &str,
    query: &HashMap<String, String>,
) -> ApiResult<String> {
    let denied = || ApiError::forbidden_code("SIGNATURE_INVALID", "The presigned URL is invalid or has expired");
    if !matches!(state.storage(), Storage::Local(_)) {
        return Err(ApiError::route_not_found());
    }
    if key.contains('\0') {
        return Err(denied());
    }
    let account_id = key.split('/').nth(1).ok_or_else(denied)?;
    let expires: i64 = query.get("expires").and_then(|e| e.parse().ok()).ok_or_else(denied)?;
    let signature = query.get("signature").ok_or_else(denied)?;
    if expires < state.now().timestamp() {
        return Err(denied());
    }
    let account = state.account(account_id).await?.ok_or_else(denied)?;
    if !local_signature_matches(&account.token_secret, method.as_str(), key, expires, signature) {
        return Err(denied());
    }
    Ok(account.row.id.clone())
}

async fn storage_put(
    State(state): State<AppState>,
    Path(key): Path<String>,
    QueryParams(query): QueryParams,
    request: Request,
) -> ApiResult<Response> {
    let account_id = authorized(&state, &Method::PUT, &key, &query).await?;
    let stream = request.into_body().into_data_stream();
    let size = state
        .storage()
        .put_stream(&key, stream)
        .await
        .map_err(ApiError::internal)?;
    // The bytes are there: the artifact they belong to is uploaded.
    let mut parts = key.splitn(4, '/').skip(2);
    if let (Some(release_id), Some(filename)) = (parts.next(), parts.next()) {
        let filter = ArtifactFilter {
            release: Some(release_id.to_string()),
            ..ArtifactFilter::default()
        };
        let (everyone, releases) = (Audience::Everyone, ReleaseFilter::default());
        let found =
            projections::artifacts::find(&state.db, &account_id, &everyone, &releases, &filter, filename).await?;
        if let Some(row) = found {
            let metadata = HashMap::from([("account_id".to_string(), account_id.clone())]);
            settle_upload(&state, &row, metadata).await?;
        }
    }
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert("x-content-length", HeaderValue::from(size));
    Ok(response)
}

async fn storage_get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    authorized(&state, &Method::GET, &key, &query).await?;
    let (size, stream) = state
        .storage()
        .get_stream(&key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("artifact", &key))?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}
