//! A policy's key pool: popping the newest key (for `DELETE /policies/{id}/pool` and pooled
//! licenses) and giving a popped key back.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState};
use aggregates::policy::{PolicyCommand, PoolKey};
use projections::policies::{PolicyRow, PoolKeyRow};

/// Pops the newest key from the pool, answering with it.
pub(crate) async fn pop_key(state: &AppState, auth: &Auth, row: &PolicyRow) -> ApiResult<PoolKeyRow> {
    let account_id = &auth.account.row.id;
    if !row.attributes()?.use_pool {
        return Err(ApiError::unprocessable(
            "POLICY_NOT_SUPPORTED",
            "policy does not use a pool",
            Some("/data/relationships/policy".into()),
        ));
    }
    for _ in 0..5 {
        let newest = projections::policies::list_keys(
            &state.db,
            account_id,
            None,
            Some(&row.id),
            projections::PageRequest {
                cursor: None,
                number: None,
                size: 1,
                order: projections::ListOrder::NewestFirst,
            },
        )
        .await?;
        let Some(key) = newest.items.into_iter().next() else {
            return Err(ApiError::unprocessable(
                "POLICY_POOL_EMPTY",
                "pool is empty",
                Some("/data/relationships/pool".into()),
            ));
        };
        let command = PolicyCommand::PopKey {
            key_id: key.id.clone(),
            at: state.now(),
        };
        match execute(&state.frameworks.policy, &row.id, command, auth.metadata()).await {
            Ok(()) => return Ok(key),
            // Another request took this key first: read the pool again.
            Err(err) if err.error.code.as_deref() == Some("NOT_FOUND") => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::conflict())
}

/// Puts a popped key back into its pool. A key that cannot go back is logged: the caller is
/// already answering the failure that made it give the key back.
pub(crate) async fn return_key(state: &AppState, auth: &Auth, policy_id: &str, pooled: PoolKeyRow) {
    let back = PolicyCommand::AddKey {
        key: PoolKey {
            id: pooled.id.clone(),
            key: pooled.key,
        },
        at: state.now(),
    };
    if let Err(lost) = execute(&state.frameworks.policy, policy_id, back, auth.metadata()).await {
        tracing::warn!(policy = %policy_id, key_id = %pooled.id, error = %lost.error.detail, "a popped pool key could not be returned to its pool");
    }
}
