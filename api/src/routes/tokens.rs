//! Tokens: generate (`POST /tokens` with email/password or a token), list, retrieve,
//! regenerate (`PUT`), revoke (`DELETE`), `GET /me` and `GET /profile`, and product tokens.

use super::{account_path, created, document, paged, single, ListPage, ResourceId};
use crate::auth::{account_of, read_credential, Auth, Bearer, Credential};
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{resource, timestamp, to_one, JsonApiBody};
use crate::middleware::ApiVersion;
use crate::state::{execute, now, AccountContext, AppState};
use aggregates::token::{TokenBearer, TokenCommand};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::tokens::TokenRow;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

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

/// Keygen's user-token lifetime: two weeks.
const USER_TOKEN_TTL: chrono::Duration = chrono::Duration::weeks(2);

/// The token resource; `raw` only in the response that created or regenerated it.
pub(crate) fn token_resource(account_id: &str, row: &TokenRow, raw: Option<&str>) -> Value {
    let mut attributes = Map::new();
    attributes.insert("kind".into(), json!(row.kind));
    if let Some(raw) = raw {
        attributes.insert("token".into(), json!(raw));
    }
    attributes.insert("expiry".into(), row.expiry.map(timestamp).unwrap_or(Value::Null));
    attributes.insert("name".into(), json!(row.name));
    let permissions: Value = serde_json::from_str(&row.permissions).unwrap_or_else(|_| json!([]));
    attributes.insert("permissions".into(), permissions);
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let mut relationships = Map::new();
    relationships.insert(
        "account".into(),
        to_one("accounts", account_id, Some(format!("/v1/accounts/{account_id}"))),
    );
    relationships.insert(
        "bearer".into(),
        to_one(
            &row.bearer_type,
            &row.bearer_id,
            Some(account_path(
                account_id,
                &format!("{}/{}", row.bearer_type, row.bearer_id),
            )),
        ),
    );
    resource(
        "tokens",
        &row.id,
        attributes,
        relationships,
        account_path(account_id, &format!("tokens/{}", row.id)),
    )
}

/// Kind and raw-token prefix for a bearer.
fn kind_and_prefix(bearer: &Bearer) -> (&'static str, &'static str) {
    match bearer {
        Bearer::Admin { .. } => ("admin-token", "admin"),
        Bearer::Product { .. } => ("product-token", "prod"),
        Bearer::License { .. } => ("activation-token", "activ"),
        Bearer::User { role, .. } => match role.as_str() {
            "developer" => ("developer-token", "dev"),
            "sales-agent" => ("sales-token", "sales"),
            "support-agent" => ("support-token", "spprt"),
            "read-only" => ("read-only-token", "read"),
            _ => ("user-token", "user"),
        },
    }
}

/// `POST …/tokens` for a bearer other than the caller (product and license tokens).
pub(crate) async fn generate_for_bearer(
    state: &AppState,
    auth: &Auth,
    bearer: &Bearer,
    body: &JsonApiBody,
) -> ApiResult<Response> {
    let options = token_options(body)?;
    generate_for(state, &auth.account, bearer, options, auth.metadata()).await
}

/// Optional attributes of a token request: `name`, `expiry`, `permissions`.
struct TokenOptions {
    name: Option<String>,
    expiry: Option<aggregates::Timestamp>,
}

fn token_options(body: &JsonApiBody) -> ApiResult<TokenOptions> {
    if body.is_empty() {
        return Ok(TokenOptions {
            name: None,
            expiry: None,
        });
    }
    let data = body.resource("tokens", "token")?;
    data.no_relationships()?;
    let a = &data.attributes;
    // Custom token permissions are an Enterprise feature Keygen's CE refuses as an unknown
    // parameter; without enforcement behind them, accepting them would be a lie.
    a.permit(&["name", "expiry"])?;
    // A null expiry is no request at all: it cannot lift a user token's two-week limit.
    Ok(TokenOptions {
        name: a.string("name")?.value(),
        expiry: a.timestamp("expiry")?.value(),
    })
}

