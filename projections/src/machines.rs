//! The `machines` read model and machine queries with Keygen's filters. A machine row is written
//! beside its license's row (`license_rows`): `machine.created` and `machine.deleted` are events
//! of the license's stream, because the license decides on its machines' limits.

use crate::filter::{Bind, Filter, Source};
use crate::from_micros;
use crate::{fetch_row, oldest_of, Page, PageRequest, ProjectionError};
use aggregates::license::{MachineAttributes, MachineSlot};
use aggregates::machine::heartbeat;
use aggregates::policy::PolicyAttributes;
use store::Database;

/// A `machines` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MachineRow {
    pub id: String,
    pub account_id: String,
    pub license_id: String,
    pub fingerprint: String,
    pub cores: Option<i64>,
    pub memory: Option<i64>,
    pub disk: Option<i64>,
    pub name: Option<String>,
    pub ip: Option<String>,
    pub hostname: Option<String>,
    pub platform: Option<String>,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_sequence: i64,
}

/// The columns of [`MachineRow`], in the order [`MachineRow::INSERT`] binds them.
const ROW_COLUMNS: &str = "id, account_id, license_id, fingerprint, cores, memory, disk, name, ip, hostname, \
    platform, metadata, created_at, updated_at, last_sequence";

impl MachineRow {
    /// The row of a machine activated on `license_id` at `at` (microseconds).
    pub(crate) fn activated(
        account_id: String,
        license_id: String,
        machine: MachineSlot,
        attributes: MachineAttributes,
        at: i64,
    ) -> Result<Self, ProjectionError> {
        Ok(Self {
            id: machine.id.into_string(),
            account_id,
            license_id,
            fingerprint: machine.fingerprint,
            cores: machine.cores,
            memory: machine.memory,
            disk: machine.disk,
            name: attributes.name,
            ip: attributes.ip,
            hostname: attributes.hostname,
            platform: attributes.platform,
            metadata: crate::json_text(&attributes.metadata)?,
            created_at: at,
            updated_at: at,
            last_sequence: 0,
        })
    }

    /// Inserts the row; one already there (an event applied twice) stays as it is.
    pub(crate) fn insert_sql() -> String {
        format!(
            "insert into machines ({ROW_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             on conflict (id) do nothing"
        )
    }
}

/// A new machine's heartbeat row; a rebuild replaying its activation keeps the row it has.
pub(crate) const INSERT_HEARTBEAT: &str =
    "insert into machine_heartbeats (machine_id, account_id, license_id, deadline) \
    values ($1, $2, $3, $4) on conflict (machine_id) do nothing";

/// A machine with what rendering needs beside it: its license's product, policy, limits and the
/// policy's attributes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MachineView {
    #[sqlx(flatten)]
    pub row: MachineRow,
    pub product_id: String,
    pub policy_id: String,
    pub license_limits: String,
    pub policy_attributes: String,
    /// The last ping (operational state, `machine_heartbeats`).
    pub last_ping: Option<i64>,
    /// When a worker found the machine dead (cleared by a revival or a reset).
    pub dead_at: Option<i64>,
    /// The latest machine-file check-out (an observation).
    pub last_check_out: Option<i64>,
}

impl MachineView {
    /// The attributes of the license's policy.
    pub fn policy(&self) -> Result<aggregates::policy::PolicyAttributes, ProjectionError> {
        Ok(serde_json::from_str(&self.policy_attributes)?)
    }

    /// The license's own overrides of its policy's limits.
    pub fn license_limits(&self) -> Result<aggregates::license::LicenseLimits, ProjectionError> {
        Ok(serde_json::from_str(&self.license_limits)?)
    }

    /// The machine's last heartbeat under `policy`: its last ping, or its creation when the
    /// policy counts from creation.
    pub fn last_heartbeat(&self, policy: &PolicyAttributes) -> Option<aggregates::Timestamp> {
        heartbeat::last_heartbeat(
            policy,
            from_micros(self.row.created_at),
            self.last_ping.map(from_micros),
        )
    }

    /// The machine's heartbeat status at `now`; dead once a worker found it so, until it is
    /// revived or reset.
    pub fn heartbeat(&self, policy: &PolicyAttributes, now: aggregates::Timestamp) -> heartbeat::Status {
        if self.dead_at.is_some() {
            return heartbeat::Status::Dead;
        }
        heartbeat::status(
            policy,
            from_micros(self.row.created_at),
            self.last_heartbeat(policy),
            now,
        )
    }

    /// The machine's metadata (an object).
    pub fn metadata(&self) -> Result<serde_json::Value, ProjectionError> {
        Ok(serde_json::from_str(&self.row.metadata)?)
    }
}

const COLUMNS: &str = "m.id, m.account_id, m.license_id, m.fingerprint, m.cores, m.memory, m.disk, m.name, m.ip, \
    m.hostname, m.platform, m.metadata, m.created_at, m.updated_at, m.last_sequence, l.product_id, l.policy_id, \
    l.limits as license_limits, p.attributes as policy_attributes, h.last_heartbeat as last_ping, h.dead_at, \
    h.last_check_out";
