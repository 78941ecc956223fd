//! Components: retrieve, list (by machine or license), and a machine's components. They are
//! created with their machine's activation.

use crate::access::machine::visible_machine;
use crate::auth::Bearer;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::render::{paged, single};
use crate::resources::{account_path, component_resource};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::components::ComponentFilter;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/components", get(index))
        .route("/components/{id}", get(show))
        .route("/machines/{id}/components", get(machine_components))
}

/// A component the bearer can see: one of a machine it can see.
async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("component", &id);
    let row = projections::components::find(&state.db, &auth.account.row.id, &id)
        .await?
        .ok_or_else(not_found)?;
    visible_machine(&state, &auth, &row.machine_id)
        .await
        .map_err(|_| not_found())?;
    Ok(single(StatusCode::OK, component_resource(&row)?))
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
