//! The test harness: `spawn_app()` starts Keyledger on port 0 over a fresh store — a SQLite
//! file in a temporary folder, or a new PostgreSQL database when
//! `KEYLEDGER_TEST_DATABASE_URL` names a server — with one account already set up.
//!
//! Over 400 lines on purpose: it is the one harness every test module imports (apps, requests,
//! fixtures, a served process); split, each part would still be imported everywhere.

use api::bootstrap::Bootstrap;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// A running server with an account `acme` and its admin token.
pub struct TestApp {
    pub base: String,
    pub host: String,
    pub client: reqwest::Client,
    pub account: Bootstrap,
    pub state: api::AppState,
    pub database_url: String,
    /// The master key the store's account secrets are sealed with.
    pub secret: String,
    _running: keyledger::Running,
    _database: TestDatabase,
}

/// True when the suite runs against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("KEYLEDGER_TEST_DATABASE_URL")
        .map(|u| !u.is_empty())
        .unwrap_or(false)
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keyledger-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A fresh, empty store for one test: a new PostgreSQL database or a SQLite file in a new
/// folder. Dropping it removes it (the suite leaves nothing behind on the server).
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { server: String, name: String },
    Sqlite { dir: PathBuf },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { server, name } => {
                // Drop runs inside the test's runtime, which cannot block on a future: a thread
                // with its own runtime drops the database, ending the server's connections to it.
                let (server, name) = (server.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime
                        .block_on(async {
                            let admin = sqlx::PgPool::connect(&server).await?;
                            sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
                                .execute(&admin)
                                .await?;
                            admin.close().await;
                            Ok::<_, sqlx::Error>(())
                        })
                        .map_err(std::io::Error::other)
                })
                .join();
            }
        }
    }
}

/// A fresh, empty store for one test.
pub async fn fresh_database() -> TestDatabase {
    match std::env::var("KEYLEDGER_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let name = format!("kl_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&server)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::query(&format!("create database \"{name}\""))
                .execute(&admin)
                .await
                .expect("create test database");
            admin.close().await;
            let (prefix, _) = server.rsplit_once('/').expect("database URL has a path");
            TestDatabase {
                url: format!("{prefix}/{name}"),
                cleanup: Cleanup::Postgres { server, name },
            }
        }
        _ => {
            let dir = temp_dir();
            TestDatabase {
                url: format!("sqlite://{}/keyledger.db", dir.display()),
                cleanup: Cleanup::Sqlite { dir },
            }
        }
    }
}

/// Starts the server over a fresh store with the account `acme`.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_slug("acme").await
}

/// Starts the server over a fresh store with one account of the given slug.
pub async fn spawn_app_with_slug(slug: &str) -> TestApp {
    spawn_app_with(slug, true).await
}

/// Starts the server without its background catch-up runner.
pub async fn spawn_app_without_runner() -> TestApp {
    spawn_app_with("acme", false).await
}

/// Starts the server with the given tuning (snapshot interval, observation batches).
pub async fn spawn_app_with_settings(settings: api::state::Settings) -> TestApp {
    spawn_app_configured("acme", true, settings).await
}

/// Logs to stderr when `KEYLEDGER_TEST_LOG` is set (e.g. `KEYLEDGER_TEST_LOG=debug`): inline
/// projection failures and internal errors are only visible there.
fn init_test_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var("KEYLEDGER_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

async fn spawn_app_with(slug: &str, catch_up_runner: bool) -> TestApp {
    spawn_app_configured(slug, catch_up_runner, Default::default()).await
}

async fn spawn_app_configured(slug: &str, catch_up_runner: bool, settings: api::state::Settings) -> TestApp {
    spawn_app_full(slug, catch_up_runner, settings, None).await
}

/// Starts the server with its webhook workers (relay, fan-out, delivery) on the bus `config`
/// names.
pub async fn spawn_app_with_webhooks(config: keyledger::WebhookConfig) -> TestApp {
    spawn_app_full("acme", true, Default::default(), Some(config)).await
}

async fn spawn_app_full(
    slug: &str,
    catch_up_runner: bool,
    settings: api::state::Settings,
    webhooks: Option<keyledger::WebhookConfig>,
) -> TestApp {
    init_test_logs();
    let database = fresh_database().await;
    let database_url = database.url.clone();
    let secret = api::crypto::MasterKey::generate_hex();
    let state = keyledger::build_state_with(&database_url, Some(&secret), settings)
        .await
        .expect("store opens");
    let account = api::bootstrap::create_account(&state, "Acme", slug, "admin@example.com", "correct horse")
        .await
        .expect("account setup");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let webhooks = match webhooks {
        Some(config) => Some(keyledger::webhook_workers(
            &state,
            config.bus().await.expect("the bus connects"),
            &config,
        )),
        None => None,
    };
    let running = keyledger::start_with(
        state.clone(),
        listener,
        keyledger::WorkerOptions {
            catch_up: catch_up_runner,
            // Tests sweep heartbeats themselves (`api::sweep_heartbeats`), after moving the clock.
            heartbeats: None,
            webhooks,
            ..Default::default()
        },
    )
    .expect("server starts");
    let host = format!("127.0.0.1:{}", running.addr.port());
    TestApp {
        base: format!("http://{host}"),
        host,
        client: reqwest::Client::new(),
        account,
        state,
        database_url,
        secret,
        _running: running,
        _database: database,
    }
}

/// A response read whole: status, headers, raw body and its JSON.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub json: Value,
    pub method: Method,
    pub target: String,
}

