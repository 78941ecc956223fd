//! Everything that touches the event store: connecting to PostgreSQL or SQLite, migrations,
//! the event repository cqrs-es commits through (with uniqueness claims in the same
//! transaction), the global feed and projection checkpoints.

mod claims;
mod database;
mod feed;
mod lock;
mod repo;
mod snapshots;

pub use claims::{ClaimConflict, DEPENDENTS_REMAIN};
pub use database::{describe_url, Backend, BeginWrite, Database, Pool, StoreError};
pub use feed::{FeedEvent, FeedPosition, Horizon, ObservationRecord};
pub use lock::LockSession;
pub use repo::EventRepo;
pub use snapshots::{SnapshotStore, StoredSnapshot, DEFAULT_SNAPSHOT_EVERY};

/// The cqrs-es framework for aggregate `A` over Keyledger's store.
pub type Framework<A> = cqrs_es::CqrsFramework<A, SnapshotStore<A>>;
