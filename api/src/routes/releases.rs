//! Releases: create, retrieve (by id, version or tag), update, delete, list; publish and yank;
//! entitlement constraints; moving to another package; the upgrade a release has.
//!
//! Over 400 lines on purpose: every release route Keygen has is here, each a thin handler.

use crate::access::product::visible_product;
use crate::access::release::{audience, managed_release, may_create, visible_package, visible_release};
use crate::error::{ApiError, ApiResult, Source};
use crate::extract::{related_not_found, required_relationship, Call, ListPage, MaybeCall, QueryParams, ResourceId};
use crate::jsonapi::{nested_relationship, type_name, Attributes, Field, JsonApiBody};
use crate::render::{created, document, paged_rows, single};
use crate::resources::{account_path, constraint_resource, release_resource};
use crate::state::{execute, AppState};
use aggregates::release::version::{channels_within, UpgradeConstraint};
use aggregates::release::{Constraint, ReleaseAttributes, ReleaseCommand, ReleaseLine, ReleasePatch};
use aggregates::{PackageId, ReleaseId};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use projections::releases::{Audience, ReleaseFilter, ReleaseRow};
use serde_json::{json, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/releases", get(index).post(create))
        .route("/releases/{id}", get(show).patch(update).delete(destroy))
        .route("/releases/{id}/actions/publish", post(publish))
        .route("/releases/{id}/actions/yank", post(yank))
        .route(
            "/releases/{id}/constraints",
            get(constraints).post(attach_constraints).delete(detach_constraints),
        )
        .route(
            "/releases/{id}/package",
            get(package).put(change_package).patch(change_package),
        )
        .route("/releases/{id}/upgrade", get(upgrade))
        .route("/releases/{id}/product", get(product))
        .route("/releases/{id}/entitlements", get(entitlements))
        .route("/products/{id}/releases", get(of_product))
}

fn patch_from(a: &Attributes) -> ApiResult<ReleasePatch> {
    Ok(ReleasePatch {
        name: a.string("name")?.patch(),
        description: a.string("description")?.patch(),
        tag: a.string("tag")?.patch(),
        backdated: a.timestamp("backdated")?.patch(),
        metadata: a.object("metadata")?.patch().map(Option::unwrap_or_default),
    })
}

/// The entitlements constraints name, each a `{type: constraints, relationships: {entitlement}}`
/// at `pointer`/i; an entitlement the account does not have is a 422 on it.
async fn constraints_from(
    state: &AppState,
    account_id: &str,
    items: &[Value],
    pointer: &str,
) -> ApiResult<Vec<Constraint>> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{pointer}/{i}");
        let not_found = || {
            ApiError::unprocessable(
                "ENTITLEMENT_NOT_FOUND",
                "must exist",
                Some(format!("{at}/relationships/entitlement")),
            )
        };
        let id =
            nested_relationship(item, &at, "entitlement", &["entitlements", "entitlement"])?.ok_or_else(not_found)?;
        let entitlement = projections::entitlements::find(&state.db, account_id, &id)
            .await?
            .ok_or_else(not_found)?;
        out.push(Constraint {
            id: uuid::Uuid::new_v4().to_string(),
            entitlement_id: entitlement.id.as_str().into(),
            created_at: state.now(),
        });
    }
    Ok(out)
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    may_create(&auth)?;
    let data = body.resource("releases", "release")?;
    data.permit_relationships(&["product", "package", "constraints"])?;
    let a = &data.attributes;
    a.permit(&[
        "name",
        "description",
        "channel",
        "status",
        "tag",
        "version",
        "backdated",
        "metadata",
    ])?;
    let version = a.required_string("version")?;
    let channel = a.required_string("channel")?;
    let patch = patch_from(a)?;
    let status = a.string("status")?.value().unwrap_or_else(|| "DRAFT".into());
    let product_id = required_relationship(&data, "product", &["products", "product"])?;
    let product = visible_product(&state, &auth, &product_id)
        .await
        .map_err(|_| related_not_found("product"))?;
    let account_id = &auth.account.row.id;
    let package_id = match data.relationship("package", &["packages", "package"])? {
        Field::Value(id) => {
            let package = visible_package(&state, account_id, &Audience::Product(product.id.clone()), &id)
                .await
                .map_err(|_| related_not_found("package"))?;
            Some(PackageId::from(package.id))
        }
        _ => None,
    };
    let constraints = match data.relationships.get("constraints") {
        None | Some(Value::Null) => Vec::new(),
        Some(rel) => match rel.get("data") {
            Some(Value::Array(items)) => {
                constraints_from(&state, account_id, items, "/data/relationships/constraints/data").await?
            }
            Some(other) => {
                return Err(ApiError::type_mismatch(
                    "/data/relationships/constraints/data",
                    type_name(other),
                    "array",
                ))
            }
            None => Vec::new(),
        },
    };
    let id = ReleaseId::generate();
    let command = ReleaseCommand::Create {
        id: id.to_string(),
        account_id: account_id.clone(),
        line: ReleaseLine {
            product_id: product.id.as_str().into(),
            package_id,
        },
        attributes: ReleaseAttributes {
            name: patch.name.flatten(),
            description: patch.description.flatten(),
            channel,
            status,
            tag: patch.tag.flatten(),
            version,
            backdated: patch.backdated.flatten(),
            yanked: None,
            metadata: patch.metadata.unwrap_or_default(),
        },
        constraints,
        at: state.now(),
    };
    execute(&state.frameworks.release, &id, command, auth.metadata()).await?;
    Ok(created(release_resource(
        &stored(&state, account_id, id.as_str()).await?,
    )))
}

