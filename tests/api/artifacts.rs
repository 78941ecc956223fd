//! Artifacts on the local store: created with a presigned upload URL (307, or 200 with
//! `Prefer: no-redirect`), uploaded by a PUT to it, downloaded through a 303 to a presigned
//! download URL, refused to whoever may not see the release; and keygen-rs' release flow end to
//! end.
//!
//! Over 400 lines on purpose: each rule of who may download needs its own product and license.

use crate::helpers::{spawn_app, Reply, TestApp};
use crate::releases::{published, try_release};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `POST /artifacts` for `release_id` as keygen-cli sends it, with extra headers.
pub(crate) async fn create_artifact(
    app: &TestApp,
    release_id: &str,
    filename: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let attributes = json!({"filename": filename, "platform": "linux", "arch": "amd64"});
    create_artifact_with(app, release_id, attributes, headers).await
}

/// `POST /artifacts` for `release_id` with `attributes` and extra headers.
pub(crate) async fn create_artifact_with(
    app: &TestApp,
    release_id: &str,
    attributes: Value,
    headers: &[(&str, &str)],
) -> Reply {
    let body = json!({"data": {"type": "artifacts", "attributes": attributes,
        "relationships": {"release": {"data": {"type": "releases", "id": release_id}}}}});
    let mut request = app
        .no_redirects()
        .post(format!("{}{}", app.base, app.path("artifacts")))
        .bearer_auth(app.admin())
        .header("Content-Type", "application/vnd.api+json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(Method::POST, "artifacts".into(), request.send().await.unwrap()).await
}

/// A GET that does not follow redirects, with a bearer token (or none) and extra headers.
pub(crate) async fn get_raw(app: &TestApp, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let mut request = app.no_redirects().get(format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(Method::GET, path.into(), request.send().await.unwrap()).await
}

/// PUTs `bytes` to a presigned URL, as a client does (no credentials).
pub(crate) async fn upload(url: &str, bytes: Vec<u8>) -> StatusCode {
    reqwest::Client::new()
        .put(url)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn an_artifact_is_uploaded_to_its_presigned_url_and_downloaded_through_a_303() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let release = published(&app, id(&product), None, "1.0.0", "stable").await;
    let created = create_artifact(&app, id(&release), "app.tar.gz", &[]).await;
    assert_eq!(created.status, StatusCode::TEMPORARY_REDIRECT, "{}", created.json);
    let location = created.header("location").unwrap().to_string();
    assert_eq!(created.json["data"]["links"]["redirect"], location.as_str());
    assert_eq!(created.json["data"]["attributes"]["status"], "WAITING");
    let artifact = created.json["data"].clone();
    let path = app.path(&format!("artifacts/{}", id(&artifact)));
    // Nothing to download yet: the document alone.
    let waiting = get_raw(&app, &path, Some(app.admin()), &[]).await;
    assert_eq!(waiting.status, StatusCode::OK);
    assert_eq!(waiting.json["data"]["attributes"]["status"], "WAITING");
    // A URL whose signature was altered, or for another method, is refused.
    let tampered = location.replace("signature=", "signature=0");
    assert_eq!(upload(&tampered, b"x".to_vec()).await, StatusCode::FORBIDDEN);
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(upload(&location, bytes.clone()).await, StatusCode::OK);
    let shown = app
        .get(&format!("artifacts/{}?prefer=no-download", id(&artifact)))
        .await;
    assert_eq!(shown.json["data"]["attributes"]["status"], "UPLOADED");
    assert_eq!(shown.json["data"]["attributes"]["filesize"], 100_000);
    let download = get_raw(&app, &path, Some(app.admin()), &[]).await;
    assert_eq!(download.status, StatusCode::SEE_OTHER, "{}", download.json);
    let url = download.header("location").unwrap().to_string();
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);
    let no_redirect = get_raw(&app, &path, Some(app.admin()), &[("Prefer", "no-redirect")]).await;
    assert_eq!(no_redirect.status, StatusCode::OK);
    assert!(no_redirect.header("location").is_some());
    // The vanity URL and the release's own route answer alike, by filename too.
    let vanity = get_raw(&app, &format!("{path}/app.tar.gz"), Some(app.admin()), &[]).await;
    assert_eq!(vanity.status, StatusCode::SEE_OTHER);
    let by_name = app.path(&format!("releases/{}/artifacts/app.tar.gz", id(&release)));
    assert_eq!(
        get_raw(&app, &by_name, Some(app.admin()), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // One filename per release.
    let again = create_artifact(&app, id(&release), "app.tar.gz", &[("Prefer", "no-redirect")]).await;
    assert_eq!(
        (again.status, again.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "FILENAME_TAKEN")
    );
    // A yanked release's artifact is not downloadable.
    let yank = app.path(&format!("releases/{}/actions/yank", id(&release)));
    assert_eq!(
        app.send(Method::POST, &yank, Some(app.admin()), None).await.status,
        StatusCode::OK
    );
    let yanked = get_raw(&app, &path, Some(app.admin()), &[]).await;
    assert_eq!(yanked.status, StatusCode::OK);
    assert_eq!(yanked.json["data"]["attributes"]["status"], "YANKED");
    // Deleting the artifact removes its object.
    let gone = app.send(Method::DELETE, &path, Some(app.admin()), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn prefer_no_redirect_answers_200_with_the_location_and_an_upload_is_failed_after_an_hour() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let release = published(&app, id(&product), None, "1.0.0", "stable").await;
    let created = create_artifact(&app, id(&release), "setup.exe", &[("Prefer", "no-redirect")]).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    assert!(created.header("location").is_some());
    app.state.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(api::sweep_uploads(&app.state).await.unwrap(), 1);
    let shown = app.get(&format!("artifacts/{}", id(&created.json["data"]))).await;
    assert_eq!(shown.json["data"]["attributes"]["status"], "FAILED");
}

#[tokio::test]
async fn only_who_may_see_the_release_may_download() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let product_id = policy["relationships"]["product"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pro = app.create_entitlement("pro").await;
    let body = json!({"version": "2.0.0", "channel": "stable", "status": "PUBLISHED"});
    let release = try_release(&app, &product_id, None, body).await.json["data"].clone();
    crate::releases::constrain(&app, id(&release), id(&pro)).await;
    let created = create_artifact(&app, id(&release), "pro.zip", &[("Prefer", "no-redirect")]).await;
    assert_eq!(
        upload(created.header("location").unwrap(), b"pro".to_vec()).await,
        StatusCode::OK
    );
    let path = app.path(&format!("artifacts/{}", id(&created.json["data"])));
    let key = license["attributes"]["key"].as_str().unwrap();
    let url = format!("{}{path}", app.base);
    let authorization = format!("License {key}");
    let client = app.no_redirects();
    let as_license = || {
        let request = client.get(&url).header("Authorization", &authorization);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(as_license().await, StatusCode::NOT_FOUND);
    assert_eq!(get_raw(&app, &path, None, &[]).await.status, StatusCode::NOT_FOUND);
    let entitle = app.path(&format!("licenses/{}/entitlements", id(&license)));
    let body = json!({"data": [{"type": "entitlements", "id": id(&pro)}]});
    assert_eq!(
        app.send(Method::POST, &entitle, Some(app.admin()), Some(body))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(as_license().await, StatusCode::SEE_OTHER);
    let suspend = app.path(&format!("licenses/{}/actions/suspend", id(&license)));
    assert_eq!(
        app.send(Method::POST, &suspend, Some(app.admin()), None).await.status,
        StatusCode::OK
    );
    assert_eq!(as_license().await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn keygen_rs_publishes_finds_the_upgrade_and_downloads_its_artifact() {
    use keygen_rs::config::{self, KeygenConfig};
    use keygen_rs::release::{CreateReleaseRequest, Release, ReleaseChannel};

    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let (_, token) = app.product_token(id(&product)).await;
    config::set_config(KeygenConfig {
        api_url: format!("{}/v1/accounts", app.base),
        api_prefix: app.account.account_id.clone(),
        account: app.account.account_id.clone(),
        product: id(&product).to_string(),
        token: Some(token),
        public_key: Some(app.account.public_key.clone()),
        ..KeygenConfig::default()
    })
    .unwrap();
    let request = |version: &str| CreateReleaseRequest {
        version: version.into(),
        channel: ReleaseChannel::Stable,
        product_id: id(&product).to_string(),
        name: None,
        description: None,
        status: None,
        tag: None,
        metadata: None,
    };
    let old = Release::create(request("1.0.0"))
        .await
        .expect("keygen-rs creates a release");
    old.publish().await.expect("and publishes it");
    let new = Release::create(request("1.1.0")).await.unwrap();
    // The artifact's bytes go to the upload URL its creation returns, as keygen-cli sends them.
    let created = create_artifact(&app, &new.id, "app-1.1.0.tar.gz", &[("Prefer", "no-redirect")]).await;
    let bytes = b"the new version".to_vec();
    assert_eq!(
        upload(created.header("location").unwrap(), bytes.clone()).await,
        StatusCode::OK
    );
    new.publish().await.unwrap();
    let current = Release::get("1.0.0").await.unwrap();
    let next = current.upgrade(None).await.expect("keygen-rs finds the upgrade");
    assert_eq!(next.version, "1.1.0");
    let download = next
        .download_artifact("app-1.1.0.tar.gz")
        .await
        .expect("a redirect to the bytes");
    let fetched = reqwest::get(&download.location).await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);
    assert!(Release::get("1.1.0").await.unwrap().upgrade(None).await.is_err());
}

#[tokio::test]
async fn a_licenses_first_download_starts_its_expiry_under_from_first_download() {
    let app = spawn_app().await;
    let policy =
        json!({"authenticationStrategy": "LICENSE", "duration": 86_400, "expirationBasis": "FROM_FIRST_DOWNLOAD"});
    let (policy, license) = app.licensed(policy, json!({})).await;
    assert!(license["attributes"]["expiry"].is_null());
    let product_id = policy["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let release = published(&app, product_id, None, "1.0.0", "stable").await;
    let created = create_artifact(&app, id(&release), "app.zip", &[("Prefer", "no-redirect")]).await;
    assert_eq!(
        upload(created.header("location").unwrap(), b"zip".to_vec()).await,
        StatusCode::OK
    );
    let path = app.path(&format!("artifacts/{}", id(&created.json["data"])));
    // The vendor's own download does not start it.
    assert_eq!(
        get_raw(&app, &path, Some(app.admin()), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let license_path = format!("licenses/{}", id(&license));
    assert!(app.get(&license_path).await.json["data"]["attributes"]["expiry"].is_null());
    let key = license["attributes"]["key"].as_str().unwrap();
    let download = app
        .no_redirects()
        .get(format!("{}{path}", app.base))
        .header("Authorization", format!("License {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::SEE_OTHER);
    let expiry = app.get(&license_path).await.json["data"]["attributes"]["expiry"].clone();
    let expected = (app.state.now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert!(expiry.as_str().is_some_and(|e| e.starts_with(&expected)), "{expiry}");
}

/// The S3-compatible server `.ci/run` starts (moto), if any; CI requires one.
fn s3_endpoint() -> Option<String> {
    match std::env::var("KEYLEDGER_TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ => {
            assert!(
                std::env::var("KEYLEDGER_TEST_REQUIRE_S3").is_err(),
                "KEYLEDGER_TEST_S3_ENDPOINT must name an S3-compatible server"
            );
            eprintln!("skipped: no KEYLEDGER_TEST_S3_ENDPOINT");
            None
        }
    }
}

#[tokio::test]
async fn artifacts_go_to_an_s3_compatible_store_through_its_presigned_urls() {
    let Some(endpoint) = s3_endpoint() else { return };
    let bucket = format!("keyledger-{}", uuid::Uuid::new_v4());
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let storage = api::storage::Storage::s3(
        &format!("s3://{bucket}"),
        &[
            ("aws_endpoint", endpoint.as_str()),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "testing"),
            ("aws_secret_access_key", "testing"),
            ("aws_allow_http", "true"),
            ("aws_virtual_hosted_style_request", "false"),
        ],
    )
    .unwrap();
    let app = spawn_app().await;
    app.state.set_storage(storage.clone());
    let product = app.create_product("App", None).await;
    let release = published(&app, id(&product), None, "1.0.0", "stable").await;
    let created = create_artifact(&app, id(&release), "app.zip", &[]).await;
    assert_eq!(created.status, StatusCode::TEMPORARY_REDIRECT, "{}", created.json);
    let location = created.header("location").unwrap().to_string();
    assert!(location.starts_with(&endpoint), "{location}");
    let bytes = b"bytes kept in a bucket".to_vec();
    assert_eq!(upload(&location, bytes.clone()).await, StatusCode::OK);
    let path = app.path(&format!("artifacts/{}", id(&created.json["data"])));
    let download = get_raw(&app, &path, Some(app.admin()), &[]).await;
    assert_eq!(download.status, StatusCode::SEE_OTHER, "{}", download.json);
    let url = download.header("location").unwrap().to_string();
    assert!(url.starts_with(&endpoint), "{url}");
    assert_eq!(reqwest::get(&url).await.unwrap().bytes().await.unwrap().to_vec(), bytes);
    let key = format!("artifacts/{}/{}/app.zip", app.account.account_id, id(&release));
    assert_eq!(storage.size(&key).await.unwrap(), Some(bytes.len() as u64));
    let gone = app.send(Method::DELETE, &path, Some(app.admin()), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(storage.size(&key).await.unwrap(), None);
}

/// A product of `strategy` with a policy and license (key authentication), and an uploaded
/// artifact of a published release: (license key, the artifact's path).
async fn distributed(app: &TestApp, strategy: &str, policy: Value) -> (String, String) {
    let (policy, license) = app.licensed(policy, json!({})).await;
    let product_id = policy["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let patch = json!({"data": {"type": "products", "attributes": {"distributionStrategy": strategy}}});
    let path = app.path(&format!("products/{product_id}"));
    assert_eq!(
        app.send(Method::PATCH, &path, Some(app.admin()), Some(patch))
            .await
            .status,
        StatusCode::OK
    );
    let release = published(app, product_id, None, "1.0.0", "stable").await;
    let created = create_artifact(app, id(&release), "app.zip", &[("Prefer", "no-redirect")]).await;
    assert_eq!(
        upload(created.header("location").unwrap(), b"zip".to_vec()).await,
        StatusCode::OK
    );
    let key = license["attributes"]["key"].as_str().unwrap().to_string();
    (key, app.path(&format!("artifacts/{}", id(&created.json["data"]))))
}

async fn status_as_license(app: &TestApp, key: &str, path: &str) -> Reply {
    let request = app
        .no_redirects()
        .get(format!("{}{path}", app.base))
        .header("Authorization", format!("License {key}"));
    Reply::read(Method::GET, path.into(), request.send().await.unwrap()).await
}

#[tokio::test]
async fn open_artifacts_are_anyones_closed_ones_not_a_licensees_and_an_expired_license_is_refused() {
    let app = spawn_app().await;
    let license_auth = json!({"authenticationStrategy": "LICENSE"});
    let (_, open) = distributed(&app, "OPEN", license_auth.clone()).await;
    assert_eq!(get_raw(&app, &open, None, &[]).await.status, StatusCode::SEE_OTHER);
    let (key, closed) = distributed(&app, "CLOSED", license_auth).await;
    let refused = status_as_license(&app, &key, &closed).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.json);
    assert!(refused.json["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("release distribution strategy is closed"));
    assert_eq!(
        get_raw(&app, &closed, Some(app.admin()), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let revoke =
        json!({"authenticationStrategy": "LICENSE", "duration": 86_400, "expirationStrategy": "REVOKE_ACCESS"});
    let (key, licensed) = distributed(&app, "LICENSED", revoke).await;
    assert_eq!(
        status_as_license(&app, &key, &licensed).await.status,
        StatusCode::SEE_OTHER
    );
    app.state.clock.advance(chrono::Duration::days(2));
    let expired = status_as_license(&app, &key, &licensed).await;
    assert_eq!(
        (expired.status, expired.error_code()),
        (StatusCode::FORBIDDEN, "LICENSE_EXPIRED")
    );
}
