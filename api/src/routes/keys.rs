//! Keys: the pool of pre-made license keys a policy hands out (`usePool`).

use super::{account_path, created, paged, single, ListPage, QueryParams, ResourceId};
use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{resource, timestamp, to_one, JsonApiBody};
use crate::state::{execute, now, AppState};
use aggregates::policy::{PolicyCommand, PoolKey};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::policies::PoolKeyRow;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(index).post(create))
        .route("/keys/{id}", get(show).delete(destroy))
}

/// The key resource.
pub(crate) fn key_resource(row: &PoolKeyRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("key".into(), json!(row.key));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut relationships = Map::new();
    relationships.insert(
        "account".into(),
        to_one("accounts", account, Some(format!("/v1/accounts/{account}"))),
    );
    relationships.insert(
        "product".into(),
        to_one(
            "products",
            &row.product_id,
            Some(account_path(account, &format!("products/{}", row.product_id))),
        ),
    );
    relationships.insert(
        "policy".into(),
        to_one(
            "policies",
            &row.policy_id,
            Some(account_path(account, &format!("policies/{}", row.policy_id))),
        ),
    );
    resource(
        "keys",
        &row.id,
        attributes,
        relationships,
        account_path(account, &format!("keys/{}", row.id)),
    )
}

async fn visible_key(state: &AppState, auth: &Auth, id: &str) -> ApiResult<PoolKeyRow> {
    let row = projections::policies::find_key(&state.db.any, &auth.account.row.id, id).await?;
    match (row, &auth.bearer) {
        (Some(row), Bearer::Admin { .. }) => Ok(row),
        (Some(row), Bearer::Product { product_id }) if *product_id == row.product_id => Ok(row),
        _ => Err(ApiError::not_found("key", id)),
    }
}

async fn create(State(state): State<AppState>, auth: Auth, body: JsonApiBody) -> ApiResult<Response> {
    let data = body.resource("keys", "key")?;
    data.permit_relationships(&["policy"])?;
    data.attributes.permit(&["key"])?;
    let key = data.attributes.required_string("key")?;
    let policy_id = super::required_relationship(&data, "policy", &["policies", "policy"])?;
    let policy = super::policies::visible_policy(&state, &auth, &policy_id)
        .await
        .map_err(|_| super::related_not_found("policy"))?;
    let id = uuid::Uuid::new_v4().to_string();
    let command = PolicyCommand::AddKey {
        key: PoolKey { id: id.clone(), key },
        at: now(),
    };
    execute(&state.frameworks.policy, &policy.id, command, auth.metadata()).await?;
    Ok(created(key_resource(&visible_key(&state, &auth, &id).await?)))
}

async fn show(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        key_resource(&visible_key(&state, &auth, &id).await?),
    ))
}

async fn destroy(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_key(&state, &auth, &id).await?;
    execute(
        &state.frameworks.policy,
        &row.policy_id,
        PolicyCommand::RemoveKey {
            key_id: row.id,
            at: now(),
        },
        auth.metadata(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(
    State(state): State<AppState>,
    auth: Auth,
    ListPage(page, links): ListPage,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let product = match &auth.bearer {
        Bearer::Admin { .. } => query.get("product").cloned(),
        Bearer::Product { product_id } => Some(product_id.clone()),
        _ => return Err(ApiError::forbidden("bearer lacks permission to list keys")),
    };
    let account_id = &auth.account.row.id;
    let result = projections::policies::list_keys(
        &state.db.any,
        account_id,
        product.as_deref(),
        query.get("policy").map(String::as_str),
        page,
    )
    .await?;
    let items = result.items.iter().map(key_resource).collect();
    Ok(paged(
        items,
        &account_path(account_id, "keys"),
        &links,
        &page,
        result.total,
    ))
}
