//! Issuing tokens: generating one for a bearer (with Keygen's kinds, prefixes and user-token
//! lifetime) and regenerating one's secret.

use crate::auth::{Auth, Bearer};
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::JsonApiBody;
use crate::state::{execute, AccountContext, AppState};
use aggregates::token::{NewToken, TokenBearer, TokenCommand};
use aggregates::vocabulary::TokenKind;
use aggregates::TokenId;
use projections::tokens::TokenRow;
use std::collections::HashMap;
use std::sync::Arc;

/// Keygen's user-token lifetime: two weeks.
const USER_TOKEN_TTL: chrono::Duration = chrono::Duration::weeks(2);

/// A token just generated or regenerated, with the raw token, which is shown only this once.
pub(crate) struct Issued {
    pub row: TokenRow,
    pub raw: String,
}

/// The kind of the tokens a bearer gets.
fn kind_of(bearer: &Bearer) -> TokenKind {
    match bearer {
        Bearer::Admin { .. } => TokenKind::AdminToken,
        Bearer::Product { .. } => TokenKind::ProductToken,
        Bearer::License { .. } => TokenKind::ActivationToken,
        Bearer::User { role, .. } => TokenKind::of_role(*role),
    }
}

/// `POST …/tokens` for a bearer other than the caller (product and license tokens).
pub(crate) async fn generate_for_bearer(
    state: &AppState,
    auth: &Auth,
    bearer: &Bearer,
    body: &JsonApiBody,
) -> ApiResult<Issued> {
    let options = token_options_for(body, matches!(bearer, Bearer::License { .. }))?;
    generate_for(state, &auth.account, bearer, options, auth.metadata()).await
}

/// Optional attributes of a token request: `name`, `expiry`, and for a license's activation
/// token `maxActivations` and `maxDeactivations`.
#[derive(Default)]
pub(crate) struct TokenOptions {
    name: Option<String>,
    expiry: Option<aggregates::Timestamp>,
    max_activations: Option<i64>,
    max_deactivations: Option<i64>,
}

/// Reads the options of a token request (an empty body asks for none).
pub(crate) fn token_options(body: &JsonApiBody) -> ApiResult<TokenOptions> {
    token_options_for(body, false)
}

/// Reads the options of a token request; an activation token's maxima only when `activation`.
fn token_options_for(body: &JsonApiBody, activation: bool) -> ApiResult<TokenOptions> {
    if body.is_empty() {
        return Ok(TokenOptions::default());
    }
    let data = body.resource("tokens", "token")?;
    data.no_relationships()?;
    let a = &data.attributes;
    // Custom token permissions are an Enterprise feature Keygen's CE refuses as an unknown
    // parameter; without enforcement behind them, accepting them would be a lie.
    match activation {
        true => a.permit(&["name", "expiry", "max_activations", "max_deactivations"])?,
        false => a.permit(&["name", "expiry"])?,
    }
    // A null expiry is no request at all: it cannot lift a user token's two-week limit.
    Ok(TokenOptions {
        name: a.string("name")?.value(),
        expiry: a.timestamp("expiry")?.value(),
        max_activations: a.integer("max_activations")?.value(),
        max_deactivations: a.integer("max_deactivations")?.value(),
    })
}

/// Generates a token for `bearer`.
pub(crate) async fn generate_for(
    state: &AppState,
    account: &Arc<AccountContext>,
    bearer: &Bearer,
    options: TokenOptions,
    metadata: HashMap<String, String>,
) -> ApiResult<Issued> {
    let kind = kind_of(bearer);
    let at = state.now();
    // Keygen gives only tokens of users with role `user` a default lifetime.
    let default_expiry = (kind == TokenKind::UserToken).then(|| at + USER_TOKEN_TTL);
    let raw = crypto::generate_raw_token(kind.prefix(), kind.random_bytes());
    let (bearer_kind, bearer_id) = bearer.reference();
    let id = uuid::Uuid::new_v4().to_string();
    let token = NewToken {
        id: id.clone(),
        account_id: account.row.id.clone(),
        bearer: TokenBearer {
            kind: bearer_kind.into(),
            id: bearer_id.into(),
        },
        kind: kind.as_str().into(),
        digest: crypto::token_digest(&account.token_secret, &raw),
        name: options.name,
        expiry: options.expiry.or(default_expiry),
        permissions: vec!["*".into()],
        max_activations: options.max_activations,
        max_deactivations: options.max_deactivations,
    };
    let command = TokenCommand::Generate { token, at };
    execute(&state.frameworks.token, &TokenId::from(&id), command, metadata).await?;
    let row = read_token(state, &account.row.id, &id).await?;
    Ok(Issued { row, raw })
}

async fn read_token(state: &AppState, account_id: &str, id: &str) -> ApiResult<TokenRow> {
    projections::tokens::find(&state.db, account_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("token", id))
}

/// New secret for the same token; an expiring token gets a fresh two weeks.
pub(crate) async fn regenerate(state: &AppState, auth: &Auth, row: TokenRow) -> ApiResult<Issued> {
    let kind = TokenKind::parse(&row.kind)
        .ok_or_else(|| ApiError::internal(format!("token {} has an unknown kind", row.id)))?;
    let raw = crypto::generate_raw_token(kind.prefix(), kind.random_bytes());
    let at = state.now();
    let command = TokenCommand::Regenerate {
        digest: crypto::token_digest(&auth.account.token_secret, &raw),
        expiry: row.expiry.map(|_| at + USER_TOKEN_TTL),
        at,
    };
    execute(
        &state.frameworks.token,
        &TokenId::from(&row.id),
        command,
        auth.metadata(),
    )
    .await?;
    let row = read_token(state, &auth.account.row.id, &row.id).await?;
    Ok(Issued { row, raw })
}
