//! Attaching entitlements to policies and licenses and detaching them: the ids a body names,
//! each of which must exist, and the command on the policy or license.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::JsonApiBody;
use crate::state::{execute, AppState};
use aggregates::license::{LicenseCommand, PolicyEntitlements};
use aggregates::policy::PolicyCommand;
use aggregates::{EntitlementId, LicenseId, PolicyId};
use projections::entitlements::{EntitlementRow, EntitlementSet};
use projections::licenses::LicenseRow;

/// The entitlement ids named by an attach/detach body, each of which must exist.
pub(crate) async fn entitlement_ids(
    state: &AppState,
    auth: &Auth,
    body: &JsonApiBody,
) -> ApiResult<Vec<EntitlementId>> {
    let requested = body.linkages("entitlements", "entitlement")?;
    let mut ids = Vec::with_capacity(requested.len());
    for (i, id) in requested.iter().enumerate() {
        match projections::entitlements::find(&state.db, &auth.account.row.id, id.as_str()).await? {
            Some(row) => ids.push(EntitlementId::from(row.id)),
            None => {
                return Err(ApiError::unprocessable(
                    "ENTITLEMENT_NOT_FOUND",
                    "must exist",
                    Some(format!("/data/{i}/id")),
                ))
            }
        }
    }
    Ok(ids)
}

/// The given entitlements as they now are (each once, as attached), as attach requests answer.
async fn attached(state: &AppState, auth: &Auth, ids: &[EntitlementId]) -> ApiResult<Vec<EntitlementRow>> {
    let mut rows = Vec::new();
    for id in &aggregates::distinct(ids.to_vec()) {
        if let Some(e) = projections::entitlements::find(&state.db, &auth.account.row.id, id.as_str()).await? {
            rows.push(e);
        }
    }
    Ok(rows)
}

/// Attaches the body's entitlements to a policy, answering them.
pub(crate) async fn attach_to_policy(
    state: &AppState,
    auth: &Auth,
    policy_id: &str,
    body: &JsonApiBody,
) -> ApiResult<Vec<EntitlementRow>> {
    let ids = entitlement_ids(state, auth, body).await?;
    let command = PolicyCommand::AttachEntitlements {
        entitlement_ids: ids.clone(),
        at: state.now(),
    };
    execute(
        &state.frameworks.policy,
        &PolicyId::from(policy_id),
        command,
        auth.metadata(),
    )
    .await?;
    attached(state, auth, &ids).await
}

/// Detaches the body's entitlements from a policy.
pub(crate) async fn detach_from_policy(
    state: &AppState,
    auth: &Auth,
    policy_id: &str,
    body: &JsonApiBody,
) -> ApiResult<()> {
    let ids = entitlement_ids(state, auth, body).await?;
    execute(
        &state.frameworks.policy,
        &PolicyId::from(policy_id),
        PolicyCommand::DetachEntitlements {
            entitlement_ids: ids,
            at: state.now(),
        },
        auth.metadata(),
    )
    .await
}

/// Attaches the body's entitlements to a license, answering them.
pub(crate) async fn attach_to_license(
    state: &AppState,
    auth: &Auth,
    license: &LicenseRow,
    body: &JsonApiBody,
) -> ApiResult<Vec<EntitlementRow>> {
    let ids = entitlement_ids(state, auth, body).await?;
    execute(
        &state.frameworks.license,
        &LicenseId::from(&license.id),
        LicenseCommand::AttachEntitlements {
            entitlement_ids: ids.clone(),
            at: state.now(),
        },
        auth.metadata(),
    )
    .await?;
    attached(state, auth, &ids).await
}

/// Detaches the body's entitlements from a license.
pub(crate) async fn detach_from_license(
    state: &AppState,
    auth: &Auth,
    license: &LicenseRow,
    body: &JsonApiBody,
) -> ApiResult<()> {
    let ids = entitlement_ids(state, auth, body).await?;
    // The license decides: entitlements inherited from its policy cannot be detached.
    let inherited = PolicyEntitlements {
        entitlement_ids: projections::entitlements::ids(
            &state.db,
            &auth.account.row.id,
            EntitlementSet::Policy(&license.policy_id),
        )
        .await?
        .into_iter()
        .map(EntitlementId::from)
        .collect(),
        policy_id: PolicyId::from(&license.policy_id),
    };
    execute(
        &state.frameworks.license,
        &LicenseId::from(&license.id),
        LicenseCommand::DetachEntitlements {
            entitlement_ids: ids,
            inherited,
            at: state.now(),
        },
        auth.metadata(),
    )
    .await
}
