//! Artifacts: create (307 to a presigned upload URL), list, download (303 to a presigned
//! download URL; the vanity `/artifacts/{id}/{filename}` and `/releases/{id}/artifacts/{a}`
//! too), update, delete.

use crate::access::release::{
    audience, closed_to, download_ttl, managed_release, may_manage, visible_release, URL_TTL,
};
use crate::commands::artifact::{downloaded, key_of, settle_upload};
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    related_not_found, request_origin, required_relationship, Call, ListPage, MaybeCall, QueryParams, ResourceId,
    Segments,
};
use crate::jsonapi::{Attributes, JsonApiBody};
use crate::render::{document, paged_rows};
use crate::resources::{account_path, artifact_resource};
use crate::state::{execute, AppState};
use aggregates::release::artifact::{ArtifactAttributes, ArtifactPatch};
use aggregates::release::ReleaseCommand;
use aggregates::ReleaseId;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use projections::artifacts::{ArtifactFilter, ArtifactRow};
use projections::releases::{Audience, ReleaseFilter};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(index).post(create))
        .route("/artifacts/{id}", get(show).patch(update).delete(destroy))
        .route("/artifacts/{id}/{filename}", get(show))
        .route("/releases/{release}/artifacts", get(index_of_release))
        .route("/releases/{release}/artifacts/{id}", get(show_of_release))
        .route("/products/{id}/artifacts", get(index_of_product))
}

/// What a `Prefer` header (or `?prefer=`) asks: no redirect, no download.
fn prefers(headers: &HeaderMap, query: &HashMap<String, String>, what: &str) -> bool {
    let header = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim() == what));
    header
        || query
            .get("prefer")
            .is_some_and(|p| p.split(',').any(|p| p.trim() == what))
}

/// A document answered with a `Location`.
fn located(status: StatusCode, body: serde_json::Value, location: &str) -> ApiResult<Response> {
    let mut response = document(status, body);
    let value = HeaderValue::from_str(location).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}

fn attributes_from(a: &Attributes) -> ApiResult<ArtifactAttributes> {
    a.permit(&[
        "filename",
        "filetype",
        "filesize",
        "platform",
        "arch",
        "signature",
        "checksum",
        "metadata",
    ])?;
    Ok(ArtifactAttributes {
        filename: a.required_string("filename")?,
        filetype: a.string("filetype")?.value(),
        filesize: a.integer("filesize")?.value(),
        platform: a.string("platform")?.value(),
        arch: a.string("arch")?.value(),
        signature: a.string("signature")?.value(),
        checksum: a.string("checksum")?.value(),
        metadata: a.object("metadata")?.value().unwrap_or_default(),
    })
}

