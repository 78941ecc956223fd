//! Statements written once and compiled for each backend's connection: the sequence guard every
//! delta-built row obeys, and the writes beside rows (entitlement joins, machine rows).

use crate::{machines, micros, EventRef, ProjectionError};
use aggregates::entitlement::EntitlementChange;

/// Statements that run inside a transaction started under [`on_pool!`]: written once, compiled
/// for each backend's connection.
pub(crate) trait Statements {
    /// Moves a row's `last_sequence` to `sequence` when `sequence` is the very next event of its
    /// aggregate. False otherwise: an event already applied changes nothing, and an event that
    /// arrives ahead of a missing one waits for the catch-up runner, which applies the feed in
    /// order. (These rows are built from deltas, so skipping one would lose it for good.)
    async fn advance(&mut self, table: &str, id: &str, sequence: i64, at: Option<i64>)
        -> Result<bool, ProjectionError>;

    /// Marks a row built from snapshots gone (`column` is `deleted_at` or `revoked_at`) at `at`,
    /// unless a later event of its aggregate has reached it already.
    async fn mark_gone(
        &mut self,
        table: &str,
        column: &str,
        at: i64,
        event: &EventRef<'_>,
    ) -> Result<(), ProjectionError>;

    /// Inserts a machine's row and its heartbeat's (operational state: the first deadline);
    /// rows already there stay as they are.
    async fn insert_machine(
        &mut self,
        row: &machines::MachineRow,
        deadline: Option<i64>,
    ) -> Result<(), ProjectionError>;

    /// Inserts components' rows (rows already there stay as they are).
    async fn insert_components(&mut self, rows: &[crate::components::ComponentRow]) -> Result<(), ProjectionError>;

    /// Inserts a process's row and its heartbeat's (rows already there stay as they are).
    async fn insert_process(
        &mut self,
        row: &crate::processes::ProcessRow,
        deadline: i64,
    ) -> Result<(), ProjectionError>;

    /// Removes a process and its heartbeat.
    async fn remove_process(&mut self, id: &str) -> Result<(), ProjectionError>;

    /// Removes the machines (with their heartbeats, components and processes) whose `column` —
    /// `machine_id` or `license_id` — is `id`.
    async fn remove_machines(&mut self, column: &str, id: &str) -> Result<(), ProjectionError>;

