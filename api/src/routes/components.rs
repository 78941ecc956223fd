//! Components: created with their machine's activation or on their own (`POST /components`),
//! retrieved, updated, removed, listed (by machine or license), and a machine's components.
//! Adding and removing one are commands on the machine's license, which holds its machines'
//! component fingerprints (their uniqueness is its decision).

use crate::access::license::visible_license;
use crate::access::machine::{may_activate, visible_machine};
use crate::auth::Bearer;
use crate::commands::license::{license_policy, run};
use crate::error::{ApiError, ApiResult};
use crate::extract::{related_not_found, required_relationship, Call, ListPage, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::render::{created, paged, single};
use crate::resources::{account_path, component_resource};
use crate::state::AppState;
use aggregates::license::machines::NewComponent;
use aggregates::license::LicenseCommand;
use aggregates::{ComponentId, MachineId};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::components::{ComponentFilter, ComponentRow};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/components", get(index).post(add))
        .route("/components/{id}", get(show).patch(update).delete(remove))
        .route("/machines/{id}/components", get(machine_components))
}

/// A component the bearer can see: one of a machine it can see.
async fn visible_component(call: &Call, id: &str) -> ApiResult<ComponentRow> {
    let Call { state, auth } = call;
    let not_found = || ApiError::not_found("component", id);
    let row = projections::components::find(&state.db, &auth.account.row.id, id)
        .await?
        .ok_or_else(not_found)?;
    visible_machine(state, auth, &row.machine_id)
        .await
        .map_err(|_| not_found())?;
    Ok(row)
}

async fn show(call: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_component(&call, &id).await?;
    Ok(single(StatusCode::OK, component_resource(&row)?))
}

/// `POST /components`: a component for a machine the bearer may manage.
async fn add(call: Call, body: JsonApiBody) -> ApiResult<Response> {
    let data = body.resource("components", "component")?;
    data.permit_relationships(&["machine"])?;
    let a = &data.attributes;
    a.permit(&["fingerprint", "name", "metadata"])?;
    let component = NewComponent {
        id: ComponentId::generate(),
        fingerprint: a.required_string("fingerprint")?,
        name: a.required_string("name")?,
        metadata: a.object("metadata")?.value().unwrap_or_default(),
    };
    let machine_id = required_relationship(&data, "machine", &["machines", "machine"])?;
    let Call { state, auth } = &call;
    let machine = visible_machine(state, auth, &machine_id)
        .await
        .map_err(|_| related_not_found("machine"))?;
    may_activate(auth)?;
    let license = visible_license(state, auth, &machine.row.license_id).await?;
    let policy = license_policy(&license)?;
    let id = component.id.to_string();
    let command = LicenseCommand::AddComponent {
        policy,
        machine_id: MachineId::from(&machine.row.id),
        component,
        at: state.now(),
    };
    run(state, auth, &license, command).await?;
    let row = visible_component(&call, &id).await?;
    Ok(created(component_resource(&row)?))
}

/// `PATCH /components/{id}`: its name and metadata.
async fn update(call: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_component(&call, &id).await?;
    may_activate(&call.auth)?;
    let data = body.resource("components", "component")?;
    data.no_relationships()?;
    let a = &data.attributes;
    a.permit(&["name", "metadata"])?;
    let name = a.string("name")?.patch().flatten();
    let metadata = a.object("metadata")?.value();
    if a.contains("name") || metadata.is_some() {
        let Call { state, auth } = &call;
        let license = visible_license(state, auth, &row.license_id).await?;
        let command = LicenseCommand::UpdateComponent {
            id: ComponentId::from(&row.id),
            // A null name is refused as a blank one.
            name: if a.contains("name") {
                name.unwrap_or_default()
            } else {
                row.name.clone()
            },
            metadata: match metadata {
                Some(metadata) => metadata,
                None => serde_json::from_str(&row.metadata).map_err(ApiError::internal)?,
            },
            at: state.now(),
        };
        run(state, auth, &license, command).await?;
    }
    let row = visible_component(&call, &row.id).await?;
    Ok(single(StatusCode::OK, component_resource(&row)?))
}

/// `DELETE /components/{id}`.
async fn remove(call: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_component(&call, &id).await?;
    may_activate(&call.auth)?;
    let Call { state, auth } = &call;
    let license = visible_license(state, auth, &row.license_id).await?;
    let command = LicenseCommand::RemoveComponent {
        id: ComponentId::from(&row.id),
        at: state.now(),
    };
    run(state, auth, &license, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_with(call: &Call, mut filter: ComponentFilter, list: ListPage, path: &str) -> ApiResult<Response> {
    let Call { state, auth } = call;
    match &auth.bearer {
        Bearer::Admin { .. } => {}
        Bearer::Product { product_id } => filter.only_product = Some(product_id.clone()),
        Bearer::License { license_id } => {
            if filter.license.as_ref().is_some_and(|l| l != license_id) {
                filter.machine = Some(String::new());
            }
            filter.license = Some(license_id.clone());
        }
        Bearer::User { .. } => return Err(ApiError::forbidden("bearer lacks permission to list components")),
    }
    let account_id = &auth.account.row.id;
    let result = projections::components::list(&state.db, account_id, &filter, list.page).await?;
    let items = result
        .items
        .iter()
        .map(component_resource)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &account_path(account_id, path), &list, result.total))
}

async fn index(call: Call, list: ListPage) -> ApiResult<Response> {
    let filter = ComponentFilter {
        machine: list.query.get("machine").cloned(),
        license: list.query.get("license").cloned(),
        only_product: None,
    };
    list_with(&call, filter, list, "components").await
}

async fn machine_components(call: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let machine = visible_machine(&call.state, &call.auth, &id).await?.row.id;
    let filter = ComponentFilter {
        machine: Some(machine.clone()),
        ..ComponentFilter::default()
    };
    list_with(&call, filter, list, &format!("machines/{machine}/components")).await
}