async fn create(
    Call { state, auth }: Call,
    headers: HeaderMap,
    QueryParams(query): QueryParams,
    body: JsonApiBody,
) -> ApiResult<Response> {
    let data = body.resource("artifacts", "artifact")?;
    data.permit_relationships(&["release"])?;
    let attributes = attributes_from(&data.attributes)?;
    let release_id = required_relationship(&data, "release", &["releases", "release"])?;
    let release = managed_release(&state, &auth, &release_id)
        .await
        .map_err(|e| match e.status {
            StatusCode::FORBIDDEN => e,
            _ => related_not_found("release"),
        })?;
    let artifact_id = uuid::Uuid::new_v4().to_string();
    let command = ReleaseCommand::CreateArtifact {
        artifact_id: artifact_id.clone(),
        attributes,
        at: state.now(),
    };
    execute(
        &state.frameworks.release,
        &ReleaseId::from(&release.id),
        command,
        auth.metadata(),
    )
    .await?;
    let account_id = &auth.account.row.id;
    let row = find(
        &state,
        account_id,
        &Audience::Everyone,
        &ArtifactFilter::default(),
        &artifact_id,
    )
    .await?;
    let url = state
        .storage()
        .presign(
            Method::PUT,
            &key_of(&row),
            Duration::from_secs(URL_TTL),
            &request_origin(&headers),
            &auth.account.token_secret,
            state.now(),
        )
        .await
        .map_err(ApiError::internal)?;
    let body = json!({ "data": artifact_resource(&row, false, Some(&url)) });
    let status = if prefers(&headers, &query, "no-redirect") {
        StatusCode::OK
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    located(status, body, &url)
}

/// An artifact of a release `audience` may see, by id or filename, or a 404.
async fn find(
    state: &AppState,
    account_id: &str,
    audience: &Audience,
    filter: &ArtifactFilter,
    id: &str,
) -> ApiResult<ArtifactRow> {
    let releases = ReleaseFilter::default();
    projections::artifacts::find(&state.db, account_id, audience, &releases, filter, id)
        .await?
        .ok_or_else(|| ApiError::not_found("artifact", id))
}

/// Answers an artifact: a 303 to its bytes when it can be downloaded (`Prefer: no-redirect`: a
/// 200 with the `Location`), else its document.
async fn download(
    call: MaybeCall,
    headers: HeaderMap,
    query: HashMap<String, String>,
    filter: ArtifactFilter,
    id: &str,
) -> ApiResult<Response> {
    let MaybeCall { state, account, auth } = call;
    let audience = audience(&state, auth.as_ref()).await?;
    let mut row = match find(&state, &account.row.id, &audience, &filter, id).await {
        Err(not_found) => {
            return Err(closed_to(&state, &account.row.id, &audience, &filter, id)
                .await?
                .unwrap_or(not_found))
        }
        found => found?,
    };
    let metadata = match &auth {
        Some(auth) => auth.metadata(),
        None => HashMap::from([("account_id".to_string(), account.row.id.clone())]),
    };
    if settle_upload(&state, &row, metadata.clone()).await? {
        row = find(&state, &account.row.id, &audience, &filter, &row.id).await?;
    }
    let release = visible_release(
        &state,
        &account.row.id,
        &audience,
        &ReleaseFilter::default(),
        &row.release_id,
    )
    .await?;
    let yanked = release.status == "YANKED";
    let downloadable = row.status == "UPLOADED" && !yanked;
    if !downloadable || prefers(&headers, &query, "no-download") {
        return Ok(document(
            StatusCode::OK,
            json!({ "data": artifact_resource(&row, yanked, None) }),
        ));
    }
    let ttl = download_ttl(&audience, &query)?;
    let url = state
        .storage()
        .presign(
            Method::GET,
            &key_of(&row),
            Duration::from_secs(ttl),
            &request_origin(&headers),
            &account.token_secret,
            state.now(),
        )
        .await
        .map_err(ApiError::internal)?;
    downloaded(&state, &row, auth.as_ref(), metadata).await?;
    let body = json!({ "data": artifact_resource(&row, false, Some(&url)) });
    let status = if prefers(&headers, &query, "no-redirect") {
        StatusCode::OK
    } else {
        StatusCode::SEE_OTHER
    };
    located(status, body, &url)
}

fn filter_from(query: &HashMap<String, String>) -> ArtifactFilter {
    ArtifactFilter {
        release: query.get("release").cloned(),
        platform: query.get("platform").map(|p| p.to_lowercase()),
        arch: query.get("arch").map(|a| a.to_lowercase()),
        filetype: query.get("filetype").map(|f| f.to_lowercase()),
        status: query.get("status").map(|s| s.to_uppercase()),
    }
}

async fn show(
    call: MaybeCall,
    headers: HeaderMap,
    ResourceId(id): ResourceId,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let filter = filter_from(&query);
    download(call, headers, query, filter, &id).await
}

async fn show_of_release(
    call: MaybeCall,
    headers: HeaderMap,
    path: Segments,
    QueryParams(query): QueryParams,
) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let release_id = path.get("release").to_string();
    let release = visible_release(
        &call.state,
        &call.account.row.id,
        &audience,
        &ReleaseFilter::default(),
        &release_id,
    )
    .await?;
    let filter = ArtifactFilter {
        release: Some(release.id),
        ..ArtifactFilter::default()
    };
    let id = path.get("id").to_string();
    download(call, headers, query, filter, &id).await
}

