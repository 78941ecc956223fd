//! License use cases that read another aggregate: the policy snapshot a license command needs,
//! creating a license (with a key popped from the pool and given back on failure) and moving a
//! license to another policy.

use super::pool::{newest_pool_key, pool_empty};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState};
use aggregates::license::{LicenseCommand, NewKey, PolicySnapshot};
use aggregates::signing::Signer;
use aggregates::{AccountId, LicenseId, PolicyId, PoolKeyId, ProductId};
use projections::licenses::LicenseRow;
use projections::policies::PolicyRow;
use serde_json::{Map, Value};

/// What a license command needs of the license's (or another) policy.
pub(crate) async fn policy_snapshot(state: &AppState, account_id: &str, policy_id: &str) -> ApiResult<PolicySnapshot> {
    let row = projections::policies::find_any(&state.db, account_id, policy_id)
        .await?
        .ok_or_else(|| ApiError::not_found("policy", policy_id))?;
    snapshot_of(&row)
}

/// The snapshot of a license's policy as its row has it (read in the same query as the license,
/// so the two agree, and no second read).
pub(crate) fn license_policy(license: &projections::licenses::LicenseRow) -> ApiResult<PolicySnapshot> {
    Ok(PolicySnapshot {
        attributes: license.policy()?,
        id: PolicyId::from(&license.policy_id),
        product_id: ProductId::from(&license.product_id),
    })
}

/// The snapshot of a policy's row.
fn snapshot_of(row: &PolicyRow) -> ApiResult<PolicySnapshot> {
    Ok(PolicySnapshot {
        attributes: row.attributes()?,
        id: PolicyId::from(&row.id),
        product_id: ProductId::from(&row.product_id),
    })
}

/// A license to create, as the request asked for it.
pub(crate) struct NewLicense {
    /// The policy, already checked visible to the bearer.
    pub policy: PolicyRow,
    /// The `key` attribute, when it is a string.
    pub key: Option<String>,
    /// Whether the request named `key` at all.
    pub key_given: bool,
    /// The type-checked attributes (snake_case keys).
    pub attributes: Map<String, Value>,
}

/// Creates a license with a custom key, a key from its policy's pool, or Keygen's default key;
/// answers the new license's id.
pub(crate) async fn create(state: &AppState, auth: &Auth, new: NewLicense) -> ApiResult<String> {
    let policy_row = new.policy;
    let policy = snapshot_of(&policy_row)?;
    let id = LicenseId::generate();
    let create = |key: NewKey| LicenseCommand::Create {
        id: id.clone(),
        account_id: AccountId::from(&auth.account.row.id),
        policy: policy.clone(),
        key,
        attributes: new.attributes.clone(),
        at: state.now(),
    };
    if policy.attributes.scheme.is_some() {
        // Signed under the scheme: the supplied key, if any, is the seed's template.
        let key = NewKey::Signed {
            template: new.key.clone().filter(|_| new.key_given),
            jti: uuid::Uuid::new_v4().to_string(),
            signer: Signer(auth.account.keys.clone()),
        };
        execute(&state.frameworks.license, &id, create(key), auth.metadata()).await?;
        return Ok(id.into_string());
    }
    match (new.key, policy.attributes.use_pool) {
        (Some(key), _) if new.key_given => {
            execute(
                &state.frameworks.license,
                &id,
                create(NewKey::Custom(key)),
                auth.metadata(),
            )
            .await?
        }
        (_, true) => {
            // The license takes a key in its own commit. Another request may take the same key
            // first: then the next key is tried, until one is taken or none is left.
            let mut tried = Vec::new();
            loop {
                let Some(pooled) = newest_pool_key(state, auth, &policy_row.id, &tried).await? else {
                    return Err(pool_empty());
                };
                let key = NewKey::Pooled {
                    id: PoolKeyId::from(&pooled.id),
                    key: pooled.key,
                };
                match execute(&state.frameworks.license, &id, create(key), auth.metadata()).await {
                    Err(err) if err.error.code.as_deref() == Some("POLICY_POOL_EMPTY") => tried.push(pooled.id),
                    other => break other?,
                }
            }
        }
        _ => {
            let key = NewKey::Generated(aggregates::license::keys::default_key(rand::random()));
            execute(&state.frameworks.license, &id, create(key), auth.metadata()).await?
        }
    }
    Ok(id.into_string())
}

/// Runs a command on a license (already checked visible).
pub(crate) async fn run(state: &AppState, auth: &Auth, license: &LicenseRow, command: LicenseCommand) -> ApiResult<()> {
    execute(
        &state.frameworks.license,
        &LicenseId::from(&license.id),
        command,
        auth.metadata(),
    )
    .await
}

/// Moves a license to another policy (already checked visible), under Keygen's compatibility
/// rules, which the aggregate applies to snapshots of both policies.
pub(crate) async fn change_policy(
    state: &AppState,
    auth: &Auth,
    license: &LicenseRow,
    to: &PolicyRow,
) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    let from = policy_snapshot(state, account_id, &license.policy_id).await?;
    let to = policy_snapshot(state, account_id, &to.id).await?;
    let at = state.now();
    run(state, auth, license, LicenseCommand::ChangePolicy { from, to, at }).await
}
