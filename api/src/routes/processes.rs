//! Processes: spawn (create), retrieve, update metadata, kill (delete), list, ping. Spawning and
//! killing are commands on the license, which counts processes against `maxProcesses`.

use crate::access::license::visible_license;
use crate::access::machine::{may_activate, visible_machine};
use crate::auth::Bearer;
use crate::commands::license::{license_policy, run};
use crate::error::{ApiError, ApiResult};
use crate::extract::{related_not_found, required_relationship, Call, ListPage, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::render::{created, paged, single};
use crate::resources::{account_path, process_resource};
use crate::state::AppState;
use aggregates::license::LicenseCommand;
use aggregates::{MachineId, ProcessId};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use projections::processes::{ProcessFilter, ProcessView};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/processes", get(index).post(spawn))
        .route("/processes/{id}", get(show).patch(update).delete(kill))
        .route("/processes/{id}/actions/ping", post(ping))
        .route("/machines/{id}/processes", get(machine_processes))
}

/// A process the bearer can see: one of a machine it can see.
async fn visible_process(call: &Call, id: &str) -> ApiResult<ProcessView> {
    let not_found = || ApiError::not_found("process", id);
    let view = projections::processes::find(&call.state.db, &call.auth.account.row.id, id)
        .await?
        .ok_or_else(not_found)?;
    visible_machine(&call.state, &call.auth, &view.row.machine_id)
        .await
        .map_err(|_| not_found())?;
    Ok(view)
}

async fn spawn(call: Call, body: JsonApiBody) -> ApiResult<Response> {
    let data = body.resource("processes", "process")?;
    data.permit_relationships(&["machine"])?;
    data.attributes.permit(&["pid", "metadata"])?;
    let pid = data.attributes.required_string("pid")?;
    let metadata = data.attributes.object("metadata")?.value().unwrap_or_default();
    let machine_id = required_relationship(&data, "machine", &["machines", "machine"])?;
    let machine = visible_machine(&call.state, &call.auth, &machine_id)
        .await
        .map_err(|_| related_not_found("machine"))?;
    may_activate(&call.auth)?;
    let Call { state, auth } = &call;
    let license = visible_license(state, auth, &machine.row.license_id).await?;
    let policy = license_policy(&license)?;
    let id = ProcessId::generate();
    let command = LicenseCommand::SpawnProcess {
        policy,
        machine_id: MachineId::from(&machine.row.id),
        id: id.clone(),
        pid,
        metadata,
        at: state.now(),
    };
    run(state, auth, &license, command).await?;
    let view = visible_process(&call, id.as_str()).await?;
    Ok(created(process_resource(&view, call.state.now(), false)?))
}

async fn show(call: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let view = visible_process(&call, &id).await?;
    Ok(single(
        StatusCode::OK,
        process_resource(&view, call.state.now(), false)?,
    ))
}

async fn update(call: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let view = visible_process(&call, &id).await?;
    may_activate(&call.auth)?;
    let data = body.resource("processes", "process")?;
    data.no_relationships()?;
    data.attributes.permit(&["metadata"])?;
    if let Some(metadata) = data.attributes.object("metadata")?.value() {
        let license = visible_license(&call.state, &call.auth, &view.row.license_id).await?;
        let command = LicenseCommand::UpdateProcess {
            id: ProcessId::from(&view.row.id),
            metadata,
            at: call.state.now(),
        };
        run(&call.state, &call.auth, &license, command).await?;
    }
    let view = visible_process(&call, &view.row.id).await?;
    Ok(single(
        StatusCode::OK,
        process_resource(&view, call.state.now(), false)?,
    ))
}

async fn kill(call: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let view = visible_process(&call, &id).await?;
    may_activate(&call.auth)?;
    let license = visible_license(&call.state, &call.auth, &view.row.license_id).await?;
    let command = LicenseCommand::KillProcess {
        id: ProcessId::from(&view.row.id),
        at: call.state.now(),
    };
    run(&call.state, &call.auth, &license, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ping(call: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let mut view = visible_process(&call, &id).await?;
    may_activate(&call.auth)?;
    let revived = crate::commands::process::ping(&call.state, &mut view, call.auth.metadata()).await?;
    Ok(single(
        StatusCode::OK,
        process_resource(&view, call.state.now(), revived)?,
    ))
}

async fn list_with(call: &Call, mut filter: ProcessFilter, list: ListPage, path: &str) -> ApiResult<Response> {
    let Call { state, auth } = call;
    match &auth.bearer {
        Bearer::Admin { .. } => {}
        Bearer::Product { product_id } => {
            if filter.product.as_ref().is_some_and(|p| p != product_id) {
                filter.only_license = Some(String::new());
            }
            filter.product = Some(product_id.clone());
        }
        Bearer::License { license_id } => filter.only_license = Some(license_id.clone()),
        Bearer::User { .. } => return Err(ApiError::forbidden("bearer lacks permission to list processes")),
    }
    let account_id = &auth.account.row.id;
    let result = projections::processes::list(&state.db, account_id, &filter, list.page).await?;
    let now = state.now();
    let items = result
        .items
        .iter()
        .map(|view| process_resource(view, now, false))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &account_path(account_id, path), &list, result.total))
}

async fn index(call: Call, list: ListPage) -> ApiResult<Response> {
    let filter = ProcessFilter {
        machine: list.query.get("machine").cloned(),
        license: list.query.get("license").cloned(),
        product: list.query.get("product").cloned(),
        only_license: None,
    };
    list_with(&call, filter, list, "processes").await
}

async fn machine_processes(call: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let machine = visible_machine(&call.state, &call.auth, &id).await?.row.id;
    let filter = ProcessFilter {
        machine: Some(machine.clone()),
        ..ProcessFilter::default()
    };
    list_with(&call, filter, list, &format!("machines/{machine}/processes")).await
}
