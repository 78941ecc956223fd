//! Licenses: create (with Keygen's default keys, custom keys or pooled keys), retrieve by id or
//! key, update, delete, list with Keygen's filters, and license tokens.

use super::{account_path, created, paged, policy_attributes, single, ListPage, QueryParams, ResourceId};
use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult, Source};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many, to_one, Attributes, JsonApiBody, LinkQuery};
use crate::state::{execute, now, AppState};
use aggregates::license::validation::{next_check_in, status};
use aggregates::license::{LicenseCommand, PolicySnapshot};
use aggregates::policy::{PolicyCommand, PoolKey};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::licenses::{LicenseFilter, LicenseRow};
use projections::{from_micros, PageRequest};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/licenses", get(index).post(create))
        .route("/licenses/{id}", get(show).patch(update).delete(destroy))
        .route("/licenses/{id}/tokens", get(tokens).post(generate_token))
        .route("/products/{id}/licenses", get(product_licenses))
        .route("/policies/{id}/licenses", get(policy_licenses))
}

fn opt_time(us: Option<i64>) -> Value {
    us.map(timestamp).unwrap_or(Value::Null)
}

/// The license resource, with the effective values its policy supplies.
pub(crate) fn license_resource(row: &LicenseRow) -> ApiResult<Value> {
    let policy = policy_attributes(&row.policy_attributes)?;
    let limits: Map<String, Value> = serde_json::from_str(&row.limits).map_err(ApiError::internal)?;
    let limit = |name: &str, fallback: Option<i64>| limits.get(name).and_then(Value::as_i64).or(fallback);
    let now = crate::state::now();
    let last_check_in = row.last_check_in.map(from_micros);
    let last_activity = [row.last_validated, row.last_check_in]
        .into_iter()
        .flatten()
        .max()
        .map(from_micros);
    let status = status(
        row.suspended != 0,
        row.expiry.map(from_micros),
        from_micros(row.created_at),
        last_activity,
        now,
    );
    let mut a = Map::new();
    a.insert("name".into(), json!(row.name));
    a.insert("key".into(), json!(row.key));
    a.insert("expiry".into(), opt_time(row.expiry));
    a.insert("status".into(), json!(status));
    a.insert("uses".into(), json!(row.uses));
    a.insert("suspended".into(), json!(row.suspended != 0));
    a.insert("scheme".into(), json!(policy.scheme));
    a.insert("encrypted".into(), json!(policy.encrypted));
    a.insert("strict".into(), json!(policy.strict));
    a.insert("floating".into(), json!(policy.floating));
    a.insert(
        "protected".into(),
        json!(row.protected.map(|p| p != 0).unwrap_or(policy.protected)),
    );
    a.insert("version".into(), Value::Null);
    a.insert("maxMachines".into(), json!(limit("max_machines", policy.max_machines)));
    a.insert(
        "maxProcesses".into(),
        json!(limit("max_processes", policy.max_processes)),
    );
    a.insert("maxUsers".into(), json!(limit("max_users", policy.max_users)));
    a.insert("maxCores".into(), json!(limit("max_cores", policy.max_cores)));
    a.insert("maxMemory".into(), json!(limit("max_memory", policy.max_memory)));
    a.insert("maxDisk".into(), json!(limit("max_disk", policy.max_disk)));
    a.insert("maxUses".into(), json!(limit("max_uses", policy.max_uses)));
    a.insert("requireHeartbeat".into(), json!(policy.require_heartbeat));
    a.insert("requireCheckIn".into(), json!(policy.require_check_in));
    a.insert("lastValidated".into(), opt_time(row.last_validated));
    a.insert("lastCheckIn".into(), opt_time(row.last_check_in));
    a.insert(
        "nextCheckIn".into(),
        next_check_in(&policy, last_check_in)
            .map(|t| timestamp(t.timestamp_micros()))
            .unwrap_or(Value::Null),
    );
    a.insert("lastCheckOut".into(), Value::Null);
    a.insert(
        "metadata".into(),
        deep_camel(serde_json::from_str(&row.metadata).unwrap_or(json!({}))),
    );
    a.insert("created".into(), timestamp(row.created_at));
    a.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("licenses/{}", row.id);
    let link = |rel: &str| account_path(account, &format!("{base}/{rel}"));
    let mut r = Map::new();
    r.insert(
        "account".into(),
        to_one("accounts", account, Some(format!("/v1/accounts/{account}"))),
    );
    r.insert(
        "product".into(),
        to_one("products", &row.product_id, Some(link("product"))),
    );
    r.insert(
        "policy".into(),
        to_one("policies", &row.policy_id, Some(link("policy"))),
    );
    r.insert(
        "group".into(),
        json!({ "data": null, "links": { "related": link("group") } }),
    );
    r.insert(
        "owner".into(),
        json!({ "data": null, "links": { "related": link("owner") } }),
    );
    r.insert(
        "users".into(),
        json!({ "links": { "related": link("users") }, "meta": { "count": 0 } }),
    );
    r.insert(
        "machines".into(),
        json!({ "links": { "related": link("machines") }, "meta": { "cores": 0, "memory": 0, "disk": 0, "count": 0 } }),
    );
    r.insert("tokens".into(), to_many(link("tokens")));
    r.insert("entitlements".into(), to_many(link("entitlements")));
    Ok(resource("licenses", &row.id, a, r, account_path(account, &base)))
}

