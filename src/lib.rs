//! Keyledger's composition root: configuration, opening the store, the master key, and
//! running the API with its background runners. `src/main.rs` is the CLI over this.

use api::crypto::MasterKey;
use api::AppState;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use store::{Backend, Database};
use tokio::net::TcpListener;
use tokio::sync::watch;
pub use workers::WorkerOptions;

pub mod offline;
mod webhooks;
pub use webhooks::{webhook_workers, WebhookConfig};

/// The allocator of everything that links Keyledger (see Cargo.toml): the `keyledger` binary,
/// and the benchmarks that run its server in-process, so they measure what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The embedded default: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keyledger.db";

/// The embedded default's database in `data_dir` (`KEYLEDGER_DATA_DIR`), which is created when
/// missing; its secret key file is kept beside it.
pub fn default_database_url(data_dir: &Path) -> Result<String, StartError> {
    if data_dir == Path::new(".") || data_dir.as_os_str().is_empty() {
        return Ok(DEFAULT_DATABASE_URL.to_string());
    }
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    Ok(format!("sqlite://{}", data_dir.join("keyledger.db").display()))
}

/// Failures while starting up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Crypto(#[from] api::crypto::CryptoError),
    #[error("KEYLEDGER_SECRET_KEY is required with PostgreSQL (64 hex characters)")]
    SecretKeyRequired,
    #[error("secret key file {path}: {source}")]
    SecretKeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "the store already holds accounts, but their secret key file {path} is missing: restore it from your backup, or set KEYLEDGER_SECRET_KEY to the key the store was created with (a new key would not open the accounts' keys)"
    )]
    SecretKeyMissing { path: PathBuf },
    #[error(
        "the secret key {source_of_key} does not open the keys of account \"{account}\": this store was created with another key; set KEYLEDGER_SECRET_KEY (or restore the key file) to the one it was created with"
    )]
    WrongSecretKey { source_of_key: String, account: String },
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Api(String),
    #[error("cannot listen on {address}: {source} (choose another address with --bind or KEYLEDGER_BIND)")]
    Bind { address: String, source: std::io::Error },
    #[error("no account with the id or slug \"{0}\" in this store")]
    UnknownAccount(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
    #[error("cannot reach the event bus (KEYLEDGER_NATS_URL): {0}")]
    Bus(String),
    #[error("KEYLEDGER_WEBHOOK_ALLOW_NETS: {0}")]
    AllowNets(String),
}

/// Connects to the store and applies its migrations.
pub async fn open_store(database_url: &str) -> Result<Database, StartError> {
    let db = Database::connect(database_url).await?;
    db.migrate().await?;
    Ok(db)
}

/// The file the generated secret key lives in: beside the SQLite database.
fn secret_key_path(database_url: &str) -> PathBuf {
    let path = database_url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    PathBuf::from(format!("{path}.secret-key"))
}

/// The master key: from `KEYLEDGER_SECRET_KEY` when given; with SQLite and none given, read
/// from (or generated into) a 0600 file beside the database — but never generated beside a
/// store that already holds accounts, whose keys a new key could not open; with PostgreSQL,
/// required.
pub fn master_key(
    secret_key: Option<&str>,
    database_url: &str,
    backend: Backend,
    store_has_accounts: bool,
) -> Result<MasterKey, StartError> {
    if let Some(hex_key) = secret_key.filter(|k| !k.is_empty()) {
        return Ok(MasterKey::from_hex(hex_key)?);
    }
    if backend == Backend::Postgres {
        return Err(StartError::SecretKeyRequired);
    }
    let path = secret_key_path(database_url);
    let file_err = |source| StartError::SecretKeyFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(existing) => {
            tracing::info!(path = %path.display(), "using the secret key stored beside the database");
            Ok(MasterKey::from_hex(existing.trim())?)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && store_has_accounts => {
            Err(StartError::SecretKeyMissing { path })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let generated = MasterKey::generate_hex();
            write_private_file(&path, &generated).map_err(file_err)?;
            tracing::warn!(
                path = %path.display(),
                "KEYLEDGER_SECRET_KEY not set: generated a secret key into this file (mode 0600); keep it with the database"
            );
            Ok(MasterKey::from_hex(&generated)?)
        }
        Err(err) => Err(file_err(err)),
    }
}

fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Opens the store and builds the API state. The master key is proven against a stored
/// account before anything runs: a wrong key is refused here, not answered with a 500 on every
/// request.
pub async fn build_state(database_url: &str, secret_key: Option<&str>) -> Result<AppState, StartError> {
    build_state_with(database_url, secret_key, Default::default()).await
}

/// [`build_state`] with the operator's tuning.
pub async fn build_state_with(
    database_url: &str,
    secret_key: Option<&str>,
    settings: api::state::Settings,
) -> Result<AppState, StartError> {
    let db = open_store(database_url).await?;
    let existing = projections::accounts::first(&db).await?;
    // The event store decides whether accounts exist: the read models may be mid-rebuild.
    let has_accounts = existing.is_some() || db.holds_any(aggregates::account::Account::TYPE_NAME).await?;
    let master = master_key(secret_key, database_url, db.backend(), has_accounts)?;
    if let Some(account) = existing {
        if master.open(&account.token_secret_sealed).is_err() {
            return Err(StartError::WrongSecretKey {
                source_of_key: match secret_key.filter(|k| !k.is_empty()) {
                    Some(_) => "in KEYLEDGER_SECRET_KEY".into(),
                    None => format!("in {}", secret_key_path(database_url).display()),
                },
                account: account.slug,
            });
        }
    }
    Ok(AppState::with_settings(db, master, settings))
}

