//! Response helpers every handler renders with: JSON:API documents, single resources, 201s with
//! `Location`, and paged lists.

use crate::extract::ListPage;
use crate::jsonapi::{page_links, MEDIA_TYPE};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A JSON:API response with Keygen's media type.
pub(crate) fn document(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// 200 with a file to save: `application/octet-stream`, `Content-Disposition: attachment`.
pub(crate) fn attachment(filename: &str, bytes: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `{"data": resource}` with a status.
pub(crate) fn single(status: StatusCode, resource: Value) -> Response {
    document(status, json!({ "data": resource }))
}

/// `{"data": [...]}` with 200 and no pagination links, as attach requests answer.
pub(crate) fn listed(resources: Vec<Value>) -> Response {
    document(StatusCode::OK, json!({ "data": resources }))
}

/// 201 with `Location` set to the resource's self link.
pub(crate) fn created(resource: Value) -> Response {
    let location = resource["links"]["self"].as_str().unwrap_or_default().to_string();
    let mut response = single(StatusCode::CREATED, resource);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// A page of a list: `{"data": [...], "links": {...}}` with Keygen's pagination links.
pub(crate) fn paged(resources: Vec<Value>, path: &str, list: &ListPage, total: i64) -> Response {
    let ListPage { page, links: query, .. } = list;
    let last_id = resources.last().and_then(|r| r["id"].as_str()).map(str::to_owned);
    let full = resources.len() as i64 == page.size;
    let links = page_links(path, query, page, total, last_id.as_deref(), full);
    document(StatusCode::OK, json!({ "data": resources, "links": links }))
}

/// A page of rows, each rendered with `render`, with Keygen's pagination links.
pub(crate) fn paged_rows<T>(
    result: &projections::Page<T>,
    render: impl FnMut(&T) -> Value,
    path: &str,
    list: &ListPage,
) -> Response {
    paged(result.items.iter().map(render).collect(), path, list, result.total)
}
