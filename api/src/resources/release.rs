//! The package, release, artifact, constraint and lookup (engine, channel, platform, arch)
//! resources.

use super::links::{account_path, account_relationships, empty_to_one, related};
use crate::jsonapi::{deep_camel, resource, timestamp, to_many};
use projections::artifacts::ArtifactRow;
use projections::packages::{LookupRow, PackageRow};
use projections::releases::{ConstraintRow, ReleaseRow};
use serde_json::{json, Map, Value};

fn metadata(text: &str) -> Value {
    deep_camel(serde_json::from_str(text).unwrap_or(json!({})))
}

/// The package resource.
pub(crate) fn package_resource(row: &PackageRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("key".into(), json!(row.key));
    attributes.insert("engine".into(), json!(row.engine));
    attributes.insert("metadata".into(), metadata(&row.metadata));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let base = format!("packages/{}", row.id);
    let mut relationships = account_relationships(account);
    relationships.insert("product".into(), related(account, "products", &row.product_id));
    relationships.insert(
        "releases".into(),
        to_many(account_path(account, &format!("{base}/releases"))),
    );
    resource(
        "packages",
        &row.id,
        attributes,
        relationships,
        account_path(account, &base),
    )
}

/// The `semver` attribute: the version's parts as Keygen renders them.
fn semver(version: &str) -> Value {
    match semver::Version::parse(version) {
        Ok(v) => json!({
            "major": v.major,
            "minor": v.minor,
            "patch": v.patch,
            "prerelease": Some(v.pre.as_str()).filter(|p| !p.is_empty()),
            "build": Some(v.build.as_str()).filter(|b| !b.is_empty()),
        }),
        Err(_) => Value::Null,
    }
}

/// The release resource.
pub(crate) fn release_resource(row: &ReleaseRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(row.name));
    attributes.insert("description".into(), json!(row.description));
    attributes.insert("channel".into(), json!(row.channel));
    attributes.insert("status".into(), json!(row.status));
    attributes.insert("tag".into(), json!(row.tag));
    attributes.insert("version".into(), json!(row.version));
    attributes.insert("semver".into(), semver(&row.version));
    attributes.insert("metadata".into(), metadata(&row.metadata));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    attributes.insert(
        "backdated".into(),
        row.backdated_at.map(timestamp).unwrap_or(Value::Null),
    );
    attributes.insert("yanked".into(), row.yanked_at.map(timestamp).unwrap_or(Value::Null));
    let account = &row.account_id;
    let base = format!("releases/{}", row.id);
    let link = |rel: &str| account_path(account, &format!("{base}/{rel}"));
    let mut relationships = account_relationships(account);
    relationships.insert("product".into(), related(account, "products", &row.product_id));
    let package = match &row.package_id {
        Some(package) => related(account, "packages", package),
        None => empty_to_one(link("package")),
    };
    relationships.insert("package".into(), package);
    for rel in ["entitlements", "constraints", "artifacts"] {
        relationships.insert(rel.into(), to_many(link(rel)));
    }
    relationships.insert("upgrade".into(), json!({ "links": { "related": link("upgrade") } }));
    resource(
        "releases",
        &row.id,
        attributes,
        relationships,
        account_path(account, &base),
    )
}

/// The constraint resource (a release requiring an entitlement).
pub(crate) fn constraint_resource(row: &ConstraintRow) -> Value {
    let mut attributes = Map::new();
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut relationships = account_relationships(account);
    relationships.insert(
        "entitlement".into(),
        related(account, "entitlements", &row.entitlement_id),
    );
    relationships.insert("release".into(), related(account, "releases", &row.release_id));
    let path = account_path(account, &format!("releases/{}/constraints/{}", row.release_id, row.id));
    resource("constraints", &row.id, attributes, relationships, path)
}

/// A lookup resource: `kind` is its JSON:API type (`engines`, `channels`, `platforms`, `arches`).
pub(crate) fn lookup_resource(kind: &str, row: &LookupRow) -> Value {
    let mut attributes = Map::new();
    if kind == "engines" {
        attributes.insert("name".into(), json!(engine_name(&row.key)));
    }
    if kind != "channels" && kind != "engines" {
        attributes.insert("name".into(), json!(row.key));
    }
    attributes.insert("key".into(), json!(row.key));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    resource(
        kind,
        &row.id,
        attributes,
        account_relationships(account),
        account_path(account, &format!("{kind}/{}", row.id)),
    )
}

/// How Keygen names an engine.
fn engine_name(key: &str) -> &str {
    match key {
        "pypi" => "PyPI",
        "tauri" => "Tauri",
        "raw" => "Raw",
        "rubygems" => "Rubygems",
        "npm" => "npm",
        "oci" => "OCI",
        other => other,
    }
}

/// The artifact resource; `status` is `YANKED` when its release is, and `redirect` the
/// presigned URL just made for it, if any.
pub(crate) fn artifact_resource(row: &ArtifactRow, release_yanked: bool, redirect: Option<&str>) -> Value {
    let mut attributes = Map::new();
    attributes.insert("filename".into(), json!(row.filename));
    attributes.insert("filetype".into(), json!(row.filetype));
    attributes.insert("filesize".into(), json!(row.filesize));
    attributes.insert("platform".into(), json!(row.platform));
    attributes.insert("arch".into(), json!(row.arch));
    attributes.insert("signature".into(), json!(row.signature));
    attributes.insert("checksum".into(), json!(row.checksum));
    let status = if release_yanked { "YANKED" } else { row.status.as_str() };
    attributes.insert("status".into(), json!(status));
    attributes.insert("metadata".into(), metadata(&row.metadata));
    attributes.insert("created".into(), timestamp(row.created_at));
    attributes.insert("updated".into(), timestamp(row.updated_at));
    let account = &row.account_id;
    let mut relationships = account_relationships(account);
    relationships.insert("release".into(), related(account, "releases", &row.release_id));
    relationships.insert("product".into(), related(account, "products", &row.product_id));
    let mut object = resource(
        "artifacts",
        &row.id,
        attributes,
        relationships,
        account_path(account, &format!("artifacts/{}", row.id)),
    );
    object["links"]["related"] = json!(artifact_vanity_path(row));
    if let Some(redirect) = redirect {
        object["links"]["redirect"] = json!(redirect);
    }
    object
}

/// The artifact's vanity path, `/v1/accounts/<account>/artifacts/<id>/<filename>` (what package
/// managers and updaters are sent to).
pub(crate) fn artifact_vanity_path(row: &ArtifactRow) -> String {
    account_path(
        &row.account_id,
        &format!("artifacts/{}/{}", row.id, crate::storage::path_segment(&row.filename)),
    )
}
