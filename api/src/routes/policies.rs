//! Policies: CRUD, the key pool (`DELETE /policies/{id}/pool` pops a key) and entitlements.

use super::{account_path, created, paged, policy_attributes, single, ListPage, QueryParams, ResourceId};
use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many, to_one, Attributes, Field, JsonApiBody, LinkQuery};
use crate::state::{execute, now, AppState};
use aggregates::policy::{PolicyCommand, BOOLEANS, CREATE_ONLY, ENUMS, INTEGERS};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::entitlements::EntitlementSet;
use projections::policies::PolicyRow;
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

/// The policy resource: every attribute in camelCase.
pub(crate) fn policy_resource(row: &PolicyRow) -> ApiResult<Value> {
    let stored: Value = serde_json::from_str(&row.attributes).map_err(ApiError::internal)?;
    let Value::Object(mut attributes) = deep_camel(stored) else {
        return Err(ApiError::internal("policy attributes"));
    };
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("policies/{}", row.id);
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
    for rel in ["pool", "licenses", "entitlements"] {
        relationships.insert(rel.into(), to_many(account_path(account, &format!("{base}/{rel}"))));
    }
    Ok(resource(
        "policies",
        &row.id,
        attributes,
        relationships,
        account_path(account, &base),
    ))
}

/// A live policy the bearer can see: admins any, a product its own.
pub(crate) async fn visible_policy(state: &AppState, auth: &Auth, id: &str) -> ApiResult<PolicyRow> {
    let row = projections::policies::find(&state.db.any, &auth.account.row.id, id).await?;
    match (row, &auth.bearer) {
        (Some(row), Bearer::Admin { .. }) => Ok(row),
        (Some(row), Bearer::Product { product_id }) if *product_id == row.product_id => Ok(row),
        _ => Err(ApiError::not_found("policy", id)),
    }
}

/// Admins and product bearers manage policies.
fn may_manage(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage policies")),
    }
}

/// Type-checks the policy attributes of a request into the command's change set. Nulls of
/// non-nullable attributes are dropped, as Keygen's parameter parser does.
fn policy_changes(a: &Attributes, creating: bool) -> ApiResult<Map<String, Value>> {
    let enums: Vec<&str> = ENUMS.iter().map(|(name, _)| *name).collect();
    let allowed: Vec<&str> = ["name", "metadata"]
        .into_iter()
        .chain(BOOLEANS.iter().copied())
        .chain(INTEGERS.iter().copied())
        .chain(enums.iter().copied())
        .filter(|name| creating || !CREATE_ONLY.contains(name))
        .collect();
    a.permit(&allowed)?;
    let mut changes = Map::new();
    for key in a.raw().keys() {
        let k = key.as_str();
        let value = if BOOLEANS.contains(&k) {
            a.boolean(k)?.value().map(Value::Bool)
        } else if INTEGERS.contains(&k) {
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
        };
        if let Some(value) = value {
            changes.insert(key.clone(), value);
        }
    }
    Ok(changes)
}

async fn create(State(state): State<AppState>, auth: Auth, body: JsonApiBody) -> ApiResult<Response> {
    may_manage(&auth)?;
    let data = body.resource("policies", "policy")?;
    data.permit_relationships(&["product"])?;
    data.attributes.required_string("name")?;
    let changes = policy_changes(&data.attributes, true)?;
    let product_id = super::required_relationship(&data, "product", &["products", "product"])?;
    let product = super::products::visible_product(&state, &auth, &product_id)
        .await
        .map_err(|_| super::related_not_found("product"))?;
    let id = uuid::Uuid::new_v4().to_string();
    let command = PolicyCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        product_id: product.id,
        attributes: changes,
        account_protected: auth.account.row.protected != 0,
        at: now(),
    };
    execute(&state.frameworks.policy, &id, command, auth.metadata()).await?;
    Ok(created(policy_resource(&visible_policy(&state, &auth, &id).await?)?))
}

async fn show(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        policy_resource(&visible_policy(&state, &auth, &id).await?)?,
    ))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let data = body.resource("policies", "policy")?;
    data.no_relationships()?;
    let changes = policy_changes(&data.attributes, false)?;
    execute(
        &state.frameworks.policy,
        &row.id,
        PolicyCommand::Update { changes, at: now() },
        auth.metadata(),
    )
    .await?;
    Ok(single(
        StatusCode::OK,
        policy_resource(&visible_policy(&state, &auth, &row.id).await?)?,
    ))
}

async fn destroy(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_policy(&state, &auth, &id).await?;
    super::cascade::delete_policy(&state, &auth, &row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_for(
    state: &AppState,
    auth: &Auth,
    product: Option<String>,
    page: projections::PageRequest,
    links: LinkQuery,
    path: String,
) -> ApiResult<Response> {
    let product = match (&auth.bearer, product) {
        (Bearer::Admin { .. }, product) => product,
        (Bearer::Product { product_id }, None) => Some(product_id.clone()),
        (Bearer::Product { product_id }, Some(p)) if *product_id == p => Some(p),
        (Bearer::Product { .. }, Some(_)) => return Err(ApiError::not_found("product", "")),
        _ => return Err(ApiError::forbidden("bearer lacks permission to list policies")),
    };
    let result = projections::policies::list(&state.db.any, &auth.account.row.id, product.as_deref(), page).await?;
    let items = result
        .items
        .iter()
        .map(policy_resource)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &path, &links, &page, result.total))
}