/// Generates a token for `bearer`, returning the 201 response with the raw token.
async fn generate_for(
    state: &AppState,
    account: &Arc<AccountContext>,
    bearer: &Bearer,
    options: TokenOptions,
    metadata: HashMap<String, String>,
) -> ApiResult<Response> {
    let (kind, prefix) = kind_and_prefix(bearer);
    let at = now();
    let default_expiry = matches!(bearer, Bearer::User { role, .. } if role == "user").then(|| at + USER_TOKEN_TTL);
    // License (activation) tokens carry 16 random bytes, every other kind 32.
    let raw = crypto::generate_raw_token(
        prefix,
        if matches!(bearer, Bearer::License { .. }) {
            16
        } else {
            32
        },
    );
    let (bearer_kind, bearer_id) = bearer.reference();
    let id = uuid::Uuid::new_v4().to_string();
    let command = TokenCommand::Generate {
        id: id.clone(),
        account_id: account.row.id.clone(),
        bearer: TokenBearer {
            kind: bearer_kind.into(),
            id: bearer_id.into(),
        },
        kind: kind.into(),
        digest: crypto::token_digest(&account.token_secret, &raw),
        name: options.name,
        expiry: options.expiry.or(default_expiry),
        permissions: vec!["*".into()],
        at,
    };
    execute(&state.frameworks.token, &id, command, metadata).await?;
    let row = read_token(state, &account.row.id, &id).await?;
    Ok(created(token_resource(&account.row.id, &row, Some(&raw))))
}

async fn read_token(state: &AppState, account_id: &str, id: &str) -> ApiResult<TokenRow> {
    projections::tokens::find(&state.db.any, account_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("token", id))
}

/// Email/password failures, with API ≤1.7 collapsing them into `CREDENTIALS_INVALID`.
fn credentials_error(version: &ApiVersion, code: &str, detail: &str) -> ApiError {
    let legacy = version.0.as_str() < "1.8";
    if legacy {
        ApiError::unauthorized("CREDENTIALS_INVALID", "email and password must be valid")
    } else {
        ApiError::unauthorized(code, detail)
    }
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
    match read_credential(&parts) {
        Some(Credential::EmailPassword { email, password }) => {
            if email.contains('\0') || password.contains('\0') {
                return Err(credentials_error(&version, "EMAIL_INVALID", "email must be valid"));
            }
            let user = projections::users::find_by_email(&state.db.any, &account.row.id, &email)
                .await?
                .ok_or_else(|| credentials_error(&version, "EMAIL_INVALID", "email must be valid"))?;
            let digest = user.password_digest.as_deref().ok_or_else(|| {
                credentials_error(&version, "PASSWORD_NOT_SUPPORTED", "user does not have a password")
            })?;
            if !crypto::verify_password(&password, digest) {
                return Err(credentials_error(
                    &version,
                    "PASSWORD_INVALID",
                    "password must be valid",
                ));
            }
            let bearer = match user.role.as_str() {
                "admin" => Bearer::Admin {
                    user_id: user.id.clone(),
                },
                role => Bearer::User {
                    user_id: user.id.clone(),
                    role: role.into(),
                },
            };
            let mut metadata = HashMap::new();
            metadata.insert("account_id".into(), account.row.id.clone());
            metadata.insert("whodunnit_type".into(), "users".into());
            metadata.insert("whodunnit_id".into(), user.id.clone());
            generate_for(&state, &account, &bearer, options, metadata).await
        }
        _ => {
            let auth = crate::auth::authenticate(&state, &parts).await?;
            // Keygen's license permissions hold no `token.generate`: activation tokens are
            // minted for a license by its admin or product.
            if matches!(auth.bearer, Bearer::License { .. }) {
                return Err(ApiError::forbidden("bearer lacks permission to generate tokens"));
            }
            generate_for(&state, &account, &auth.bearer, options, auth.metadata()).await
        }
    }
}

/// Admins see every token; other bearers their own.
fn visible(auth: &Auth, row: &TokenRow) -> bool {
    let (kind, id) = auth.bearer.reference();
    auth.bearer.is_admin() || (row.bearer_type == kind && row.bearer_id == id)
}

async fn index(State(state): State<AppState>, auth: Auth, ListPage(page, links): ListPage) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let bearer = (!auth.bearer.is_admin()).then(|| auth.bearer.reference());
    let result = projections::tokens::list(&state.db.any, account_id, bearer, page).await?;
    let items = result
        .items
        .iter()
        .map(|row| token_resource(account_id, row, None))
        .collect();
    Ok(paged(
        items,
        &account_path(account_id, "tokens"),
        &links,
        &page,
        result.total,
    ))
}

