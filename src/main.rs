//! The `keyledger` command: serve, setup, tokens create, migrate, events export, projections
//! rebuild, verify.
//!
//! Over 400 lines on purpose: every subcommand and flag, with the help text operators read,
//! lives in this one file; the work each does is in the library.

use clap::{Parser, Subcommand};
use keyledger::{
    build_state, build_state_with, default_database_url, ensure_default_account, open_store, start_with,
    webhook_workers, StartError, WebhookConfig, WorkerOptions, DEFAULT_ADMIN_EMAIL,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "keyledger",
    version,
    about = "An event-sourced licensing server that speaks the Keygen API"
)]
struct Cli {
    /// Where events and read models live: postgres://… or sqlite://… [default: sqlite://keyledger.db in the data directory]
    #[arg(long, env = "KEYLEDGER_DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    /// The directory of the embedded default's SQLite file and its secret key file (created when missing).
    #[arg(long, env = "KEYLEDGER_DATA_DIR", default_value = ".", global = true)]
    data_dir: PathBuf,
    /// 64 hex characters sealing account keys; generated beside a SQLite database when unset.
    #[arg(long, env = "KEYLEDGER_SECRET_KEY", hide_env_values = true, global = true)]
    secret_key: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// How the server writes (README: Configuration).
#[derive(clap::Args)]
struct Tuning {
    /// Events between two snapshots of an aggregate's state (0: none).
    #[arg(long, env = "KEYLEDGER_SNAPSHOT_EVERY", default_value_t = store::DEFAULT_SNAPSHOT_EVERY)]
    snapshot_every: u64,
    /// Observations (validations) committed in one transaction at most.
    #[arg(long, env = "KEYLEDGER_OBSERVATION_BATCH", default_value_t = 256)]
    observation_batch: usize,
    /// Milliseconds the observation writer waits for more after the first of a batch.
    #[arg(long, env = "KEYLEDGER_OBSERVATION_LINGER_MS", default_value_t = 0)]
    observation_linger_ms: u64,
    /// Seconds between two scans for machines whose heartbeat deadline passed (worker roles).
    #[arg(long, env = "KEYLEDGER_HEARTBEAT_SCAN_SECONDS", default_value_t = workers::DEFAULT_HEARTBEAT_SCAN.as_secs())]
    heartbeat_scan_seconds: u64,
    /// Whether API requests are logged (`request-logs`): true or false.
    #[arg(long, env = "KEYLEDGER_REQUEST_LOGS", default_value_t = true, action = clap::ArgAction::Set)]
    request_logs: bool,
}

impl Tuning {
    fn heartbeat_scan(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_scan_seconds.max(1))
    }

    fn settings(&self) -> api::state::Settings {
        let mut settings = api::state::Settings {
            snapshot_every: self.snapshot_every,
            request_logs: self.request_logs,
            ..Default::default()
        };
        settings.observations.max_batch = self.observation_batch.max(1);
        settings.observations.linger = std::time::Duration::from_millis(self.observation_linger_ms);
        settings
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the API and its background runners.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "KEYLEDGER_BIND", default_value = "127.0.0.1:3000")]
        bind: String,
        /// What this process runs: the API, the background workers, or both.
        #[arg(long, env = "KEYLEDGER_ROLE", value_enum, default_value_t = Role::All)]
        role: Role,
        /// On an empty store: the email of the `default` account's admin.
        #[arg(long, env = "KEYLEDGER_ADMIN_EMAIL", default_value = DEFAULT_ADMIN_EMAIL)]
        admin_email: String,
        /// On an empty store: the admin's password (generated and printed once when unset).
        #[arg(long, env = "KEYLEDGER_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
        /// NATS server for the event bus (JetStream), e.g. nats://127.0.0.1:4222; without it an
        /// in-process bus serves this process alone.
        #[arg(long, env = "KEYLEDGER_NATS_URL")]
        nats_url: Option<String>,
        /// Internal networks webhook endpoints may point into (CIDRs, comma-separated, e.g.
        /// 10.0.0.0/8); none by default: loopback, private and link-local addresses are refused.
        #[arg(long, env = "KEYLEDGER_WEBHOOK_ALLOW_NETS")]
        webhook_allow_nets: Option<String>,
        /// Seconds a webhook delivery may take to connect, and in all (Keygen: 15).
        #[arg(long, env = "KEYLEDGER_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 15)]
        webhook_timeout_seconds: u64,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Creates an account with its first admin; prints its id, admin token and public key.
    Setup {
        /// The account's display name.
        #[arg(long)]
        name: String,
        /// The account's slug, which addresses it in URLs (lowercase letters, digits, - and _).
        #[arg(long)]
        slug: String,
        /// The first admin's email, their login.
        #[arg(long)]
        email: String,
        /// The first admin's password; prefer KEYLEDGER_SETUP_PASSWORD, which keeps it out of
        /// argv and shell history.
        #[arg(long, env = "KEYLEDGER_SETUP_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Print exactly one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// API tokens, minted with direct access to the store.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Applies the database migrations.
    Migrate,
    /// The event store, for auditors and other systems.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Checks a license or machine file, or a signed license key, offline, as an app would:
    /// with the account's public key alone (no store, no server).
    Verify {
        #[command(subcommand)]
        command: VerifyCommand,
    },
    /// Read-model maintenance.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
}

