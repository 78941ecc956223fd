//! Keys: the pool of pre-made license keys a policy hands out (`usePool`).

use crate::access::key::{listed_product, visible_key};
use crate::access::policy::visible_policy;
use crate::error::ApiResult;
use crate::extract::{related_not_found, required_relationship, Call, ListPage, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, key_resource};
use crate::state::{execute, AppState};
use aggregates::policy::{PolicyCommand, PoolKey};
use aggregates::{PolicyId, PoolKeyId};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(index).post(create))
        .route("/keys/{id}", get(show).delete(destroy))
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    let data = body.resource("keys", "key")?;
    data.permit_relationships(&["policy"])?;
    data.attributes.permit(&["key"])?;
    let key = data.attributes.required_string("key")?;
    let policy_id = required_relationship(&data, "policy", &["policies", "policy"])?;
    let policy = visible_policy(&state, &auth, &policy_id)
        .await
        .map_err(|_| related_not_found("policy"))?;
    let id = PoolKeyId::generate();
    let command = PolicyCommand::AddKey {
        key: PoolKey { id: id.clone(), key },
        at: state.now(),
    };
    execute(
        &state.frameworks.policy,
        &PolicyId::from(&policy.id),
        command,
        auth.metadata(),
    )
    .await?;
    Ok(created(key_resource(&visible_key(&state, &auth, id.as_str()).await?)))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        key_resource(&visible_key(&state, &auth, &id).await?),
    ))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_key(&state, &auth, &id).await?;
    execute(
        &state.frameworks.policy,
        &PolicyId::from(&row.policy_id),
        PolicyCommand::RemoveKey {
            key_id: PoolKeyId::from(row.id),
            at: state.now(),
        },
        auth.metadata(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    let product = listed_product(&auth, list.query.get("product"))?;
    let account_id = &auth.account.row.id;
    let result = projections::policies::list_keys(
        &state.db,
        account_id,
        product.as_deref(),
        list.query.get("policy").map(String::as_str),
        list.page,
    )
    .await?;
    Ok(paged_rows(
        &result,
        key_resource,
        &account_path(account_id, "keys"),
        &list,
    ))
}
