//! Entitlements: create, retrieve (by id or code), update, delete, list.

use super::{account_path, created, paged, single, ListPage, ResourceId};
use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{deep_camel, resource, timestamp, to_one, JsonApiBody};
use crate::state::{execute, now, AppState};
use aggregates::entitlement::{EntitlementAttributes, EntitlementCommand, EntitlementPatch};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::entitlements::{EntitlementRow, EntitlementSet};
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/entitlements", get(index).post(create))
        .route("/entitlements/{id}", get(show).patch(update).delete(destroy))
}

/// The entitlement resource.
pub(crate) fn entitlement_resource(row: &EntitlementRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("code".into(), json!(row.code));
    attributes.insert(
        "metadata".into(),
        deep_camel(serde_json::from_str(&row.metadata).unwrap_or(json!({}))),
    );
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut relationships = Map::new();
    relationships.insert(
        "account".into(),
        to_one("accounts", account, Some(format!("/v1/accounts/{account}"))),
    );
    resource(
        "entitlements",
        &row.id,
        attributes,
        relationships,
        account_path(account, &format!("entitlements/{}", row.id)),
    )
}

/// Admins manage entitlements; products may read them.
fn may_read(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to read entitlements")),
    }
}

async fn find(state: &AppState, auth: &Auth, id: &str) -> ApiResult<EntitlementRow> {
    projections::entitlements::find(&state.db.any, &auth.account.row.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("entitlement", id))
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

async fn create(State(state): State<AppState>, auth: Auth, body: JsonApiBody) -> ApiResult<Response> {
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
        at: now(),
    };
    execute(&state.frameworks.entitlement, &id, command, auth.metadata()).await?;
    Ok(created(entitlement_resource(&find(&state, &auth, &id).await?)))
}

async fn show(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    may_read(&auth)?;
    Ok(single(
        StatusCode::OK,
        entitlement_resource(&find(&state, &auth, &id).await?),
    ))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = find(&state, &auth, &id).await?;
    auth.require_admin()?;
    let patch = patch_from(&body)?;
    execute(
        &state.frameworks.entitlement,
        &row.id,
        EntitlementCommand::Update { patch, at: now() },
        auth.metadata(),
    )
    .await?;
    Ok(single(
        StatusCode::OK,
        entitlement_resource(&find(&state, &auth, &row.id).await?),
    ))
}

async fn destroy(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = find(&state, &auth, &id).await?;
    auth.require_admin()?;
    execute(
        &state.frameworks.entitlement,
        &row.id,
        EntitlementCommand::Delete { at: now() },
        auth.metadata(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(State(state): State<AppState>, auth: Auth, ListPage(page, links): ListPage) -> ApiResult<Response> {
    may_read(&auth)?;
    let account_id = &auth.account.row.id;
    let result = projections::entitlements::list(&state.db.any, account_id, EntitlementSet::Account, page).await?;
    let items = result.items.iter().map(entitlement_resource).collect();
    Ok(paged(
        items,
        &account_path(account_id, "entitlements"),
        &links,
        &page,
        result.total,
    ))
}

/// `{"data": [...]}` of the given entitlements, as attach requests answer.
pub(crate) async fn entitlements_document(state: &AppState, auth: &Auth, ids: &[String]) -> ApiResult<Response> {
    let mut items = Vec::new();
    for id in ids {
        if let Some(e) = projections::entitlements::find(&state.db.any, &auth.account.row.id, id).await? {
            items.push(entitlement_resource(&e));
        }
    }
    Ok(super::document(StatusCode::OK, json!({ "data": items })))
}