/// A live license the bearer can see: admins any, a product its product's, a license itself.
pub(crate) async fn visible_license(state: &AppState, auth: &Auth, id_or_key: &str) -> ApiResult<LicenseRow> {
    match projections::licenses::find(&state.db.any, &auth.account.row.id, id_or_key).await? {
        Some(row) if may_see_license(auth, &row) => Ok(row),
        _ => Err(ApiError::not_found("license", id_or_key)),
    }
}

/// Admins see every license, a product its own, a license itself.
pub(crate) fn may_see_license(auth: &Auth, row: &LicenseRow) -> bool {
    match &auth.bearer {
        Bearer::Admin { .. } => true,
        Bearer::Product { product_id } => *product_id == row.product_id,
        Bearer::License { license_id } => *license_id == row.id,
        Bearer::User { .. } => false,
    }
}

/// What a license command needs of the license's (or another) policy.
pub(crate) async fn policy_snapshot(state: &AppState, account_id: &str, policy_id: &str) -> ApiResult<PolicySnapshot> {
    let row = projections::policies::find_any(&state.db.any, account_id, policy_id)
        .await?
        .ok_or_else(|| ApiError::not_found("policy", policy_id))?;
    Ok(PolicySnapshot {
        attributes: policy_attributes(&row.attributes)?,
        id: row.id,
        product_id: row.product_id,
    })
}

/// Admins and product bearers manage licenses.
pub(crate) fn may_manage(auth: &Auth) -> ApiResult<()> {
    match auth.bearer {
        Bearer::Admin { .. } | Bearer::Product { .. } => Ok(()),
        _ => Err(ApiError::forbidden("bearer lacks permission to manage licenses")),
    }
}

const LIMITS: &[&str] = &[
    "max_machines",
    "max_cores",
    "max_memory",
    "max_disk",
    "max_uses",
    "max_processes",
    "max_users",
];

/// Type-checks license attributes into the command's change set (snake_case keys).
fn license_changes(a: &Attributes) -> ApiResult<Map<String, Value>> {
    let mut changes = Map::new();
    for key in a.raw().keys() {
        let k = key.as_str();
        let value = match k {
            "name" => a.string(k)?.patch().map(|v| json!(v)),
            "expiry" => a.timestamp(k)?.patch().map(|v| json!(v)),
            "protected" => a.boolean(k)?.patch().map(|v| json!(v)),
            "suspended" => a.boolean(k)?.value().map(Value::Bool),
            "metadata" => a.object(k)?.value().map(Value::Object),
            _ if LIMITS.contains(&k) => a.integer(k)?.patch().map(|v| json!(v)),
            _ => None,
        };
        if let Some(value) = value {
            changes.insert(key.clone(), value);
        }
    }
    Ok(changes)
}

