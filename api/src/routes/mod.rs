//! The router: everything under `/v1/accounts/{account}` (and Keygen's short `/v1/…` form for a
//! store with one account), where responses are signed with the account's key; `/v1/ping`.
//! Route modules are thin handlers (extract, call, render) and never import one another: they
//! reach down to `commands`, `access`, `resources` and the base modules.

mod accounts;
mod artifacts;
mod checkouts;
mod components;
mod engines;
mod entitlements;
mod event_logs;
mod keys;
mod license_actions;
mod licenses;
mod machines;
mod npm;
mod packages;
mod policies;
mod processes;
mod products;
mod pypi;
mod releases;
mod request_logs;
mod storage;
mod tokens;
mod validation;
mod webhook_endpoints;
mod webhook_events;

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

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
            .merge(request_logs::routes())
            .merge(entitlements::routes())
            .merge(event_logs::routes())
            .merge(policies::routes())
            .merge(keys::routes())
            .merge(licenses::routes())
            .merge(license_actions::routes())
            .merge(checkouts::routes())
            .merge(machines::routes())
            .merge(components::routes())
            .merge(processes::routes())
            .merge(validation::routes())
            .merge(webhook_endpoints::routes())
            .merge(webhook_events::routes())
            .merge(packages::routes())
            .merge(releases::routes())
            .merge(artifacts::routes())
            .merge(engines::routes())
            .merge(pypi::routes())
            .merge(npm::routes())
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
        .merge(storage::routes())
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
