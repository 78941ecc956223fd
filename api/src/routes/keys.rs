//! Keys: the pool of pre-made license keys a policy hands out (`usePool`).

use crate::access::key::{listed_product, visible_key};
use crate::access::policy::visible_policy;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{related_not_found, required_relationship, ListPage, QueryParams, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, key_resource};
use crate::state::{execute, AppState};
use aggregates::policy::{PolicyCommand, PoolKey};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(index).post(create))
        .route("/keys/{id}", get(show).delete(destroy))
}

async fn create(State(state): State<AppState>, auth: Auth, body: JsonApiBody) -> ApiResult<Response> {
    let data = body.resource("keys", "key")?;
    data.permit_relationships(&["policy"])?;
    data.attributes.permit(&["key"])?;
    let key = data.attributes.required_string("key")?;
    let policy_id = required_relationship(&data, "policy", &["policies", "policy"])?;
    let policy = visible_policy(&state, &auth, &policy_id)
        .await
        .map_err(|_| related_not_found("policy"))?;
    let id = uuid::Uuid::new_v4().to_string();
    let command = PolicyCommand::AddKey {
        key: PoolKey { id: id.clone(), key },
        at: state.now(),
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
            at: state.now(),
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
    let product = listed_product(&auth, query.get("product"))?;
    let account_id = &auth.account.row.id;
    let result = projections::policies::list_keys(
        &state.db,
        account_id,
        product.as_deref(),
        query.get("policy").map(String::as_str),
        page,
    )
    .await?;
    Ok(paged_rows(
        &result,
        key_resource,
        &account_path(account_id, "keys"),
        &links,
        &page,
    ))
}