async fn create(State(state): State<AppState>, auth: Auth, body: JsonApiBody) -> ApiResult<Response> {
    may_manage(&auth)?;
    let data = body.resource("licenses", "license")?;
    data.permit_relationships(&["policy"])?;
    let a = &data.attributes;
    let mut allowed = vec!["name", "key", "expiry", "protected", "suspended", "metadata"];
    allowed.extend_from_slice(LIMITS);
    a.permit(&allowed)?;
    let custom_key = a.string("key")?.value();
    let changes = license_changes(a)?;
    let policy_id = super::required_relationship(&data, "policy", &["policies", "policy"])?;
    let policy_row = super::policies::visible_policy(&state, &auth, &policy_id)
        .await
        .map_err(|_| super::related_not_found("policy"))?;
    let policy = PolicySnapshot {
        attributes: policy_attributes(&policy_row.attributes)?,
        id: policy_row.id.clone(),
        product_id: policy_row.product_id.clone(),
    };
    let (key, pooled) = match (custom_key, policy.attributes.use_pool) {
        (Some(key), _) => (key, None),
        (None, true) => {
            let pooled = super::policies::pop_key(&state, &auth, &policy_row).await?;
            (pooled.key.clone(), Some(pooled))
        }
        (None, false) => (aggregates::license::keys::default_key(rand::random()), None),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let command = LicenseCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        policy,
        custom_key: pooled.is_none() && a.contains("key"),
        key,
        attributes: changes,
        at: now(),
    };
    if let Err(err) = execute(&state.frameworks.license, &id, command, auth.metadata()).await {
        if let Some(pooled) = pooled {
            // The license was not created: the key goes back into its pool.
            let back = PolicyCommand::AddKey {
                key: PoolKey {
                    id: pooled.id.clone(),
                    key: pooled.key,
                },
                at: now(),
            };
            if let Err(lost) = execute(&state.frameworks.policy, &policy_row.id, back, auth.metadata()).await {
                tracing::warn!(policy = %policy_row.id, key_id = %pooled.id, error = %lost.error.detail, "a popped pool key could not be returned to its pool");
            }
        }
        return Err(err);
    }
    Ok(created(license_resource(&visible_license(&state, &auth, &id).await?)?))
}

async fn show(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        license_resource(&visible_license(&state, &auth, &id).await?)?,
    ))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = visible_license(&state, &auth, &id).await?;
    may_manage(&auth)?;
    let data = body.resource("licenses", "license")?;
    data.no_relationships()?;
    let mut allowed = vec!["name", "expiry", "protected", "suspended", "metadata"];
    allowed.extend_from_slice(LIMITS);
    data.attributes.permit(&allowed)?;
    let changes = license_changes(&data.attributes)?;
    let policy = policy_snapshot(&state, &auth.account.row.id, &row.policy_id).await?;
    execute(
        &state.frameworks.license,
        &row.id,
        LicenseCommand::Update {
            policy,
            changes,
            at: now(),
        },
        auth.metadata(),
    )
    .await?;
    Ok(single(
        StatusCode::OK,
        license_resource(&visible_license(&state, &auth, &row.id).await?)?,
    ))
}

async fn destroy(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_license(&state, &auth, &id).await?;
    may_manage(&auth)?;
    super::cascade::delete_license(&state, &auth, &row.id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn bool_param(query: &HashMap<String, String>, name: &str) -> ApiResult<Option<bool>> {
    match query.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request(
            format!("{name} must be a boolean"),
            "PARAMETER_INVALID",
            Some(Source::Parameter(name.into())),
        )),
    }
}

fn time_param(query: &HashMap<String, String>, name: &str) -> ApiResult<Option<i64>> {
    query
        .get(name)
        .map(|raw| {
            chrono::DateTime::parse_from_rfc3339(raw)
                .map(|t| t.timestamp_micros())
                .map_err(|_| {
                    ApiError::bad_request(
                        format!("{name} must be an ISO-8601 timestamp"),
                        "PARAMETER_INVALID",
                        Some(Source::Parameter(name.into())),
                    )
                })
        })
        .transpose()
}

