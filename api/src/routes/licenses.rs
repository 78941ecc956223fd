//! Licenses: create (with Keygen's default keys, custom keys or pooled keys), retrieve by id or
//! key, update, delete, list with Keygen's filters, and license tokens.

use crate::access::license::{limit_to_visible, may_manage, visible_license};
use crate::access::policy::visible_policy;
use crate::access::product::visible_product;
use crate::auth::Bearer;
use crate::commands;
use crate::commands::license::{license_policy, NewLicense};
use crate::error::{ApiError, ApiResult, Source};
use crate::extract::{related_not_found, required_relationship, Call, ListPage, ResourceId};
use crate::jsonapi::{Attributes, JsonApiBody};
use crate::render::{created, paged, paged_rows, single};
use crate::resources::{account_path, license_resource, token_resource};
use crate::state::AppState;
use aggregates::license::LicenseCommand;
use aggregates::license::LicenseLimits;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::licenses::LicenseFilter;
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

const LIMITS: &[&str] = LicenseLimits::NAMES;

/// Type-checks license attributes into the command's change set (snake_case keys).
fn license_changes(a: &Attributes) -> ApiResult<Map<String, Value>> {
    a.changes(|k| {
        Ok(match k {
            "name" => a.string(k)?.patch().map(|v| json!(v)),
            "expiry" => a.timestamp(k)?.patch().map(|v| json!(v)),
            "protected" => a.boolean(k)?.patch().map(|v| json!(v)),
            "suspended" => a.boolean(k)?.value().map(Value::Bool),
            "metadata" => a.object(k)?.value().map(Value::Object),
            _ if LIMITS.contains(&k) => a.integer(k)?.patch().map(|v| json!(v)),
            _ => None,
        })
    })
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    may_manage(&auth)?;
    let data = body.resource("licenses", "license")?;
    data.permit_relationships(&["policy"])?;
    let a = &data.attributes;
    let mut allowed = vec!["name", "key", "expiry", "protected", "suspended", "metadata"];
    allowed.extend_from_slice(LIMITS);
    a.permit(&allowed)?;
    let key = a.string("key")?.value();
    let attributes = license_changes(a)?;
    let policy_id = required_relationship(&data, "policy", &["policies", "policy"])?;
    let policy = visible_policy(&state, &auth, &policy_id)
        .await
        .map_err(|_| related_not_found("policy"))?;
    let new = NewLicense {
        policy,
        key,
        key_given: a.contains("key"),
        attributes,
    };
    let id = commands::license::create(&state, &auth, new).await?;
    Ok(created(license_resource(
        &visible_license(&state, &auth, &id).await?,
        state.now(),
    )?))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    Ok(single(
        StatusCode::OK,
        license_resource(&visible_license(&state, &auth, &id).await?, state.now())?,
    ))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_license(&state, &auth, &id).await?;
    may_manage(&auth)?;
    let data = body.resource("licenses", "license")?;
    data.no_relationships()?;
    let mut allowed = vec!["name", "expiry", "protected", "suspended", "metadata"];
    allowed.extend_from_slice(LIMITS);
    data.attributes.permit(&allowed)?;
    let changes = license_changes(&data.attributes)?;
    let policy = license_policy(&row)?;
    let at = state.now();
    let command = LicenseCommand::Update { policy, changes, at };
    commands::license::run(&state, &auth, &row, command).await?;
    let updated = visible_license(&state, &auth, &row.id).await?;
    Ok(single(StatusCode::OK, license_resource(&updated, at)?))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_license(&state, &auth, &id).await?;
    may_manage(&auth)?;
    commands::cascade::delete_license(&state, &auth, &row.id, false).await?;
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
    let metadata = crate::extract::metadata_filters(query)?;
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

/// A page of the licenses `filter` selects among those the caller sees, at `path` (below the
/// account) for pagination links.
async fn list_with(call: &Call, mut filter: LicenseFilter, list: ListPage, path: &str) -> ApiResult<Response> {
    let Call { state, auth } = call;
    limit_to_visible(auth, &mut filter)?;
    let now = state.now();
    let account_id = &auth.account.row.id;
    let result = projections::licenses::list(&state.db, account_id, &filter, now.timestamp_micros(), list.page).await?;
    let items = result
        .items
        .iter()
        .map(|row| license_resource(row, now))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &account_path(account_id, path), &list, result.total))
}

async fn index(call: Call, list: ListPage) -> ApiResult<Response> {
    let mut filter = license_filter(&list.query)?;
    // Products may be named by code, as everywhere.
    if let Some(product) = filter.product.clone() {
        if let Some(row) = projections::products::find(&call.state.db, &call.auth.account.row.id, &product).await? {
            filter.product = Some(row.id);
        }
    }
    list_with(&call, filter, list, "licenses").await
}

async fn product_licenses(call: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let product = visible_product(&call.state, &call.auth, &id).await?.id;
    let mut filter = license_filter(&list.query)?;
    filter.product = Some(product.clone());
    list_with(&call, filter, list, &format!("products/{product}/licenses")).await
}

async fn policy_licenses(call: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let policy = visible_policy(&call.state, &call.auth, &id).await?.id;
    let mut filter = license_filter(&list.query)?;
    filter.policy = Some(policy.clone());
    list_with(&call, filter, list, &format!("policies/{policy}/licenses")).await
}

async fn generate_token(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let license = visible_license(&state, &auth, &id).await?;
    may_manage(&auth)?;
    let bearer = Bearer::License { license_id: license.id };
    let issued = commands::token::generate_for_bearer(&state, &auth, &bearer, &body).await?;
    Ok(created(token_resource(
        &auth.account.row.id,
        &issued.row,
        Some(&issued.raw),
    )))
}

async fn tokens(Call { state, auth }: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let license = visible_license(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::tokens::list(&state.db, account_id, Some(("licenses", &license.id)), list.page).await?;
    Ok(paged_rows(
        &result,
        |row| token_resource(account_id, row, None),
        &account_path(account_id, &format!("licenses/{}/tokens", license.id)),
        &list,
    ))
}
