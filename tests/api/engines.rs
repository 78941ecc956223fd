//! Package engines: `raw` redirects to an artifact by product, package, release and filename;
//! `tauri` answers Tauri's updater with the upgrade's artifact for its platform, or 204; pip,
//! npm and electron-builder's calls fetch the right files with a license key.
//!
//! Over 400 lines on purpose: each client needs its package built and its configuration written.

use crate::artifacts::{create_artifact_with, get_raw, upload};
use crate::helpers::{spawn_app, TestApp};
use crate::releases::{create_package, published};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// An uploaded artifact of `release`.
async fn uploaded(app: &TestApp, release: &Value, attributes: Value) -> Value {
    let created = create_artifact_with(app, id(release), attributes, &[("Prefer", "no-redirect")]).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    assert_eq!(
        upload(created.header("location").unwrap(), b"bytes".to_vec()).await,
        StatusCode::OK
    );
    created.json["data"].clone()
}

#[tokio::test]
async fn tauri_gets_the_upgrades_artifact_for_its_platform_or_204() {
    let app = spawn_app().await;
    let product = app.create_product("Desktop", None).await;
    let package = create_package(&app, id(&product), "desktop", Some("tauri")).await;
    let (p, k) = (id(&product), Some(id(&package)));
    published(&app, p, k, "1.0.0", "stable").await;
    let next = published(&app, p, k, "1.1.0", "stable").await;
    let windows = |filename: &str| json!({"filename": filename, "platform": "windows", "arch": "x86_64", "signature": format!("sig-of-{filename}")});
    uploaded(&app, &next, windows("app_1.1.0_x64-setup.exe")).await;
    let nsis = uploaded(&app, &next, windows("app_1.1.0_x64-setup.nsis.zip")).await;
    uploaded(&app, &next, windows("app_1.1.0_x64-setup.nsis.zip.sig")).await;
    let path = |query: &str| app.path(&format!("engines/tauri/desktop?{query}"));
    let reply = get_raw(
        &app,
        &path("platform=windows&arch=x86_64&version=1.0.0"),
        None,
        &[("Accept", "application/json")],
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "a LICENSED product's package is not anyone's"
    );
    let reply = get_raw(
        &app,
        &path("platform=windows&arch=x86_64&version=1.0.0"),
        Some(app.admin()),
        &[("Accept", "application/json")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["version"], "1.1.0");
    assert_eq!(reply.json["signature"], "sig-of-app_1.1.0_x64-setup.nsis.zip");
    let url = reply.json["url"].as_str().unwrap();
    assert!(
        url.starts_with(&app.base) && url.ends_with(&format!("/artifacts/{}/app_1.1.0_x64-setup.nsis.zip", id(&nsis))),
        "{url}"
    );
    assert!(reply.json["pub_date"].as_str().unwrap().ends_with('Z'));
    // The newest has nothing newer; an unknown version, nothing to compare with.
    for query in [
        "platform=windows&arch=x86_64&version=1.1.0",
        "platform=windows&arch=x86_64&version=0.0.1",
    ] {
        assert_eq!(
            get_raw(&app, &path(query), Some(app.admin()), &[]).await.status,
            StatusCode::NO_CONTENT,
            "{query}"
        );
    }
    // A newer release without an artifact for this platform: 204, not the older upgrade.
    let newest = published(&app, p, k, "1.2.0", "stable").await;
    uploaded(
        &app,
        &newest,
        json!({"filename": "app.AppImage.tar.gz", "platform": "linux", "arch": "x86_64"}),
    )
    .await;
    let reply = get_raw(
        &app,
        &path("platform=windows&arch=x86_64&version=1.0.0"),
        Some(app.admin()),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let linux = get_raw(
        &app,
        &path("platform=linux&arch=x86_64&version=1.1.0"),
        Some(app.admin()),
        &[],
    )
    .await;
    assert_eq!(linux.json["version"], "1.2.0");
    let unknown = get_raw(
        &app,
        &app.path("engines/tauri/nothing?version=1.0.0"),
        Some(app.admin()),
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn raw_redirects_to_the_artifact_by_product_package_release_and_filename() {
    let app = spawn_app().await;
    let product = app.create_product("Tool", Some("tool")).await;
    let package = create_package(&app, id(&product), "cli", Some("raw")).await;
    let loose = published(&app, id(&product), None, "1.0.0", "stable").await;
    let in_package = published(&app, id(&product), Some(id(&package)), "1.0.0", "stable").await;
    let a = uploaded(&app, &loose, json!({"filename": "install.sh"})).await;
    let b = uploaded(&app, &in_package, json!({"filename": "install.sh"})).await;
    let reply = get_raw(
        &app,
        &app.path("engines/raw/tool/1.0.0/install.sh"),
        Some(app.admin()),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.json);
    assert_eq!(
        reply.header("location").unwrap(),
        app.path(&format!("artifacts/{}/install.sh", id(&a)))
    );
    let reply = get_raw(
        &app,
        &app.path("engines/raw/tool/@cli/1.0.0/install.sh?ttl=600"),
        Some(app.admin()),
        &[],
    )
    .await;
    assert_eq!(
        reply.header("location").unwrap(),
        app.path(&format!("artifacts/{}/install.sh?ttl=600", id(&b)))
    );
    let missing = get_raw(
        &app,
        &app.path("engines/raw/tool/2.0.0/install.sh"),
        Some(app.admin()),
        &[],
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// A minimal wheel of `name` `version` (a zip with its dist-info), made by the machine's Python.
fn wheel(dir: &std::path::Path, name: &str, version: &str) -> (String, Vec<u8>) {
    let filename = format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"));
    let path = dir.join(&filename);
    let script = format!(
        "import zipfile\n\
         d = '{module}-{version}.dist-info'\n\
         with zipfile.ZipFile(r'{path}', 'w') as z:\n\
         \x20   z.writestr('{module}/__init__.py', 'VALUE = 1\\n')\n\
         \x20   z.writestr(d + '/METADATA', 'Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n')\n\
         \x20   z.writestr(d + '/WHEEL', 'Wheel-Version: 1.0\\nGenerator: keyledger-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n\
         \x20   z.writestr(d + '/RECORD', '')\n",
        module = name.replace('-', "_"),
        path = path.display(),
    );
    let status = std::process::Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    (filename, std::fs::read(&path).unwrap())
}

#[tokio::test]
async fn pip_downloads_from_the_pypi_engine_with_a_license_key() {
    use sha2::Digest;
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let product_id = policy["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let package = create_package(&app, product_id, "My_Lib", Some("pypi")).await;
    assert_eq!(package["attributes"]["key"], "My-Lib");
    let release = published(&app, product_id, Some(id(&package)), "1.0.0", "stable").await;
    let dir = std::env::temp_dir().join(format!("keyledger-pip-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let (filename, bytes) = wheel(&dir, "my-lib", "1.0.0");
    let checksum = hex::encode(sha2::Sha256::digest(&bytes));
    let attributes = json!({"filename": filename, "filetype": "whl", "checksum": checksum});
    let created = create_artifact_with(&app, id(&release), attributes, &[("Prefer", "no-redirect")]).await;
    assert_eq!(
        upload(created.header("location").unwrap(), bytes.clone()).await,
        StatusCode::OK
    );

    let simple = app.path("engines/pypi/simple/my-lib/");
    let anonymous = get_raw(&app, &simple, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("www-authenticate"), Some("Basic realm=\"keygen\""));
    let elsewhere = get_raw(&app, &app.path("engines/pypi/simple/Requests/"), None, &[]).await;
    assert_eq!(elsewhere.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(elsewhere.header("location"), Some("https://pypi.org/simple/requests/"));

    let key = license["attributes"]["key"].as_str().unwrap();
    let host = app.base.trim_start_matches("http://");
    let index = format!("http://license:{key}@{host}{}", app.path("engines/pypi/simple/"));
    let out = dir.join("out");
    let dest = out.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
            ])
            .args(["--index-url", &index, "--dest"])
            .arg(&dest)
            .arg("my-lib")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read(out.join(&filename)).unwrap(), bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a command on the blocking pool (the server answers on this test's runtime meanwhile).
async fn run(mut command: std::process::Command) -> std::process::Output {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn npm_installs_from_the_npm_engine_with_a_license_key() {
    use base64::Engine;
    use sha2::Digest;
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let product_id = policy["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let package = create_package(&app, product_id, "greet", Some("npm")).await;
    let dir = std::env::temp_dir().join(format!("keyledger-npm-{}", uuid::Uuid::new_v4()));
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    let manifest = json!({"name": "greet", "version": "1.1.0", "main": "index.js", "license": "MIT"});
    std::fs::write(source.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(source.join("index.js"), "module.exports = () => 'hello';\n").unwrap();
    let mut pack = std::process::Command::new("npm");
    pack.args(["pack", "--silent"])
        .current_dir(&source)
        .env("npm_config_cache", dir.join("cache"));
    run(pack).await;
    let tarball = std::fs::read(source.join("greet-1.1.0.tgz")).unwrap();
    let integrity = base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball));

    published(&app, product_id, Some(id(&package)), "1.0.0", "stable").await;
    let release = published(&app, product_id, Some(id(&package)), "1.1.0", "stable").await;
    let attributes = json!({"filename": "greet-1.1.0.tgz", "filetype": "tgz", "checksum": integrity});
    let created = create_artifact_with(&app, id(&release), attributes, &[("Prefer", "no-redirect")]).await;
    assert_eq!(
        upload(created.header("location").unwrap(), tarball).await,
        StatusCode::OK
    );

    let key = license["attributes"]["key"].as_str().unwrap();
    let document = app
        .send_with_authorization(
            reqwest::Method::GET,
            &app.path("engines/npm/greet"),
            Some(&format!("License {key}")),
        )
        .await;
    assert_eq!(document.status, StatusCode::OK, "{}", document.json);
    assert_eq!(document.json["dist-tags"]["latest"], "1.1.0");
    assert_eq!(document.json["versions"]["1.1.0"]["main"], "index.js");
    assert_eq!(
        document.json["versions"]["1.1.0"]["dist"]["integrity"],
        format!("sha512-{integrity}")
    );
    assert!(
        document.json["versions"]["1.0.0"].is_null(),
        "a release without a tarball is left out"
    );
    let audit = get_raw(&app, &app.path("engines/npm/-/npm/v1/security/audits"), None, &[]).await;
    assert_eq!(audit.status, StatusCode::GONE);

    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let host = app.base.trim_start_matches("http://");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("license:{key}"));
    let npmrc = format!(
        "registry={}{}/\n//{host}/:_auth={auth}\naudit=false\nfund=false\nupdate-notifier=false\n",
        app.base,
        app.path("engines/npm")
    );
    std::fs::write(project.join(".npmrc"), npmrc).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name": "consumer", "version": "0.0.0", "private": true}"#,
    )
    .unwrap();
    let mut install = std::process::Command::new("npm");
    install
        .args(["install", "greet"])
        .current_dir(&project)
        .env("npm_config_cache", dir.join("cache"))
        .env("npm_config_userconfig", project.join(".npmrc"));
    run(install).await;
    let installed = std::fs::read_to_string(project.join("node_modules/greet/package.json")).unwrap();
    assert!(installed.contains("\"1.1.0\""), "{installed}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn electron_builders_publisher_and_provider_calls_work_as_listed() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"authenticationStrategy": "LICENSE"}), json!({}))
        .await;
    let product_id = policy["relationships"]["product"]["data"]["id"].as_str().unwrap();
    let (_, token) = app.product_token(product_id).await;
    let lookup = app.path(&format!("releases/1.2.0?product={product_id}"));
    // The publisher: look the version up, create it published when it is not there.
    let missing = app.send(reqwest::Method::GET, &lookup, Some(&token), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let create = json!({"data": {"type": "releases", "attributes": {"version": "1.2.0", "channel": "stable", "status": "PUBLISHED"},
        "relationships": {"product": {"data": {"type": "products", "id": product_id}}}}});
    let created = app
        .send(
            reqwest::Method::POST,
            &app.path("releases"),
            Some(&token),
            Some(create.clone()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    // A second publisher (another platform's build) finds it taken and reads it back.
    let again = app
        .send(reqwest::Method::POST, &app.path("releases"), Some(&token), Some(create))
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let found = app.send(reqwest::Method::GET, &lookup, Some(&token), None).await;
    assert_eq!(found.json["data"]["id"], created.json["data"]["id"]);
    let release_id = id(&created.json["data"]);
    let files = [
        ("App-1.2.0.dmg", "dmg", b"disk image".to_vec()),
        ("App-1.2.0.dmg.blockmap", "dmg.blockmap", b"blockmap".to_vec()),
        (
            "latest-mac.yml",
            "yml",
            b"version: 1.2.0\npath: App-1.2.0.dmg\n".to_vec(),
        ),
    ];
    for (filename, filetype, bytes) in &files {
        let body = json!({"data": {"type": "artifacts",
            "attributes": {"filename": filename, "filetype": filetype, "filesize": bytes.len(), "platform": "darwin"},
            "relationships": {"release": {"data": {"type": "releases", "id": release_id}}}}});
        let request = app
            .no_redirects()
            .post(format!("{}{}", app.base, app.path("artifacts")))
            .bearer_auth(&token)
            .header("Content-Type", "application/vnd.api+json")
            .header("Prefer", "no-redirect")
            .body(body.to_string());
        let reply =
            crate::helpers::Reply::read(reqwest::Method::POST, "artifacts".into(), request.send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let url = reply.json["data"]["links"]["redirect"].as_str().unwrap();
        assert_eq!(upload(url, bytes.clone()).await, StatusCode::OK);
    }
    // The provider: the channel file, then each file it names, by filename, with the license.
    let key = license["attributes"]["key"].as_str().unwrap();
    let client = reqwest::Client::new();
    for (filename, _, bytes) in &files {
        let response = client
            .get(format!("{}{}", app.base, app.path(&format!("artifacts/{filename}"))))
            .header("Accept", "application/vnd.api+json")
            .header("Keygen-Version", "1.1")
            .header("Authorization", format!("License {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{filename}");
        assert_eq!(response.bytes().await.unwrap().to_vec(), *bytes, "{filename}");
    }
}

#[tokio::test]
async fn downloads_are_logged_and_the_vendor_may_choose_the_urls_lifetime() {
    let app = spawn_app().await;
    let product = app.create_product("App", None).await;
    let release = published(&app, id(&product), None, "1.0.0", "stable").await;
    let artifact = uploaded(
        &app,
        &release,
        json!({"filename": "app.tar.gz", "platform": "Linux", "arch": "amd64"}),
    )
    .await;
    let path = app.path(&format!("artifacts/{}", id(&artifact)));
    let short = get_raw(&app, &format!("{path}?ttl=30"), Some(app.admin()), &[]).await;
    assert_eq!(
        (short.status, short.error_code()),
        (StatusCode::BAD_REQUEST, "PARAMETER_INVALID")
    );
    assert_eq!(short.json["errors"][0]["source"]["parameter"], "ttl");
    let chosen = get_raw(&app, &format!("{path}?ttl=600"), Some(app.admin()), &[]).await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER);
    let location = chosen.header("location").unwrap();
    let expires: i64 = location
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires, app.state.now().timestamp() + 600);
    assert_eq!(app.get("platforms").await.json["data"][0]["attributes"]["key"], "linux");
    assert_eq!(app.get("arches").await.json["data"][0]["attributes"]["key"], "amd64");
    for (event, subject) in [
        ("artifact.upload.succeeded", &artifact["id"]),
        ("artifact.uploaded", &artifact["id"]),
        ("artifact.downloaded", &artifact["id"]),
        ("release.downloaded", &release["id"]),
    ] {
        let mut logs = Value::Null;
        for _ in 0..200 {
            logs = app.get(&format!("event-logs?event={event}")).await.json;
            if logs["data"].as_array().is_some_and(|rows| !rows.is_empty()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let rows = logs["data"].as_array().unwrap_or_else(|| panic!("{event}: {logs}"));
        assert_eq!(rows[0]["relationships"]["resource"]["data"]["id"], *subject, "{event}");
    }
}

#[tokio::test]
async fn a_nul_in_an_engine_path_or_a_storage_url_is_refused_not_a_500() {
    let app = spawn_app().await;
    for path in [
        app.path("engines/tauri/a%00b?version=1.0.0"),
        app.path("engines/pypi/simple/a%00b/"),
        app.path("engines/npm/a%00b"),
        app.path("releases/x/artifacts/a%00b"),
    ] {
        let reply = get_raw(&app, &path, Some(app.admin()), &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.json);
    }
    let storage = format!(
        "/v1/storage/artifacts/a%00b/r/f?expires={}&signature=00",
        app.state.now().timestamp() + 60
    );
    let reply = get_raw(&app, &storage, None, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.json);
}
