//! Request logs: each request that resolved an account (but Keygen's exclusions: webhook
//! endpoints and events, request and event logs, the account itself, ping) is recorded as
//! Keygen records it — method, URL (secret query values filtered), status, IP, user agent, the
//! requestor, a short list of headers, the request's `data`/`meta` and the JSON response with
//! secrets masked, and the response signature. The row is queued on the observation writer,
//! which commits it with its next batch: the request waits for no database.

use crate::error::REQUEST_ID;
use crate::listener::ClientAddr;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use projections::masking::{is_sensitive, mask};
use projections::request_logs::RequestLogRow;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Where authentication leaves who made the request (type, id), for its log.
#[derive(Debug, Clone, Default)]
pub struct RequestorSlot(pub Arc<OnceLock<(&'static str, String)>>);

/// Request headers Keygen keeps (never `Authorization`).
const REQUEST_HEADERS: &[&str] = &["accept", "content-length", "content-type", "origin", "host"];
/// Response headers Keygen keeps.
const RESPONSE_HEADERS: &[&str] = &[
    "content-length",
    "content-type",
    "date",
    "digest",
    "keygen-account",
    "keygen-bearer",
    "keygen-date",
    "keygen-digest",
    "keygen-edition",
    "keygen-environment",
    "keygen-license",
    "keygen-mode",
    "keygen-signature",
    "keygen-token",
    "keygen-version",
];
/// The largest request body kept (larger ones are refused by the routes anyway).
const BODY_LIMIT: usize = 1 << 20;

/// A request on its way, as its log will show it.
pub(super) struct Captured {
    method: String,
    url: String,
    ip: Option<String>,
    user_agent: Option<String>,
    headers: Value,
    body: Option<Value>,
    requestor: RequestorSlot,
    started: Instant,
}

/// Whether Keygen logs requests to this path (under `/v1/accounts/{account}` or `/v1`).
fn logged(path: &str) -> bool {
    let rest = path
        .strip_prefix("/v1/accounts/")
        .map(|r| r.split_once('/').map(|(_, r)| r).unwrap_or(""));
    let rest = rest.unwrap_or_else(|| path.strip_prefix("/v1/").unwrap_or(path));
    let first = rest.split('/').next().unwrap_or("");
    !matches!(
        first,
        "" | "webhook-endpoints" | "webhook-events" | "request-logs" | "event-logs" | "ping"
    )
}

fn kept_headers(headers: &HeaderMap, names: &[&str]) -> Value {
    let mut kept = Map::new();
    for name in names {
        if let Some(value) = headers.get(*name).and_then(|v| v.to_str().ok()) {
            kept.insert(header_case(name), Value::String(value.to_string()));
        }
    }
    Value::Object(kept)
}

/// `keygen-signature` → `Keygen-Signature`.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The URL as logged: license keys in the path masked, secret query values `[FILTERED]`.
fn loggable_url(path: &str, query: Option<&str>) -> String {
    let path = super::version::loggable_path(path);
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return path;
    };
    let filtered: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_sensitive(name) => format!("{name}=[FILTERED]"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", filtered.join("&"))
}

/// A JSON body as logged: only `data` and `meta`, secrets masked.
fn loggable_body(bytes: &[u8], whole: bool) -> Option<Value> {
    let Value::Object(document) = serde_json::from_slice::<Value>(bytes).ok()? else {
        return None;
    };
    let kept: Map<String, Value> = document
        .into_iter()
        .filter(|(k, _)| whole || k == "data" || k == "meta")
        .collect();
    Some(mask(Value::Object(kept)))
}

/// Takes what the log needs from a request it logs (buffering its body), and leaves a slot for
/// its requestor.
pub(super) async fn capture(mut req: Request) -> (Request, Option<Captured>) {
    let uri = super::account::original_uri(&req);
    if !logged(uri.path()) {
        return (req, None);
    }
    let declared: Option<usize> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let mut body = None;
    if declared.is_some_and(|n| n > 0 && n <= BODY_LIMIT) {
        let (parts, stream) = req.into_parts();
        match axum::body::to_bytes(stream, BODY_LIMIT).await {
            Ok(bytes) => {
                body = loggable_body(&bytes, false);
                req = Request::from_parts(parts, Body::from(bytes));
            }
            Err(_) => req = Request::from_parts(parts, Body::empty()),
        }
    }
    let requestor = RequestorSlot::default();
    req.extensions_mut().insert(requestor.clone());
    let user_agent = req.headers().get(header::USER_AGENT).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .filter(char::is_ascii)
            .collect()
    });
    let captured = Captured {
        method: req.method().to_string(),
        url: loggable_url(uri.path(), uri.query()),
        ip: req
            .extensions()
            .get::<ConnectInfo<ClientAddr>>()
            .map(|c| c.0 .0.ip().to_string()),
        user_agent,
        headers: kept_headers(req.headers(), REQUEST_HEADERS),
        body,
        requestor,
        started: Instant::now(),
    };
    (req, Some(captured))
}

/// Queues the log of a request with its response, and answers the response unchanged.
pub(super) async fn finish(state: &AppState, account_id: &str, captured: Captured, response: Response) -> Response {
    let (parts, stream) = response.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let (bytes, body) = match axum::body::to_bytes(stream, usize::MAX).await {
        Ok(bytes) => {
            let kept = json.then(|| loggable_body(&bytes, true)).flatten();
            (bytes, kept)
        }
        Err(_) => (Default::default(), None),
    };
    let (requestor_type, requestor_id) = match captured.requestor.0.get() {
        Some((kind, id)) => (Some(kind.to_string()), Some(id.clone())),
        None => (None, None),
    };
    let text = |v: &Value| Some(v.to_string());
    let row = RequestLogRow {
        id: REQUEST_ID
            .try_with(|id| id.clone())
            .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string()),
        account_id: account_id.to_string(),
        method: captured.method,
        url: captured.url,
        status: parts.status.as_u16().to_string(),
        ip: captured.ip,
        user_agent: captured.user_agent,
        requestor_type,
        requestor_id,
        request_headers: text(&captured.headers),
        request_body: captured.body.as_ref().and_then(text),
        response_headers: text(&kept_headers(&parts.headers, RESPONSE_HEADERS)),
        response_body: body.as_ref().and_then(text),
        response_signature: parts
            .headers
            .get("keygen-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        run_time: captured.started.elapsed().as_millis() as i64,
        created_at: state.now().timestamp_micros(),
    };
    state.observations.log_request(row).await;
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygens_exclusions_are_not_logged() {
        assert!(logged("/v1/accounts/acme/licenses/actions/validate-key"));
        assert!(logged("/v1/licenses"));
        for path in [
            "/v1/accounts/acme",
            "/v1/accounts/acme/webhook-events/x",
            "/v1/request-logs",
            "/v1/accounts/a/ping",
        ] {
            assert!(!logged(path), "{path}");
        }
    }

    #[test]
    fn secret_query_values_and_keys_in_paths_are_filtered() {
        assert_eq!(
            loggable_url("/v1/accounts/a/licenses/SECRET-KEY-1", Some("token=abc&limit=2")),
            "/v1/accounts/a/licenses/[key]?token=[FILTERED]&limit=2"
        );
    }
}
