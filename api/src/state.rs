//! Shared state of the API: the store, one cqrs-es framework per aggregate, the master key
//! and the cache of opened account keys.

use crate::crypto::MasterKey;
use crate::error::{ApiError, ApiResult};
use aggregates::entitlement::Entitlement;
use aggregates::license::License;
use aggregates::policy::Policy;
use aggregates::{account::Account, product::Product, token::Token, user::User, DomainError, NoServices};
use aggregates::{Identified, Snapshotted};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, Query};
use projections::accounts::AccountRow;
use projections::{InlineFailures, InlineProjection, Projector};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use store::{Database, Framework, SnapshotStore};

/// A framework with the per-aggregate locks of its process (see [`execute`]) and what it needs
/// to repair a failed inline projection before answering.
pub struct Handle<A: Aggregate + Snapshotted> {
    framework: Framework<A>,
    locks: Arc<AggregateLocks>,
    inline_failures: Arc<InlineFailures>,
    projector: Projector,
}

impl<A: Aggregate + Snapshotted> std::ops::Deref for Handle<A> {
    type Target = Framework<A>;
    fn deref(&self) -> &Self::Target {
        &self.framework
    }
}

/// One framework per aggregate type.
pub struct Frameworks {
    pub account: Handle<Account>,
    pub user: Handle<User>,
    pub token: Handle<Token>,
    pub product: Handle<Product>,
    pub entitlement: Handle<Entitlement>,
    pub policy: Handle<Policy>,
    pub license: Handle<License>,
    pub machine: Handle<aggregates::machine::Machine>,
    pub process: Handle<aggregates::process::Process>,
    pub webhook_endpoint: Handle<aggregates::webhook_endpoint::WebhookEndpoint>,
    pub package: Handle<aggregates::package::Package>,
    pub release: Handle<aggregates::release::Release>,
}

fn handle<A>(
    db: &Database,
    settings: &Settings,
    inline: &Arc<AtomicBool>,
    locks: &Arc<AggregateLocks>,
    failures: &Arc<InlineFailures>,
) -> Handle<A>
where
    A: Aggregate<Services = NoServices> + Snapshotted,
{
    let projector = Projector::new(db.clone());
    let inline = InlineProjection::new(projector.clone(), inline.clone(), failures.clone());
    let queries: Vec<Box<dyn Query<A>>> = vec![Box::new(inline)];
    Handle {
        framework: CqrsFramework::new(
            SnapshotStore::new(db.event_repo(), settings.snapshot_every),
            queries,
            NoServices,
        ),
        locks: locks.clone(),
        inline_failures: failures.clone(),
        projector,
    }
}

impl Frameworks {
    /// Builds the frameworks; while `inline` is off, read models only move with the catch-up runner.
    pub fn new(db: &Database, settings: &Settings, inline: &Arc<AtomicBool>, failures: &Arc<InlineFailures>) -> Self {
        let locks = Arc::new(AggregateLocks::default());
        Self {
            account: handle(db, settings, inline, &locks, failures),
            user: handle(db, settings, inline, &locks, failures),
            token: handle(db, settings, inline, &locks, failures),
            product: handle(db, settings, inline, &locks, failures),
            entitlement: handle(db, settings, inline, &locks, failures),
            policy: handle(db, settings, inline, &locks, failures),
            license: handle(db, settings, inline, &locks, failures),
            machine: handle(db, settings, inline, &locks, failures),
            process: handle(db, settings, inline, &locks, failures),
            webhook_endpoint: handle(db, settings, inline, &locks, failures),
            package: handle(db, settings, inline, &locks, failures),
            release: handle(db, settings, inline, &locks, failures),
        }
    }
}

/// What an operator may tune about how the API writes.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Events between two snapshots of an aggregate's state (0: none).
    pub snapshot_every: u64,
    /// How the observation writer batches.
    pub observations: projections::writer::WriterSettings,
    /// Whether API requests are logged (`request-logs`).
    pub request_logs: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            snapshot_every: store::DEFAULT_SNAPSHOT_EVERY,
            observations: Default::default(),
            request_logs: true,
        }
    }
}

/// An account with its keys opened, as requests under it need them.
pub struct AccountContext {
    pub row: AccountRow,
    pub keys: Arc<crate::crypto::Keyring>,
    pub token_secret: Vec<u8>,
}

impl std::fmt::Debug for AccountContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountContext")
            .field("id", &self.row.id)
            .finish_non_exhaustive()
    }
}

