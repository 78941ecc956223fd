//! Access to machines: admins any, a product its licenses' machines, a license its own.
//! (Users reach machines through licenses they own once license owners exist.)

use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use projections::machines::{MachineFilter, MachineView};

/// A machine the bearer can see, by id or fingerprint.
pub(crate) async fn visible_machine(state: &AppState, auth: &Auth, id: &str) -> ApiResult<MachineView> {
    match projections::machines::find(&state.db, &auth.account.row.id, id).await? {
        Some(view) if may_see_machine(auth, &view) => Ok(view),
        _ => Err(ApiError::not_found("machine", id)),
    }
}

fn may_see_machine(auth: &Auth, view: &MachineView) -> bool {
    match &auth.bearer {
        Bearer::Admin { .. } => true,
        Bearer::Product { product_id } => *product_id == view.product_id,
        Bearer::License { license_id } => *license_id == view.row.license_id,
        Bearer::User { .. } => false,
    }
}

/// Admins, the license's product and the license itself activate and deactivate its machines.
pub(crate) fn may_activate(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::User { .. } => Err(ApiError::forbidden("bearer lacks permission to manage machines")),
        _ => Ok(()),
    }
}

/// The activation token the request came with, which counts the machines it activates and
/// deactivates up to its maxima.
pub(crate) fn activation_token(auth: &Auth) -> Option<aggregates::license::ActivationToken> {
    let token = auth.token.as_ref()?;
    (token.kind == aggregates::vocabulary::TokenKind::ActivationToken.as_str()).then(|| {
        aggregates::license::ActivationToken {
            id: aggregates::TokenId::from(&token.id),
            max_activations: token.max_activations,
            max_deactivations: token.max_deactivations,
        }
    })
}

/// Narrows a machine list to what the bearer can see.
pub(crate) fn limit_to_visible(auth: &Auth, filter: &mut MachineFilter) -> ApiResult<()> {
    match &auth.bearer {
        Bearer::Admin { .. } => {}
        Bearer::Product { product_id } => filter.only_product = Some(product_id.clone()),
        Bearer::License { license_id } => filter.only_license = Some(license_id.clone()),
        Bearer::User { .. } => return Err(ApiError::forbidden("bearer lacks permission to list machines")),
    }
    Ok(())
}