    /// Sets `values` on the row of `table` whose id is `id` (the writes beside a license's row:
    /// a machine's sizes, a process's or component's attributes, a token's counts).
    async fn set(&mut self, table: &str, id: &str, values: &[(&str, Param<'_>)]) -> Result<(), ProjectionError>;

    /// Joins the entitlements of an attach to a policy or license, or parts those of a detach.
    async fn join_entitlements(
        &mut self,
        joins: Joins,
        owner: &str,
        change: &EntitlementChange,
        attach: bool,
    ) -> Result<(), ProjectionError>;
}

/// A value [`Statements::set`] binds: text or an integer, either of them possibly null.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

/// A join table of entitlements: its name, its owner column and the owners' table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joins {
    pub table: &'static str,
    pub owner: &'static str,
    pub owners: &'static str,
}

impl Joins {
    pub const POLICY: Joins = Joins {
        table: "policy_entitlements",
        owner: "policy_id",
        owners: "policies",
    };
    pub const LICENSE: Joins = Joins {
        table: "license_entitlements",
        owner: "license_id",
        owners: "licenses",
    };
}

macro_rules! statements_for {
    ($($connection:ty),*) => {$(
        impl Statements for $connection {
            async fn advance(&mut self, table: &str, id: &str, sequence: i64, at: Option<i64>) -> Result<bool, ProjectionError> {
                let sql = format!(
                    "update {table} set last_sequence = $1, updated_at = coalesce($2, updated_at) \
                     where id = $3 and last_sequence = $1 - 1"
                );
                let done = sqlx::query(&sql)
                    .bind(sequence)
                    .bind(at)
                    .bind(id)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_gone(&mut self, table: &str, column: &str, at: i64, event: &EventRef<'_>) -> Result<(), ProjectionError> {
                let sql = format!(
                    "update {table} set {column} = $1, updated_at = $1, last_sequence = $2 where id = $3 and last_sequence < $2"
                );
                let query = sqlx::query(&sql).bind(at).bind(event.sequence).bind(event.aggregate_id);
                query.execute(&mut *self).await?;
                Ok(())
            }

            async fn insert_machine(&mut self, row: &machines::MachineRow, deadline: Option<i64>) -> Result<(), ProjectionError> {
                sqlx::query(machines::INSERT_HEARTBEAT)
                    .bind(&row.id)
                    .bind(&row.account_id)
                    .bind(&row.license_id)
                    .bind(deadline)
                    .execute(&mut *self)
                    .await?;
                sqlx::query(&machines::MachineRow::insert_sql())
                    .bind(&row.id)
                    .bind(&row.account_id)
                    .bind(&row.license_id)
                    .bind(&row.fingerprint)
                    .bind(row.cores)
                    .bind(row.memory)
                    .bind(row.disk)
                    .bind(&row.name)
                    .bind(&row.ip)
                    .bind(&row.hostname)
                    .bind(&row.platform)
                    .bind(&row.metadata)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(row.last_sequence)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn insert_components(&mut self, rows: &[crate::components::ComponentRow]) -> Result<(), ProjectionError> {
                for r in rows {
                    sqlx::query(crate::components::INSERT)
                        .bind(&r.id)
                        .bind(&r.account_id)
                        .bind(&r.license_id)
                        .bind(&r.machine_id)
                        .bind(&r.fingerprint)
                        .bind(&r.name)
                        .bind(&r.metadata)
                        .bind(r.created_at)
                        .bind(r.updated_at)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn insert_process(&mut self, row: &crate::processes::ProcessRow, deadline: i64) -> Result<(), ProjectionError> {
                sqlx::query(crate::processes::INSERT)
                    .bind(&row.id)
                    .bind(&row.account_id)
                    .bind(&row.license_id)
                    .bind(&row.machine_id)
                    .bind(&row.pid)
                    .bind(&row.metadata)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .execute(&mut *self)
                    .await?;
                sqlx::query(crate::processes::INSERT_HEARTBEAT)
                    .bind(&row.id)
                    .bind(&row.account_id)
                    .bind(&row.license_id)
                    .bind(&row.machine_id)
                    .bind(row.created_at)
                    .bind(deadline)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn remove_process(&mut self, id: &str) -> Result<(), ProjectionError> {
                for table in ["processes where id", "process_heartbeats where process_id"] {
                    sqlx::query(&format!("delete from {table} = $1"))
                        .bind(id)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn remove_machines(&mut self, column: &str, id: &str) -> Result<(), ProjectionError> {
                // The machines table names a machine's id `id`.
                let machines = if column == "machine_id" { "id" } else { column };
                let tables = [
                    ("machines", machines),
                    ("machine_heartbeats", column),
                    ("components", column),
                    ("processes", column),
                    ("process_heartbeats", column),
                ];
                for (table, column) in tables {
                    sqlx::query(&format!("delete from {table} where {column} = $1"))
                        .bind(id)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn set(&mut self, table: &str, id: &str, values: &[(&str, Param<'_>)]) -> Result<(), ProjectionError> {
                let assignments: Vec<String> = values
                    .iter()
                    .enumerate()
                    .map(|(i, (column, _))| format!("{column} = ${}", i + 1))
                    .collect();
                let sql = format!("update {table} set {} where id = ${}", assignments.join(", "), values.len() + 1);
                let mut query = sqlx::query(&sql);
                for (_, value) in values {
                    query = match *value {
                        Param::Text(text) => query.bind(text),
                        Param::Int(n) => query.bind(n),
                    };
                }
                query.bind(id).execute(&mut *self).await?;
                Ok(())
            }

            async fn join_entitlements(&mut self, joins: Joins, owner_id: &str, change: &EntitlementChange, attach: bool) -> Result<(), ProjectionError> {
                let Joins { table, owner, owners } = joins;
                let sql = match attach {
                    true => format!(
                        "insert into {table} ({owner}, entitlement_id, account_id, created_at) \
                         select $1, $2, account_id, $3 from {owners} where id = $1 on conflict do nothing"
                    ),
                    false => format!("delete from {table} where {owner} = $1 and entitlement_id = $2"),
                };
                for entitlement_id in &change.entitlement_ids {
                    let mut query = sqlx::query(&sql).bind(owner_id).bind(entitlement_id.as_str());
                    if attach {
                        query = query.bind(micros(&change.at));
                    }
                    query.execute(&mut *self).await?;
                }
                Ok(())
            }
        }
    )*};
}

statements_for!(sqlx::PgConnection, sqlx::SqliteConnection);