impl Reply {
    pub async fn read(method: Method, target: String, response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            bytes,
            json,
            method,
            target,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first error's code.
    pub fn error_code(&self) -> &str {
        self.json["errors"][0]["code"].as_str().unwrap_or("")
    }

    /// The first error's `source.pointer`.
    pub fn error_pointer(&self) -> &str {
        self.json["errors"][0]["source"]["pointer"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// `/v1/accounts/<account id>/<rest>`.
    pub fn path(&self, rest: &str) -> String {
        if rest.is_empty() {
            format!("/v1/accounts/{}", self.account.account_id)
        } else {
            format!("/v1/accounts/{}/{rest}", self.account.account_id)
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn send(&self, method: Method, target: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.send_to(&self.base, method, target, token, body).await
    }

    /// [`TestApp::send`] to another node of the same store (`base` from `second_node`).
    pub async fn send_to(
        &self,
        base: &str,
        method: Method,
        target: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{base}{target}"))
            .header("Accept", "application/vnd.api+json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/vnd.api+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        Reply::read(method, target.to_string(), response).await
    }

    /// A request with the admin token, an optional JSON:API body and extra headers (e.g.
    /// `Keygen-Accept-Signature`).
    pub async fn send_with_headers(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{target}", self.base))
            .bearer_auth(self.admin());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/vnd.api+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        Reply::read(method, target.to_string(), response).await
    }

    /// Sends a raw body (for malformed-input tests).
    pub async fn send_raw(&self, method: Method, target: &str, token: &str, body: &str) -> Reply {
        let response = self
            .client
            .request(method.clone(), format!("{}{target}", self.base))
            .bearer_auth(token)
            .header("Content-Type", "application/vnd.api+json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        Reply::read(method, target.to_string(), response).await
    }

    /// Sends a request with an arbitrary `Authorization` header (or none) and query.
    pub async fn send_with_authorization(&self, method: Method, target: &str, authorization: Option<&str>) -> Reply {
        self.send_authorized(method, target, authorization, None).await
    }

    /// A request with this `Authorization` header as it is (any scheme), and a JSON:API body.
    pub async fn send_authorized(
        &self,
        method: Method,
        target: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method.clone(), format!("{}{target}", self.base));
        if let Some(a) = authorization {
            request = request.header("Authorization", a);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/vnd.api+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        Reply::read(method, target.to_string(), response).await
    }

    /// A client that does not follow redirects (to see a 303 or 307 and its `Location`).
    pub fn no_redirects(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client")
    }

    pub fn admin(&self) -> &str {
        &self.account.admin_token
    }

    pub async fn get(&self, rest: &str) -> Reply {
        self.send(Method::GET, &self.path(rest), Some(self.admin()), None).await
    }

    /// Creates a product as the admin and returns its JSON:API resource.
    pub async fn create_product(&self, name: &str, code: Option<&str>) -> Value {
        let mut attributes = json!({ "name": name });
        if let Some(code) = code {
            attributes["code"] = json!(code);
        }
        let reply = self
            .send(
                Method::POST,
                &self.path("products"),
                Some(self.admin()),
                Some(json!({"data": {"type": "products", "attributes": attributes}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        reply.json["data"].clone()
    }

    /// Generates a product token as the admin; returns (token id, raw token).
    pub async fn product_token(&self, product_id: &str) -> (String, String) {
        self.mint_token(&format!("products/{product_id}/tokens")).await
    }

    /// Generates a license (activation) token as the admin; returns (token id, raw token).
    pub async fn license_token(&self, license_id: &str) -> (String, String) {
        self.mint_token(&format!("licenses/{license_id}/tokens")).await
    }

    async fn mint_token(&self, route: &str) -> (String, String) {
        let reply = self
            .send(Method::POST, &self.path(route), Some(self.admin()), None)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        let data = &reply.json["data"];
        (
            data["id"].as_str().unwrap().to_string(),
            data["attributes"]["token"].as_str().unwrap().to_string(),
        )
    }

    /// Checks `Keygen-Signature` with the account's public key, independently of the server's
    /// signing code: digest of the body, then ed25519 over Keygen's four signed lines.
    pub fn verify_signature(&self, reply: &Reply) -> Result<(), String> {
        verify_signature_with(&self.account.public_key, &self.host, reply, &reply.bytes)
    }
}

/// Verifies a reply's signature against `body` (which a test may tamper with).
pub fn verify_signature_with(public_key_hex: &str, host: &str, reply: &Reply, body: &[u8]) -> Result<(), String> {
    let target = format!("{} {}", reply.method.as_str().to_lowercase(), reply.target);
    verify_signed(public_key_hex, &target, host, &reply.headers, body)
}

/// Verifies Keygen's signature headers over `body`: `target` is the signed request target
/// (`post /path?query`), `host` the signed host.
pub fn verify_signed(
    public_key_hex: &str,
    target: &str,
    host: &str,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let header = get("keygen-signature").ok_or("no Keygen-Signature")?;
    let date = get("keygen-date").ok_or("no Keygen-Date")?;
    if get("date") != Some(date) {
        return Err("Date and Keygen-Date differ".into());
    }
    let digest = format!("sha-256={}", B64.encode(Sha256::digest(body)));
    if get("keygen-digest") != Some(digest.as_str()) || get("digest") != Some(digest.as_str()) {
        return Err("digest does not match the body".into());
    }
    let field = |name: &str| -> Option<String> {
        header.split(", ").find_map(|part| {
            part.strip_prefix(&format!("{name}=\""))
                .map(|v| v.trim_end_matches('"').to_string())
        })
    };
    if field("algorithm").as_deref() != Some("ed25519") {
        return Err("algorithm is not ed25519".into());
    }
    if field("headers").as_deref() != Some("(request-target) host date digest") {
        return Err("unexpected signed header list".into());
    }
    let signature = B64
        .decode(field("signature").ok_or("no signature")?)
        .map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(&signature).map_err(|e| e.to_string())?;
    let message = format!("(request-target): {target}\nhost: {host}\ndate: {date}\ndigest: {digest}");
    let key: [u8; 32] = hex::decode(public_key_hex)
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "key length")?;
    let key = VerifyingKey::from_bytes(&key).map_err(|e| e.to_string())?;
    key.verify(message.as_bytes(), &signature).map_err(|e| e.to_string())
}

impl TestApp {
    /// Creates a policy for `product_id` as the admin, with extra attributes.
    pub async fn create_policy(&self, product_id: &str, attributes: Value) -> Value {
        let reply = self.try_create_policy(product_id, attributes).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        reply.json["data"].clone()
    }

    /// Sends a policy create request (named "Policy" unless `attributes` say) as the admin.
    pub async fn try_create_policy(&self, product_id: &str, attributes: Value) -> Reply {
        let mut attrs = json!({ "name": "Policy" });
        attrs
            .as_object_mut()
            .unwrap()
            .extend(attributes.as_object().cloned().unwrap_or_default());
        let body = json!({"data": {"type": "policies", "attributes": attrs,
            "relationships": {"product": {"data": {"type": "products", "id": product_id}}}}});
        self.send(Method::POST, &self.path("policies"), Some(self.admin()), Some(body))
            .await
    }

    /// Creates a license under `policy_id` as the admin, with extra attributes.
    pub async fn create_license(&self, policy_id: &str, attributes: Value) -> Value {
        let reply = self.try_create_license(policy_id, attributes).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        reply.json["data"].clone()
    }

    /// Sends a license create request as the admin.
    pub async fn try_create_license(&self, policy_id: &str, attributes: Value) -> Reply {
        let body = json!({"data": {"type": "licenses", "attributes": attributes,
            "relationships": {"policy": {"data": {"type": "policies", "id": policy_id}}}}});
        self.send(Method::POST, &self.path("licenses"), Some(self.admin()), Some(body))
            .await
    }

    /// A product, a policy with `attributes` and a license under it: returns (policy, license).
    pub async fn licensed(&self, policy_attributes: Value, license_attributes: Value) -> (Value, Value) {
        let product = self.create_product("Licensed App", None).await;
        let policy = self
            .create_policy(product["id"].as_str().unwrap(), policy_attributes)
            .await;
        let license = self
            .create_license(policy["id"].as_str().unwrap(), license_attributes)
            .await;
        (policy, license)
    }

    /// Creates an entitlement as the admin.
    pub async fn create_entitlement(&self, code: &str) -> Value {
        let body = json!({"data": {"type": "entitlements", "attributes": {"name": code.to_uppercase(), "code": code}}});
        let reply = self
            .send(Method::POST, &self.path("entitlements"), Some(self.admin()), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        reply.json["data"].clone()
    }

    /// `POST /licenses/{id}/actions/validate` with `meta`, as the admin.
    pub async fn validate(&self, license_id: &str, meta: Value) -> Reply {
        let path = self.path(&format!("licenses/{license_id}/actions/validate"));
        self.send(Method::POST, &path, Some(self.admin()), Some(json!({ "meta": meta })))
            .await
    }
}

impl TestApp {
    /// A second server over the same store, as another node of a deployment would be.
    pub async fn second_node(&self) -> (String, keyledger::Running) {
        let state = keyledger::build_state(&self.database_url, Some(&self.secret))
            .await
            .expect("store opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let options = keyledger::WorkerOptions {
            heartbeats: None,
            ..Default::default()
        };
        let running = keyledger::start_with(state, listener, options).expect("server starts");
        (format!("http://127.0.0.1:{}", running.addr.port()), running)
    }
}

/// `keyledger` as an operator runs it: the built binary, inheriting no `KEYLEDGER_*` setting.
pub fn keyledger_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keyledger"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYLEDGER_") {
            command.env_remove(key);
        }
    }
    command
}

/// Runs `command` to its end off the test's runtime thread. The in-process server's tasks share
/// that thread: a blocking wait there would freeze them mid-transaction (the catch-up runner's,
/// say), and a `projections rebuild` child would wait on that open transaction for good.
pub async fn output_of(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("keyledger runs"))
        .await
        .expect("the command's thread ends")
}

/// A `keyledger serve` child process, the address it listens on and what it printed.
pub struct ServeProcess {
    child: std::process::Child,
    pub addr: std::net::SocketAddr,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// What a stopped `serve` left: its exit status, stdout and stderr lines.
pub struct ServeOutput {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl ServeProcess {
    /// Spawns `command` (a `serve` with `--bind 127.0.0.1:0`) and waits for the log line naming
    /// the address it listens on; `Err` with everything it printed when it exits first.
    pub fn start(command: std::process::Command) -> Result<Self, ServeOutput> {
        let (mut process, line) = Self::start_until(command, "listening on ")?;
        let rest = &line[line.find("listening on ").unwrap() + "listening on ".len()..];
        let addr: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect();
        process.addr = addr.parse().expect("an address in the listening line");
        Ok(process)
    }

    /// Spawns `command` (a `serve --role worker`, which listens on nothing) and waits for the log
    /// line saying its workers run.
    pub fn start_worker(command: std::process::Command) -> Result<Self, ServeOutput> {
        Self::start_until(command, "workers running").map(|(process, _)| process)
    }

    /// Spawns `command` and waits for a log line containing `marker`; answers the line too.
    fn start_until(mut command: std::process::Command, marker: &str) -> Result<(Self, String), ServeOutput> {
        use std::io::BufRead;
        use std::sync::{Arc, Mutex};
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("keyledger runs");
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out_pipe = std::io::BufReader::new(child.stdout.take().unwrap());
        let err_pipe = std::io::BufReader::new(child.stderr.take().unwrap());
        let out_lines = stdout.clone();
        let err_lines = stderr.clone();
        let readers = vec![
            std::thread::spawn(move || {
                for line in out_pipe.lines().map_while(Result::ok) {
                    out_lines.lock().unwrap().push(line);
                }
            }),
            std::thread::spawn(move || {
                for line in err_pipe.lines().map_while(Result::ok) {
                    err_lines.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            }),
        ];
        let mut process = ServeProcess {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            stdout,
            stderr,
            readers,
        };
        loop {
            match rx.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(line) => {
                    if line.contains(marker) {
                        return Ok((process, line));
                    }
                }
                Err(_) => {
                    // Exited (the pipe closed) or silent for a minute: either way it is not serving.
                    let _ = process.child.kill();
                    return Err(process.wait());
                }
            }
        }
    }

    /// The lines printed on stdout up to the first containing `marker`, waiting for it (stdout
    /// and stderr are read apart, so the log line that says the server listens can arrive first).
    pub fn stdout_through(&self, marker: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let lines = self.stdout.lock().unwrap().clone();
            if let Some(at) = lines.iter().position(|line| line.contains(marker)) {
                return lines[..=at].to_vec();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {marker:?} on stdout: {lines:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// SIGTERM (a graceful shutdown), then everything the process printed.
    pub fn stop(self) -> ServeOutput {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.wait()
    }

    /// Kills the process with SIGKILL, as a crash would: nothing of it runs after.
    pub fn kill(mut self) -> ServeOutput {
        self.child.kill().expect("SIGKILL is sent");
        self.wait()
    }

    fn wait(mut self) -> ServeOutput {
        let status = self.child.wait().expect("the process ends");
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        ServeOutput {
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

/// `text` with its character at `at` changed (`A` becomes `B`, anything else `A`): one byte of a
/// key, file or signature tampered with, still in the same alphabet.
pub fn one_char_changed(text: &str, at: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}