/// A running server: its address and the switch that stops it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and the background runners.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.handle.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Waits until the server has stopped (after a shutdown was requested elsewhere).
    pub async fn wait(self) -> std::io::Result<()> {
        self.handle.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// A handle that stops the server when `true` is sent.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Serves the API on `listener` with the background workers beside it.
pub fn start(state: AppState, listener: TcpListener) -> Result<Running, StartError> {
    start_with(state, listener, WorkerOptions::default())
}

/// Serves the API with the given background workers (tests that prove the catch-up runner's
/// work switch it off and drive it by hand).
pub fn start_with(state: AppState, listener: TcpListener, workers: WorkerOptions) -> Result<Running, StartError> {
    let addr = listener.local_addr()?;
    let (shutdown, rx) = watch::channel(false);
    let heartbeats = workers
        .heartbeats
        .map(|interval| tokio::spawn(api::run_heartbeats(state.clone(), interval, rx.clone())));
    if workers.heartbeats.is_some() {
        tokio::spawn(api::run_uploads(state.clone(), api::UPLOAD_SCAN, rx.clone()));
    }
    let runner = workers::spawn(state.db.clone(), workers, rx.clone());
    let app = api::router(state.clone()).into_make_service_with_connect_info::<api::listener::ClientAddr>();
    let mut stop = rx;
    let handle = tokio::spawn(async move {
        let served = axum::serve(api::listener::JsonApiListener(listener), app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await;
        let _ = runner.await;
        if let Some(heartbeats) = heartbeats {
            let _ = heartbeats.await;
        }
        served
    });
    Ok(Running {
        addr,
        state,
        shutdown,
        handle,
    })
}

/// What the first start on an empty store created, to print once.
#[derive(Debug, Clone)]
pub struct FirstStart {
    pub account: api::bootstrap::Bootstrap,
    /// The admin's email (`KEYLEDGER_ADMIN_EMAIL`, or `admin@keyledger.local`).
    pub admin_email: String,
    /// The admin's password when it was generated; `None` when the operator supplied it.
    pub generated_password: Option<String>,
}

/// The admin login of the `default` account made on an empty store.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@keyledger.local";

/// Creates the `default` account when the store has none, with an admin whose email and
/// password are given or (password) generated, returning what to print.
pub async fn ensure_default_account(
    state: &AppState,
    admin_email: Option<&str>,
    admin_password: Option<&str>,
) -> Result<Option<FirstStart>, StartError> {
    if projections::accounts::first(&state.db).await?.is_some() {
        return Ok(None);
    }
    let email = admin_email.filter(|e| !e.is_empty()).unwrap_or(DEFAULT_ADMIN_EMAIL);
    let generated = match admin_password.filter(|p| !p.is_empty()) {
        Some(_) => None,
        None => Some(hex::encode(rand::random::<[u8; 12]>())),
    };
    let password = admin_password
        .filter(|p| !p.is_empty())
        .or(generated.as_deref())
        .unwrap_or_default();
    let account = api::bootstrap::create_account(state, "Default", "default", email, password)
        .await
        .map_err(|e| StartError::Api(format!("{}: {}", e.error.code.unwrap_or_default(), e.error.detail)))?;
    Ok(Some(FirstStart {
        account,
        admin_email: email.to_lowercase(),
        generated_password: generated,
    }))
}

/// Writes every stored event (optionally of one account) in commit order as JSON lines:
/// position, aggregate, sequence, event type, payload and metadata. Returns how many. Every
/// event committed before the export started is in it: on PostgreSQL the feed holds back
/// events of transactions still open (in any database of the server), so the export waits
/// until every transaction begun before it has finished.
pub async fn export_events(
    db: &Database,
    account: Option<&str>,
    out: &mut impl std::io::Write,
) -> Result<usize, StartError> {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);
    let horizon = db.horizon().await?;
    let started = std::time::Instant::now();
    let mut at = store::FeedPosition::default();
    let mut exported = 0;
    loop {
        // Checked before draining: once passed, the feed already holds all the export owes.
        let complete = db.horizon_passed(horizon).await?;
        loop {
            let batch = db.read_feed(at, 1000).await?;
            let Some(last) = batch.last() else { break };
            at = last.position;
            for event in &batch {
                if account.is_some_and(|a| event.metadata.get("account_id").and_then(|v| v.as_str()) != Some(a)) {
                    continue;
                }
                let line = serde_json::json!({
                    "position": event.position.position,
                    "aggregateType": event.aggregate_type,
                    "aggregateId": event.aggregate_id,
                    "sequence": event.sequence,
                    "eventType": event.event_type,
                    "payload": redacted(event.payload.clone()),
                    "metadata": event.metadata,
                });
                writeln!(out, "{line}")?;
                exported += 1;
            }
        }
        if complete {
            return Ok(exported);
        }
        if started.elapsed() > PATIENCE {
            return Err(StartError::Api(
                "transactions older than the export are still open on the database server; the export stopped before their events".into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Keys whose values stay out of exports: digests and sealed secrets are not credentials, but
/// nobody reading an audit trail needs them (Keygen filters "digest" keys from its logs too).
const REDACTED_KEYS: &[&str] = &[
    "password_digest",
    "digest",
    "ed25519_private_key_sealed",
    "private_key_sealed",
    "token_secret_sealed",
];

fn redacted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if REDACTED_KEYS.contains(&k.as_str()) {
                        Value::String("[FILTERED]".into())
                    } else {
                        redacted(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redacted).collect()),
        other => other,
    }
}
