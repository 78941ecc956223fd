//! The operator's first hour: the README's first session as written, the master key checked at
//! start, errors that name the host, path or address, logs an operator can read, and the
//! command-line tools (`tokens create`, `events export --account <slug>`).
//!
//! Over 400 lines on purpose: each step runs a real `keyledger` process and reads its output,
//! set up in full so the test reads as the operator's session.

use crate::helpers::{fresh_database, keyledger_command, on_postgres, spawn_app, ServeProcess};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keyledger-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `keyledger serve` on the embedded default in `dir`, on a port of its choosing.
fn serve_in(dir: &Path, extra_env: &[(&str, &str)]) -> ServeProcess {
    let mut command = keyledger_command();
    command.args(["serve", "--bind", "127.0.0.1:0"]).current_dir(dir);
    for (key, value) in extra_env {
        command.env(key, value);
    }
    ServeProcess::start(command).unwrap_or_else(|out| panic!("serve did not start: {:?}", out.stderr))
}

/// The value after `label` in the first-start banner.
fn banner_value(stdout: &[String], label: &str) -> String {
    stdout
        .iter()
        .find_map(|line| line.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in {stdout:?}"))
        .trim()
        .to_string()
}

/// Runs a command to completion, returning (success, stdout, stderr).
fn run(command: &mut std::process::Command) -> (bool, String, String) {
    let output = command.output().expect("keyledger runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The README's "A first session" block, with its four fill-in lines given the printed values.
fn readme_first_session(token: &str, email: &str, password: &str, api: &str) -> (String, usize) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## A first session").expect("the section")..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a sh block");
    let mut filled = 0;
    let script: Vec<String> = block
        .lines()
        .map(|line| {
            let value = match line.split_once('=') {
                Some(("TOKEN", _)) => token,
                Some(("EMAIL", _)) => email,
                Some(("PASSWORD", _)) => password,
                Some(("API", _)) => api,
                _ => return line.to_string(),
            };
            filled += 1;
            format!("{}='{value}'", line.split_once('=').unwrap().0)
        })
        .collect();
    assert_eq!(filled, 4, "the block starts with TOKEN, EMAIL, PASSWORD and API");
    let requests = block.lines().filter(|l| l.trim_start().starts_with("curl ")).count();
    (script.join("\n"), requests)
}

#[tokio::test]
async fn the_readmes_first_session_runs_as_written_with_2xx_at_every_step() {
    if on_postgres() {
        return; // the README's first session is the embedded default's
    }
    let dir = temp_dir("readme");
    let served = serve_in(&dir, &[]);
    let stdout = served.stdout_through("Keep these");
    let token = banner_value(&stdout, "admin token:");
    let email = banner_value(&stdout, "admin email:");
    let password = banner_value(&stdout, "admin password:");
    let api = format!("http://{}/v1/accounts/default", served.addr);
    let (script, requests) = readme_first_session(&token, &email, &password, &api);
    assert!(requests >= 4, "{script}");

    // Every `curl` of the block records its HTTP status; a failed connection stops the script.
    let statuses = dir.join("statuses");
    let wrapper = format!(
        "set -eu\ncurl() {{ local out; out=$(command curl -w '\\n%{{http_code}}' \"$@\"); \
         printf '%s\\n' \"${{out%$'\\n'*}}\"; printf '%s\\n' \"${{out##*$'\\n'}}\" >> '{}'; }}\n",
        statuses.display()
    );
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{wrapper}{script}"))
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let codes: Vec<u16> = std::fs::read_to_string(&statuses)
        .unwrap()
        .lines()
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(codes.len(), requests, "every request ran: {codes:?}");
    assert!(
        codes.iter().all(|c| (200..300).contains(c)),
        "2xx at every step: {codes:?}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(served.stop().status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_first_start_takes_the_admins_login_from_the_environment() {
    if on_postgres() {
        return; // the first start's default account is the embedded default's
    }
    let dir = temp_dir("admin-env");
    let served = serve_in(
        &dir,
        &[
            ("KEYLEDGER_ADMIN_EMAIL", "ops@example.test"),
            ("KEYLEDGER_ADMIN_PASSWORD", "chosen password"),
        ],
    );
    let stdout = served.stdout_through("Keep these");
    assert_eq!(banner_value(&stdout, "admin email:"), "ops@example.test");
    assert!(
        !stdout.join("\n").contains("chosen password"),
        "a given password is not echoed"
    );
    let login = reqwest::Client::new()
        .post(format!("http://{}/v1/accounts/default/tokens", served.addr))
        .basic_auth("ops@example.test", Some("chosen password"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::CREATED);
    served.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused_at_start_by_serve_and_setup() {
    let app = spawn_app().await;
    let wrong = api::crypto::MasterKey::generate_hex();
    let err = keyledger::build_state(&app.database_url, Some(&wrong))
        .await
        .err()
        .expect("a key that does not open the accounts is refused");
    assert!(matches!(err, keyledger::StartError::WrongSecretKey { .. }), "{err}");

    let mut serve = keyledger_command();
    serve
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &wrong);
    let refused = ServeProcess::start(serve).err().expect("serve stops before listening");
    assert!(!refused.status.success());
    let stderr = refused.stderr.join("\n");
    assert!(
        stderr.contains("does not open the keys of account \"acme\"") && stderr.contains("KEYLEDGER_SECRET_KEY"),
        "{stderr}"
    );

    let (ok, _, stderr) = run(keyledger_command()
        .args(["setup", "--name", "Two", "--slug", "two", "--email", "a@two.test"])
        .env("KEYLEDGER_SETUP_PASSWORD", "pw")
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &wrong));
    assert!(!ok, "setup under another key would seal accounts under two keys");
    assert!(stderr.contains("does not open the keys"), "{stderr}");
    assert!(
        api::bootstrap::admin_token(&app.state, "two", None)
            .await
            .unwrap()
            .is_none(),
        "nothing was created"
    );
}

#[tokio::test]
async fn no_secret_key_is_generated_beside_a_store_that_has_accounts() {
    if on_postgres() {
        return; // PostgreSQL never generates a key: it requires KEYLEDGER_SECRET_KEY
    }
    let dir = temp_dir("lost-key");
    serve_in(&dir, &[]).stop();
    let key_file = dir.join("keyledger.db.secret-key");
    std::fs::remove_file(&key_file).unwrap();

    let mut command = keyledger_command();
    command.args(["serve", "--bind", "127.0.0.1:0"]).current_dir(&dir);
    let refused = ServeProcess::start(command).err().expect("serve refuses to start");
    let stderr = refused.stderr.join("\n");
    assert!(
        stderr.contains("keyledger.db.secret-key is missing") && stderr.contains("KEYLEDGER_SECRET_KEY"),
        "{stderr}"
    );
    assert!(
        !key_file.exists(),
        "no new key beside the accounts sealed under the old one"
    );

    // Nor when the read models are empty (a rebuild interrupted): the event store decides.
    let url = format!("sqlite://{}", dir.join("keyledger.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("delete from accounts").execute(&pool).await.unwrap();
    pool.close().await;
    let err = keyledger::build_state(&url, None)
        .await
        .err()
        .expect("refused without the key");
    assert!(matches!(err, keyledger::StartError::SecretKeyMissing { .. }), "{err}");
    assert!(!key_file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_data_directory_holds_the_embedded_store_and_its_key() {
    if on_postgres() {
        return;
    }
    let dir = temp_dir("data-dir");
    let data = dir.join("var").join("keyledger");
    let served = serve_in(&dir, &[("KEYLEDGER_DATA_DIR", data.to_str().unwrap())]);
    served.stop();
    assert!(data.join("keyledger.db").exists());
    assert!(data.join("keyledger.db.secret-key").exists());
    assert!(!dir.join("keyledger.db").exists(), "nothing in the working directory");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn start_up_errors_name_the_host_the_path_or_the_address() {
    // A PostgreSQL port nobody listens on: at once, naming host and port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (ok, _, stderr) = run(keyledger_command().arg("migrate").env(
        "KEYLEDGER_DATABASE_URL",
        format!("postgres://kl:hunter2@127.0.0.1:{port}/kl"),
    ));
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "no password in errors: {stderr}");

    // A SQLite file in a folder that does not exist: the path.
    let missing = std::env::temp_dir().join(format!("keyledger-nowhere-{}", uuid::Uuid::new_v4().simple()));
    let path = missing.join("sub").join("k.db");
    let (ok, _, stderr) = run(keyledger_command()
        .arg("migrate")
        .env("KEYLEDGER_DATABASE_URL", format!("sqlite://{}", path.display())));
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot open the SQLite database {}", path.display())),
        "{stderr}"
    );

    // An address already taken: the address, and how to choose another.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = temp_dir("taken");
    let (ok, _, stderr) = run(keyledger_command()
        .args(["serve", "--bind", &address])
        .current_dir(&dir));
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot listen on {address}"))
            && stderr.contains("--bind")
            && stderr.contains("KEYLEDGER_BIND"),
        "{stderr}"
    );
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);

    // A PostgreSQL server without the database: says so, and names the server.
    if let Ok(server) = std::env::var("KEYLEDGER_TEST_DATABASE_URL") {
        let (prefix, _) = server.rsplit_once('/').unwrap();
        let (ok, _, stderr) = run(keyledger_command()
            .arg("migrate")
            .env("KEYLEDGER_DATABASE_URL", format!("{prefix}/kl_never_created")));
        assert!(!ok);
        assert!(
            stderr.contains("has no database \"kl_never_created\"") && stderr.contains("127.0.0.1:"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn json_logs_parse_and_carry_the_access_log_fields() {
    let database = fresh_database().await;
    let secret = api::crypto::MasterKey::generate_hex();
    let mut command = keyledger_command();
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("KEYLEDGER_DATABASE_URL", &database.url)
        .env("KEYLEDGER_SECRET_KEY", &secret)
        .env("KEYLEDGER_LOG_FORMAT", "json");
    let served = ServeProcess::start(command).unwrap_or_else(|out| panic!("{:?}", out.stderr));
    let key = "SECRET-LICENSE-KEY-1234";
    let reply = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/accounts/default/licenses/{key}?auth=license:{key}",
            served.addr
        ))
        .send()
        .await
        .unwrap();
    let request_id = reply.headers()["x-request-id"].to_str().unwrap().to_string();
    let output = served.stop();
    let lines: Vec<Value> = output
        .stderr
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let started = lines
        .iter()
        .find(|l| l["fields"]["addr"].is_string())
        .expect("a start-up line");
    assert_eq!(started["fields"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(started["fields"]["role"], "all");
    let backend = started["fields"]["backend"].as_str().unwrap();
    assert!(
        backend.starts_with("sqlite:") || backend.starts_with("postgresql://"),
        "{backend}"
    );
    assert!(!backend.contains('@'), "no credentials: {backend}");

    let access = lines
        .iter()
        .find(|l| l["target"] == "keyledger::access")
        .expect("an access-log line");
    let fields = &access["fields"];
    assert_eq!(access["level"], "INFO");
    assert_eq!(fields["method"], "GET");
    assert_eq!(fields["path"], "/v1/accounts/default/licenses/[key]");
    assert_eq!(fields["status"], reply.status().as_u16());
    assert!(fields["duration_ms"].as_f64().is_some(), "{fields}");
    assert_eq!(fields["request_id"], request_id.as_str());
    assert!(fields["account"].as_str().is_some_and(|a| a.len() == 36), "{fields}");
    assert!(
        !output.stderr.iter().any(|l| l.contains(key)),
        "no license key in the logs"
    );
}

#[tokio::test]
async fn log_settings_are_checked_and_text_logs_have_no_colours_off_a_terminal() {
    let (ok, _, stderr) = run(keyledger_command()
        .arg("migrate")
        .env("KEYLEDGER_LOG", "keyledger=loud")
        .env("KEYLEDGER_DATABASE_URL", "sqlite::memory:"));
    assert!(!ok);
    assert!(stderr.contains("KEYLEDGER_LOG"), "{stderr}");
    let (ok, _, stderr) = run(keyledger_command()
        .arg("migrate")
        .env("KEYLEDGER_LOG_FORMAT", "xml")
        .env("KEYLEDGER_DATABASE_URL", "sqlite::memory:"));
    assert!(!ok);
    assert!(stderr.contains("KEYLEDGER_LOG_FORMAT"), "{stderr}");
    let (ok, _, stderr) = run(keyledger_command()
        .arg("migrate")
        .env("KEYLEDGER_DATABASE_URL", "sqlite::memory:"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("migrations applied"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI colours on a pipe: {stderr:?}");
}

#[tokio::test]
async fn tokens_create_mints_an_admin_token_that_works() {
    let app = spawn_app().await;
    let (ok, stdout, stderr) = run(keyledger_command()
        .args(["tokens", "create", "--account", "acme", "--admin", "--json"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret));
    assert!(ok, "{stderr}");
    let issued: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(issued["accountId"], app.account.account_id.as_str());
    assert_eq!(issued["adminEmail"], "admin@example.com");
    let token = issued["adminToken"].as_str().unwrap();
    assert!(!stderr.contains(token), "the token is not logged");
    let me = app.send(reqwest::Method::GET, &app.path("me"), Some(token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["data"]["attributes"]["role"], "admin");
    assert_eq!(me.json["included"][0]["id"], issued["tokenId"]);

    let (ok, _, stderr) = run(keyledger_command()
        .args(["tokens", "create", "--account", "nobody", "--admin"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret));
    assert!(!ok);
    assert!(stderr.contains("no account with the id or slug \"nobody\""), "{stderr}");
}

#[tokio::test]
async fn events_export_takes_an_account_slug_and_refuses_an_unknown_one() {
    let app = spawn_app().await;
    app.create_product("Exported", Some("exported")).await;
    let export = |account: &str| {
        run(keyledger_command()
            .args(["events", "export", "--account", account])
            .env("KEYLEDGER_DATABASE_URL", &app.database_url))
    };
    let (ok, by_id, stderr) = export(&app.account.account_id);
    assert!(ok, "{stderr}");
    let (ok, by_slug, stderr) = export("acme");
    assert!(ok, "{stderr}");
    assert!(by_slug.lines().count() >= 4, "{by_slug}");
    assert_eq!(by_slug, by_id);
    let (ok, stdout, stderr) = export("nobody");
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("no account with the id or slug \"nobody\""), "{stderr}");
}

#[tokio::test]
async fn setup_explains_what_it_needs_and_what_a_slug_may_be() {
    let database = fresh_database().await;
    let secret = api::crypto::MasterKey::generate_hex();
    let (ok, _, stderr) = run(keyledger_command()
        .args(["setup", "--name", "A", "--slug", "a", "--email", "a@a.test"])
        .env("KEYLEDGER_DATABASE_URL", &database.url)
        .env("KEYLEDGER_SECRET_KEY", &secret));
    assert!(!ok);
    assert!(stderr.contains("KEYLEDGER_SETUP_PASSWORD"), "{stderr}");
    let (ok, _, stderr) = run(keyledger_command()
        .args([
            "setup",
            "--name",
            "A",
            "--slug",
            "6a7562be-b302-43d2-a550-30d6026247aa",
            "--email",
            "a@a.test",
        ])
        .env("KEYLEDGER_SETUP_PASSWORD", "pw")
        .env("KEYLEDGER_DATABASE_URL", &database.url)
        .env("KEYLEDGER_SECRET_KEY", &secret));
    assert!(!ok);
    assert!(
        stderr.contains("SLUG_INVALID") && stderr.contains("must not look like a UUID"),
        "{stderr}"
    );
    let (_, help, _) = run(keyledger_command().args(["setup", "--help"]));
    let usage = help.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert!(!usage.contains("--password"), "optional: {usage}");
    for flag in ["--name", "--slug", "--email", "--password"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} in {help}"));
        assert!(line.trim().len() > flag.len() + 10, "{flag} has help text: {help}");
    }
}
