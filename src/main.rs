//! The `keyledger` command: serve, setup, migrate, projections rebuild, bench.

use clap::{Parser, Subcommand};
use keyledger::{
    build_state, ensure_default_account, open_store, start_with, StartError, WorkerOptions, DEFAULT_DATABASE_URL,
};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "keyledger",
    version,
    about = "An event-sourced licensing server that speaks the Keygen API"
)]
struct Cli {
    /// Where events and read models live: postgres://… or sqlite://….
    #[arg(long, env = "KEYLEDGER_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// 64 hex characters sealing account keys; generated beside a SQLite database when unset.
    #[arg(long, env = "KEYLEDGER_SECRET_KEY", hide_env_values = true, global = true)]
    secret_key: Option<String>,
    #[command(subcommand)]
    command: Command,
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
    },
    /// Creates an account with its first admin; prints its id, admin token and public key.
    Setup {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "KEYLEDGER_SETUP_PASSWORD", hide_env_values = true)]
        password: String,
        /// Print exactly one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Applies the database migrations.
    Migrate,
    /// The event store, for auditors and other systems.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
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

#[derive(Subcommand)]
enum EventsCommand {
    /// Prints every stored event in commit order, one JSON object per line.
    Export {
        /// Only events of this account (by id).
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Empties every read model and replays the event store into it.
    Rebuild,
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYLEDGER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
    match cli.command {
        Command::Serve { bind, role } => {
            let shutdown = shutdown_signal()?;
            let state = build_state(&cli.database_url, cli.secret_key.as_deref()).await?;
            if role == Role::Worker {
                let (stop, rx) = tokio::sync::watch::channel(false);
                let workers = workers::spawn(state.db.clone(), WorkerOptions::default(), rx);
                tracing::info!("keyledger workers running");
                shutdown.await;
                let _ = stop.send(true);
                let _ = workers.await;
                return Ok(());
            }
            if let Some(created) = ensure_default_account(&state).await? {
                // Printed once, on the first start: the only time the admin token is shown.
                println!("Created account 'default' on an empty store.");
                println!("  account id:  {}", created.account_id);
                println!("  admin token: {}", created.admin_token);
                println!("  public key:  {} (ed25519, hex)", created.public_key);
            }
            let listener = tokio::net::TcpListener::bind(&bind).await?;
            let options = WorkerOptions {
                catch_up: role == Role::All,
                ..Default::default()
            };
            let running = start_with(state, listener, options)?;
            tracing::info!(addr = %running.addr, "keyledger listening");
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
            let state = build_state(&cli.database_url, cli.secret_key.as_deref()).await?;
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
        Command::Migrate => {
            open_store(&cli.database_url).await?;
            tracing::info!("migrations applied");
        }
        Command::Events {
            command: EventsCommand::Export { account },
        } => {
            let db = open_store(&cli.database_url).await?;
            let exported = keyledger::export_events(&db, account.as_deref(), &mut std::io::stdout().lock()).await?;
            tracing::info!(exported, "events exported");
        }
        Command::Projections {
            command: ProjectionsCommand::Rebuild,
        } => {
            let db = open_store(&cli.database_url).await?;
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

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyledger: {err}");
            ExitCode::FAILURE
        }
    }
}
