//! The account layer under `/v1/accounts/{account}` (and the short `/v1` routes): resolving the
//! account a request addresses, and signing whatever the routes answer with its key.

use super::signing::{check_accept_signature, sign};
use super::version::ServedAccount;
use crate::crypto::SignatureAlgorithm;
use crate::error::ApiError;
use crate::state::{AccountContext, AppState};
use axum::extract::{OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

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
pub(super) fn original_uri(req: &Request) -> axum::http::Uri {
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
    let (req, captured) = match state.request_logs.load(std::sync::atomic::Ordering::Relaxed) {
        true => super::request_log::capture(req).await,
        false => (req, None),
    };
    let account_id = account.row.id.clone();
    let response = signed_by(account, req, next).await;
    match captured {
        Some(captured) => super::request_log::finish(&state, &account_id, captured, response).await,
        None => response,
    }
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
    // The client's algorithm; a refused header is answered (400) in the default one.
    let (algorithm, response) = match accept_signature.map(|h| check_accept_signature(&h, &account.row.id)) {
        Some(Err(err)) => (SignatureAlgorithm::Ed25519, err.into_response()),
        Some(Ok(algorithm)) => (algorithm, next.run(req).await),
        None => (SignatureAlgorithm::Ed25519, next.run(req).await),
    };
    let mut response = sign(response, &account, algorithm, &method, &target, &host).await;
    response.extensions_mut().insert(ServedAccount(account.row.id.clone()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_segment_is_decoded() {
        assert_eq!(account_segment("/v1/accounts/acme/products").as_deref(), Some("acme"));
        assert_eq!(account_segment("/v1/accounts/a%2Db").as_deref(), Some("a-b"));
        assert_eq!(account_segment("/v1/ping"), None);
    }
}
