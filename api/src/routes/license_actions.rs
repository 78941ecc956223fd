//! License actions (`/licenses/{id}/actions/…`), the policy relationship (transfer) and the
//! license's entitlements.

use crate::access::license::{managed_license, may_read_policy, visible_license};
use crate::access::policy::visible_policy;
use crate::auth::Auth;
use crate::commands;
use crate::commands::license::license_policy;
use crate::error::{ApiError, ApiResult, Source};
use crate::extract::{Call, ListPage, ResourceId};
use crate::jsonapi::{type_name, JsonApiBody};
use crate::render::{listed, paged_rows, single};
use crate::resources::{account_path, entitlement_resource, license_resource, policy_resource};
use crate::state::AppState;
use aggregates::license::LicenseCommand;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use projections::entitlements::EntitlementSet;
use projections::licenses::LicenseRow;
use serde_json::Value;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/licenses/{id}/actions/suspend", post(suspend))
        .route("/licenses/{id}/actions/reinstate", post(reinstate))
        .route("/licenses/{id}/actions/renew", post(renew))
        .route("/licenses/{id}/actions/revoke", delete(revoke))
        .route("/licenses/{id}/actions/check-in", post(check_in))
        .route("/licenses/{id}/actions/increment-usage", post(increment))
        .route("/licenses/{id}/actions/decrement-usage", post(decrement))
        .route("/licenses/{id}/actions/reset-usage", post(reset))
        .route(
            "/licenses/{id}/policy",
            get(show_policy).put(change_policy).patch(change_policy),
        )
        .route(
            "/licenses/{id}/entitlements",
            get(entitlements).post(attach).delete(detach),
        )
}

/// Runs a command on the license and answers with the license as it now is.
async fn run(state: &AppState, auth: &Auth, row: &LicenseRow, command: LicenseCommand) -> ApiResult<Response> {
    commands::license::run(state, auth, row, command).await?;
    current(state, auth, row).await
}

/// The license as it now is.
async fn current(state: &AppState, auth: &Auth, row: &LicenseRow) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        license_resource(&visible_license(state, auth, &row.id).await?, state.now())?,
    ))
}

async fn suspend(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    run(&state, &auth, &row, LicenseCommand::Suspend { at: state.now() }).await
}

async fn reinstate(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    run(&state, &auth, &row, LicenseCommand::Reinstate { at: state.now() }).await
}

async fn renew(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    let policy = license_policy(&row)?;
    run(
        &state,
        &auth,
        &row,
        LicenseCommand::Renew {
            policy,
            at: state.now(),
        },
    )
    .await
}

async fn revoke(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = managed_license(&state, &auth, &id).await?;
    commands::cascade::delete_license(&state, &auth, &row.id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_in(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_license(&state, &auth, &id).await?;
    let policy = license_policy(&row)?;
    run(
        &state,
        &auth,
        &row,
        LicenseCommand::CheckIn {
            policy,
            at: state.now(),
        },
    )
    .await
}

/// `meta.increment` / `meta.decrement`: a positive integer, 1 when absent.
fn amount(body: &JsonApiBody, name: &str) -> ApiResult<i64> {
    let meta = body.meta()?;
    if let Some(key) = meta.keys().find(|k| *k != name) {
        return Err(ApiError::unpermitted(format!("/meta/{key}")));
    }
    match meta.get(name) {
        None | Some(Value::Null) => Ok(1),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) if n > 0 && n <= i32::MAX as i64 => Ok(n),
            _ => Err(ApiError::bad_request(
                "must be a positive integer no larger than 2147483647",
                "PARAMETER_INVALID",
                Some(Source::Pointer(format!("/meta/{name}"))),
            )),
        },
        Some(other) => Err(ApiError::type_mismatch(
            format!("/meta/{name}"),
            type_name(other),
            "integer",
        )),
    }
}

async fn increment(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_license(&state, &auth, &id).await?;
    let by = amount(&body, "increment")?;
    let policy = license_policy(&row)?;
    run(
        &state,
        &auth,
        &row,
        LicenseCommand::IncrementUsage {
            policy,
            by,
            at: state.now(),
        },
    )
    .await
}

async fn decrement(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    let by = amount(&body, "decrement")?;
    run(
        &state,
        &auth,
        &row,
        LicenseCommand::DecrementUsage { by, at: state.now() },
    )
    .await
}

async fn reset(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    run(&state, &auth, &row, LicenseCommand::ResetUsage { at: state.now() }).await
}

async fn show_policy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_license(&state, &auth, &id).await?;
    may_read_policy(&auth)?;
    let policy = projections::policies::find_any(&state.db, &auth.account.row.id, &row.policy_id)
        .await?
        .ok_or_else(|| ApiError::not_found("policy", &row.policy_id))?;
    Ok(single(StatusCode::OK, policy_resource(&policy)?))
}

/// `PUT /licenses/{id}/policy` with `data: {type: "policies", id}`: moves the license to another
/// policy of its product, under Keygen's compatibility rules.
async fn change_policy(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    let data = body.resource("policies", "policy")?;
    data.no_relationships()?;
    data.attributes.permit(&[])?;
    let target = match body_id(&body) {
        Some(id) => id,
        None => {
            return Err(ApiError::bad_request(
                "is missing",
                "PARAMETER_MISSING",
                Some(Source::Pointer("/data/id".into())),
            ))
        }
    };
    let not_found = || ApiError::unprocessable("POLICY_NOT_FOUND", "must exist", Some("/data/id".into()));
    let to = visible_policy(&state, &auth, &target).await.map_err(|_| not_found())?;
    commands::license::change_policy(&state, &auth, &row, &to).await?;
    current(&state, &auth, &row).await
}

fn body_id(body: &JsonApiBody) -> Option<String> {
    match body.raw_data()?.get("id") {
        Some(Value::String(id)) => Some(id.clone()),
        _ => None,
    }
}

async fn entitlements(Call { state, auth }: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let row = visible_license(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let set = EntitlementSet::License {
        license_id: &row.id,
        policy_id: &row.policy_id,
    };
    let result = projections::entitlements::list(&state.db, account_id, set, list.page).await?;
    Ok(paged_rows(
        &result,
        entitlement_resource,
        &account_path(account_id, &format!("licenses/{}/entitlements", row.id)),
        &list,
    ))
}

async fn attach(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = managed_license(&state, &auth, &id).await?;
    let attached = commands::entitlement::attach_to_license(&state, &auth, &row, &body).await?;
    Ok(listed(attached.iter().map(entitlement_resource).collect()))
}

async fn detach(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<StatusCode> {
    let row = managed_license(&state, &auth, &id).await?;
    commands::entitlement::detach_from_license(&state, &auth, &row, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
