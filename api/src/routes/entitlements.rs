//! Entitlements: create, retrieve (by id or code), update, delete, list.

use crate::access::entitlement::{find, may_read};
use crate::error::ApiResult;
use crate::extract::{Call, ListPage, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, entitlement_resource};
use crate::state::{execute, AppState};
use aggregates::entitlement::{EntitlementAttributes, EntitlementCommand, EntitlementPatch};
use aggregates::EntitlementId;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::entitlements::EntitlementSet;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/entitlements", get(index).post(create))
        .route("/entitlements/{id}", get(show).patch(update).delete(destroy))
}

fn patch_from(body: &JsonApiBody) -> ApiResult<EntitlementPatch> {
    let data = body.resource("entitlements", "entitlement")?;
    data.no_relationships()?;
    let a = &data.attributes;
    a.permit(&["name", "code", "metadata"])?;
    Ok(EntitlementPatch {
        name: a.string("name")?.patch().map(Option::unwrap_or_default),
        code: a.string("code")?.patch().map(Option::unwrap_or_default),
        metadata: a.object("metadata")?.patch().map(Option::unwrap_or_default),
    })
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    auth.require_admin()?;
    let data = body.resource("entitlements", "entitlement")?;
    let name = data.attributes.required_string("name")?;
    let code = data.attributes.required_string("code")?;
    let patch = patch_from(&body)?;
    let attributes = EntitlementAttributes {
        name,
        code,
        metadata: patch.metadata.unwrap_or_default(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let command = EntitlementCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        attributes,
        at: state.now(),
    };
    execute(
        &state.frameworks.entitlement,
        &EntitlementId::from(&id),
        command,
        auth.metadata(),
    )
    .await?;
    Ok(created(entitlement_resource(&find(&state, &auth, &id).await?)))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    may_read(&auth)?;
    Ok(single(
        StatusCode::OK,
        entitlement_resource(&find(&state, &auth, &id).await?),
    ))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = find(&state, &auth, &id).await?;
    auth.require_admin()?;
    let patch = patch_from(&body)?;
    execute(
        &state.frameworks.entitlement,
        &EntitlementId::from(&row.id),
        EntitlementCommand::Update { patch, at: state.now() },
        auth.metadata(),
    )
    .await?;
    Ok(single(
        StatusCode::OK,
        entitlement_resource(&find(&state, &auth, &row.id).await?),
    ))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = find(&state, &auth, &id).await?;
    auth.require_admin()?;
    execute(
        &state.frameworks.entitlement,
        &EntitlementId::from(&row.id),
        EntitlementCommand::Delete { at: state.now() },
        auth.metadata(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    may_read(&auth)?;
    let account_id = &auth.account.row.id;
    let result = projections::entitlements::list(&state.db, account_id, EntitlementSet::Account, list.page).await?;
    Ok(paged_rows(
        &result,
        entitlement_resource,
        &account_path(account_id, "entitlements"),
        &list,
    ))
}
