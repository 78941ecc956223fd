//! `GET /v1/accounts/{account}`: the account, with its public key where Keygen puts it.

use crate::access;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::render::single;
use crate::resources::account_resource;
use axum::http::StatusCode;
use axum::response::Response;

/// Admins and product bearers may read the account.
pub(crate) async fn show(auth: Auth) -> ApiResult<Response> {
    access::account::may_read(&auth)?;
    Ok(single(StatusCode::OK, account_resource(&auth.account)))
}