async fn index(
    State(state): State<AppState>,
    auth: Auth,
    ListPage(page, links): ListPage,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let product = match query.get("product") {
        Some(p) => Some(super::products::visible_product(&state, &auth, p).await?.id),
        None => None,
    };
    let path = account_path(&auth.account.row.id, "policies");
    list_for(&state, &auth, product, page, links, path).await
}

async fn product_policies(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
) -> ApiResult<Response> {
    let product = super::products::visible_product(&state, &auth, &id).await?;
    let path = account_path(&auth.account.row.id, &format!("products/{}/policies", product.id));
    list_for(&state, &auth, Some(product.id), page, links, path).await
}

async fn pool(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::policies::list_keys(&state.db.any, account_id, None, Some(&row.id), page).await?;
    let items = result.items.iter().map(super::keys::key_resource).collect();
    Ok(paged(
        items,
        &account_path(account_id, &format!("policies/{}/pool", row.id)),
        &links,
        &page,
        result.total,
    ))
}

/// Pops the newest key from the pool, answering with it.
pub(crate) async fn pop_key(
    state: &AppState,
    auth: &Auth,
    row: &PolicyRow,
) -> ApiResult<projections::policies::PoolKeyRow> {
    let account_id = &auth.account.row.id;
    if !policy_attributes(&row.attributes)?.use_pool {
        return Err(ApiError::unprocessable(
            "POLICY_NOT_SUPPORTED",
            "policy does not use a pool",
            Some("/data/relationships/policy".into()),
        ));
    }
    for _ in 0..5 {
        let newest = projections::policies::list_keys(
            &state.db.any,
            account_id,
            None,
            Some(&row.id),
            projections::PageRequest {
                cursor: None,
                number: None,
                size: 1,
                order: projections::ListOrder::NewestFirst,
            },
        )
        .await?;
        let Some(key) = newest.items.into_iter().next() else {
            return Err(ApiError::unprocessable(
                "POLICY_POOL_EMPTY",
                "pool is empty",
                Some("/data/relationships/pool".into()),
            ));
        };
        let command = PolicyCommand::PopKey {
            key_id: key.id.clone(),
            at: now(),
        };
        match execute(&state.frameworks.policy, &row.id, command, auth.metadata()).await {
            Ok(()) => return Ok(key),
            // Another request took this key first: read the pool again.
            Err(err) if err.error.code.as_deref() == Some("NOT_FOUND") => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::conflict())
}

async fn pop(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let key = pop_key(&state, &auth, &row).await?;
    Ok(single(StatusCode::OK, super::keys::key_resource(&key)))
}

async fn entitlements(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result =
        projections::entitlements::list(&state.db.any, account_id, EntitlementSet::Policy(&row.id), page).await?;
    let items = result
        .items
        .iter()
        .map(super::entitlements::entitlement_resource)
        .collect();
    Ok(paged(
        items,
        &account_path(account_id, &format!("policies/{}/entitlements", row.id)),
        &links,
        &page,
        result.total,
    ))
}

/// The entitlement ids named by an attach/detach body, each of which must exist.
pub(crate) async fn entitlement_ids(state: &AppState, auth: &Auth, body: &JsonApiBody) -> ApiResult<Vec<String>> {
    let requested = body.linkages("entitlements", "entitlement")?;
    let mut ids = Vec::with_capacity(requested.len());
    for (i, id) in requested.iter().enumerate() {
        match projections::entitlements::find(&state.db.any, &auth.account.row.id, id).await? {
            Some(row) => ids.push(row.id),
            None => {
                return Err(ApiError::unprocessable(
                    "ENTITLEMENT_NOT_FOUND",
                    "must exist",
                    Some(format!("/data/{i}/id")),
                ))
            }
        }
    }
    ids.dedup();
    Ok(ids)
}

async fn attach(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = visible_policy(&state, &auth, &id).await?;
    let ids = entitlement_ids(&state, &auth, &body).await?;
    let command = PolicyCommand::AttachEntitlements {
        entitlement_ids: ids.clone(),
        at: now(),
    };
    execute(&state.frameworks.policy, &row.id, command, auth.metadata()).await?;
    super::entitlements::entitlements_document(&state, &auth, &ids).await
}

async fn detach(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<StatusCode> {
    let row = visible_policy(&state, &auth, &id).await?;
    let ids = entitlement_ids(&state, &auth, &body).await?;
    execute(
        &state.frameworks.policy,
        &row.id,
        PolicyCommand::DetachEntitlements {
            entitlement_ids: ids,
            at: now(),
        },
        auth.metadata(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
