//! Artifacts' bytes: whether an upload has arrived (checked when a client asks and by the
//! watcher, which gives one up after Keygen's hour), and what a download records
//! (`artifact.downloaded` and `release.downloaded`, observations).

use crate::auth::{Auth, Bearer};
use crate::commands::license::license_policy;
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState};
use crate::storage::artifact_key;
use aggregates::license::LicenseCommand;
use aggregates::release::artifact::upload_deadline;
use aggregates::release::ReleaseCommand;
use aggregates::vocabulary::ExpirationBasis;
use aggregates::LicenseId;
use aggregates::ReleaseId;
use projections::artifacts::ArtifactRow;
use projections::writer::Observed;
use serde_json::json;
use std::collections::HashMap;

/// The object key of an artifact's bytes.
pub(crate) fn key_of(row: &ArtifactRow) -> String {
    artifact_key(&row.account_id, &row.release_id, &row.filename)
}

/// Moves a waiting artifact to `UPLOADED` once its object is in storage, or to `FAILED` once
/// its upload deadline has passed; answers whether it changed.
pub(crate) async fn settle_upload(
    state: &AppState,
    row: &ArtifactRow,
    metadata: HashMap<String, String>,
) -> ApiResult<bool> {
    if row.status != "WAITING" {
        return Ok(false);
    }
    let size = state.storage().size(&key_of(row)).await.map_err(ApiError::internal)?;
    let now = state.now();
    let command = match size {
        Some(size) => ReleaseCommand::ArtifactUploaded {
            artifact_id: row.id.clone(),
            filesize: i64::try_from(size).ok(),
            manifest: manifest_of(state, row).await?,
            at: now,
        },
        None if now > upload_deadline(projections::from_micros(row.created_at)) => ReleaseCommand::ArtifactFailed {
            artifact_id: row.id.clone(),
            at: now,
        },
        None => return Ok(false),
    };
    execute(
        &state.frameworks.release,
        &ReleaseId::from(&row.release_id),
        command,
        metadata,
    )
    .await?;
    Ok(true)
}

/// The largest npm tarball whose `package.json` is read.
const MAX_MANIFEST_TARBALL: usize = 64 * 1024 * 1024;

/// The package manifest of an uploaded artifact whose engine serves one: an npm package's
/// `.tgz` holds `package/package.json`. None for anything else, or when it cannot be read (the
/// engine then leaves the artifact out, as Keygen leaves out what it could not parse).
async fn manifest_of(state: &AppState, row: &ArtifactRow) -> ApiResult<Option<serde_json::Value>> {
    if !row.filename.ends_with(".tgz") {
        return Ok(None);
    }
    let release = projections::releases::find_by_id(&state.db, &row.account_id, &row.release_id).await?;
    let Some(package_id) = release.and_then(|r| r.package_id) else {
        return Ok(None);
    };
    let package = projections::packages::find(&state.db, &row.account_id, &package_id).await?;
    if package.and_then(|p| p.engine).as_deref() != Some("npm") {
        return Ok(None);
    }
    let Some((size, mut stream)) = state
        .storage()
        .get_stream(&key_of(row))
        .await
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    if size as usize > MAX_MANIFEST_TARBALL {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(size as usize);
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        bytes.extend_from_slice(&chunk.map_err(ApiError::internal)?);
    }
    let manifest = tokio::task::spawn_blocking(move || package_json(&bytes))
        .await
        .map_err(ApiError::internal)?;
    Ok(manifest)
}

/// `package/package.json` of an npm tarball, parsed.
fn package_json(tgz: &[u8]) -> Option<serde_json::Value> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let path = entry.path().ok()?.to_string_lossy().to_string();
        if path == "package/package.json" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).ok()?;
            return serde_json::from_str(&text).ok().filter(serde_json::Value::is_object);
        }
    }
    None
}

/// Checks every waiting artifact once (the upload watcher's round); answers how many changed.
pub async fn sweep_uploads(state: &AppState) -> ApiResult<usize> {
    let mut changed = 0;
    for row in projections::artifacts::waiting(&state.db, 500).await? {
        let mut metadata = HashMap::new();
        metadata.insert("account_id".to_string(), row.account_id.clone());
        if settle_upload(state, &row, metadata).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Records a download of `row` (the artifact's and its release's events, as Keygen emits both)
/// and, when a license downloads under a policy whose expiry starts at the first download,
/// starts its expiry.
pub(crate) async fn downloaded(
    state: &AppState,
    row: &ArtifactRow,
    auth: Option<&Auth>,
    metadata: HashMap<String, String>,
) -> ApiResult<()> {
    if let Some(Bearer::License { license_id }) = auth.map(|a| &a.bearer) {
        let license = projections::licenses::find(&state.db, &row.account_id, license_id).await?;
        if let Some(license) = license.filter(|l| l.expiry.is_none()) {
            let policy = license.policy()?;
            if policy.duration.is_some() && policy.expiration_basis == ExpirationBasis::FromFirstDownload {
                let command = LicenseCommand::StartExpiryOnDownload {
                    policy: license_policy(&license)?,
                    at: state.now(),
                };
                let id = LicenseId::from(&license.id);
                execute(&state.frameworks.license, &id, command, metadata.clone()).await?;
            }
        }
    }
    let at = state.now().timestamp_micros();
    for (event_type, resource_type, resource_id) in [
        ("artifact.downloaded", "artifacts", &row.id),
        ("release.downloaded", "releases", &row.release_id),
    ] {
        let observed = Observed {
            account_id: row.account_id.clone(),
            event_type: Some(event_type),
            resource_type,
            resource_id: resource_id.clone(),
            payload: json!({ "artifact": row.id, "release": row.release_id, "filename": row.filename }),
            metadata: json!(metadata),
            at,
            deadline: None,
        };
        state.observations.record(observed).await?;
    }
    Ok(())
}

/// How often the upload watcher checks (Keygen polls every 30 seconds).
pub const UPLOAD_SCAN: std::time::Duration = std::time::Duration::from_secs(30);

/// The upload watcher: a round every `interval` until `shutdown`.
pub async fn run(state: AppState, interval: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(err) = sweep_uploads(&state).await {
            tracing::error!(error = %err.error.detail, "upload sweep failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => break,
        }
    }
}
