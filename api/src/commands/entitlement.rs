//! Attaching entitlements to policies and licenses and detaching them: the ids a body names,
//! each of which must exist, and the command on the policy or license.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::JsonApiBody;
use crate::state::{execute, AppState};
use aggregates::entitlement::EntitlementChange;
use aggregates::license::{LicenseCommand, PolicyEntitlements};
use aggregates::policy::PolicyCommand;
use aggregates::{EntitlementId, PolicyId};
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

/// The change an attach/detach body asks for: the entitlements it names, now.
async fn change(state: &AppState, auth: &Auth, body: &JsonApiBody) -> ApiResult<EntitlementChange> {
    Ok(EntitlementChange {
        entitlement_ids: entitlement_ids(state, auth, body).await?,
        at: state.now(),
    })
}

/// Runs a command on a policy (already checked visible).
async fn on_policy(state: &AppState, auth: &Auth, policy_id: &str, command: PolicyCommand) -> ApiResult<()> {
    execute(
        &state.frameworks.policy,
        &PolicyId::from(policy_id),
        command,
        auth.metadata(),
    )
    .await
}

/// Attaches the body's entitlements to a policy, answering them.
pub(crate) async fn attach_to_policy(
    state: &AppState,
    auth: &Auth,
    policy_id: &str,
    body: &JsonApiBody,
) -> ApiResult<Vec<EntitlementRow>> {
    let change = change(state, auth, body).await?;
    let ids = change.entitlement_ids.clone();
    on_policy(state, auth, policy_id, PolicyCommand::AttachEntitlements(change)).await?;
    attached(state, auth, &ids).await
}

/// Detaches the body's entitlements from a policy.
pub(crate) async fn detach_from_policy(
    state: &AppState,
    auth: &Auth,
    policy_id: &str,
    body: &JsonApiBody,
) -> ApiResult<()> {
    let change = change(state, auth, body).await?;
    on_policy(state, auth, policy_id, PolicyCommand::DetachEntitlements(change)).await
}

/// Attaches the body's entitlements to a license, answering them.
pub(crate) async fn attach_to_license(
    state: &AppState,
    auth: &Auth,
    license: &LicenseRow,
    body: &JsonApiBody,
) -> ApiResult<Vec<EntitlementRow>> {
    let change = change(state, auth, body).await?;
    let ids = change.entitlement_ids.clone();
    super::license::run(state, auth, license, LicenseCommand::AttachEntitlements(change)).await?;
    attached(state, auth, &ids).await
}

/// Detaches the body's entitlements from a license.
pub(crate) async fn detach_from_license(
    state: &AppState,
    auth: &Auth,
    license: &LicenseRow,
    body: &JsonApiBody,
) -> ApiResult<()> {
    let change = change(state, auth, body).await?;
    // The license decides: entitlements inherited from its policy cannot be detached.
    let policy_set = EntitlementSet::Policy(&license.policy_id);
    let inherited = projections::entitlements::ids(&state.db, &auth.account.row.id, policy_set).await?;
    let inherited = PolicyEntitlements {
        entitlement_ids: inherited.into_iter().map(EntitlementId::from).collect(),
        policy_id: PolicyId::from(&license.policy_id),
    };
    super::license::run(
        state,
        auth,
        license,
        LicenseCommand::DetachEntitlements { change, inherited },
    )
    .await
}