const FROM: &str = "from machines m join licenses l on l.id = m.license_id and l.deleted_at is null \
    join policies p on p.id = l.policy_id left join machine_heartbeats h on h.machine_id = m.id";

/// A machine of the account by id or by fingerprint (the oldest match wins, as in Keygen).
pub async fn find(
    db: &Database,
    account_id: &str,
    id_or_fingerprint: &str,
) -> Result<Option<MachineView>, ProjectionError> {
    fetch_row(db, &find_sql(), &[account_id, id_or_fingerprint]).await
}

pub(crate) fn find_sql() -> String {
    let select = format!("select {COLUMNS} {FROM} where m.account_id = $1 and");
    oldest_of(&select, "m.id = $2", "m.fingerprint = $2", "created_at")
}

/// Whether the account has an active machine with this id.
pub async fn exists(db: &Database, account_id: &str, id: &str) -> Result<bool, ProjectionError> {
    let sql = "select id from machines where account_id = $1 and id = $2";
    let found: Option<(String,)> = fetch_row(db, sql, &[account_id, id]).await?;
    Ok(found.is_some())
}

/// Every active machine of a license, oldest first (what validation's scopes compare against).
pub async fn of_license(db: &Database, license_id: &str) -> Result<Vec<MachineView>, ProjectionError> {
    let sql = format!("select {COLUMNS} {FROM} where m.license_id = $1 order by m.created_at, m.id");
    store::on_pool!(db, |pool| Ok(sqlx::query_as(&sql)
        .bind(license_id)
        .fetch_all(pool)
        .await?))
}

/// Keygen's machine list filters.
#[derive(Debug, Clone, Default)]
pub struct MachineFilter {
    /// A license by id or key.
    pub license: Option<String>,
    /// A license by key only (`?key=`).
    pub key: Option<String>,
    pub fingerprint: Option<String>,
    pub product: Option<String>,
    pub policy: Option<String>,
    /// `metadata[key]=value` pairs (snake_case keys of letters, digits and `_`).
    pub metadata: Vec<(String, String)>,
    /// Only this license's machines (a license bearer lists its own).
    pub only_license: Option<String>,
    /// Only machines of licenses of this product (a product bearer).
    pub only_product: Option<String>,
}

/// A page of the account's machines matching `filter`.
pub async fn list(
    db: &Database,
    account_id: &str,
    filter: &MachineFilter,
    page: PageRequest,
) -> Result<Page<MachineView>, ProjectionError> {
    let mut w = Filter::default();
    w.eq("m.account_id", account_id);
    if let Some(license) = &filter.license {
        let p = w.param(Bind::Text(license.clone()));
        w.push(format!("(l.id = {p} or l.key = {p})"));
    }
    for (column, value) in [
        ("l.key", &filter.key),
        ("m.fingerprint", &filter.fingerprint),
        ("l.product_id", &filter.product),
        ("l.policy_id", &filter.policy),
        ("m.license_id", &filter.only_license),
        ("l.product_id", &filter.only_product),
    ] {
        if let Some(value) = value {
            w.eq(column, value);
        }
    }
    for (key, value) in &filter.metadata {
        w.metadata(db.backend(), "m.metadata", key, value);
    }
    let source = Source {
        table: "machines",
        alias: "m",
    };
    w.page(db, COLUMNS, FROM, source, page).await
}

/// Applies an event of a machine's own stream to its row: its attributes when they change; every
/// event moves the row's `last_sequence` (the row holds the whole of what each event says, so an
/// older one never overwrites a newer).
pub(crate) async fn apply(conn: &mut crate::Conn<'_>, event: crate::EventRef<'_>) -> Result<(), ProjectionError> {
    use aggregates::machine::MachineEvent;
    let update = match event.decode::<MachineEvent>()? {
        MachineEvent::Updated { attributes, at } => Some((attributes, crate::micros(&at))),
        _ => None,
    };
    crate::on_conn!(conn, |c| {
        match &update {
            Some((a, at)) => {
                sqlx::query(
                    "update machines set name = $1, ip = $2, hostname = $3, platform = $4, metadata = $5, \
                     updated_at = $6, last_sequence = $7 where id = $8 and last_sequence < $7",
                )
                .bind(&a.name)
                .bind(&a.ip)
                .bind(&a.hostname)
                .bind(&a.platform)
                .bind(crate::json_text(&a.metadata)?)
                .bind(*at)
                .bind(event.sequence)
                .bind(event.aggregate_id)
                .execute(&mut *c)
                .await?
            }
            None => {
                sqlx::query("update machines set last_sequence = $1 where id = $2 and last_sequence < $1")
                    .bind(event.sequence)
                    .bind(event.aggregate_id)
                    .execute(&mut *c)
                    .await?
            }
        };
    });
    Ok(())
}
