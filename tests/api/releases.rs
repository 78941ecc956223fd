//! Packages and releases: keys and versions unique where Keygen makes them so, channels and
//! semver rules, publish and yank, entitlement constraints, who sees which release under each
//! distribution strategy and expiration strategy, and the upgrade endpoint.
//!
//! Over 420 lines on purpose: each rule of who sees what needs its own product, policy and
//! license, and the upgrade rules their own ladder of versions.

use crate::helpers::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Creates a package as the admin.
pub(crate) async fn create_package(app: &TestApp, product_id: &str, key: &str, engine: Option<&str>) -> Value {
    let body = json!({"data": {"type": "packages",
        "attributes": {"name": key, "key": key, "engine": engine},
        "relationships": {"product": {"data": {"type": "products", "id": product_id}}}}});
    let reply = app
        .send(Method::POST, &app.path("packages"), Some(app.admin()), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json["data"].clone()
}

/// `POST /releases` as the admin with `attributes`, for a product and maybe a package.
pub(crate) async fn try_release(
    app: &TestApp,
    product_id: &str,
    package_id: Option<&str>,
    attributes: Value,
) -> crate::helpers::Reply {
    let mut relationships = json!({"product": {"data": {"type": "products", "id": product_id}}});
    if let Some(package) = package_id {
        relationships["package"] = json!({"data": {"type": "packages", "id": package}});
    }
    let body = json!({"data": {"type": "releases", "attributes": attributes, "relationships": relationships}});
    app.send(Method::POST, &app.path("releases"), Some(app.admin()), Some(body))
        .await
}

/// A published release of `version` on `channel`.
pub(crate) async fn published(
    app: &TestApp,
    product_id: &str,
    package_id: Option<&str>,
    version: &str,
    channel: &str,
) -> Value {
    let attributes = json!({"version": version, "channel": channel, "status": "PUBLISHED"});
    let reply = try_release(app, product_id, package_id, attributes).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json["data"].clone()
}

/// Constrains a release to an entitlement, as the admin.
pub(crate) async fn constrain(app: &TestApp, release_id: &str, entitlement_id: &str) {
    let attach = json!({"data": [{"type": "constraints",
        "relationships": {"entitlement": {"data": {"type": "entitlements", "id": entitlement_id}}}}]});
    let path = app.path(&format!("releases/{release_id}/constraints"));
    let reply = app.send(Method::POST, &path, Some(app.admin()), Some(attach)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// A product with `strategy`, a policy with `policy_attributes` and a license: (product, license key, license).
async fn licensee(app: &TestApp, strategy: &str, mut policy_attributes: Value) -> (Value, String, Value) {
    policy_attributes["authenticationStrategy"] = json!("LICENSE");
    let product = app.create_product("Distributed", None).await;
    let patch = json!({"data": {"type": "products", "attributes": {"distributionStrategy": strategy}}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("products/{}", id(&product))),
            Some(app.admin()),
            Some(patch),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let policy = app.create_policy(id(&product), policy_attributes).await;
    let license = app.create_license(id(&policy), json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap().to_string();
    (product, key, license)
}

async fn as_license(app: &TestApp, key: &str, rest: &str) -> crate::helpers::Reply {
    app.send_with_authorization(Method::GET, &app.path(rest), Some(&format!("License {key}")))
        .await
}

#[tokio::test]
async fn package_keys_are_unique_per_account_and_pypi_keys_normalized() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let other = app.create_product("Other", None).await;
    let package = create_package(&app, id(&product), "My__Tool.cli", Some("PyPI")).await;
    assert_eq!(package["attributes"]["key"], "My-Tool-cli");
    assert_eq!(package["attributes"]["engine"], "pypi");
    let shown = app.get("packages/My-Tool-cli").await;
    assert_eq!(shown.json["data"]["id"], package["id"]);
    let body = json!({"data": {"type": "packages", "attributes": {"name": "x", "key": "My-Tool-cli"},
        "relationships": {"product": {"data": {"type": "products", "id": id(&other)}}}}});
    let taken = app
        .send(Method::POST, &app.path("packages"), Some(app.admin()), Some(body))
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (taken.error_code(), taken.error_pointer()),
        ("KEY_TAKEN", "/data/attributes/key")
    );
    let engines = app.get("engines").await;
    assert_eq!(engines.json["data"][0]["attributes"]["key"], "pypi");
    let listed = app.get("packages?engine=pypi").await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn versions_follow_semver_and_their_channel() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    for (version, channel, code, pointer) in [
        ("1.2", "stable", "VERSION_INVALID", "/data/attributes/version"),
        (
            "1.0.0-nightly.1",
            "dev",
            "VERSION_CHANNEL_INVALID",
            "/data/attributes/version",
        ),
        (
            "1.0.0-beta.1",
            "stable",
            "VERSION_CHANNEL_INVALID",
            "/data/attributes/version",
        ),
        ("1.0.0", "beta", "VERSION_CHANNEL_INVALID", "/data/attributes/version"),
        ("1.0.0", "nightly", "CHANNEL_NOT_ALLOWED", "/data/attributes/channel"),
    ] {
        let reply = try_release(
            &app,
            id(&product),
            None,
            json!({"version": version, "channel": channel}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{version} {channel}");
        assert_eq!(
            (reply.error_code(), reply.error_pointer()),
            (code, pointer),
            "{version}"
        );
    }
    let missing = try_release(&app, id(&product), None, json!({"version": "1.0.0"})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error_pointer(), "/data/attributes/channel");
    let draft = try_release(
        &app,
        id(&product),
        None,
        json!({"version": "2.0.0-beta.3+build.7", "channel": "beta", "tag": "next"}),
    )
    .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.json);
    let a = &draft.json["data"]["attributes"];
    assert_eq!(a["status"], "DRAFT");
    assert_eq!(
        a["semver"],
        json!({"major": 2, "minor": 0, "patch": 0, "prerelease": "beta.3", "build": "build.7"})
    );
    assert_eq!(
        app.get("releases/next").await.json["data"]["id"],
        draft.json["data"]["id"]
    );
    assert_eq!(
        app.get("releases/2.0.0-beta.3+build.7").await.json["data"]["id"],
        draft.json["data"]["id"]
    );
    let channels = app.get("channels").await;
    assert_eq!(channels.json["data"][0]["attributes"]["key"], "beta");
}

#[tokio::test]
async fn a_version_and_a_tag_are_unique_per_product_and_package() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let package = create_package(&app, id(&product), "cli", None).await;
    published(&app, id(&product), None, "1.0.0", "stable").await;
    let again = try_release(
        &app,
        id(&product),
        None,
        json!({"version": "1.0.0", "channel": "stable"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (again.error_code(), again.error_pointer()),
        ("VERSION_TAKEN", "/data/attributes/version")
    );
    // The same version on a package of the product is another line.
    let on_package = published(&app, id(&product), Some(id(&package)), "1.0.0", "stable").await;
    let tagged = try_release(
        &app,
        id(&product),
        None,
        json!({"version": "1.1.0", "channel": "stable", "tag": "latest"}),
    )
    .await;
    assert_eq!(tagged.status, StatusCode::CREATED);
    let clash = try_release(
        &app,
        id(&product),
        None,
        json!({"version": "1.2.0", "channel": "stable", "tag": "latest"}),
    )
    .await;
    assert_eq!(clash.error_code(), "TAG_TAKEN");
    // Moving the package's release off the package makes its version clash; moving it back frees it.
    let path = app.path(&format!("releases/{}/package", id(&on_package)));
    let off = app
        .send(Method::PUT, &path, Some(app.admin()), Some(json!({"data": null})))
        .await;
    assert_eq!(off.error_code(), "VERSION_TAKEN", "{}", off.json);
    let other = create_package(&app, id(&product), "gui", None).await;
    let moved = app
        .send(
            Method::PUT,
            &path,
            Some(app.admin()),
            Some(json!({"data": {"type": "packages", "id": id(&other)}})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    assert_eq!(
        moved.json["data"]["relationships"]["package"]["data"]["id"],
        other["id"]
    );
    assert_eq!(
        published(&app, id(&product), Some(id(&package)), "1.0.0", "stable").await["attributes"]["version"],
        "1.0.0"
    );
}

#[tokio::test]
async fn parallel_creates_of_one_version_make_exactly_one_release() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let package = create_package(&app, id(&product), "cli", None).await;
    let attempts = (0..8).map(|_| {
        try_release(
            &app,
            id(&product),
            Some(id(&package)),
            json!({"version": "3.1.4", "channel": "stable"}),
        )
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1);
    assert!(replies
        .iter()
        .filter(|r| r.status != StatusCode::CREATED)
        .all(|r| r.error_code() == "VERSION_TAKEN"));
    let listed = app.get(&format!("releases?package={}", id(&package))).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_upgrade_is_the_newest_published_release_within_channel_and_constraint() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let p = id(&product);
    for (version, channel) in [
        ("1.0.0", "stable"),
        ("1.1.0", "stable"),
        ("1.2.0", "stable"),
        ("2.0.0", "stable"),
        ("2.1.0-beta.1", "beta"),
    ] {
        published(&app, p, None, version, channel).await;
    }
    let draft = try_release(&app, p, None, json!({"version": "3.0.0", "channel": "stable"})).await;
    assert_eq!(draft.status, StatusCode::CREATED);
    let up = app.get("releases/1.0.0/upgrade").await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.json);
    assert_eq!(up.json["meta"], json!({"current": "1.0.0", "next": "2.0.0"}));
    assert_eq!(up.json["data"]["attributes"]["version"], "2.0.0");
    let pinned = app.get("releases/1.0.0/upgrade?constraint=1").await;
    assert_eq!(pinned.json["meta"]["next"], "1.2.0");
    let beta = app.get("releases/1.0.0/upgrade?channel=beta").await;
    assert_eq!(beta.json["meta"]["next"], "2.1.0-beta.1");
    let none = app.get("releases/2.0.0/upgrade").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(none.error_code(), "NOT_FOUND");
    let bad = app.get("releases/1.0.0/upgrade?constraint=one").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code(), "CONSTRAINT_INVALID");
    assert_eq!(bad.json["errors"][0]["source"]["parameter"], "constraint");
    // Yanked releases are no upgrade.
    let yank = app
        .send(
            Method::POST,
            &app.path("releases/2.0.0/actions/yank"),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(yank.json["data"]["attributes"]["status"], "YANKED");
    assert!(yank.json["data"]["attributes"]["yanked"].is_string());
    assert_eq!(app.get("releases/1.0.0/upgrade").await.json["meta"]["next"], "1.2.0");
    let publish = app
        .send(
            Method::POST,
            &app.path("releases/3.0.0/actions/publish"),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(publish.json["data"]["attributes"]["status"], "PUBLISHED");
    assert_eq!(app.get("releases/1.0.0/upgrade").await.json["meta"]["next"], "3.0.0");
}

#[tokio::test]
async fn a_license_sees_only_releases_whose_constraints_it_meets() {
    let app = spawn_app().await;
    let (product, key, license) = licensee(&app, "LICENSED", json!({"name": "P"})).await;
    let p = id(&product);
    published(&app, p, None, "1.0.0", "stable").await;
    let pro = app.create_entitlement("pro").await;
    let constrained = json!({"data": {"type": "releases", "attributes": {"version": "1.1.0", "channel": "stable", "status": "PUBLISHED"},
        "relationships": {"product": {"data": {"type": "products", "id": p}},
            "constraints": {"data": [{"type": "constraints", "relationships": {"entitlement": {"data": {"type": "entitlements", "id": id(&pro)}}}}]}}}});
    let created = app
        .send(
            Method::POST,
            &app.path("releases"),
            Some(app.admin()),
            Some(constrained),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(
        as_license(&app, &key, "releases/1.1.0").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        as_license(&app, &key, "releases/1.0.0/upgrade").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        as_license(&app, &key, "releases").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Holding the entitlement, it sees the release and gets it as the upgrade.
    let attach = json!({"data": [{"type": "entitlements", "id": id(&pro)}]});
    let path = app.path(&format!("licenses/{}/entitlements", id(&license)));
    assert_eq!(
        app.send(Method::POST, &path, Some(app.admin()), Some(attach))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(as_license(&app, &key, "releases/1.1.0").await.status, StatusCode::OK);
    let up = as_license(&app, &key, "releases/1.0.0/upgrade").await;
    assert_eq!(up.json["meta"]["next"], "1.1.0", "{}", up.json);
    // Constraints are listed, and detached by their own id.
    let listed = app
        .get(&format!(
            "releases/{}/constraints",
            created.json["data"]["id"].as_str().unwrap()
        ))
        .await;
    let constraint = listed.json["data"][0].clone();
    assert_eq!(constraint["relationships"]["entitlement"]["data"]["id"], pro["id"]);
    let detach = json!({"data": [{"type": "constraints", "id": constraint["id"]}]});
    let path = app.path("releases/1.1.0/constraints");
    assert_eq!(
        app.send(Method::DELETE, &path, Some(app.admin()), Some(detach))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // A license cannot manage releases.
    let yank = app
        .send_with_authorization(
            Method::POST,
            &app.path("releases/1.1.0/actions/yank"),
            Some(&format!("License {key}")),
        )
        .await;
    assert_eq!(yank.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn suspended_and_revoked_licenses_are_refused_and_restricted_ones_keep_older_releases() {
    let app = spawn_app().await;
    let (product, key, license) = licensee(&app, "LICENSED", json!({"name": "P"})).await;
    published(&app, id(&product), None, "1.0.0", "stable").await;
    let suspend = app.path(&format!("licenses/{}/actions/suspend", id(&license)));
    assert_eq!(
        app.send(Method::POST, &suspend, Some(app.admin()), None).await.status,
        StatusCode::OK
    );
    let refused = as_license(&app, &key, "releases/1.0.0").await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_SUSPENDED")
    );

    let (product, key, _) = licensee(
        &app,
        "LICENSED",
        json!({"name": "Revoke", "duration": 86400, "expirationStrategy": "REVOKE_ACCESS"}),
    )
    .await;
    published(&app, id(&product), None, "1.0.0", "stable").await;
    assert_eq!(as_license(&app, &key, "releases/1.0.0").await.status, StatusCode::OK);
    app.state.clock.advance(chrono::Duration::days(2));
    let expired = as_license(&app, &key, "releases/1.0.0/upgrade").await;
    assert_eq!(
        (expired.status, expired.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_EXPIRED")
    );

    let (product, key, _) = licensee(
        &app,
        "LICENSED",
        json!({"name": "Restrict", "duration": 86400, "expirationStrategy": "RESTRICT_ACCESS"}),
    )
    .await;
    published(&app, id(&product), None, "1.0.0", "stable").await;
    app.state.clock.advance(chrono::Duration::days(2));
    published(&app, id(&product), None, "1.1.0", "stable").await;
    assert_eq!(as_license(&app, &key, "releases/1.0.0").await.status, StatusCode::OK);
    assert_eq!(
        as_license(&app, &key, "releases/1.1.0").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        as_license(&app, &key, "releases/1.0.0/upgrade").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn open_products_serve_anyone_and_closed_ones_only_their_vendor() {
    let app = spawn_app().await;
    let (open, _, _) = licensee(&app, "OPEN", json!({"name": "P"})).await;
    published(&app, id(&open), None, "1.0.0", "stable").await;
    published(&app, id(&open), None, "1.1.0", "stable").await;
    let draft = try_release(&app, id(&open), None, json!({"version": "1.2.0", "channel": "stable"})).await;
    assert_eq!(draft.status, StatusCode::CREATED);
    let anonymous = app
        .send(Method::GET, &app.path("releases/1.0.0/upgrade"), None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::OK, "{}", anonymous.json);
    assert_eq!(anonymous.json["meta"]["next"], "1.1.0");
    let listed = app.send(Method::GET, &app.path("releases"), None, None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 2);

    let (closed, key, _) = licensee(&app, "CLOSED", json!({"name": "Q"})).await;
    published(&app, id(&closed), None, "9.0.0", "stable").await;
    let by_license = as_license(&app, &key, &format!("releases?product={}", id(&closed))).await;
    assert_eq!(by_license.json["data"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.send(Method::GET, &app.path("releases/9.0.0"), None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let (_, token) = app.product_token(id(&closed)).await;
    let vendor = app
        .send(Method::GET, &app.path("releases/9.0.0"), Some(&token), None)
        .await;
    assert_eq!(vendor.status, StatusCode::OK);
}

#[tokio::test]
async fn deleting_a_package_or_product_takes_its_releases() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let package = create_package(&app, id(&product), "cli", None).await;
    let release = published(&app, id(&product), Some(id(&package)), "1.0.0", "stable").await;
    let gone = app
        .send(
            Method::DELETE,
            &app.path(&format!("packages/{}", id(&package))),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("releases/{}", id(&release))).await.status,
        StatusCode::NOT_FOUND
    );
    let package = create_package(&app, id(&product), "cli", None).await;
    let release = published(&app, id(&product), Some(id(&package)), "1.0.0", "stable").await;
    let loose = published(&app, id(&product), None, "1.0.0", "stable").await;
    let gone = app
        .send(
            Method::DELETE,
            &app.path(&format!("products/{}", id(&product))),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.json);
    for rest in [
        format!("releases/{}", id(&release)),
        format!("releases/{}", id(&loose)),
        format!("packages/{}", id(&package)),
    ] {
        assert_eq!(app.get(&rest).await.status, StatusCode::NOT_FOUND, "{rest}");
    }
}

/// Packages, releases, constraints, artifacts and lookups for the rebuild test: every table gets
/// rows.
pub(crate) async fn distribution_scenario(app: &TestApp, product_id: &str) {
    let package = create_package(app, product_id, "tool", Some("raw")).await;
    let release = published(app, product_id, Some(id(&package)), "1.0.0-beta.1", "beta").await;
    let pro = app.create_entitlement("rebuild-pro").await;
    constrain(app, id(&release), id(&pro)).await;
    let patch = json!({"data": {"type": "releases", "attributes": {"tag": "edge", "metadata": {"notes": "x"}}}});
    let path = app.path(&format!("releases/{}", id(&release)));
    assert_eq!(
        app.send(Method::PATCH, &path, Some(app.admin()), Some(patch))
            .await
            .status,
        StatusCode::OK
    );
    let artifact = crate::artifacts::create_artifact(app, id(&release), "tool.zip", &[("Prefer", "no-redirect")]).await;
    let location = artifact.header("location").unwrap();
    assert_eq!(
        crate::artifacts::upload(location, b"zip".to_vec()).await,
        StatusCode::OK
    );
    let waiting = crate::artifacts::create_artifact(app, id(&release), "tool.sig", &[("Prefer", "no-redirect")]).await;
    let path = app.path(&format!("artifacts/{}", id(&waiting.json["data"])));
    assert_eq!(
        app.send(Method::DELETE, &path, Some(app.admin()), None).await.status,
        StatusCode::NO_CONTENT
    );
    let yank = app.path(&format!("releases/{}/actions/yank", id(&release)));
    assert_eq!(
        app.send(Method::POST, &yank, Some(app.admin()), None).await.status,
        StatusCode::OK
    );
    let doomed = published(app, product_id, None, "0.1.0", "stable").await;
    let path = app.path(&format!("releases/{}", id(&doomed)));
    assert_eq!(
        app.send(Method::DELETE, &path, Some(app.admin()), None).await.status,
        StatusCode::NO_CONTENT
    );
}

/// The `data` of a list.
async fn listed(app: &TestApp, rest: String) -> Vec<Value> {
    app.get(&rest).await.json["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_products_releases_packages_and_artifacts_and_a_releases_product_and_entitlements() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let other = app.create_product("Other", None).await;
    let package = create_package(&app, id(&product), "cli", None).await;
    create_package(&app, id(&other), "gui", None).await;
    let release = published(&app, id(&product), Some(id(&package)), "1.0.0", "stable").await;
    published(&app, id(&other), None, "9.0.0", "stable").await;
    let artifact = crate::artifacts::create_artifact(&app, id(&release), "cli.zip", &[("Prefer", "no-redirect")]).await;
    let releases = listed(&app, format!("products/{}/releases", id(&product))).await;
    assert_eq!((releases.len(), &releases[0]["id"]), (1, &release["id"]));
    let packages = listed(&app, format!("products/{}/packages", id(&product))).await;
    assert_eq!((packages.len(), &packages[0]["id"]), (1, &package["id"]));
    let artifacts = listed(&app, format!("products/{}/artifacts", id(&product))).await;
    assert_eq!(
        (artifacts.len(), &artifacts[0]["id"]),
        (1, &artifact.json["data"]["id"])
    );
    let owner = app.get(&format!("releases/{}/product", id(&release))).await;
    assert_eq!(owner.json["data"]["id"], product["id"]);
    let pro = app.create_entitlement("pro").await;
    constrain(&app, id(&release), id(&pro)).await;
    let required = listed(&app, format!("releases/{}/entitlements", id(&release))).await;
    assert_eq!(required[0]["attributes"]["code"], "pro");
}