/// Roles a `serve` process can take, for scaling API and workers apart.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    Api,
    Worker,
    All,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Worker => "worker",
            Role::All => "all",
        }
    }
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Prints every stored event in commit order, one JSON object per line.
    Export {
        /// Only events of this account (by id or slug).
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Mints a new admin token (e.g. when the one setup printed is lost) and prints it once.
    Create {
        /// The account, by id or slug.
        #[arg(long)]
        account: String,
        /// An admin token (the only kind minted here; products and licenses get theirs over the API).
        #[arg(long, required = true)]
        admin: bool,
        /// The admin to mint it for, by email [default: the account's first admin].
        #[arg(long)]
        email: Option<String>,
        /// Print exactly one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// Verifies a license or machine file's signature, decrypts it and checks its expiry; prints
    /// its payload.
    LicenseFile {
        /// The `.lic` file (a license file or a machine file).
        file: PathBuf,
        /// The account's public key: 64 hex characters (ed25519), or a PEM (RSA, ECDSA) as text,
        /// as base64 (as the account's `meta.keys` shows it) or as the path of a file.
        #[arg(long)]
        public_key: String,
        /// The license key, which decrypts an encrypted file (prefer the variable, which keeps
        /// it out of argv and shell history).
        #[arg(long, env = "KEYLEDGER_LICENSE_KEY", hide_env_values = true)]
        license_key: Option<String>,
        /// The machine's fingerprint, which with the license key decrypts a machine file.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Verifies a signed license key and prints its seed.
    Key {
        /// The signed key.
        key: String,
        /// The account's public key (as for license-file).
        #[arg(long)]
        public_key: String,
        /// The policy's scheme [default: ED25519_SIGN for an ed25519 key, ECDSA_P256_SIGN for an
        /// ECDSA key; RSA keys need it].
        #[arg(long)]
        scheme: Option<String>,
    },
}

/// `keyledger verify …`: prints what verified, or says why not.
fn verify(command: VerifyCommand) -> Result<(), keyledger::offline::VerifyError> {
    let printed = match command {
        VerifyCommand::LicenseFile {
            file,
            public_key,
            license_key,
            fingerprint,
        } => keyledger::offline::license_file(
            &file,
            &public_key,
            license_key.as_deref(),
            fingerprint.as_deref(),
            chrono::Utc::now(),
        )?,
        VerifyCommand::Key {
            key,
            public_key,
            scheme,
        } => keyledger::offline::key(&key, &public_key, scheme.as_deref())?,
    };
    println!("{printed}");
    Ok(())
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Empties every read model and replays the event store into it.
    Rebuild,
}

/// Logs on stderr: `KEYLEDGER_LOG` is the filter (an invalid one is an error, not a silent
/// fallback), `KEYLEDGER_LOG_FORMAT` is `text` (the default) or `json`; colours only on a terminal.
fn init_logs() -> Result<(), String> {
    let directives = std::env::var("KEYLEDGER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let filter = tracing_subscriber::EnvFilter::builder()
        .parse(&directives)
        .map_err(|err| format!("KEYLEDGER_LOG=\"{directives}\" is not a valid log filter: {err}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match std::env::var("KEYLEDGER_LOG_FORMAT").as_deref() {
        Err(_) | Ok("") | Ok("text") => builder.init(),
        Ok("json") => builder.json().init(),
        Ok(other) => {
            return Err(format!(
                "KEYLEDGER_LOG_FORMAT=\"{other}\" is not a log format (text or json)"
            ))
        }
    }
    Ok(())
}

/// SIGINT or SIGTERM. The handlers are installed when this is called (not when the future is
/// first polled), so a signal that arrives while the server starts is not lost to the default
/// action, which would kill the process without a graceful shutdown.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut interrupt, mut terminate) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        Ok(async move {
            tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {} }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn run(cli: Cli) -> Result<(), StartError> {
    // Offline: no store, no data directory.
    if let Command::Verify { command } = cli.command {
        return verify(command).map_err(|err| StartError::Api(format!("not verified: {err}")));
    }
    let database_url = match cli.database_url.filter(|url| !url.is_empty()) {
        Some(url) => url,
        None => default_database_url(&cli.data_dir)?,
    };
    let secret_key = cli.secret_key.as_deref();
    match cli.command {
        Command::Verify { .. } => unreachable!("verified above, before the store"),
        Command::Serve {
            bind,
            role,
            admin_email,
            admin_password,
            nats_url,
            webhook_allow_nets,
            webhook_timeout_seconds,
            tuning,
        } => {
            let shutdown = shutdown_signal()?;
            let state = build_state_with(&database_url, secret_key, tuning.settings()).await?;
            // Artifacts: `KEYLEDGER_STORAGE_URL`, or `artifacts/` in the data directory.
            let storage_url = std::env::var("KEYLEDGER_STORAGE_URL").ok();
            let storage = api::storage::Storage::open(storage_url.as_deref(), &cli.data_dir.join("artifacts"))
                .map_err(|e| keyledger::StartError::Api(e.to_string()))?;
            state.set_storage(storage);
            let webhooks = WebhookConfig {
                timeout: std::time::Duration::from_secs(webhook_timeout_seconds.max(1)),
                ..WebhookConfig::parse(nats_url.as_deref(), webhook_allow_nets.as_deref())?
            };
            let webhook_workers = match role {
                Role::Api => {
                    *state.webhook_networks.write().expect("webhook networks") = webhooks.allow_nets.clone();
                    None
                }
                Role::Worker | Role::All => Some(webhook_workers(&state, webhooks.bus().await?, &webhooks)),
            };
            let version = env!("CARGO_PKG_VERSION");
            let backend = store::describe_url(&database_url);
            if role == Role::Worker {
                let (stop, rx) = tokio::sync::watch::channel(false);
                let heartbeats = tokio::spawn(api::run_heartbeats(state.clone(), tuning.heartbeat_scan(), rx.clone()));
                tokio::spawn(api::run_uploads(state.clone(), api::UPLOAD_SCAN, rx.clone()));
                let options = WorkerOptions {
                    webhooks: webhook_workers,
                    ..Default::default()
                };
                let workers = workers::spawn(state.db.clone(), options, rx);
                tracing::info!(version, %backend, role = "worker", "keyledger workers running");
                shutdown.await;
                let _ = stop.send(true);
                let _ = workers.await;
                let _ = heartbeats.await;
                return Ok(());
            }
            // Bound before the first start's account is made: a taken port must not cost the
            // operator the only printing of the admin token.
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .map_err(|source| StartError::Bind {
                    address: bind.clone(),
                    source,
                })?;
            if let Some(first) = ensure_default_account(&state, Some(&admin_email), admin_password.as_deref()).await? {
                print_first_start(&first);
            }
            let options = WorkerOptions {
                catch_up: role == Role::All,
                heartbeats: (role == Role::All).then(|| tuning.heartbeat_scan()),
                webhooks: webhook_workers,
                ..Default::default()
            };
            let running = start_with(state, listener, options)?;
            tracing::info!(
                version,
                %backend,
                role = role.name(),
                addr = %running.addr,
                "keyledger listening on {}",
                running.addr
            );
            let stop = running.shutdown_handle();
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!("shutting down");
                let _ = stop.send(true);
            });
            running.wait().await?;
        }
        Command::Setup {
            name,
            slug,
            email,
            password,
            json,
        } => {
            let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
                StartError::Api(
                    "setup needs the admin's password: set KEYLEDGER_SETUP_PASSWORD (kept out of shell history) or pass --password"
                        .into(),
                )
            })?;
            let state = build_state(&database_url, secret_key).await?;
            let created = api::bootstrap::create_account(&state, &name, &slug, &email, &password)
                .await
                .map_err(|e| StartError::Api(format!("{}: {}", e.error.code.unwrap_or_default(), e.error.detail)))?;
            if json {
                println!("{}", serde_json::to_string(&created).expect("bootstrap serializes"));
            } else {
                println!(
                    "account id:  {}\nadmin token: {}\npublic key:  {}",
                    created.account_id, created.admin_token, created.public_key
                );
            }
        }
        Command::Tokens {
            command: TokensCommand::Create {
                account, email, json, ..
            },
        } => {
            let state = build_state(&database_url, secret_key).await?;
            let issued = api::bootstrap::admin_token(&state, &account, email.as_deref())
                .await
                .map_err(|e| StartError::Api(e.error.detail))?
                .ok_or_else(|| match &email {
                    Some(email) => {
                        StartError::Api(format!("account \"{account}\" has no admin with the email {email}"))
                    }
                    None => StartError::UnknownAccount(account.clone()),
                })?;
            if json {
                println!("{}", serde_json::to_string(&issued).expect("token serializes"));
            } else {
                println!(
                    "admin token: {} (for {}, shown this once)",
                    issued.admin_token, issued.admin_email
                );
            }
        }
        Command::Migrate => {
            open_store(&database_url).await?;
            tracing::info!(backend = %store::describe_url(&database_url), "migrations applied");
        }
        Command::Events {
            command: EventsCommand::Export { account },
        } => {
            let db = open_store(&database_url).await?;
            let account_id = match account {
                Some(id_or_slug) => Some(
                    projections::accounts::find(&db, &id_or_slug)
                        .await?
                        .ok_or(StartError::UnknownAccount(id_or_slug))?
                        .id,
                ),
                None => None,
            };
            let exported = keyledger::export_events(&db, account_id.as_deref(), &mut std::io::stdout().lock()).await?;
            tracing::info!(exported, "events exported");
        }
        Command::Projections {
            command: ProjectionsCommand::Rebuild,
        } => {
            let db = open_store(&database_url).await?;
            let started = std::time::Instant::now();
            let events = projections::rebuild(&db).await?;
            tracing::info!(
                events,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "projections rebuilt"
            );
        }
    }
    Ok(())
}

/// The first start's banner on stdout: the only time the token (and a generated password)
/// is shown.
fn print_first_start(first: &keyledger::FirstStart) {
    println!("Created account 'default' on an empty store.");
    println!("  account id:     {}", first.account.account_id);
    println!("  admin email:    {}", first.admin_email);
    match &first.generated_password {
        Some(password) => println!("  admin password: {password}"),
        None => println!("  admin password: (the one in KEYLEDGER_ADMIN_PASSWORD)"),
    }
    println!("  admin token:    {}", first.account.admin_token);
    println!("  public key:     {} (ed25519, hex)", first.account.public_key);
    println!("Keep these: the token and password are not shown again.");
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(err) = init_logs() {
        eprintln!("keyledger: {err}");
        return ExitCode::FAILURE;
    }
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyledger: {err}");
            ExitCode::FAILURE
        }
    }
}