async fn visible_token(state: &AppState, auth: &Auth, id: &str) -> ApiResult<TokenRow> {
    match projections::tokens::find(&state.db.any, &auth.account.row.id, id).await? {
        Some(row) if visible(auth, &row) => Ok(row),
        _ => Err(ApiError::not_found("token", id)),
    }
}

async fn show(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_token(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, token_resource(&auth.account.row.id, &row, None)))
}

/// New secret for the same token; an expiring token gets a fresh two weeks.
async fn regenerate_row(state: &AppState, auth: &Auth, row: TokenRow) -> ApiResult<Response> {
    let prefix = row.kind.split('-').next().map(|k| match k {
        "admin" => "admin",
        "product" => "prod",
        "developer" => "dev",
        "sales" => "sales",
        "support" => "spprt",
        "read" => "read",
        "activation" => "activ",
        "environment" => "env",
        _ => "user",
    });
    let hex_len = if row.kind == "activation-token" { 16 } else { 32 };
    let raw = crypto::generate_raw_token(prefix.unwrap_or("token"), hex_len);
    let at = now();
    let command = TokenCommand::Regenerate {
        digest: crypto::token_digest(&auth.account.token_secret, &raw),
        expiry: row.expiry.map(|_| at + USER_TOKEN_TTL),
        at,
    };
    execute(&state.frameworks.token, &row.id, command, auth.metadata()).await?;
    let row = read_token(state, &auth.account.row.id, &row.id).await?;
    Ok(single(
        StatusCode::OK,
        token_resource(&auth.account.row.id, &row, Some(&raw)),
    ))
}

async fn regenerate(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_token(&state, &auth, &id).await?;
    regenerate_row(&state, &auth, row).await
}

async fn regenerate_current(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let row = auth
        .token
        .clone()
        .ok_or_else(|| ApiError::not_found("token", "current"))?;
    regenerate_row(&state, &auth, row).await
}

async fn revoke(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_token(&state, &auth, &id).await?;
    execute(
        &state.frameworks.token,
        &row.id,
        TokenCommand::Revoke { at: now() },
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
            let user = projections::users::find(&state.db.any, account_id, user_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            super::users::user_resource(account_id, &user)
        }
        Bearer::Product { product_id } => {
            let product = projections::products::find(&state.db.any, account_id, product_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            super::products::product_resource(&product)
        }
        Bearer::License { license_id } => {
            let license = projections::licenses::find(&state.db.any, account_id, license_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            super::licenses::license_resource(&license)?
        }
    })
}

/// `GET /me`: the bearer, with the request's token in `included` (keygen-rs' `current_profile`
/// reads the token's kind and expiry from there). A license key is no token: nothing included.
async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let mut body = json!({ "data": bearer_resource(&state, &auth).await? });
    if let Some(token) = &auth.token {
        body["included"] = json!([token_resource(&auth.account.row.id, token, None)]);
    }
    Ok(document(StatusCode::OK, body))
}

/// `GET /profile`, Keygen's older form of `/me`: the bearer and `meta.tokenId`.
async fn profile(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let token_id = auth.token.as_ref().map(|token| token.id.clone());
    Ok(document(
        StatusCode::OK,
        json!({ "data": bearer_resource(&state, &auth).await?, "meta": { "tokenId": token_id } }),
    ))
}

/// A product the bearer may manage tokens of: admins any, a product itself.
async fn token_product(state: &AppState, auth: &Auth, id: &str) -> ApiResult<projections::products::ProductRow> {
    let product = super::products::visible_product(state, auth, id).await?;
    match &auth.bearer {
        Bearer::Admin { .. } => Ok(product),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage product tokens")),
    }
}

async fn generate_product_token(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let product = token_product(&state, &auth, &id).await?;
    let options = token_options(&body)?;
    let bearer = Bearer::Product { product_id: product.id };
    generate_for(&state, &auth.account, &bearer, options, auth.metadata()).await
}

async fn product_tokens(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
) -> ApiResult<Response> {
    let product = super::products::visible_product(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::tokens::list(&state.db.any, account_id, Some(("products", &product.id)), page).await?;
    let items = result
        .items
        .iter()
        .map(|row| token_resource(account_id, row, None))
        .collect();
    let path = account_path(account_id, &format!("products/{}/tokens", product.id));
    Ok(paged(items, &path, &links, &page, result.total))
}