/// Everything handlers share.
pub struct AppStateInner {
    pub db: Database,
    pub master: MasterKey,
    pub frameworks: Frameworks,
    /// Whether commands project their events before answering (read-your-writes).
    pub inline_projections: Arc<AtomicBool>,
    /// Inline projections that failed (repaired before the command answers); tests inject some.
    pub inline_failures: Arc<InlineFailures>,
    /// The time requests decide with.
    pub clock: Clock,
    /// Where observations (validations) are recorded, in batches.
    pub observations: projections::writer::ObservationWriter,
    /// How many passwords were checked with argon2 (a login checks exactly one, known email or
    /// not, so its time does not tell whether the account exists).
    pub password_checks: Arc<std::sync::atomic::AtomicU64>,
    /// Networks webhook endpoints may point into although they are internal
    /// (`KEYLEDGER_WEBHOOK_ALLOW_NETS`; empty by default).
    pub webhook_networks: RwLock<workers::webhook_address::AllowedNets>,
    /// Whether API requests are logged (starts as `Settings::request_logs`; benchmarks switch it
    /// to measure what logging costs).
    pub request_logs: AtomicBool,
    /// Where artifacts' bytes are kept (a directory of its own until the composition root sets
    /// the configured one).
    storage: RwLock<crate::storage::Storage>,
    accounts: RwLock<HashMap<String, Arc<AccountContext>>>,
    /// Held while an older account gains its RSA and ECDSA keys, so a burst of first requests
    /// generates them once, not once a request.
    adding_keys: tokio::sync::Mutex<()>,
}