async fn list_with(call: MaybeCall, list: ListPage, filter: ArtifactFilter, path: &str) -> ApiResult<Response> {
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let account_id = &call.account.row.id;
    let releases = ReleaseFilter::default();
    let result =
        projections::artifacts::list(&call.state.db, account_id, &audience, &releases, &filter, list.page).await?;
    Ok(paged_rows(
        &result,
        |row| artifact_resource(row, false, None),
        &account_path(account_id, path),
        &list,
    ))
}

async fn index(call: MaybeCall, list: ListPage) -> ApiResult<Response> {
    let filter = filter_from(&list.query);
    list_with(call, list, filter, "artifacts").await
}

async fn index_of_release(call: MaybeCall, path: Segments, list: ListPage) -> ApiResult<Response> {
    let release_id = path.get("release").to_string();
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let release = visible_release(
        &call.state,
        &call.account.row.id,
        &audience,
        &ReleaseFilter::default(),
        &release_id,
    )
    .await?;
    let mut filter = filter_from(&list.query);
    filter.release = Some(release.id.clone());
    list_with(call, list, filter, &format!("releases/{}/artifacts", release.id)).await
}

/// `/products/{id}/artifacts`.
async fn index_of_product(call: MaybeCall, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let product = projections::products::find(&call.state.db, &call.account.row.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", &id))?;
    let audience = audience(&call.state, call.auth.as_ref()).await?;
    let releases = ReleaseFilter {
        product: Some(product.id.clone()),
        ..Default::default()
    };
    let filter = filter_from(&list.query);
    let account_id = &call.account.row.id;
    let result =
        projections::artifacts::list(&call.state.db, account_id, &audience, &releases, &filter, list.page).await?;
    Ok(paged_rows(
        &result,
        |row| artifact_resource(row, false, None),
        &account_path(account_id, &format!("products/{}/artifacts", product.id)),
        &list,
    ))
}

/// An artifact the caller may manage (its product's or an admin).
async fn managed(state: &AppState, auth: &crate::auth::Auth, id: &str) -> ApiResult<ArtifactRow> {
    let audience = audience(state, Some(auth)).await?;
    let row = find(state, &auth.account.row.id, &audience, &ArtifactFilter::default(), id).await?;
    may_manage(auth, &row.product_id)?;
    Ok(row)
}

/// Runs a command on the release of the artifact `row` is.
async fn on_release_of(
    state: &AppState,
    auth: &crate::auth::Auth,
    row: &ArtifactRow,
    command: ReleaseCommand,
) -> ApiResult<()> {
    let release = ReleaseId::from(&row.release_id);
    execute(&state.frameworks.release, &release, command, auth.metadata()).await
}

async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let row = managed(&state, &auth, &id).await?;
    let data = body.resource("artifacts", "artifact")?;
    data.no_relationships()?;
    let a = &data.attributes;
    a.permit(&["filesize", "signature", "checksum", "metadata"])?;
    let patch = ArtifactPatch {
        filesize: a.integer("filesize")?.patch(),
        signature: a.string("signature")?.patch(),
        checksum: a.string("checksum")?.patch(),
        metadata: a.object("metadata")?.patch().map(Option::unwrap_or_default),
    };
    let command = ReleaseCommand::UpdateArtifact {
        artifact_id: row.id.clone(),
        patch,
        at: state.now(),
    };
    on_release_of(&state, &auth, &row, command).await?;
    let row = find(
        &state,
        &auth.account.row.id,
        &Audience::Everyone,
        &ArtifactFilter::default(),
        &row.id,
    )
    .await?;
    Ok(document(
        StatusCode::OK,
        json!({ "data": artifact_resource(&row, false, None) }),
    ))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let row = managed(&state, &auth, &id).await?;
    let command = ReleaseCommand::DeleteArtifact {
        artifact_id: row.id.clone(),
        at: state.now(),
    };
    on_release_of(&state, &auth, &row, command).await?;
    state
        .storage()
        .delete(&key_of(&row))
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}
