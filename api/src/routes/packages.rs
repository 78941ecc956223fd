//! Packages (create, retrieve by id or key, update, delete, list) and the read-only lookups
//! Keygen derives from packages and releases: `/engines`, `/channels`, `/platforms`, `/arches`.

use crate::access::product::visible_product;
use crate::access::release::{audience, may_create, may_manage, package_filter, visible_package};
use crate::error::{ApiError, ApiResult};
use crate::extract::{related_not_found, required_relationship, Call, ListPage, MaybeCall, ResourceId};
use crate::jsonapi::{Attributes, JsonApiBody};
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, lookup_resource, package_resource};
use crate::state::{execute, AppState};
use aggregates::package::{PackageAttributes, PackageCommand, PackagePatch};
use aggregates::PackageId;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::packages::PackageFilter;
use projections::releases::Audience;

pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/packages", get(index).post(create))
        .route("/packages/{id}", get(show).patch(update).delete(destroy))
        .route("/products/{id}/packages", get(of_product));
    for kind in ["engines", "channels", "platforms", "arches"] {
        router = router
            .route(&format!("/{kind}"), get(move |call, list| lookups(call, list, kind)))
            .route(&format!("/{kind}/{{id}}"), get(move |call, id| lookup(call, id, kind)));
    }
    router
}

fn patch_from(a: &Attributes) -> ApiResult<PackagePatch> {
    a.permit(&["name", "key", "engine", "metadata"])?;
    Ok(PackagePatch {
        name: a.string("name")?.patch().map(Option::unwrap_or_default),
        key: a.string("key")?.patch().map(Option::unwrap_or_default),
        engine: a.string("engine")?.patch(),
        metadata: a.object("metadata")?.patch().map(Option::unwrap_or_default),
    })
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    may_create(&auth)?;
    let data = body.resource("packages", "package")?;
    data.permit_relationships(&["product"])?;
    let name = data.attributes.required_string("name")?;
    let key = data.attributes.required_string("key")?;
    let patch = patch_from(&data.attributes)?;
    let product_id = required_relationship(&data, "product", &["products", "product"])?;
    let product = visible_product(&state, &auth, &product_id)
        .await
        .map_err(|_| related_not_found("product"))?;
    let id = PackageId::generate();
    let command = PackageCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        product_id: product.id.as_str().into(),
        attributes: PackageAttributes {
            name,
            key,
            engine: patch.engine.flatten(),
            metadata: patch.metadata.unwrap_or_default(),
        },
        at: state.now(),
    };
    execute(&state.frameworks.package, &id, command, auth.metadata()).await?;
    let row = projections::packages::find(&state.db, &auth.account.row.id, id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("package", id.as_str()))?;
    Ok(created(package_resource(&row)))
}

async fn show(call: MaybeCall, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let row = visible_package(&call.state, &call.account.row.id, &audience, &id).await?;
    Ok(single(StatusCode::OK, package_resource(&row)))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let row = visible_package(&state, account_id, &audience(&state, Some(&auth)).await?, &id).await?;
    may_manage(&auth, &row.product_id)?;
    let data = body.resource("packages", "package")?;
    data.no_relationships()?;
    let patch = patch_from(&data.attributes)?;
    let command = PackageCommand::Update { patch, at: state.now() };
    execute(
        &state.frameworks.package,
        &PackageId::from(&row.id),
        command,
        auth.metadata(),
    )
    .await?;
    let row = projections::packages::find(&state.db, account_id, &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("package", &id))?;
    Ok(single(StatusCode::OK, package_resource(&row)))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_package(&state, &auth.account.row.id, &audience(&state, Some(&auth)).await?, &id).await?;
    may_manage(&auth, &row.product_id)?;
    crate::commands::cascade::delete_package(&state, &auth, &row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(call: MaybeCall, list: ListPage) -> ApiResult<Response> {
    let product = list.query.get("product").cloned();
    list_packages(call, list, product, "packages").await
}

async fn list_packages(call: MaybeCall, list: ListPage, product: Option<String>, path: &str) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    if let (Audience::Product(own), Some(asked)) = (&audience, &product) {
        if own != asked {
            return Err(ApiError::not_found("product", asked));
        }
    }
    let filter = package_filter(
        &audience,
        PackageFilter {
            product,
            engine: list.query.get("engine").cloned(),
            strategies: None,
        },
    );
    let result = projections::packages::list(&call.state.db, account_id, &filter, list.page).await?;
    Ok(paged_rows(
        &result,
        package_resource,
        &account_path(account_id, path),
        &list,
    ))
}

/// `/products/{id}/packages`.
async fn of_product(call: MaybeCall, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let product = projections::products::find(&call.state.db, &call.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    let path = format!("products/{}/packages", product.id);
    list_packages(call, list, Some(product.id), &path).await
}

/// The singular of a lookup kind, as its lookup row records it.
fn lookup_kind(kind: &str) -> &'static str {
    match kind {
        "engines" => "engine",
        "channels" => "channel",
        "platforms" => "platform",
        _ => "arch",
    }
}

async fn lookups(Call { state, auth }: Call, list: ListPage, kind: &'static str) -> ApiResult<Response> {
    may_create(&auth)?;
    let account_id = &auth.account.row.id;
    let result = projections::packages::lookups(&state.db, account_id, lookup_kind(kind), list.page).await?;
    Ok(paged_rows(
        &result,
        |row| lookup_resource(kind, row),
        &account_path(account_id, kind),
        &list,
    ))
}

async fn lookup(
    Call { state, auth }: Call,
    Path(params): Path<Vec<(String, String)>>,
    kind: &'static str,
) -> ApiResult<Response> {
    may_create(&auth)?;
    let id = params
        .into_iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let row = projections::packages::lookup(&state.db, &auth.account.row.id, lookup_kind(kind), &id)
        .await?
        .ok_or_else(|| ApiError::not_found(lookup_kind(kind), &id))?;
    Ok(single(StatusCode::OK, lookup_resource(kind, &row)))
}