/// The release as the read model has it after a command (whoever may see it).
async fn stored(state: &AppState, account_id: &str, id: &str) -> ApiResult<ReleaseRow> {
    projections::releases::find_by_id(&state.db, account_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("release", id))
}

/// The filters a list or lookup takes from the query.
fn filter_from(query: &std::collections::HashMap<String, String>) -> ReleaseFilter {
    ReleaseFilter {
        product: query.get("product").cloned(),
        package: query.get("package").map(|p| Some(p.clone()).filter(|p| !p.is_empty())),
        channels: query.get("channel").map(|c| channels_within(c).to_vec()),
        status: query.get("status").map(|s| s.to_uppercase()),
        version: query.get("version").cloned(),
        engine: query.get("engine").cloned(),
    }
}

async fn show(call: MaybeCall, ResourceId(id): ResourceId, QueryParams(query): QueryParams) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let mut filter = filter_from(&query);
    filter.channels = None;
    let row = visible_release(&call.state, &call.account.row.id, &audience, &filter, &id).await?;
    Ok(single(StatusCode::OK, release_resource(&row)))
}

async fn index(call: MaybeCall, list: ListPage) -> ApiResult<Response> {
    let filter = filter_from(&list.query);
    list_releases(call, list, filter, "releases").await
}

async fn list_releases(call: MaybeCall, list: ListPage, filter: ReleaseFilter, path: &str) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    let result = projections::releases::list(&call.state.db, account_id, &audience, &filter, list.page).await?;
    Ok(paged_rows(
        &result,
        release_resource,
        &account_path(account_id, path),
        &list,
    ))
}

/// `/products/{id}/releases`: the product's releases the caller may see.
async fn of_product(call: MaybeCall, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let product = projections::products::find(&call.state.db, &call.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    let mut filter = filter_from(&list.query);
    filter.product = Some(product.id.clone());
    list_releases(call, list, filter, &format!("products/{}/releases", product.id)).await
}

/// `/releases/{id}/product`.
async fn product(call: MaybeCall, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    let row = visible_release(&call.state, account_id, &audience, &ReleaseFilter::default(), &id).await?;
    let product = projections::products::find(&call.state.db, account_id, &row.product_id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &row.product_id))?;
    Ok(single(StatusCode::OK, crate::resources::product_resource(&product)))
}

/// `/releases/{id}/entitlements`: the entitlements its constraints require.
async fn entitlements(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let everything = projections::PageRequest::everything();
    let constraints = projections::releases::constraints(&state.db, account_id, &row.id, everything).await?;
    let mut data = Vec::new();
    for constraint in constraints.items {
        if let Some(e) = projections::entitlements::find(&state.db, account_id, &constraint.entitlement_id).await? {
            data.push(crate::resources::entitlement_resource(&e));
        }
    }
    Ok(document(StatusCode::OK, json!({ "data": data })))
}

/// Runs a command on the release `row` is.
async fn on_release(
    state: &AppState,
    auth: &crate::auth::Auth,
    row: &ReleaseRow,
    command: ReleaseCommand,
) -> ApiResult<()> {
    execute(
        &state.frameworks.release,
        &ReleaseId::from(&row.id),
        command,
        auth.metadata(),
    )
    .await
}

