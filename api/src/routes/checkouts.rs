//! License and machine files: `POST …/actions/check-out` answers the `license-files` (or
//! `machine-files`) resource, `GET …/actions/check-out` the certificate alone, as an attachment.

use crate::access::license::visible_license;
use crate::access::machine::visible_machine;
use crate::commands::checkout::{self, CheckedOut, CheckoutOptions, LICENSE_INCLUDES, MACHINE_INCLUDES};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Call, QueryParams, ResourceId};
use crate::jsonapi::JsonApiBody;
use crate::render::{attachment, single};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Map;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/licenses/{id}/actions/check-out",
            get(download_license).post(check_out_license),
        )
        .route(
            "/machines/{id}/actions/check-out",
            get(download_machine).post(check_out_machine),
        )
}

/// The options of a POST: its query, and its body's `meta` (a body may hold nothing else).
fn posted(query: &QueryParams, body: &JsonApiBody, allowed: &[&str]) -> ApiResult<CheckoutOptions> {
    if body.raw_data().is_some() {
        return Err(ApiError::unpermitted("/data"));
    }
    CheckoutOptions::parse(&query.0, &body.meta()?, allowed)
}

fn downloaded(file: CheckedOut) -> Response {
    attachment(&format!("{}.lic", file.id), file.certificate.into_bytes())
}

async fn check_out_license(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    query: QueryParams,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let license = visible_license(&state, &auth, &id).await?;
    let options = posted(&query, &body, LICENSE_INCLUDES)?;
    let file = checkout::license_file(&state, &auth, &license, &options).await?;
    Ok(single(StatusCode::OK, file.resource))
}

async fn download_license(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    query: QueryParams,
) -> ApiResult<Response> {
    let license = visible_license(&state, &auth, &id).await?;
    let options = CheckoutOptions::parse(&query.0, &Map::new(), LICENSE_INCLUDES)?;
    Ok(downloaded(
        checkout::license_file(&state, &auth, &license, &options).await?,
    ))
}

async fn check_out_machine(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    query: QueryParams,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let machine = visible_machine(&state, &auth, &id).await?;
    let options = posted(&query, &body, MACHINE_INCLUDES)?;
    let file = checkout::machine_file(&state, &auth, &machine, &options).await?;
    Ok(single(StatusCode::OK, file.resource))
}

async fn download_machine(
    Call { state, auth }: Call,
    ResourceId(id): ResourceId,
    query: QueryParams,
) -> ApiResult<Response> {
    let machine = visible_machine(&state, &auth, &id).await?;
    let options = CheckoutOptions::parse(&query.0, &Map::new(), MACHINE_INCLUDES)?;
    Ok(downloaded(
        checkout::machine_file(&state, &auth, &machine, &options).await?,
    ))
}
