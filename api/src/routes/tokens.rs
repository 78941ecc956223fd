//! Tokens: generate (`POST /tokens` with email/password or a token), list, retrieve,
//! regenerate (`PUT`), revoke (`DELETE`), `GET /me` and `GET /profile`, and product tokens.

use crate::access::product::visible_product;
use crate::access::token::{may_generate, token_product, visible_token};
use crate::auth::{account_of, authenticate, authenticate_password, read_credential, Auth, Bearer, Credential};
use crate::commands;
use crate::commands::token::{generate_for, token_options};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::middleware::ApiVersion;
use crate::render::{created, document, paged_rows, single};
use crate::resources::{account_path, license_resource, product_resource, token_resource, user_resource};
use crate::state::{execute, AppState};
use aggregates::token::TokenCommand;
use aggregates::TokenId;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::tokens::TokenRow;
use serde_json::{json, Value};
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(index).post(generate).put(regenerate_current))
        .route("/tokens/{id}", get(show).put(regenerate).delete(revoke))
        .route("/me", get(me))
        .route("/profile", get(profile))
        .route(
            "/products/{id}/tokens",
            get(product_tokens).post(generate_product_token),
        )
}

/// `POST /tokens`: with Basic email:password a new token for that user; with a token, a new
/// token for the same bearer.
async fn generate(State(state): State<AppState>, parts: Parts, body: JsonApiBody) -> ApiResult<Response> {
    let account = account_of(&parts)?;
    let options = token_options(&body)?;
    let version = parts
        .extensions
        .get::<ApiVersion>()
        .cloned()
        .unwrap_or(ApiVersion("1.8".into()));
    let issued = match read_credential(&parts) {
        Some(Credential::EmailPassword { email, password }) => {
            let legacy = version.0.as_str() < "1.8";
            let bearer = authenticate_password(&state, &account, &email, &password, legacy).await?;
            let (_, user_id) = bearer.reference();
            let mut metadata = HashMap::new();
            metadata.insert("account_id".into(), account.row.id.clone());
            metadata.insert("whodunnit_type".into(), "users".into());
            metadata.insert("whodunnit_id".into(), user_id.to_string());
            generate_for(&state, &account, &bearer, options, metadata).await?
        }
        _ => {
            let auth = authenticate(&state, &parts).await?;
            may_generate(&auth)?;
            generate_for(&state, &account, &auth.bearer, options, auth.metadata()).await?
        }
    };
    Ok(created(token_resource(&account.row.id, &issued.row, Some(&issued.raw))))
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let bearer = (!auth.bearer.is_admin()).then(|| auth.bearer.reference());
    let result = projections::tokens::list(&state.db, account_id, bearer, list.page).await?;
    Ok(paged_rows(
        &result,
        |row| token_resource(account_id, row, None),
        &account_path(account_id, "tokens"),
        &list,
    ))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_token(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, token_resource(&auth.account.row.id, &row, None)))
}

/// New secret for the same token, answered with the raw token.
async fn regenerate_row(state: &AppState, auth: &Auth, row: TokenRow) -> ApiResult<Response> {
    let issued = commands::token::regenerate(state, auth, row).await?;
    Ok(single(
        StatusCode::OK,
        token_resource(&auth.account.row.id, &issued.row, Some(&issued.raw)),
    ))
}

async fn regenerate(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_token(&state, &auth, &id).await?;
    regenerate_row(&state, &auth, row).await
}

async fn regenerate_current(Call { state, auth }: Call) -> ApiResult<Response> {
    let row = auth
        .token
        .clone()
        .ok_or_else(|| ApiError::not_found("token", "current"))?;
    regenerate_row(&state, &auth, row).await
}

async fn revoke(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_token(&state, &auth, &id).await?;
    execute(
        &state.frameworks.token,
        &TokenId::from(&row.id),
        TokenCommand::Revoke { at: state.now() },
        auth.metadata(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The bearer's own resource.
async fn bearer_resource(state: &AppState, auth: &Auth) -> ApiResult<Value> {
    let account_id = &auth.account.row.id;
    Ok(match &auth.bearer {
        Bearer::Admin { user_id } | Bearer::User { user_id, .. } => {
            let user = projections::users::find(&state.db, account_id, user_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            user_resource(account_id, &user)
        }
        Bearer::Product { product_id } => {
            let product = projections::products::find(&state.db, account_id, product_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            product_resource(&product)
        }
        Bearer::License { license_id } => {
            let license = projections::licenses::find(&state.db, account_id, license_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            license_resource(&license, state.now())?
        }
    })
}

/// `GET /me`: the bearer, with the request's token in `included` (keygen-rs' `current_profile`
/// reads the token's kind and expiry from there). A license key is no token: nothing included.
async fn me(Call { state, auth }: Call) -> ApiResult<Response> {
    let mut body = json!({ "data": bearer_resource(&state, &auth).await? });
    if let Some(token) = &auth.token {
        body["included"] = json!([token_resource(&auth.account.row.id, token, None)]);
    }
    Ok(document(StatusCode::OK, body))
}

/// `GET /profile`, Keygen's older form of `/me`: the bearer and `meta.tokenId`.
async fn profile(Call { state, auth }: Call) -> ApiResult<Response> {
    let token_id = auth.token.as_ref().map(|token| token.id.clone());
    Ok(document(
        StatusCode::OK,
        json!({ "data": bearer_resource(&state, &auth).await?, "meta": { "tokenId": token_id } }),
    ))
}

async fn generate_product_token(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let product = token_product(&state, &auth, &id).await?;
    let options = token_options(&body)?;
    let bearer = Bearer::Product { product_id: product.id };
    let issued = generate_for(&state, &auth.account, &bearer, options, auth.metadata()).await?;
    Ok(created(token_resource(
        &auth.account.row.id,
        &issued.row,
        Some(&issued.raw),
    )))
}

async fn product_tokens(Call { state, auth }: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let product = visible_product(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::tokens::list(&state.db, account_id, Some(("products", &product.id)), list.page).await?;
    let path = account_path(account_id, &format!("products/{}/tokens", product.id));
    Ok(paged_rows(
        &result,
        |row| token_resource(account_id, row, None),
        &path,
        &list,
    ))
}