/// Runs a command on the release `row` is and answers the release as it is then.
async fn run(
    state: &AppState,
    auth: &crate::auth::Auth,
    row: &ReleaseRow,
    command: ReleaseCommand,
) -> ApiResult<Response> {
    on_release(state, auth, row, command).await?;
    let row = stored(state, &auth.account.row.id, &row.id).await?;
    Ok(single(StatusCode::OK, release_resource(&row)))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    let data = body.resource("releases", "release")?;
    data.no_relationships()?;
    data.attributes
        .permit(&["name", "description", "tag", "backdated", "metadata"])?;
    let patch = patch_from(&data.attributes)?;
    run(&state, &auth, &row, ReleaseCommand::Update { patch, at: state.now() }).await
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = managed_release(&state, &auth, &id).await?;
    let command = ReleaseCommand::Delete { at: state.now() };
    on_release(&state, &auth, &row, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    run(&state, &auth, &row, ReleaseCommand::Publish { at: state.now() }).await
}

async fn yank(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    run(&state, &auth, &row, ReleaseCommand::Yank { at: state.now() }).await
}

async fn constraints(Call { state, auth }: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    let account_id = &auth.account.row.id;
    let result = projections::releases::constraints(&state.db, account_id, &row.id, list.page).await?;
    Ok(paged_rows(
        &result,
        constraint_resource,
        &account_path(account_id, &format!("releases/{}/constraints", row.id)),
        &list,
    ))
}

async fn attach_constraints(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    let items = body.items()?;
    let account_id = &auth.account.row.id;
    let constraints = constraints_from(&state, account_id, items, "/data").await?;
    let ids: Vec<String> = constraints.iter().map(|c| c.id.clone()).collect();
    let command = ReleaseCommand::AttachConstraints {
        constraints,
        at: state.now(),
    };
    on_release(&state, &auth, &row, command).await?;
    let all =
        projections::releases::constraints(&state.db, account_id, &row.id, projections::PageRequest::everything())
            .await?;
    let attached: Vec<Value> = all
        .items
        .iter()
        .filter(|c| ids.contains(&c.id))
        .map(constraint_resource)
        .collect();
    Ok(document(StatusCode::OK, json!({ "data": attached })))
}

async fn detach_constraints(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<StatusCode> {
    let row = managed_release(&state, &auth, &id).await?;
    let constraint_ids = body.linkages("constraints", "constraint")?;
    let command = ReleaseCommand::DetachConstraints {
        constraint_ids,
        at: state.now(),
    };
    on_release(&state, &auth, &row, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn package(call: MaybeCall, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    let row = visible_release(&call.state, account_id, &audience, &ReleaseFilter::default(), &id).await?;
    let package = match &row.package_id {
        Some(package) => Some(visible_package(&call.state, account_id, &audience, package).await?),
        None => None,
    };
    let data = package
        .map(|p| crate::resources::package_resource(&p))
        .unwrap_or(Value::Null);
    Ok(document(StatusCode::OK, json!({ "data": data })))
}

async fn change_package(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = managed_release(&state, &auth, &id).await?;
    let package_id = match body.linkage("packages", "package")? {
        None => None,
        Some(id) => {
            let package = visible_package(&state, &auth.account.row.id, &Audience::Everyone, &id)
                .await
                .map_err(|_| ApiError::unprocessable("PACKAGE_NOT_FOUND", "must exist", Some("/data".into())))?;
            if package.product_id != row.product_id {
                return Err(ApiError::unprocessable(
                    "PACKAGE_NOT_ALLOWED",
                    "package product must match release product",
                    Some("/data".into()),
                ));
            }
            Some(PackageId::from(package.id))
        }
    };
    run(
        &state,
        &auth,
        &row,
        ReleaseCommand::ChangePackage {
            package_id,
            at: state.now(),
        },
    )
    .await
}

async fn upgrade(call: MaybeCall, ResourceId(id): ResourceId, QueryParams(query): QueryParams) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    let constraint = match query.get("constraint").filter(|c| !c.is_empty()) {
        Some(text) => Some(UpgradeConstraint::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid version constraint",
                "CONSTRAINT_INVALID",
                Some(Source::Parameter("constraint".into())),
            )
        })?),
        None => None,
    };
    let lookup = ReleaseFilter {
        product: query.get("product").cloned(),
        package: query.get("package").map(|p| Some(p.clone()).filter(|p| !p.is_empty())),
        ..Default::default()
    };
    let current = visible_release(&call.state, account_id, &audience, &lookup, &id).await?;
    let package = match query.get("package") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(
            visible_package(&call.state, account_id, &audience, p)
                .await
                .map(|p| p.id)
                .unwrap_or_else(|_| p.clone()),
        ),
        None => current.package_id.clone(),
    };
    let channel = query.get("channel").cloned().unwrap_or_else(|| current.channel.clone());
    let next = crate::commands::release::next_release(
        &call.state,
        account_id,
        &audience,
        &current,
        package,
        &channel,
        constraint.as_ref(),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("release", &id))?;
    let metadata = match &call.auth {
        Some(auth) => auth.metadata(),
        None => {
            let mut m = std::collections::HashMap::new();
            m.insert("account_id".to_string(), account_id.clone());
            m
        }
    };
    crate::commands::release::upgraded(&call.state, account_id, &current, &next, metadata).await?;
    let mut body = json!({ "data": release_resource(&next) });
    body["meta"] = json!({ "current": current.version, "next": next.version });
    Ok(document(StatusCode::OK, body))
}
