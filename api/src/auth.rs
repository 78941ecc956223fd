//! Authentication: reading credentials the ways Keygen accepts them and resolving them to a
//! bearer of the request's account.

use crate::error::{ApiError, ApiResult};
use crate::state::{AccountContext, AppState};
use aggregates::vocabulary::{ExpirationStrategy, Role};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use projections::tokens::TokenRow;
use std::sync::Arc;

/// A credential as the request carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Token(String),
    License(String),
    EmailPassword { email: String, password: String },
}

/// `license:<key>`, `token:<token>` or a bare token, as in Basic auth and `?auth=`.
fn split_pair(user: &str, secret: Option<&str>) -> Credential {
    match (user, secret) {
        ("license", Some(key)) => Credential::License(key.to_string()),
        ("token", Some(token)) => Credential::Token(token.to_string()),
        (email, Some(password)) if email.contains('@') => Credential::EmailPassword {
            email: email.to_string(),
            password: password.to_string(),
        },
        (token, _) => Credential::Token(token.to_string()),
    }
}

/// Reads the credential from `Authorization` or the `token`/`auth` query parameters.
pub fn read_credential(parts: &Parts) -> Option<Credential> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "token" => Some(Credential::Token(rest.to_string())),
            "license" => Some(Credential::License(rest.to_string())),
            "basic" => {
                let decoded = B64
                    .decode(rest)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                let (user, secret) = match decoded.split_once(':') {
                    Some((u, s)) => (u.to_string(), Some(s.to_string())),
                    None => (decoded.clone(), None),
                };
                Some(split_pair(&user, secret.as_deref().filter(|s| !s.is_empty())))
            }
            _ => Some(Credential::Token(String::new())),
        };
    }
    let query = parts.uri.query()?;
    url_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "auth" || k == "token")
        .map(|(_, v)| match v.split_once(':') {
            Some((user, secret)) => split_pair(user, Some(secret)),
            None => Credential::Token(v),
        })
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// Who a request speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    /// A user with role `admin` (full access to the account).
    Admin { user_id: String },
    /// Any other user.
    User { user_id: String, role: Role },
    /// A product: its own resources only.
    Product { product_id: String },
    /// A license (by key or activation token): itself only.
    License { license_id: String },
}

impl Bearer {
    /// JSON:API type and id of the bearer.
    pub fn reference(&self) -> (&'static str, &str) {
        match self {
            Bearer::Admin { user_id } | Bearer::User { user_id, .. } => ("users", user_id),
            Bearer::Product { product_id } => ("products", product_id),
            Bearer::License { license_id } => ("licenses", license_id),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Bearer::Admin { .. })
    }
}

/// An authenticated request: its account, bearer and the token it used (none with a license key).
#[derive(Debug, Clone)]
pub struct Auth {
    pub account: Arc<AccountContext>,
    pub bearer: Bearer,
    pub token: Option<TokenRow>,
}

impl Auth {
    /// Audit metadata stored with every event this request causes.
    pub fn metadata(&self) -> std::collections::HashMap<String, String> {
        let (kind, id) = self.bearer.reference();
        let mut m = std::collections::HashMap::new();
        m.insert("account_id".into(), self.account.row.id.clone());
        m.insert("whodunnit_type".into(), kind.into());
        m.insert("whodunnit_id".into(), id.into());
        if let Some(token) = &self.token {
            m.insert("token_id".into(), token.id.clone());
        }
        if let Ok(request_id) = crate::error::REQUEST_ID.try_with(|id| id.clone()) {
            m.insert("request_id".into(), request_id);
        }
        m
    }

    /// 403 unless the bearer is an admin.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.bearer.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("bearer lacks permission to perform this action"))
        }
    }
}

/// The account the request is under (set by the account-scope layer).
pub fn account_of(parts: &Parts) -> ApiResult<Arc<AccountContext>> {
    parts
        .extensions
        .get::<Arc<AccountContext>>()
        .cloned()
        .ok_or_else(ApiError::route_not_found)
}

