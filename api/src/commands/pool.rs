//! A policy's key pool: the newest key not yet tried, and popping it (`DELETE
//! /policies/{id}/pool`). A pooled license takes its key in its own commit instead
//! (`commands::license::create`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState};
use aggregates::policy::PolicyCommand;
use aggregates::{PolicyId, PoolKeyId};
use projections::policies::{PolicyRow, PoolKeyRow};

/// Pops the newest key from the pool, answering with it.
pub(crate) async fn pop_key(state: &AppState, auth: &Auth, row: &PolicyRow) -> ApiResult<PoolKeyRow> {
    if !row.attributes()?.use_pool {
        return Err(ApiError::unprocessable(
            "POLICY_NOT_SUPPORTED",
            "policy does not use a pool",
            Some("/data/relationships/policy".into()),
        ));
    }
    let mut tried = Vec::new();
    loop {
        let Some(key) = newest_pool_key(state, auth, &row.id, &tried).await? else {
            return Err(pool_empty());
        };
        let command = PolicyCommand::PopKey {
            key_id: PoolKeyId::from(&key.id),
            at: state.now(),
        };
        match execute(
            &state.frameworks.policy,
            &PolicyId::from(&row.id),
            command,
            auth.metadata(),
        )
        .await
        {
            Ok(()) => return Ok(key),
            // Another request (a pop, or a license taking it) had this key first: try the next.
            // A policy deleted meanwhile is NOT_FOUND and answered as such.
            Err(err) if err.error.code.as_deref() == Some("POLICY_POOL_EMPTY") => tried.push(key.id),
            Err(err) => return Err(err),
        }
    }
}

/// Keygen's 422 for a pool with no key left.
pub(crate) fn pool_empty() -> ApiError {
    ApiError::unprocessable(
        "POLICY_POOL_EMPTY",
        "pool is empty",
        Some("/data/relationships/pool".into()),
    )
}

/// The newest key in the policy's pool that is not among `tried` (keys another request took
/// first, which a lagging read model may still show).
pub(crate) async fn newest_pool_key(
    state: &AppState,
    auth: &Auth,
    policy_id: &str,
    tried: &[String],
) -> ApiResult<Option<PoolKeyRow>> {
    let page = projections::PageRequest {
        cursor: None,
        number: None,
        size: tried.len() as i64 + 1,
        order: projections::ListOrder::NewestFirst,
    };
    let keys = projections::policies::list_keys(&state.db, &auth.account.row.id, None, Some(policy_id), page).await?;
    Ok(keys.items.into_iter().find(|key| !tried.contains(&key.id)))
}