/// Reads Keygen's license filters from the query.
fn license_filter(query: &HashMap<String, String>) -> ApiResult<LicenseFilter> {
    let status = query.get("status").map(|s| s.to_ascii_uppercase());
    if status
        .as_deref()
        .is_some_and(|s| !matches!(s, "ACTIVE" | "INACTIVE" | "EXPIRING" | "EXPIRED" | "SUSPENDED"))
    {
        return Err(ApiError::bad_request(
            "status is invalid",
            "PARAMETER_INVALID",
            Some(Source::Parameter("status".into())),
        ));
    }
    let mut metadata = Vec::new();
    for (name, value) in query {
        if let Some(key) = name.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')) {
            let key = snake(key);
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ApiError::bad_request(
                    "metadata key is invalid",
                    "PARAMETER_INVALID",
                    Some(Source::Parameter(name.clone())),
                ));
            }
            metadata.push((key, value.clone()));
        }
    }
    Ok(LicenseFilter {
        product: query.get("product").cloned(),
        policy: query.get("policy").cloned(),
        status,
        suspended: bool_param(query, "suspended")?,
        expired: bool_param(query, "expired")?,
        expiring: bool_param(query, "expiring")?,
        expires_before: time_param(query, "expires[before]")?,
        expires_after: time_param(query, "expires[after]")?,
        metadata,
        only: None,
    })
}

fn snake(key: &str) -> String {
    match crate::jsonapi::deep_snake(json!({ key: 0 })) {
        Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

async fn list_with(
    state: &AppState,
    auth: &Auth,
    mut filter: LicenseFilter,
    page: PageRequest,
    links: LinkQuery,
    path: String,
) -> ApiResult<Response> {
    match &auth.bearer {
        Bearer::Admin { .. } => {}
        Bearer::Product { product_id } => {
            if filter.product.as_ref().is_some_and(|p| p != product_id) {
                filter.only = Some(String::new());
            }
            filter.product = Some(product_id.clone());
        }
        Bearer::License { license_id } => filter.only = Some(license_id.clone()),
        Bearer::User { .. } => return Err(ApiError::forbidden("bearer lacks permission to list licenses")),
    }
    let now = crate::state::now().timestamp_micros();
    let result = projections::licenses::list(&state.db, &auth.account.row.id, &filter, now, page).await?;
    let items = result
        .items
        .iter()
        .map(license_resource)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &path, &links, &page, result.total))
}

async fn index(
    State(state): State<AppState>,
    auth: Auth,
    ListPage(page, links): ListPage,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let mut filter = license_filter(&query)?;
    // Products may be named by code, as everywhere.
    if let Some(product) = filter.product.clone() {
        if let Some(row) = projections::products::find(&state.db.any, &auth.account.row.id, &product).await? {
            filter.product = Some(row.id);
        }
    }
    let path = account_path(&auth.account.row.id, "licenses");
    list_with(&state, &auth, filter, page, links, path).await
}

async fn product_licenses(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let product = super::products::visible_product(&state, &auth, &id).await?;
    let filter = LicenseFilter {
        product: Some(product.id.clone()),
        ..license_filter(&query)?
    };
    list_with(
        &state,
        &auth,
        filter,
        page,
        links,
        account_path(&auth.account.row.id, &format!("products/{}/licenses", product.id)),
    )
    .await
}

async fn policy_licenses(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let policy = super::policies::visible_policy(&state, &auth, &id).await?;
    let filter = LicenseFilter {
        policy: Some(policy.id.clone()),
        ..license_filter(&query)?
    };
    list_with(
        &state,
        &auth,
        filter,
        page,
        links,
        account_path(&auth.account.row.id, &format!("policies/{}/licenses", policy.id)),
    )
    .await
}

async fn generate_token(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let license = visible_license(&state, &auth, &id).await?;
    may_manage(&auth)?;
    let bearer = Bearer::License { license_id: license.id };
    super::tokens::generate_for_bearer(&state, &auth, &bearer, &body).await
}

async fn tokens(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    ListPage(page, links): ListPage,
) -> ApiResult<Response> {
    let license = visible_license(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::tokens::list(&state.db.any, account_id, Some(("licenses", &license.id)), page).await?;
    let items = result
        .items
        .iter()
        .map(|row| super::tokens::token_resource(account_id, row, None))
        .collect();
    Ok(paged(
        items,
        &account_path(account_id, &format!("licenses/{}/tokens", license.id)),
        &links,
        &page,
        result.total,
    ))
}