/// Resolves a token credential to its bearer within `account`.
pub async fn authenticate_token(state: &AppState, account: &Arc<AccountContext>, raw: &str) -> ApiResult<Auth> {
    if raw.is_empty() || raw.contains('\0') {
        return Err(ApiError::token_invalid());
    }
    if uuid::Uuid::parse_str(raw).is_ok() {
        return Err(ApiError::unauthorized(
            "TOKEN_FORMAT_INVALID",
            "Token format is invalid (make sure that you're providing the token value, not the token's ID)",
        ));
    }
    let digest = crate::crypto::token_digest(&account.token_secret, raw);
    let found = projections::tokens::find_for_auth(&state.db, &account.row.id, &digest)
        .await?
        .ok_or_else(ApiError::token_invalid)?;
    let token = found.token;
    if token
        .expiry
        .is_some_and(|expiry| expiry <= state.now().timestamp_micros())
    {
        return Err(ApiError::unauthorized("TOKEN_EXPIRED", "Token is expired"));
    }
    let bearer = match token.bearer_type.as_str() {
        // The user came with the token (a token whose user is gone is no credential).
        "users" => {
            let role = found.bearer_role.ok_or_else(ApiError::token_invalid)?;
            user_bearer(token.bearer_id.clone(), &role)?
        }
        "products" => {
            projections::products::find(&state.db, &account.row.id, &token.bearer_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            Bearer::Product {
                product_id: token.bearer_id.clone(),
            }
        }
        "licenses" => {
            let license = projections::licenses::find(&state.db, &account.row.id, &token.bearer_id)
                .await?
                .ok_or_else(ApiError::token_invalid)?;
            let policy = license.policy()?;
            if !policy.authentication_strategy.allows_tokens() {
                return Err(ApiError::forbidden_code(
                    "TOKEN_NOT_ALLOWED",
                    "Token authentication is not allowed by policy",
                ));
            }
            Bearer::License { license_id: license.id }
        }
        _ => return Err(ApiError::token_invalid()),
    };
    Ok(Auth {
        account: account.clone(),
        bearer,
        token: Some(token),
    })
}

/// Resolves a license key to a license bearer, with Keygen's checks in Keygen's order.
pub async fn authenticate_license(state: &AppState, account: &Arc<AccountContext>, key: &str) -> ApiResult<Auth> {
    let invalid = || ApiError::unauthorized("LICENSE_INVALID", "License key is invalid");
    if key.is_empty() || key.contains('\0') {
        return Err(invalid());
    }
    let license = projections::licenses::find_by_key(&state.db, &account.row.id, key)
        .await?
        .ok_or_else(invalid)?;
    let policy = license.policy()?;
    if license.suspended != 0 {
        return Err(ApiError::forbidden_code("LICENSE_SUSPENDED", "License is suspended"));
    }
    let expired =
        aggregates::license::validation::is_expired(license.expiry.map(projections::from_micros), state.now());
    if expired && policy.expiration_strategy == ExpirationStrategy::RevokeAccess {
        return Err(ApiError::forbidden_code("LICENSE_EXPIRED", "License is expired"));
    }
    if !policy.authentication_strategy.allows_license_keys() {
        return Err(ApiError::forbidden_code(
            "LICENSE_NOT_ALLOWED",
            "License key authentication is not allowed by policy",
        ));
    }
    Ok(Auth {
        account: account.clone(),
        bearer: Bearer::License { license_id: license.id },
        token: None,
    })
}

/// Email/password failures, with API ≤1.7 (`legacy`) collapsing them into `CREDENTIALS_INVALID`.
fn credentials_error(legacy: bool, code: &str, detail: &str) -> ApiError {
    if legacy {
        ApiError::unauthorized("CREDENTIALS_INVALID", "email and password must be valid")
    } else {
        ApiError::unauthorized(code, detail)
    }
}

/// Resolves an email and password to their user's bearer within `account` (`POST /tokens` only).
pub async fn authenticate_password(
    state: &AppState,
    account: &Arc<AccountContext>,
    email: &str,
    password: &str,
    legacy: bool,
) -> ApiResult<Bearer> {
    if email.contains('\0') || password.contains('\0') {
        return Err(credentials_error(legacy, "EMAIL_INVALID", "email must be valid"));
    }
    let user = projections::users::find_by_email(&state.db, &account.row.id, email).await?;
    // One argon2 check whatever the outcome, so the time taken does not tell which emails exist.
    let digest = user.as_ref().and_then(|u| u.password_digest.as_deref());
    let matches = crate::crypto::check_password(password, digest, state.password_checks.clone()).await;
    let user = user.ok_or_else(|| credentials_error(legacy, "EMAIL_INVALID", "email must be valid"))?;
    if user.password_digest.is_none() {
        return Err(credentials_error(
            legacy,
            "PASSWORD_NOT_SUPPORTED",
            "user does not have a password",
        ));
    }
    if !matches {
        return Err(credentials_error(legacy, "PASSWORD_INVALID", "password must be valid"));
    }
    user_bearer(user.id, &user.role)
}

/// The bearer a user is: an admin, or a user of another role.
fn user_bearer(user_id: String, role: &str) -> ApiResult<Bearer> {
    match Role::parse(role) {
        Some(Role::Admin) => Ok(Bearer::Admin { user_id }),
        Some(role) => Ok(Bearer::User { user_id, role }),
        None => Err(ApiError::internal(format!("user {user_id} has an unknown role"))),
    }
}

/// Resolves whatever credential the request carries; email/password is only for `POST /tokens`.
pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<Auth> {
    let account = account_of(parts)?;
    let auth = match read_credential(parts) {
        None => Err(ApiError::token_missing()),
        Some(Credential::Token(raw)) => authenticate_token(state, &account, &raw).await,
        Some(Credential::License(key)) => authenticate_license(state, &account, &key).await,
        Some(Credential::EmailPassword { .. }) => Err(ApiError::token_invalid()),
    }?;
    // The request log names who made the request.
    if let Some(slot) = parts.extensions.get::<crate::middleware::RequestorSlot>() {
        let (kind, id) = auth.bearer.reference();
        let _ = slot.0.set((kind, id.to_string()));
    }
    Ok(auth)
}

/// Optional authentication, as on `validate-key`: no credential is an anonymous request, but a
/// credential that is present must pass every check it would pass on any other route.
pub async fn authenticate_optional(state: &AppState, parts: &Parts) -> ApiResult<Option<Auth>> {
    match read_credential(parts) {
        None => Ok(None),
        Some(_) => authenticate(state, parts).await.map(Some),
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(state, parts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>, uri: &str) -> Parts {
        let mut req = Request::builder().uri(uri);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn credentials_are_read_from_every_carrier() {
        let basic = |s: &str| format!("Basic {}", B64.encode(s));
        assert_eq!(
            read_credential(&parts(Some("Bearer abc"), "/")),
            Some(Credential::Token("abc".into()))
        );
        assert_eq!(
            read_credential(&parts(Some("token abc"), "/")),
            Some(Credential::Token("abc".into()))
        );
        assert_eq!(
            read_credential(&parts(Some("License K-1"), "/")),
            Some(Credential::License("K-1".into()))
        );
        assert_eq!(
            read_credential(&parts(Some(&basic("token:abc")), "/")),
            Some(Credential::Token("abc".into()))
        );
        assert_eq!(
            read_credential(&parts(Some(&basic("license:K")), "/")),
            Some(Credential::License("K".into()))
        );
        assert_eq!(
            read_credential(&parts(Some(&basic("a@b.c:pw")), "/")),
            Some(Credential::EmailPassword {
                email: "a@b.c".into(),
                password: "pw".into()
            })
        );
        assert_eq!(
            read_credential(&parts(None, "/x?auth=token:abc")),
            Some(Credential::Token("abc".into()))
        );
        assert_eq!(
            read_credential(&parts(None, "/x?auth=license:K")),
            Some(Credential::License("K".into()))
        );
        assert_eq!(read_credential(&parts(None, "/x")), None);
    }
}
