//! The exclusive right to work a feed checkpoint, held by one reader at a time across processes
//! and nodes, and released when its holder lets go or dies — never by a timer. On PostgreSQL it
//! is a session-level advisory lock taken on a connection of the reader's own: the server
//! releases it when the session ends, so a killed process frees it as soon as its connections
//! drop. On SQLite it is an exclusive lock on a file beside the database, which the operating
//! system releases with the process.

use crate::database::Pool;
use crate::feed::SAVE_CHECKPOINT;
use crate::{Database, FeedPosition, StoreError};
use sqlx::{Connection, PgConnection};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

/// A reader's session for taking checkpoint locks. Keep it for as long as the reader runs: on
/// PostgreSQL it is one connection, outside the pool.
pub struct LockSession {
    kind: Kind,
    /// The checkpoints whose locks this session holds.
    held: HashSet<String>,
}

enum Kind {
    Postgres(PgConnection),
    /// The database file (lock files sit beside it) and the lock files held open.
    Sqlite {
        database: PathBuf,
        files: HashMap<String, File>,
    },
}

impl Database {
    /// A new session for checkpoint locks.
    pub async fn lock_session(&self) -> Result<LockSession, StoreError> {
        let kind = match self.pool() {
            Pool::Postgres(pg) => Kind::Postgres(pg.acquire().await?.detach()),
            Pool::Sqlite(sqlite) => Kind::Sqlite {
                database: sqlite.connect_options().get_filename().to_path_buf(),
                files: HashMap::new(),
            },
        };
        Ok(LockSession {
            kind,
            held: HashSet::new(),
        })
    }
}

impl LockSession {
    /// Takes the lock of checkpoint `name` if no other session holds it. Taking a lock this
    /// session already holds is true again.
    pub async fn try_lock(&mut self, name: &str) -> Result<bool, StoreError> {
        if self.held.contains(name) {
            return Ok(true);
        }
        let taken = match &mut self.kind {
            Kind::Postgres(conn) => {
                sqlx::query_scalar("select pg_try_advisory_lock($1)")
                    .bind(lock_key(name))
                    .fetch_one(&mut *conn)
                    .await?
            }
            Kind::Sqlite { database, files } => {
                let path = PathBuf::from(format!("{}-{name}.lock", database.display()));
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|err| StoreError::Lock(format!("{}: {err}", path.display())))?;
                match file.try_lock() {
                    Ok(()) => {
                        files.insert(name.to_string(), file);
                        true
                    }
                    Err(TryLockError::WouldBlock) => false,
                    Err(TryLockError::Error(err)) => {
                        return Err(StoreError::Lock(format!("{}: {err}", path.display())))
                    }
                }
            }
        };
        if taken {
            self.held.insert(name.to_string());
        }
        Ok(taken)
    }

    /// Lets go of the lock of checkpoint `name` (nothing when this session does not hold it).
    pub async fn unlock(&mut self, name: &str) -> Result<(), StoreError> {
        if !self.held.remove(name) {
            return Ok(());
        }
        match &mut self.kind {
            Kind::Postgres(conn) => {
                sqlx::query_scalar::<_, bool>("select pg_advisory_unlock($1)")
                    .bind(lock_key(name))
                    .fetch_one(&mut *conn)
                    .await?;
            }
            Kind::Sqlite { files, .. } => {
                files.remove(name);
            }
        }
        Ok(())
    }

    /// Records how far the reader holding the lock of checkpoint `name` has got. On PostgreSQL
    /// the write goes through the lock's own session: if that session has ended (and the lock
    /// with it, so another reader may have taken over), the write fails instead of moving the
    /// checkpoint under the new holder.
    pub async fn save_checkpoint(&mut self, db: &Database, name: &str, at: FeedPosition) -> Result<(), StoreError> {
        if !self.held.contains(name) {
            return Err(StoreError::Lock(format!(
                "checkpoint {name} is not locked by this session"
            )));
        }
        match &mut self.kind {
            Kind::Postgres(conn) => {
                sqlx::query(SAVE_CHECKPOINT)
                    .bind(name)
                    .bind(at.xid)
                    .bind(at.position)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
            // The file lock lasts as long as this process, which does the write.
            Kind::Sqlite { .. } => db.save_checkpoint(name, at).await,
        }
    }

    /// Ends the session, letting go of every lock it holds.
    pub async fn close(self) {
        if let Kind::Postgres(conn) = self.kind {
            let _ = conn.close().await;
        }
    }
}

/// The advisory lock key of a checkpoint: a stable 64-bit number derived from its name.
fn lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("keyledger.checkpoint:{name}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}
