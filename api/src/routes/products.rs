//! Products: create, retrieve (by id or code), update, delete, list.

use crate::access::product::{listed_product, visible_product};
use crate::commands::cascade;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::jsonapi::{Attributes, JsonApiBody};
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, product_resource};
use crate::state::{execute, AppState};
use aggregates::product::{ProductAttributes, ProductCommand, ProductPatch};
use aggregates::ProductId;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(index).post(create))
        .route("/products/{id}", get(show).patch(update).delete(destroy))
}

const ATTRIBUTES: &[&str] = &[
    "name",
    "code",
    "distribution_strategy",
    "url",
    "platforms",
    "permissions",
    "metadata",
];

fn patch_from(a: &Attributes) -> ApiResult<ProductPatch> {
    a.permit(ATTRIBUTES)?;
    Ok(ProductPatch {
        name: a.string("name")?.patch().map(Option::unwrap_or_default),
        code: a.string("code")?.patch(),
        distribution_strategy: a
            .string("distribution_strategy")?
            .patch()
            .map(|s| s.unwrap_or_default()),
        url: a.string("url")?.patch(),
        platforms: a.string_list("platforms")?.patch(),
        permissions: a.string_list("permissions")?.patch().map(Option::unwrap_or_default),
        metadata: a.object("metadata")?.patch().map(Option::unwrap_or_default),
    })
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    auth.require_admin()?;
    let data = body.resource("products", "product")?;
    data.no_relationships()?;
    let a = &data.attributes;
    let name = a.required_string("name")?;
    let patch = patch_from(a)?;
    let attributes = patch.apply_to(ProductAttributes::named(name));
    let id = uuid::Uuid::new_v4().to_string();
    let command = ProductCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        attributes,
        at: state.now(),
    };
    execute(
        &state.frameworks.product,
        &ProductId::from(&id),
        command,
        auth.metadata(),
    )
    .await?;
    let row = projections::products::find(&state.db, &auth.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    Ok(created(product_resource(&row)))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_product(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, product_resource(&row)))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_product(&state, &auth, &id).await?;
    let data = body.resource("products", "product")?;
    data.no_relationships()?;
    let patch = patch_from(&data.attributes)?;
    execute(
        &state.frameworks.product,
        &ProductId::from(&row.id),
        ProductCommand::Update { patch, at: state.now() },
        auth.metadata(),
    )
    .await?;
    let row = projections::products::find(&state.db, &auth.account.row.id, &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    Ok(single(StatusCode::OK, product_resource(&row)))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_product(&state, &auth, &id).await?;
    auth.require_admin()?;
    cascade::delete_product(&state, &auth, &row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let only = listed_product(&auth)?;
    let result = projections::products::list(&state.db, account_id, only, list.page).await?;
    Ok(paged_rows(
        &result,
        product_resource,
        &account_path(account_id, "products"),
        &list,
    ))
}
