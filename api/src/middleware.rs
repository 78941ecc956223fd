//! Layers every response passes through: request id, API version, media types, and — under
//! `/v1/accounts/{account}` — account resolution and Keygen's response signature.

use crate::error::{ApiError, Source, REQUEST_ID};
use crate::state::{AccountContext, AppState};
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::Instrument;

/// The API version this server speaks; older ones are accepted and echoed.
pub const API_VERSION: &str = "1.8";
const SUPPORTED_VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"];

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

/// Request id, `Keygen-Version` and `Accept` handling for every request.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let headers = req.headers();
    let requested = headers
        .get("keygen-version")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_start_matches('v').to_string());
    let version = requested.clone().unwrap_or_else(|| API_VERSION.to_string());
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %loggable_path(req.uri().path()));
    let early: Option<ApiError> = if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
        Some(ApiError::bad_request(
            "unsupported API version requested",
            "INVALID_API_VERSION",
            Some(Source::Header("Keygen-Version".into())),
        ))
    } else if !accepts_json(headers) {
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
    let method = req.method().clone();
    let path = loggable_path(req.uri().path());
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
    let is_jsonapi = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == crate::jsonapi::MEDIA_TYPE);
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
fn loggable_path(path: &str) -> String {
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

/// The `{account}` segment of `/v1/accounts/{account}/…`, percent-decoded.
fn account_segment(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v1/accounts/")?;
    let segment = rest.split('/').next()?;
    Some(
        percent_encoding::percent_decode_str(segment)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The URI as the client sent it: nested routes see their path with the prefix stripped, but
/// the account and the signed request-target come from the original.
fn original_uri(req: &Request) -> axum::http::Uri {
    req.extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| req.uri().clone())
}

/// Resolves the account of the path (404 when unknown), then signs whatever the routes answer.
pub async fn account_scope(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let account = match account_segment(original_uri(&req).path()) {
        Some(segment) if segment.contains('\0') => {
            return ApiError::not_found("account", &segment.replace('\0', "")).into_response()
        }
        Some(segment) => match state.account(&segment).await {
            Ok(Some(account)) => account,
            Ok(None) => return ApiError::not_found("account", &segment).into_response(),
            Err(err) => return err.into_response(),
        },
        // Keygen's short routes (`/v1/licenses/…`), which keygen-go uses for any host but
        // Keygen's own: they address the store's only account.
        None => match state.singleplayer_account().await {
            Ok(Some(account)) => account,
            Ok(None) => return ApiError::route_not_found().into_response(),
            Err(err) => return err.into_response(),
        },
    };
    signed_by(account, req, next).await
}

/// For `/v1/ping`, which answers whatever the store holds: signed by the store's only account
/// like every short route (so an SDK that verifies every response accepts it), unsigned when
/// the store holds several accounts and none is addressed.
pub async fn singleplayer_signature(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.singleplayer_account().await {
        Ok(Some(account)) => signed_by(account, req, next).await,
        Ok(None) => next.run(req).await,
        Err(err) => err.into_response(),
    }
}

/// Runs the request under `account` (checking `Keygen-Accept-Signature`) and signs the response.
async fn signed_by(account: Arc<AccountContext>, mut req: Request, next: Next) -> Response {
    let original = original_uri(&req);
    let method = req.method().clone();
    let target = original
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let accept_signature = req
        .headers()
        .get("keygen-accept-signature")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    req.extensions_mut().insert(account.clone());
    let response = match accept_signature.map(|h| check_accept_signature(&h, &account.row.id)) {
        Some(Err(err)) => err.into_response(),
        _ => next.run(req).await,
    };
    let mut response = sign(response, &account, &method, &target, &host).await;
    response.extensions_mut().insert(ServedAccount(account.row.id.clone()));
    response
}

/// The account a response was served under, for the access log.
#[derive(Debug, Clone)]
struct ServedAccount(String);

/// `Keygen-Accept-Signature: [keyid="<account>", ]algorithm="ed25519"`; anything else is a 400.
fn check_accept_signature(value: &str, account_id: &str) -> Result<(), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid accept-signature header (only ed25519 is supported)",
            "SIGNATURE_INVALID",
            Some(Source::Header("Keygen-Accept-Signature".into())),
        )
    };
    let mut algorithm = None;
    for part in value.trim().trim_end_matches(';').split(',') {
        let (key, val) = part.split_once('=').ok_or_else(bad)?;
        let val = val.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "algorithm" => algorithm = Some(val.to_ascii_lowercase()),
            "keyid" if val == account_id => {}
            _ => return Err(bad()),
        }
    }
    match algorithm.as_deref() {
        Some("ed25519") => Ok(()),
        _ => Err(bad()),
    }
}

/// Adds `Date`, `Digest`, `Keygen-Date`, `Keygen-Digest` and `Keygen-Signature` to a response.
/// The body is collected once and the same bytes are sent.
async fn sign(
    response: Response,
    account: &Arc<AccountContext>,
    method: &Method,
    target: &str,
    host: &str,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let digest = format!("sha-256={}", B64.encode(Sha256::digest(&bytes)));
    let signing_string = format!(
        "(request-target): {} {target}\nhost: {host}\ndate: {date}\ndigest: {digest}",
        method.as_str().to_ascii_lowercase()
    );
    let signature = B64.encode(account.signing_key.sign(signing_string.as_bytes()).to_bytes());
    let header_value = format!(
        "keyid=\"{}\", algorithm=\"ed25519\", signature=\"{signature}\", headers=\"(request-target) host date digest\"",
        account.row.id
    );
    let headers = &mut parts.headers;
    for (name, value) in [
        ("date", &date),
        ("keygen-date", &date),
        ("digest", &digest),
        ("keygen-digest", &digest),
        ("keygen-signature", &header_value),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&account.row.id) {
        headers.insert(HeaderName::from_static("keygen-account"), v);
    }
    Response::from_parts(parts, Body::from(bytes))
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

    #[test]
    fn account_segment_is_decoded() {
        assert_eq!(account_segment("/v1/accounts/acme/products").as_deref(), Some("acme"));
        assert_eq!(account_segment("/v1/accounts/a%2Db").as_deref(), Some("a-b"));
        assert_eq!(account_segment("/v1/ping"), None);
    }

    #[test]
    fn accept_signature_takes_only_ed25519_for_this_account() {
        assert!(check_accept_signature("algorithm=\"ed25519\"", "a").is_ok());
        assert!(check_accept_signature("keyid=\"a\", algorithm=\"ED25519\";", "a").is_ok());
        assert!(check_accept_signature("keyid=\"b\", algorithm=\"ed25519\"", "a").is_err());
        assert!(check_accept_signature("algorithm=\"rsa-sha256\"", "a").is_err());
        assert!(check_accept_signature("garbage", "a").is_err());
    }
}
