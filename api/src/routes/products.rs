//! Products: create, retrieve (by id or code), update, delete, list.

use super::{account_path, created, paged, single, ListPage, ResourceId};
use crate::auth::{Auth, Bearer};
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many, to_one, Attributes, JsonApiBody};
use crate::state::{execute, now, AppState};
use aggregates::product::{ProductAttributes, ProductCommand, ProductPatch};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::products::ProductRow;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(index).post(create))
        .route("/products/{id}", get(show).patch(update).delete(destroy))
}

fn json_text(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// The product resource.
pub(crate) fn product_resource(row: &ProductRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("code".into(), json!(row.code));
    attributes.insert("distributionStrategy".into(), json!(row.distribution_strategy));
    attributes.insert("url".into(), json!(row.url));
    attributes.insert("platforms".into(), json_text(row.platforms.as_deref()));
    attributes.insert("permissions".into(), json_text(Some(&row.permissions)));
    attributes.insert("metadata".into(), deep_camel(json_text(Some(&row.metadata))));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("products/{}", row.id);
    let mut relationships = Map::new();
    relationships.insert(
        "account".into(),
        to_one("accounts", account, Some(format!("/v1/accounts/{account}"))),
    );
    for rel in ["policies", "licenses", "machines", "users", "tokens"] {
        relationships.insert(rel.into(), to_many(account_path(account, &format!("{base}/{rel}"))));
    }
    resource(
        "products",
        &row.id,
        attributes,
        relationships,
        account_path(account, &base),
    )
}

/// A product the bearer can see: admins any of the account's, a product only itself.
pub(crate) async fn visible_product(state: &AppState, auth: &Auth, id: &str) -> ApiResult<ProductRow> {
    let row = projections::products::find(&state.db.any, &auth.account.row.id, id).await?;
    match (row, &auth.bearer) {
        (Some(row), Bearer::Admin { .. }) => Ok(row),
        (Some(row), Bearer::Product { product_id }) if *product_id == row.id => Ok(row),
        _ => Err(ApiError::not_found("product", id)),
    }
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

async fn create(State(state): State<AppState>, auth: Auth, body: JsonApiBody) -> ApiResult<Response> {
    auth.require_admin()?;
    let data = body.resource("products", "product")?;
    data.no_relationships()?;
    let a = &data.attributes;
    let name = a.required_string("name")?;
    let patch = patch_from(a)?;
    let attributes = ProductAttributes {
        name,
        code: patch.code.flatten(),
        distribution_strategy: patch.distribution_strategy.unwrap_or_else(|| "LICENSED".into()),
        url: patch.url.flatten(),
        platforms: patch.platforms.flatten(),
        permissions: patch.permissions.unwrap_or_else(|| vec!["*".into()]),
        metadata: patch.metadata.unwrap_or_default(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let command = ProductCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        attributes,
        at: now(),
    };
    execute(&state.frameworks.product, &id, command, auth.metadata()).await?;
    let row = projections::products::find(&state.db.any, &auth.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    Ok(created(product_resource(&row)))
}

async fn show(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_product(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, product_resource(&row)))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ResourceId(id): ResourceId,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let row = visible_product(&state, &auth, &id).await?;
    let data = body.resource("products", "product")?;
    data.no_relationships()?;
    let patch = patch_from(&data.attributes)?;
    execute(
        &state.frameworks.product,
        &row.id,
        ProductCommand::Update { patch, at: now() },
        auth.metadata(),
    )
    .await?;
    let row = projections::products::find(&state.db.any, &auth.account.row.id, &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    Ok(single(StatusCode::OK, product_resource(&row)))
}

async fn destroy(State(state): State<AppState>, auth: Auth, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_product(&state, &auth, &id).await?;
    auth.require_admin()?;
    super::cascade::delete_product(&state, &auth, &row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(State(state): State<AppState>, auth: Auth, ListPage(page, links): ListPage) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let only = match &auth.bearer {
        Bearer::Admin { .. } => None,
        Bearer::Product { product_id } => Some(product_id.as_str()),
        Bearer::User { .. } | Bearer::License { .. } => {
            return Err(ApiError::forbidden("bearer lacks permission to list products"))
        }
    };
    let result = projections::products::list(&state.db.any, account_id, only, page).await?;
    let items = result.items.iter().map(product_resource).collect();
    Ok(paged(
        items,
        &account_path(account_id, "products"),
        &links,
        &page,
        result.total,
    ))
}
