//! The request-log resource: lists leave out the blobs (headers, bodies, signature), a
//! retrieval has them.

use super::links::{account_path, account_relationships, related};
use crate::jsonapi::{resource, timestamp};
use projections::request_logs::RequestLogRow;
use serde_json::{json, Map, Value};

fn blob(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// The request-log resource; `blobs` adds headers, bodies and the response signature.
pub(crate) fn request_log_resource(row: &RequestLogRow, blobs: bool) -> Value {
    let account = &row.account_id;
    let mut a = Map::new();
    a.insert("url".into(), json!(row.url));
    a.insert("method".into(), json!(row.method));
    a.insert("status".into(), json!(row.status));
    a.insert("userAgent".into(), json!(row.user_agent));
    a.insert("ip".into(), json!(row.ip));
    if blobs {
        a.insert("requestHeaders".into(), blob(&row.request_headers));
        a.insert("requestBody".into(), blob(&row.request_body));
        a.insert("responseSignature".into(), json!(row.response_signature));
        a.insert("responseHeaders".into(), blob(&row.response_headers));
        a.insert("responseBody".into(), blob(&row.response_body));
    }
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.created_at));
    let mut r = account_relationships(account);
    r.insert("environment".into(), json!({ "data": null }));
    let requestor = match (&row.requestor_type, &row.requestor_id) {
        (Some(kind), Some(id)) => related(account, kind, id),
        _ => json!({ "data": null }),
    };
    r.insert("requestor".into(), requestor);
    r.insert("resource".into(), json!({ "data": null }));
    let path = account_path(account, &format!("request-logs/{}", row.id));
    resource("request-logs", &row.id, a, r, path)
}