/// Cheap-to-clone handle on [`AppStateInner`].
#[derive(Clone)]
pub struct AppState(pub Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// How many times a command is reloaded and retried after an optimistic-concurrency conflict.
const CONFLICT_RETRIES: usize = 3;

impl AppState {
    pub fn new(db: Database, master: MasterKey) -> Self {
        Self::with_settings(db, master, Settings::default())
    }

    pub fn with_settings(db: Database, master: MasterKey, settings: Settings) -> Self {
        // The decoy digest a login checks for an unknown email is made now, beside the start, not
        // by the first such login (which would then take twice as long as any other).
        std::thread::spawn(|| {
            crate::crypto::decoy_digest();
        });
        let observations = projections::writer::ObservationWriter::spawn(db.clone(), settings.observations);
        let inline_projections = Arc::new(AtomicBool::new(true));
        let inline_failures = Arc::new(InlineFailures::default());
        let frameworks = Frameworks::new(&db, &settings, &inline_projections, &inline_failures);
        let scratch = std::env::temp_dir().join(format!("keyledger-artifacts-{}", uuid::Uuid::new_v4()));
        let storage = crate::storage::Storage::open(None, &scratch).expect("a temporary directory for artifacts");
        Self(Arc::new(AppStateInner {
            db,
            master,
            frameworks,
            inline_projections,
            inline_failures,
            clock: Clock::default(),
            observations,
            password_checks: Default::default(),
            webhook_networks: Default::default(),
            request_logs: AtomicBool::new(settings.request_logs),
            storage: RwLock::new(storage),
            accounts: RwLock::new(HashMap::new()),
            adding_keys: tokio::sync::Mutex::new(()),
        }))
    }

    /// Where artifacts' bytes are kept.
    pub fn storage(&self) -> crate::storage::Storage {
        self.storage.read().expect("storage lock poisoned").clone()
    }

    /// Keeps artifacts in `storage` from now on.
    pub fn set_storage(&self, storage: crate::storage::Storage) {
        *self.storage.write().expect("storage lock poisoned") = storage;
    }

    /// Now, by this server's clock.
    pub fn now(&self) -> aggregates::Timestamp {
        self.clock.now()
    }

    /// The account short routes (`/v1/…` without `/accounts/{account}`) address: the store's
    /// account when it holds exactly one, as Keygen's single-player mode has.
    pub async fn singleplayer_account(&self) -> ApiResult<Option<Arc<AccountContext>>> {
        match projections::accounts::only(&self.db).await? {
            Some(id) => self.account(&id).await,
            None => Ok(None),
        }
    }

    /// The account addressed by id or slug, keys opened; cached after the first lookup
    /// (accounts' keys never change).
    pub async fn account(&self, id_or_slug: &str) -> ApiResult<Option<Arc<AccountContext>>> {
        if let Some(hit) = self.accounts.read().expect("account cache poisoned").get(id_or_slug) {
            return Ok(Some(hit.clone()));
        }
        let Some(mut row) = projections::accounts::find(&self.db, id_or_slug).await? else {
            return Ok(None);
        };
        let lacks_keys =
            |row: &AccountRow| row.rsa2048_private_key_sealed.is_none() || row.ecdsa_private_key_sealed.is_none();
        if lacks_keys(&row) {
            let _one_at_a_time = self.adding_keys.lock().await;
            // Another request may have added them while this one waited.
            row = projections::accounts::find(&self.db, &row.id)
                .await?
                .ok_or_else(|| ApiError::internal("account row vanished"))?;
            if lacks_keys(&row) {
                row = self.add_missing_keys(row).await?;
            }
        }
        let token_secret = self.master.open(&row.token_secret_sealed).map_err(ApiError::internal)?;
        let context = Arc::new(AccountContext {
            keys: Arc::new(crate::crypto::Keyring::open(&self.master, &row).map_err(ApiError::internal)?),
            token_secret,
            row,
        });
        let mut cache = self.accounts.write().expect("account cache poisoned");
        cache.insert(context.row.id.clone(), context.clone());
        cache.insert(context.row.slug.clone(), context.clone());
        Ok(Some(context))
    }
}

impl AppState {
    /// Gives an account made before RSA and ECDSA keys existed its pairs, on its first use
    /// since, through an `account.keys.added` event; answers its row as it is now (another
    /// process may have added them first: then those are the keys).
    async fn add_missing_keys(&self, row: AccountRow) -> ApiResult<AccountRow> {
        let master = self.master.clone();
        let (rsa2048, ecdsa_p256) =
            tokio::task::spawn_blocking(move || crate::crypto::keyring::generate_rsa_and_ecdsa(&master))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        let mut metadata = HashMap::new();
        metadata.insert("account_id".to_string(), row.id.clone());
        metadata.insert("whodunnit_type".to_string(), "system".to_string());
        let command = aggregates::account::AccountCommand::AddKeys {
            rsa2048,
            ecdsa_p256,
            at: self.now(),
        };
        let id = aggregates::AccountId::from(&row.id);
        execute(&self.frameworks.account, &id, command, metadata).await?;
        // With inline projections off, the row moves only with the catch-up runner: settle it.
        self.frameworks
            .account
            .projector
            .settle(Account::TYPE_NAME, &row.id)
            .await
            .map_err(ApiError::internal)?;
        projections::accounts::find(&self.db, &row.id)
            .await?
            .ok_or_else(|| ApiError::internal("account row vanished"))
    }
}

/// Per-aggregate locks: commands on one aggregate within this process run one at a time, so
/// they queue instead of colliding; the store's optimistic concurrency still guards against
/// writers in other processes.
#[derive(Default)]
pub struct AggregateLocks(std::sync::Mutex<HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>>);

impl AggregateLocks {
    fn get(&self, key: String) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().expect("aggregate lock table poisoned");
        if let Some(lock) = locks.get(&key).and_then(std::sync::Weak::upgrade) {
            return lock;
        }
        if locks.len() > 4096 {
            locks.retain(|_, lock| lock.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key, Arc::downgrade(&lock));
        lock
    }
}

/// Runs a command, reloading and retrying it when another writer got there first. When it
/// commits but its inline projection failed, the aggregate's rows are settled from the store
/// before it returns: a committed write is never answered from a read model that lacks it.
#[tracing::instrument(skip_all, fields(aggregate = A::TYPE, id = %aggregate_id))]
pub async fn execute<A>(
    framework: &Handle<A>,
    aggregate_id: &A::Id,
    command: A::Command,
    metadata: HashMap<String, String>,
) -> ApiResult<()>
where
    A: Aggregate<Error = DomainError> + Identified + Snapshotted,
    A::Command: Clone,
{
    let aggregate_id = aggregate_id.as_ref();
    let lock = framework.locks.get(format!("{}:{aggregate_id}", A::TYPE));
    let _serialized = lock.lock().await;
    let mut attempt = 0;
    loop {
        match framework
            .execute_with_metadata(aggregate_id, command.clone(), metadata.clone())
            .await
        {
            Ok(()) if framework.inline_failures.take(A::TYPE, aggregate_id) => {
                // Committed, but the row may lag: a 2xx must show it, so settle or say 5xx.
                return framework
                    .projector
                    .settle(A::TYPE, aggregate_id)
                    .await
                    .map_err(ApiError::internal);
            }
            Ok(()) => return Ok(()),
            Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => attempt += 1,
            Err(err) => return Err(err.into()),
        }
    }
}

/// "Now" by the system clock, truncated to the microsecond precision events and read models
/// keep. Requests take their time from [`Clock`] (`AppState::now`) instead.
pub fn now() -> aggregates::Timestamp {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The time requests decide with: the system clock, which tests can move forward to see what
/// a license looks like days later without waiting or writing events by hand.
#[derive(Debug, Default)]
pub struct Clock {
    offset_us: std::sync::atomic::AtomicI64,
}

impl Clock {
    /// Now, as every handler, serializer and authentication check sees it.
    pub fn now(&self) -> aggregates::Timestamp {
        let offset = self.offset_us.load(std::sync::atomic::Ordering::SeqCst);
        now() + chrono::Duration::microseconds(offset)
    }

    /// Moves this server's time forward (tests only; production never moves it).
    pub fn advance(&self, by: chrono::Duration) {
        let by = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_us.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
    }
}
