//! Accounts: retrieval with the public key, resolution by id or slug, the setup command, and
//! the request-wide headers (`Keygen-Version`, `X-Request-Id`, `Accept`).

use crate::helpers::{fresh_database, keyledger_command, spawn_app, ServeProcess};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn the_account_shows_its_ed25519_public_key_as_keygen_does() {
    let app = spawn_app().await;
    for address in [app.account.account_id.clone(), "acme".to_string()] {
        let reply = app
            .send(Method::GET, &format!("/v1/accounts/{address}"), Some(app.admin()), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let data = &reply.json["data"];
        assert_eq!(data["type"], "accounts");
        assert_eq!(data["id"], app.account.account_id.as_str());
        assert_eq!(data["attributes"]["slug"], "acme");
        let ed25519 = data["meta"]["keys"]["ed25519"].as_str().unwrap();
        assert_eq!(
            B64.decode(ed25519).unwrap(),
            app.account.public_key.as_bytes(),
            "base64 of the hex key"
        );
    }
}

#[tokio::test]
async fn an_unknown_account_is_404() {
    let app = spawn_app().await;
    let wrong_method = app
        .send(Method::PATCH, &app.path("tokens"), Some(app.admin()), None)
        .await;
    assert_eq!(
        (wrong_method.status, wrong_method.error_code()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    app.verify_signature(&wrong_method)
        .expect("signed like every answer under the account");
    let reply = app
        .send(Method::GET, "/v1/accounts/nobody/products", Some(app.admin()), None)
        .await;
    assert_eq!((reply.status, reply.error_code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    assert!(reply.json["meta"]["id"].is_string());
}

#[tokio::test]
async fn keygen_version_is_echoed_and_checked() {
    let app = spawn_app().await;
    let url = format!("{}{}", app.base, app.path("products"));
    let reply = app.client.get(&url).bearer_auth(app.admin()).send().await.unwrap();
    assert_eq!(reply.headers()["keygen-version"], "1.8");
    let reply = app
        .client
        .get(&url)
        .bearer_auth(app.admin())
        .header("Keygen-Version", "1.5")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.headers()["keygen-version"], "1.5");
    assert!(reply.headers().contains_key("x-request-id"));
    let reply = app
        .client
        .get(&url)
        .bearer_auth(app.admin())
        .header("Keygen-Version", "9.9")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "INVALID_API_VERSION");
}

#[tokio::test]
async fn an_unacceptable_accept_header_is_refused() {
    let app = spawn_app().await;
    let url = format!("{}{}", app.base, app.path("products"));
    let reply = app
        .client
        .get(&url)
        .bearer_auth(app.admin())
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MIME_TYPE_INVALID");
    let reply = app
        .client
        .get(&url)
        .bearer_auth(app.admin())
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
}

#[tokio::test]
async fn setup_prints_one_json_object_whose_token_works() {
    let database = fresh_database().await;
    let database_url = database.url.clone();
    let secret = api::crypto::MasterKey::generate_hex();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_keyledger"))
        .args([
            "setup",
            "--name",
            "Initech",
            "--slug",
            "initech",
            "--email",
            "boss@initech.test",
            "--password",
            "tps-report",
            "--json",
        ])
        .env("KEYLEDGER_DATABASE_URL", &database_url)
        .env("KEYLEDGER_SECRET_KEY", &secret)
        .output()
        .expect("keyledger runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "exactly one line: {stdout}");
    let printed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(printed["accountSlug"], "initech");
    assert!(printed["adminToken"].as_str().unwrap().starts_with("admin-"));
    assert_eq!(printed["publicKey"].as_str().unwrap().len(), 64);
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(printed["adminToken"].as_str().unwrap()),
        "the token is not logged"
    );

    // The same store, served: the printed token and slug work.
    let state = keyledger::build_state(&database_url, Some(&secret)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = keyledger::start(state, listener).unwrap();
    let reply = reqwest::Client::new()
        .get(format!("http://{}/v1/accounts/initech/me", running.addr))
        .bearer_auth(printed["adminToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    running.stop().await.unwrap();

    // A second setup with the same slug is refused.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_keyledger"))
        .args([
            "setup",
            "--name",
            "Other",
            "--slug",
            "initech",
            "--email",
            "x@initech.test",
            "--password",
            "p",
            "--json",
        ])
        .env("KEYLEDGER_DATABASE_URL", &database_url)
        .env("KEYLEDGER_SECRET_KEY", &secret)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("SLUG_TAKEN"));
}

#[tokio::test]
async fn serve_on_an_empty_store_creates_the_default_account_once() {
    if crate::helpers::on_postgres() {
        return; // the embedded default is SQLite; PostgreSQL needs its own secret key and is covered by setup
    }
    let dir = std::env::temp_dir().join(format!("keyledger-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |dir: &std::path::Path| {
        // The server picks its own port (so no other test can take it first) and logs it.
        let mut command = keyledger_command();
        command.args(["serve", "--bind", "127.0.0.1:0"]).current_dir(dir);
        let served = ServeProcess::start(command).unwrap_or_else(|out| panic!("{:?}", out.stderr));
        assert!(std::net::TcpStream::connect(served.addr).is_ok(), "the server answers");
        let output = served.stop();
        assert!(output.status.success(), "graceful shutdown exits 0");
        output.stdout.join("\n")
    };
    let first = run(&dir);
    assert!(first.contains("admin token:    admin-"), "{first}");
    assert!(first.contains("admin email:    admin@keyledger.local"), "{first}");
    assert!(dir.join("keyledger.db.secret-key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keyledger.db.secret-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = run(&dir);
    assert!(!second.contains("admin token"), "printed once: {second}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgresql_requires_a_secret_key_and_sqlite_keeps_its_generated_one() {
    let missing = keyledger::master_key(None, "postgres://x@127.0.0.1/db", store::Backend::Postgres, false);
    assert!(matches!(missing, Err(keyledger::StartError::SecretKeyRequired)));
    let dir = std::env::temp_dir().join(format!("keyledger-key-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/k.db", dir.display());
    let first = keyledger::master_key(None, &url, store::Backend::Sqlite, false).unwrap();
    let second = keyledger::master_key(None, &url, store::Backend::Sqlite, false).unwrap();
    let sealed = first.seal(b"kept");
    assert_eq!(
        second.open(&sealed).unwrap(),
        b"kept",
        "the same key is reused on the next start"
    );
}

#[tokio::test]
async fn short_routes_address_the_only_account_as_keygens_single_player_mode() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(serde_json::json!({}), serde_json::json!({})).await;
    let reply = app.send(Method::GET, "/v1/products", Some(app.admin()), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    app.verify_signature(&reply)
        .expect("signed over the short path the client sent");
    let key = license["attributes"]["key"].as_str().unwrap();
    let body = serde_json::json!({"meta": {"key": key}});
    let reply = app
        .send(
            Method::POST,
            "/v1/licenses/actions/validate-key",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(reply.json["meta"]["code"], "VALID");
    // With a second account the short form no longer says which one is meant.
    api::bootstrap::create_account(&app.state, "Second", "second", "s@example.com", "pw")
        .await
        .unwrap();
    let reply = app
        .send(Method::POST, "/v1/licenses/actions/validate-key", None, Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let full = app
        .send(Method::GET, &app.path("products"), Some(app.admin()), None)
        .await;
    assert_eq!(full.status, StatusCode::OK);
}
