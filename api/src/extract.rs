//! Request extractors and input helpers handlers share: the `{id}` segment, the query string,
//! the page a list asks for, and required relationships of a request body.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Source};
use crate::jsonapi::{parse_page, Field, LinkQuery, Resource};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use std::collections::HashMap;

/// The application and the authenticated caller: what nearly every handler starts from.
pub(crate) struct Call {
    pub state: AppState,
    pub auth: Auth,
}

impl FromRequestParts<AppState> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        Ok(Call {
            state: state.clone(),
            auth,
        })
    }
}

/// The application, the request's account and the caller when a credential came along: for
/// routes anyone may call (releases of `OPEN` products), where a credential still counts.
pub(crate) struct MaybeCall {
    pub state: AppState,
    pub account: std::sync::Arc<crate::state::AccountContext>,
    pub auth: Option<Auth>,
}

impl FromRequestParts<AppState> for MaybeCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = crate::auth::authenticate_optional(state, parts).await?;
        let account = crate::auth::account_of(parts)?;
        Ok(MaybeCall {
            state: state.clone(),
            account,
            auth,
        })
    }
}

/// The `{id}` segment of a resource route (id, or an alias such as a code).
pub(crate) struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::route_not_found())?;
        match params.get("id") {
            // No resource id or alias can hold a NUL, and PostgreSQL cannot even compare one.
            Some(id) if id.contains('\0') => Err(ApiError::not_found("resource", &id.replace('\0', ""))),
            Some(id) => Ok(ResourceId(id.clone())),
            None => Err(ApiError::route_not_found()),
        }
    }
}

/// The query parameters, or a JSON:API 400 when the query string does not decode.
pub(crate) struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("query string is invalid", "PARAMETER_INVALID", None))
            .and_then(
                |q| match q.0.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
                    Some((k, _)) => Err(ApiError::bad_request(
                        "The query contains a NUL character",
                        "ENCODING_INVALID",
                        Some(Source::Parameter(k.replace('\0', ""))),
                    )),
                    None => Ok(QueryParams(q.0)),
                },
            )
    }
}

/// The page a list request asks for (`limit`, `page[…]`, `order`), or a 400 naming the parameter,
/// the rest of the query, which pagination links carry along, and the whole query (filters).
pub(crate) struct ListPage {
    pub page: projections::PageRequest,
    pub links: LinkQuery,
    pub query: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListPage {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let QueryParams(params) = QueryParams::from_request_parts(parts, state).await?;
        let page = parse_page(&params)?;
        Ok(ListPage {
            page,
            links: LinkQuery::from_params(&params),
            query: params,
        })
    }
}

/// The id of a required to-one relationship; absent or null is Keygen's 422 `<NAME>_NOT_FOUND`.
pub(crate) fn required_relationship(data: &Resource, name: &str, types: &[&str]) -> ApiResult<String> {
    match data.relationship(name, types)? {
        Field::Value(id) => Ok(id),
        _ => Err(related_not_found(name)),
    }
}

/// Keygen's 422 for a relationship naming nothing this bearer can see.
pub(crate) fn related_not_found(name: &str) -> ApiError {
    ApiError::unprocessable(
        &format!("{}_NOT_FOUND", name.to_ascii_uppercase()),
        "must exist",
        Some(format!("/data/relationships/{name}")),
    )
}

/// The `metadata[key]=value` filters of a list query, keys in snake_case (Keygen's metadata keys
/// are stored so); a key of anything but letters, digits and `_` is a 400.
pub(crate) fn metadata_filters(query: &HashMap<String, String>) -> ApiResult<Vec<(String, String)>> {
    let mut metadata = Vec::new();
    for (name, value) in query {
        if let Some(key) = name.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')) {
            let key = match crate::jsonapi::deep_snake(serde_json::json!({ key: 0 })) {
                serde_json::Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
                _ => String::new(),
            };
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ApiError::bad_request(
                    "metadata key is invalid",
                    "PARAMETER_INVALID",
                    Some(Source::Parameter(name.clone())),
                ));
            }
            metadata.push((key, value.clone()));
        }
    }
    Ok(metadata)
}

/// A date (`2026-11-29`, the whole day) or a timestamp, in microseconds; `end` takes the day's
/// last instant.
pub(crate) fn date_param(
    query: &std::collections::HashMap<String, String>,
    key: &str,
    end: bool,
) -> crate::error::ApiResult<Option<i64>> {
    let Some(text) = query.get(key) else { return Ok(None) };
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.timestamp_micros()));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        crate::error::ApiError::bad_request(
            "date is invalid (expected YYYY-MM-DD or an ISO-8601 timestamp)",
            "PARAMETER_INVALID",
            Some(crate::error::Source::Parameter(key.to_string())),
        )
    })?;
    let time = if end {
        day.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        day.and_hms_opt(0, 0, 0)
    };
    Ok(time.map(|t| t.and_utc().timestamp_micros()))
}

/// Where the client reached this server (`http://<Host>`, or the scheme a proxy names in
/// `X-Forwarded-Proto`), for the URLs Keyledger hands out that point back at itself.
pub(crate) fn request_origin(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The named segments of a route nested under `/v1/accounts/{account}` (positional extraction
/// would count the account's too).
pub(crate) struct Segments(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Segments {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::route_not_found())?;
        // No id, key, version or filename holds a NUL, and PostgreSQL cannot even compare one.
        if let Some(value) = params.values().find(|v| v.contains('\0')) {
            return Err(ApiError::not_found("resource", &value.replace('\0', "")));
        }
        Ok(Segments(params))
    }
}

impl Segments {
    /// The segment `name` (empty when the route has none).
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or_default()
    }
}
