//! `machine_heartbeats`: each machine's last ping, deadline and death (operational state, not a
//! projection; rows are made and removed beside their machine's). Pings move it through the
//! observation writer; the worker's sweep claims the rows whose deadline has passed.

use crate::ProjectionError;
use store::{on_pool, Backend, Database};

/// Whose heartbeats: a table and its key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beating {
    Machines,
    Processes,
}

impl Beating {
    fn table(self) -> &'static str {
        match self {
            Self::Machines => "machine_heartbeats",
            Self::Processes => "process_heartbeats",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Machines => "machine_id",
            Self::Processes => "process_id",
        }
    }
}

/// A reset: no ping any more, not dead, and the deadline a new machine would have.
pub async fn reset(db: &Database, machine_id: &str, deadline: Option<i64>) -> Result<(), ProjectionError> {
    let _turn = db.write_turn().await;
    let sql = "update machine_heartbeats set last_heartbeat = null, dead_at = null, claimed_until = null, \
        deadline = $1 where machine_id = $2";
    on_pool!(db, |pool| sqlx::query(sql)
        .bind(deadline)
        .bind(machine_id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}

/// Claims, until `until`, up to `limit` heartbeats whose deadline is at or before `now` and
/// that no other worker holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL: concurrent workers claim
/// disjoint rows); answers (id, account id) of each.
pub async fn claim_due(
    db: &Database,
    beating: Beating,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, ProjectionError> {
    let (table, key) = (beating.table(), beating.key());
    let skip_locked = match db.backend() {
        Backend::Postgres => " for update skip locked",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "update {table} set claimed_until = $1 where {key} in \
         (select {key} from {table} where deadline <= $2 \
          and (claimed_until is null or claimed_until < $2) order by deadline limit $3{skip_locked}) \
         returning {key}, account_id"
    );
    let _turn = db.write_turn().await;
    Ok(on_pool!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await?))
}

/// Records a claimed heartbeat's death (once: a death already recorded keeps its time), sets
/// its next deadline (none: nothing more to decide) and lets go of the claim.
pub async fn settle(
    db: &Database,
    beating: Beating,
    id: &str,
    dead_at: Option<i64>,
    deadline: Option<i64>,
) -> Result<(), ProjectionError> {
    let _turn = db.write_turn().await;
    let sql = format!(
        "update {} set dead_at = coalesce(dead_at, $1), deadline = $2, claimed_until = null where {} = $3",
        beating.table(),
        beating.key()
    );
    on_pool!(db, |pool| sqlx::query(&sql)
        .bind(dead_at)
        .bind(deadline)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}
