//! Access to the account resource itself.

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};

/// Admins and product bearers may read the account.
pub(crate) fn may_read(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        Bearer::User { .. } | Bearer::License { .. } => {
            Err(ApiError::forbidden("bearer lacks permission to read the account"))
        }
    }
}
