//! Request extractors and input helpers handlers share: the `{id}` segment, the query string,
//! the page a list asks for, and required relationships of a request body.

use crate::error::{ApiError, ApiResult, Source};
use crate::jsonapi::{parse_page, Field, LinkQuery, Resource};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use std::collections::HashMap;

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
/// and the rest of the query, which pagination links carry along.
pub(crate) struct ListPage(pub projections::PageRequest, pub LinkQuery);

impl<S: Send + Sync> FromRequestParts<S> for ListPage {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let QueryParams(params) = QueryParams::from_request_parts(parts, state).await?;
        let page = parse_page(&params)?;
        Ok(ListPage(page, LinkQuery::from_params(&params)))
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
