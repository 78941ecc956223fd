//! Policies: CRUD, the key pool (`DELETE /policies/{id}/pool` pops a key) and entitlements.

use crate::access::policy::{listed_product, may_manage, visible_policy};
use crate::access::product::visible_product;
use crate::auth::Auth;
use crate::commands::{cascade, entitlement, pool};
use crate::error::ApiResult;
use crate::extract::{related_not_found, required_relationship, Call, ListPage, ResourceId};
use crate::jsonapi::{Attributes, Field, JsonApiBody};
use crate::render::{created, listed, paged, paged_rows, single};
use crate::resources::{account_path, entitlement_resource, key_resource, policy_resource};
use crate::state::{execute, AppState};
use aggregates::license::LicenseLimits;
use aggregates::policy::{PolicyCommand, BOOLEANS, CREATE_ONLY, ENUMS, INTEGERS};
use aggregates::{AccountId, PolicyId, ProductId};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::entitlements::EntitlementSet;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/policies", get(index).post(create))
        .route("/policies/{id}", get(show).patch(update).delete(destroy))
        .route("/policies/{id}/pool", get(pool).delete(pop))
        .route(
            "/policies/{id}/entitlements",
            get(entitlements).post(attach).delete(detach),
        )
        .route("/products/{id}/policies", get(product_policies))
}

/// Type-checks the policy attributes of a request into the command's change set. Nulls of
/// non-nullable attributes are dropped, as Keygen's parameter parser does.
fn policy_changes(a: &Attributes, creating: bool) -> ApiResult<Map<String, Value>> {
    let enums: Vec<&str> = ENUMS.iter().map(|(name, _)| *name).collect();
    let allowed: Vec<&str> = ["name", "metadata"]
        .into_iter()
        .chain(BOOLEANS.iter().copied())
        .chain(INTEGERS.iter().copied())
        .chain(LicenseLimits::NAMES.iter().copied())
        .chain(enums.iter().copied())
        .filter(|name| creating || !CREATE_ONLY.contains(name))
        .collect();
    a.permit(&allowed)?;
    let integer = |k: &str| INTEGERS.contains(&k) || LicenseLimits::NAMES.contains(&k);
    a.changes(|k| {
        Ok(if BOOLEANS.contains(&k) {
            a.boolean(k)?.value().map(Value::Bool)
        } else if integer(k) {
            match a.integer(k)? {
                Field::Value(n) => Some(json!(n)),
                _ => Some(Value::Null),
            }
        } else if enums.contains(&k) {
            match a.string(k)? {
                Field::Value(s) => Some(Value::String(s)),
                Field::Null if matches!(k, "scheme" | "check_in_interval") => Some(Value::Null),
                _ => None,
            }
        } else if k == "metadata" {
            a.object(k)?.value().map(Value::Object)
        } else {
            a.string(k)?.value().map(Value::String)
        })
    })
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    may_manage(&auth)?;
    let data = body.resource("policies", "policy")?;
    data.permit_relationships(&["product"])?;
    data.attributes.required_string("name")?;
    let changes = policy_changes(&data.attributes, true)?;
    let product_id = required_relationship(&data, "product", &["products", "product"])?;
    let product = visible_product(&state, &auth, &product_id)
        .await
        .map_err(|_| related_not_found("product"))?;
    let id = PolicyId::generate();
    let command = PolicyCommand::Create {
        id: id.clone(),
        account_id: AccountId::from(&auth.account.row.id),
        product_id: ProductId::from(product.id),
        attributes: changes,
        account_protected: auth.account.row.protected != 0,
        at: state.now(),
    };
    execute(&state.frameworks.policy, &id, command, auth.metadata()).await?;
    Ok(created(policy_resource(
        &visible_policy(&state, &auth, id.as_str()).await?,
    )?))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        policy_resource(&visible_policy(&state, &auth, &id).await?)?,
    ))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let data = body.resource("policies", "policy")?;
    data.no_relationships()?;
    let changes = policy_changes(&data.attributes, false)?;
    let command = PolicyCommand::Update {
        changes,
        at: state.now(),
    };
    execute(
        &state.frameworks.policy,
        &PolicyId::from(&row.id),
        command,
        auth.metadata(),
    )
    .await?;
    Ok(single(
        StatusCode::OK,
        policy_resource(&visible_policy(&state, &auth, &row.id).await?)?,
    ))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_policy(&state, &auth, &id).await?;
    cascade::delete_policy(&state, &auth, &row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_for(
    state: &AppState,
    auth: &Auth,
    product: Option<String>,
    list: ListPage,
    path: String,
) -> ApiResult<Response> {
    let product = listed_product(auth, product)?;
    let result = projections::policies::list(&state.db, &auth.account.row.id, product.as_deref(), list.page).await?;
    let items = result
        .items
        .iter()
        .map(policy_resource)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &path, &list, result.total))
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    let product = match list.query.get("product") {
        Some(p) => Some(visible_product(&state, &auth, p).await?.id),
        None => None,
    };
    let path = account_path(&auth.account.row.id, "policies");
    list_for(&state, &auth, product, list, path).await
}

async fn product_policies(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    list: ListPage,
) -> ApiResult<Response> {
    let product = visible_product(&state, &auth, &id).await?;
    let path = account_path(&auth.account.row.id, &format!("products/{}/policies", product.id));
    list_for(&state, &auth, Some(product.id), list, path).await
}

async fn pool(Call { state, auth }: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::policies::list_keys(&state.db, account_id, None, Some(&row.id), list.page).await?;
    Ok(paged_rows(
        &result,
        key_resource,
        &account_path(account_id, &format!("policies/{}/pool", row.id)),
        &list,
    ))
}

async fn pop(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let key = pool::pop_key(&state, &auth, &row).await?;
    Ok(single(StatusCode::OK, key_resource(&key)))
}

async fn entitlements(Call { state, auth }: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result =
        projections::entitlements::list(&state.db, account_id, EntitlementSet::Policy(&row.id), list.page).await?;
    Ok(paged_rows(
        &result,
        entitlement_resource,
        &account_path(account_id, &format!("policies/{}/entitlements", row.id)),
        &list,
    ))
}

async fn attach(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let attached = entitlement::attach_to_policy(&state, &auth, &row.id, &body).await?;
    Ok(listed(attached.iter().map(entitlement_resource).collect()))
}

async fn detach(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<StatusCode> {
    let row = visible_policy(&state, &auth, &id).await?;
    entitlement::detach_from_policy(&state, &auth, &row.id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
