//! Webhook endpoints: create, retrieve, update, delete, list. A URL is checked against the
//! address rule (no private, loopback or link-local address unless the operator allows its
//! network) when it is set, and again at every delivery.

use crate::access::product::visible_product;
use crate::access::webhook::{visible_endpoint, webhook_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, ListPage, ResourceId};
use crate::jsonapi::{Attributes, JsonApiBody};
use crate::middleware::{ApiVersion, SUPPORTED_VERSIONS};
use crate::render::{created, paged_rows, single};
use crate::resources::{account_path, webhook_endpoint_resource};
use crate::state::{execute, AppState};
use aggregates::webhook_endpoint::{EndpointAttributes, EndpointCommand, EndpointPatch};
use aggregates::{DomainError, WebhookEndpointId};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use std::time::Duration;
use workers::webhook_address::{deliverable, Refusal, SystemResolver};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook-endpoints", get(index).post(create))
        .route("/webhook-endpoints/{id}", get(show).patch(update).delete(destroy))
}

const ATTRIBUTES: &[&str] = &["url", "subscriptions", "signature_algorithm", "api_version"];

fn patch_from(a: &Attributes) -> ApiResult<EndpointPatch> {
    a.permit(ATTRIBUTES)?;
    let api_version = a.string("api_version")?.value();
    if let Some(version) = &api_version {
        if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
            return Err(DomainError::invalid("api_version", "NOT_ALLOWED", "unsupported API version").into());
        }
    }
    Ok(EndpointPatch {
        url: a.string("url")?.value(),
        subscriptions: a.string_list("subscriptions")?.value(),
        signature_algorithm: a.string("signature_algorithm")?.value(),
        api_version,
    })
}

/// Whether `url` may be delivered to plainly over http; refuses one that reaches an internal
/// address the operator did not allow. A host that does not resolve now is taken (delivery
/// checks again).
async fn check_address(state: &AppState, url: &str) -> ApiResult<bool> {
    let allowed = state.webhook_networks.read().expect("webhook networks").clone();
    let checked = tokio::time::timeout(Duration::from_secs(5), deliverable(url, &allowed, &SystemResolver)).await;
    let invalid = |detail: &str| -> ApiError { DomainError::invalid("url", "INVALID", detail).into() };
    match checked {
        Ok(Ok(_)) => Ok(url.starts_with("http://")),
        Ok(Err(Refusal::Internal(_))) => Err(invalid("must not resolve to a private, loopback or link-local address")),
        Ok(Err(Refusal::Unresolved)) | Err(_) => Ok(false),
        Ok(Err(Refusal::Invalid | Refusal::NotHttps)) => Err(invalid(
            "must be a valid URL using one of the following protocols: https",
        )),
    }
}

async fn create(
    Call { state, auth }: Call,
    version: Option<Extension<ApiVersion>>,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let scope = webhook_scope(&auth)?;
    let data = body.resource("webhook-endpoints", "webhook-endpoint")?;
    data.permit_relationships(&["product"])?;
    let a = &data.attributes;
    let url = a.required_string("url")?;
    let patch = patch_from(a)?;
    // A product's endpoint is its own; an admin may scope one to a product.
    let product_id = match (scope, data.relationship("product", &["products", "product"])?.value()) {
        (Some(own), _) => Some(own.to_string()),
        (None, Some(id)) => Some(visible_product(&state, &auth, &id).await?.id),
        (None, None) => None,
    };
    let plain_http_allowed = check_address(&state, &url).await?;
    let default_version = version.map(|Extension(v)| v.0).unwrap_or_else(|| "1.8".into());
    let attributes = patch.apply_to(EndpointAttributes {
        url,
        subscriptions: vec!["*".into()],
        signature_algorithm: "ed25519".into(),
        api_version: default_version,
        product_id,
    });
    let id = uuid::Uuid::new_v4().to_string();
    let command = EndpointCommand::Create {
        id: id.clone(),
        account_id: auth.account.row.id.clone(),
        attributes,
        plain_http_allowed,
        at: state.now(),
    };
    let endpoint = WebhookEndpointId::from(&id);
    execute(&state.frameworks.webhook_endpoint, &endpoint, command, auth.metadata()).await?;
    let row = visible_endpoint(&state, &auth, &id).await?;
    Ok(created(webhook_endpoint_resource(&row)))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let row = visible_endpoint(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, webhook_endpoint_resource(&row)))
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = visible_endpoint(&state, &auth, &id).await?;
    let data = body.resource("webhook-endpoints", "webhook-endpoint")?;
    data.no_relationships()?;
    let patch = patch_from(&data.attributes)?;
    let url = patch.url.clone().unwrap_or_else(|| row.url.clone());
    let plain_http_allowed = check_address(&state, &url).await?;
    let command = EndpointCommand::Update {
        patch,
        plain_http_allowed,
        at: state.now(),
    };
    let endpoint = WebhookEndpointId::from(&row.id);
    execute(&state.frameworks.webhook_endpoint, &endpoint, command, auth.metadata()).await?;
    let row = visible_endpoint(&state, &auth, &row.id).await?;
    Ok(single(StatusCode::OK, webhook_endpoint_resource(&row)))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = visible_endpoint(&state, &auth, &id).await?;
    let command = EndpointCommand::Delete { at: state.now() };
    let endpoint = WebhookEndpointId::from(&row.id);
    execute(&state.frameworks.webhook_endpoint, &endpoint, command, auth.metadata()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn index(Call { state, auth }: Call, list: ListPage) -> ApiResult<Response> {
    let account_id = &auth.account.row.id;
    let scope = webhook_scope(&auth)?;
    let result = projections::webhook_endpoints::list(&state.db, account_id, scope, list.page).await?;
    Ok(paged_rows(
        &result,
        webhook_endpoint_resource,
        &account_path(account_id, "webhook-endpoints"),
        &list,
    ))
}
