//! The router: everything under `/v1/accounts/{account}` (and Keygen's short `/v1/…` form for a
//! store with one account), where responses are signed with the account's key; `/v1/ping`.

mod accounts;
mod cascade;
mod entitlements;
mod keys;
mod license_actions;
mod licenses;
mod policies;
mod products;
mod tokens;
mod users;
mod validation;

use crate::error::ApiError;
use crate::jsonapi::MEDIA_TYPE;
use crate::state::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

/// The whole API.
pub fn router(state: AppState) -> Router {
    // The same routes answer under `/v1/accounts/{account}` and, for a store with one account,
    // under `/v1` (Keygen's short form); the account-scope layer resolves which account.
    let account_routes = |extra: Router<AppState>| {
        Router::new()
            .route("/", get(accounts::show))
            .merge(extra)
            .merge(tokens::routes())
            .merge(products::routes())
            .merge(entitlements::routes())
            .merge(policies::routes())
            .merge(keys::routes())
            .merge(licenses::routes())
            .merge(license_actions::routes())
            .merge(validation::routes())
            .fallback(not_found)
            .method_not_allowed_fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::middleware::account_scope,
            ))
    };
    // `/v1/ping` and `/v1/accounts/{account}/ping` answer alike (keygen-rs calls the latter):
    // 200, empty, signed by the account it addresses.
    let ping_route = get(ping).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::middleware::singleplayer_signature,
    ));
    Router::new()
        .route("/v1/ping", ping_route)
        .nest(
            "/v1/accounts/{account}",
            account_routes(Router::new().route("/ping", get(ping))),
        )
        .nest("/v1", account_routes(Router::new()))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::from_fn(crate::middleware::request_context))
        .with_state(state)
}

async fn ping() -> StatusCode {
    StatusCode::OK
}

async fn not_found() -> ApiError {
    ApiError::route_not_found()
}

/// A JSON:API response with Keygen's media type.
pub(crate) fn document(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// `{"data": resource}` with a status.
pub(crate) fn single(status: StatusCode, resource: Value) -> Response {
    document(status, json!({ "data": resource }))
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
pub(crate) fn paged(
    resources: Vec<Value>,
    path: &str,
    query: &crate::jsonapi::LinkQuery,
    page: &projections::PageRequest,
    total: i64,
) -> Response {
    let last_id = resources.last().and_then(|r| r["id"].as_str()).map(str::to_owned);
    let full = resources.len() as i64 == page.size;
    let links = crate::jsonapi::page_links(path, query, page, total, last_id.as_deref(), full);
    document(StatusCode::OK, json!({ "data": resources, "links": links }))
}

/// The `{id}` segment of a resource route (id, or an alias such as a code).
pub(crate) struct ResourceId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(params) =
            axum::extract::Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
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
pub(crate) struct QueryParams(pub std::collections::HashMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("query string is invalid", "PARAMETER_INVALID", None))
            .and_then(
                |q| match q.0.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
                    Some((k, _)) => Err(ApiError::bad_request(
                        "The query contains a NUL character",
                        "ENCODING_INVALID",
                        Some(crate::error::Source::Parameter(k.replace('\0', ""))),
                    )),
                    None => Ok(QueryParams(q.0)),
                },
            )
    }
}

/// The page a list request asks for (`limit`, `page[…]`, `order`), or a 400 naming the parameter,
/// and the rest of the query, which pagination links carry along.
pub(crate) struct ListPage(pub projections::PageRequest, pub crate::jsonapi::LinkQuery);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ListPage {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let QueryParams(params) = QueryParams::from_request_parts(parts, state).await?;
        let page = crate::jsonapi::parse_page(&params)?;
        Ok(ListPage(page, crate::jsonapi::LinkQuery::from_params(&params)))
    }
}

/// Path of the account's collection or resource.
pub(crate) fn account_path(account_id: &str, rest: &str) -> String {
    format!("/v1/accounts/{account_id}/{rest}")
}

/// A policy's stored attributes.
pub(crate) fn policy_attributes(json: &str) -> crate::error::ApiResult<aggregates::policy::PolicyAttributes> {
    serde_json::from_str(json).map_err(ApiError::internal)
}

/// The id of a required to-one relationship; absent or null is Keygen's 422 `<NAME>_NOT_FOUND`.
pub(crate) fn required_relationship(
    data: &crate::jsonapi::Resource,
    name: &str,
    types: &[&str],
) -> crate::error::ApiResult<String> {
    match data.relationship(name, types)? {
        crate::jsonapi::Field::Value(id) => Ok(id),
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
