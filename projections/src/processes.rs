//! The `processes` read model and each process's heartbeat (`process_heartbeats`, operational
//! state). A process starts and ends in its license's stream; rows are written beside the
//! license's row. Pings move the heartbeat through the observation writer.

use crate::filter::{Filter, Source};
use crate::{fetch_row, Page, PageRequest, ProjectionError};
use store::Database;

/// A `processes` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProcessRow {
    pub id: String,
    pub account_id: String,
    pub license_id: String,
    pub machine_id: String,
    pub pid: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Inserts a row; one already there (an event applied twice) stays as it is.
pub(crate) const INSERT: &str = "insert into processes (id, account_id, license_id, machine_id, pid, metadata, \
    created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (id) do nothing";

/// A new process's heartbeat: it beats from its start.
pub(crate) const INSERT_HEARTBEAT: &str = "insert into process_heartbeats (process_id, account_id, license_id, \
    machine_id, last_heartbeat, deadline) values ($1, $2, $3, $4, $5, $6) on conflict (process_id) do nothing";

/// A process with what rendering needs beside it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProcessView {
    #[sqlx(flatten)]
    pub row: ProcessRow,
    pub product_id: String,
    pub policy_attributes: String,
    pub last_heartbeat: i64,
    pub dead_at: Option<i64>,
}

impl ProcessView {
    /// The attributes of the license's policy.
    pub fn policy(&self) -> Result<aggregates::policy::PolicyAttributes, ProjectionError> {
        Ok(serde_json::from_str(&self.policy_attributes)?)
    }

    /// The process's heartbeat status at `now`: alive within one heartbeat duration of its last
    /// heartbeat (its start, or its last ping), dead after, or once a worker found it so.
    pub fn heartbeat(
        &self,
        policy: &aggregates::policy::PolicyAttributes,
        now: aggregates::Timestamp,
    ) -> aggregates::machine::heartbeat::Status {
        use aggregates::machine::heartbeat::{duration, Status};
        let last = crate::from_micros(self.last_heartbeat);
        match self.dead_at.is_none() && last + chrono::Duration::seconds(duration(policy)) >= now {
            true => Status::Alive,
            false => Status::Dead,
        }
    }

    /// The metadata (an object).
    pub fn metadata(&self) -> Result<serde_json::Value, ProjectionError> {
        Ok(serde_json::from_str(&self.row.metadata)?)
    }
}

const COLUMNS: &str = "pr.id, pr.account_id, pr.license_id, pr.machine_id, pr.pid, pr.metadata, pr.created_at, \
    pr.updated_at, l.product_id, p.attributes as policy_attributes, h.last_heartbeat, h.dead_at";
const FROM: &str = "from processes pr join licenses l on l.id = pr.license_id and l.deleted_at is null \
    join policies p on p.id = l.policy_id join process_heartbeats h on h.process_id = pr.id";

/// A process of the account by id.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<ProcessView>, ProjectionError> {
    let sql = format!("select {COLUMNS} {FROM} where pr.account_id = $1 and pr.id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// Keygen's process list filters.
#[derive(Debug, Clone, Default)]
pub struct ProcessFilter {
    pub machine: Option<String>,
    pub license: Option<String>,
    pub product: Option<String>,
    /// Only this license's processes (a license bearer).
    pub only_license: Option<String>,
}

/// A page of the account's processes.
pub async fn list(
    db: &Database,
    account_id: &str,
    filter: &ProcessFilter,
    page: PageRequest,
) -> Result<Page<ProcessView>, ProjectionError> {
    let mut w = Filter::default();
    w.eq("pr.account_id", account_id);
    for (column, value) in [
        ("pr.machine_id", &filter.machine),
        ("pr.license_id", &filter.license),
        ("l.product_id", &filter.product),
        ("pr.license_id", &filter.only_license),
    ] {
        if let Some(value) = value {
            w.eq(column, value);
        }
    }
    let source = Source {
        table: "processes",
        alias: "pr",
    };
    w.page(db, COLUMNS, FROM, source, page).await
}

/// Live processes of a license: (machine id, count), for validation's `maxProcesses`.
pub async fn counts_of_license(db: &Database, license_id: &str) -> Result<Vec<(String, i64)>, ProjectionError> {
    let sql = "select machine_id, count(*) from processes where license_id = $1 group by machine_id";
    Ok(store::on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(license_id)
        .fetch_all(pool)
        .await?))
}
