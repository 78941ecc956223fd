//! The outer layer of every request: request id, `Keygen-Version`, `Accept` (and Keygen's
//! `application/json` answer to a client that prefers it), and the access log.

use crate::error::{ApiError, Source, REQUEST_ID};
use crate::jsonapi::MEDIA_TYPE;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

/// The API version this server speaks; older ones are accepted and echoed.
pub const API_VERSION: &str = "1.8";
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"];

/// The API version a request asked for (header, leading `v` stripped), resolved and validated.
#[derive(Debug, Clone)]
pub struct ApiVersion(pub String);

fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        matches!(
            media.as_str(),
            "" | "*/*"
                | "application/*"
                | "application/json"
                | "application/vnd.api+json"
                | "application/vnd.keygen+json"
        )
    })
}

/// Artifact and engine routes and the storage URLs answer whatever a client accepts, as Keygen's do: package
/// managers and updaters follow their redirects with their own `Accept`.
fn takes_any_media_type(path: &str) -> bool {
    path.starts_with("/v1/storage/") || path.contains("/artifacts") || path.contains("/engines/")
}

/// The account a response was served under, for the access log (set by the account layer).
#[derive(Debug, Clone)]
pub(super) struct ServedAccount(pub(super) String);

/// Request id, `Keygen-Version` and `Accept` handling for every request.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let headers = req.headers();
    let requested = headers
        .get("keygen-version")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_start_matches('v').to_string());
    let version = requested.clone().unwrap_or_else(|| API_VERSION.to_string());
    let method = req.method().clone();
    let path = loggable_path(req.uri().path());
    let span = tracing::info_span!("request", id = %request_id, method = %method, path = %path);
    let early: Option<ApiError> = if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
        Some(ApiError::bad_request(
            "unsupported API version requested",
            "INVALID_API_VERSION",
            Some(Source::Header("Keygen-Version".into())),
        ))
    } else if !accepts_json(headers) && !takes_any_media_type(&path) {
        Some(ApiError::bad_request(
            "The content type of the request is not acceptable (check your Accept header)",
            "MIME_TYPE_INVALID",
            Some(Source::Header("Accept".into())),
        ))
    } else {
        None
    };
    let wants_plain_json = prefers_plain_json(headers);
    let started = std::time::Instant::now();
    req.extensions_mut().insert(ApiVersion(version.clone()));
    let mut response = REQUEST_ID
        .scope(
            request_id.clone(),
            async move {
                match early {
                    Some(err) => err.into_response(),
                    None => next.run(req).await,
                }
            }
            .instrument(span),
        )
        .await;
    // The access log: one line a request, the path with license keys masked and no query
    // (which may carry `?auth=` credentials).
    let account = response
        .extensions()
        .get::<ServedAccount>()
        .map(|a| a.0.as_str())
        .unwrap_or("-");
    tracing::info!(
        target: "keyledger::access",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = %request_id,
        account = %account,
        "{method} {path} {}",
        response.status().as_u16()
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), v);
    }
    let echoed = if SUPPORTED_VERSIONS.contains(&version.as_str()) {
        version
    } else {
        API_VERSION.to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&echoed) {
        headers.insert(HeaderName::from_static("keygen-version"), v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-transform, no-store, max-age=0"),
    );
    let is_jsonapi = headers.get(header::CONTENT_TYPE).is_some_and(|v| v == MEDIA_TYPE);
    if wants_plain_json && is_jsonapi {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

/// Keygen answers `application/json` to a client whose first choice it is.
fn prefers_plain_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let first = accept
        .split(',')
        .next()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    first.eq_ignore_ascii_case("application/json")
}

/// The path as logs may show it: a license addressed by key (`/licenses/{key}/…`) is masked,
/// since a license key is a credential.
pub(super) fn loggable_path(path: &str) -> String {
    let mut previous = "";
    path.split('/')
        .map(|segment| {
            let masked = previous == "licenses" && segment != "actions" && uuid::Uuid::parse_str(segment).is_err();
            previous = segment;
            if masked {
                "[key]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_keys_are_masked_in_logged_paths() {
        assert_eq!(
            loggable_path("/v1/accounts/a/licenses/ABC-123/actions/validate"),
            "/v1/accounts/a/licenses/[key]/actions/validate"
        );
        let id = "6a7562be-b302-43d2-a550-30d6026247aa";
        assert_eq!(
            loggable_path(&format!("/v1/accounts/a/licenses/{id}")),
            format!("/v1/accounts/a/licenses/{id}")
        );
        assert_eq!(
            loggable_path("/v1/accounts/a/licenses/actions/validate-key"),
            "/v1/accounts/a/licenses/actions/validate-key"
        );
    }
}
