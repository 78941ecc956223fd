//! How license events reach the `licenses` rows: each event is folded into the row in memory
//! (`fold`, a pure function), and rows are read and written a batch at a time. The inline path
//! folds one event into one row; the catch-up runner and rebuild fold a run of license events
//! (thousands) into the rows they touch and write each row once, with multi-row statements.
//!
//! The rules are the delta rules of every such table: an event applies only when it is the next
//! of its license (`last_sequence = sequence - 1`), a create only when the row is absent, and a
//! row is never written back to an older sequence. `license_entitlements` and the pool key a
//! license took change beside their license, in event order, after its row is written.

use crate::statements::Param;
use crate::{micros, on_conn, value_rows, Conn, EventRef, Joins, ProjectionError, Statements};
use aggregates::entitlement::EntitlementChange;
use aggregates::license::{LicenseAttributes, LicenseEvent};
use beside::Beside;
use std::collections::HashMap;

/// A `licenses` row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: String,
    account_id: String,
    product_id: String,
    policy_id: String,
    key: String,
    name: Option<String>,
    expiry: Option<i64>,
    suspended: i64,
    protected: Option<i64>,
    limits: String,
    metadata: String,
    uses: i64,
    last_check_in: Option<i64>,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
    last_sequence: i64,
    machines_count: i64,
    machines_cores: i64,
    machines_memory: i64,
    machines_disk: i64,
}

/// The columns of [`Row`], in the order statements bind them (`id` first).
const COLUMNS: &[&str] = &[
    "id",
    "account_id",
    "product_id",
    "policy_id",
    "key",
    "name",
    "expiry",
    "suspended",
    "protected",
    "limits",
    "metadata",
    "uses",
    "last_check_in",
    "created_at",
    "updated_at",
    "deleted_at",
    "last_sequence",
    "machines_count",
    "machines_cores",
    "machines_memory",
    "machines_disk",
];

/// Writes `rows` rows of [`COLUMNS`]: new ones inserted, existing ones replaced unless they are
/// at a later sequence already.
fn upsert_sql(rows: usize) -> String {
    let set: Vec<String> = COLUMNS[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "insert into licenses ({}) values {} on conflict (id) do update set {} \
         where licenses.last_sequence < excluded.last_sequence",
        COLUMNS.join(", "),
        value_rows(rows, COLUMNS.len()),
        set.join(", ")
    )
}

/// The license's attributes onto its row.
fn set_attributes(row: &mut Row, attributes: &LicenseAttributes) -> Result<(), ProjectionError> {
    row.name = attributes.name.clone();
    row.expiry = attributes.expiry.as_ref().map(micros);
    row.suspended = attributes.suspended as i64;
    row.protected = attributes.protected.map(i64::from);
    row.limits = crate::json_text(&attributes.limits)?;
    row.metadata = crate::json_text(&attributes.metadata)?;
    Ok(())
}

/// Folds one event into `rows` (the rows of the licenses it may touch, absent ones missing);
/// returns whether a row changed. What changes beside the row goes to `beside`.
fn fold(
    rows: &mut HashMap<String, Row>,
    event: EventRef<'_>,
    beside: &mut Vec<Beside>,
    behind: &mut Vec<String>,
) -> Result<bool, ProjectionError> {
    let payload: LicenseEvent = event.decode()?;
    if let LicenseEvent::Created {
        id,
        account_id,
        product_id,
        policy_id,
        key,
        pooled_key_id,
        attributes,
        last_check_in,
        created_at,
    } = payload
    {
        let created_at = micros(&created_at);
        if let Some(key_id) = pooled_key_id {
            beside.push(Beside::TakeKey {
                key_id: key_id.into_string(),
                at: created_at,
            });
        }
        let id = id.into_string();
        if rows.contains_key(&id) {
            return Ok(false);
        }
        let mut row = Row {
            id: id.clone(),
            account_id: account_id.into_string(),
            product_id: product_id.into_string(),
            policy_id: policy_id.into_string(),
            key,
            name: None,
            expiry: None,
            suspended: 0,
            protected: None,
            limits: String::new(),
            metadata: String::new(),
            uses: 0,
            last_check_in: last_check_in.as_ref().map(micros),
            created_at,
            updated_at: created_at,
            deleted_at: None,
            last_sequence: event.sequence,
            machines_count: 0,
            machines_cores: 0,
            machines_memory: 0,
            machines_disk: 0,
        };
        set_attributes(&mut row, &attributes)?;
        rows.insert(id, row);
        return Ok(true);
    }
    let Some(row) = rows.get_mut(event.aggregate_id) else {
        return Ok(false);
    };
    if row.last_sequence != event.sequence - 1 {
        // Events before this one have not reached the row: whoever applies it must bring them.
        if row.last_sequence < event.sequence - 1 {
            behind.push(row.id.clone());
        }
        return Ok(false);
    }
    let at = match &payload {
        LicenseEvent::Updated { updated_at, .. } => *updated_at,
        LicenseEvent::Deleted { deleted_at } => *deleted_at,
        LicenseEvent::Revoked { revoked_at } => *revoked_at,
        LicenseEvent::Suspended { at }
        | LicenseEvent::Reinstated { at }
        | LicenseEvent::Renewed { at, .. }
        | LicenseEvent::CheckedIn { at }
        | LicenseEvent::UsageIncremented { at, .. }
        | LicenseEvent::UsageDecremented { at, .. }
        | LicenseEvent::UsageReset { at }
        | LicenseEvent::PolicyChanged { at, .. }
        | LicenseEvent::EntitlementsAttached(EntitlementChange { at, .. })
        | LicenseEvent::EntitlementsDetached(EntitlementChange { at, .. }) => *at,
        LicenseEvent::MachineActivated { created_at, .. } => *created_at,
        LicenseEvent::MachineDeactivated { at, .. }
        | LicenseEvent::MachineResized { at, .. }
        | LicenseEvent::ProcessUpdated { at, .. }
        | LicenseEvent::ProcessKilled { at, .. } => *at,
        LicenseEvent::ProcessSpawned { created_at, .. } | LicenseEvent::ComponentAdded { created_at, .. } => {
            *created_at
        }
        LicenseEvent::ComponentUpdated { at, .. } | LicenseEvent::ComponentRemoved { at, .. } => *at,
        LicenseEvent::Created { .. } => unreachable!("handled above"),
    };
    let at = micros(&at);
    row.last_sequence = event.sequence;
    // A machine's activation changes the license's counts, not the license (Keygen keeps
    // `updated` as it was).
    if !matches!(
        payload,
        LicenseEvent::MachineActivated { .. }
            | LicenseEvent::MachineDeactivated { .. }
            | LicenseEvent::MachineResized { .. }
            | LicenseEvent::ProcessSpawned { .. }
            | LicenseEvent::ProcessUpdated { .. }
            | LicenseEvent::ProcessKilled { .. }
            | LicenseEvent::ComponentAdded { .. }
            | LicenseEvent::ComponentUpdated { .. }
            | LicenseEvent::ComponentRemoved { .. }
    ) {
        row.updated_at = at;
    }
    match payload {
        LicenseEvent::Updated { attributes, .. } => set_attributes(row, &attributes)?,
        LicenseEvent::Deleted { .. } | LicenseEvent::Revoked { .. } => {
            row.deleted_at = Some(at);
            beside.push(Beside::Gone {
                license_id: row.id.clone(),
            });
        }
        LicenseEvent::Suspended { .. } => row.suspended = 1,
        LicenseEvent::Reinstated { .. } => row.suspended = 0,
        LicenseEvent::Renewed { expiry, .. } => row.expiry = expiry.as_ref().map(micros),
        LicenseEvent::CheckedIn { .. } => row.last_check_in = Some(at),
        LicenseEvent::UsageIncremented { uses, .. } | LicenseEvent::UsageDecremented { uses, .. } => row.uses = uses,
        LicenseEvent::UsageReset { .. } => row.uses = 0,
        LicenseEvent::PolicyChanged {
            product_id,
            policy_id,
            expiry,
            ..
        } => {
            row.product_id = product_id.into_string();
            row.policy_id = policy_id.into_string();
            row.expiry = expiry.as_ref().map(micros);
        }
        LicenseEvent::EntitlementsAttached(change) => beside.push(Beside::Entitlements {
            license_id: row.id.clone(),
            change,
            attach: true,
        }),
        LicenseEvent::EntitlementsDetached(change) => beside.push(Beside::Entitlements {
            license_id: row.id.clone(),
            change,
            attach: false,
        }),
        machine_event @ (LicenseEvent::MachineActivated { .. }
        | LicenseEvent::MachineResized { .. }
        | LicenseEvent::MachineDeactivated { .. }
        | LicenseEvent::ProcessSpawned { .. }
        | LicenseEvent::ProcessUpdated { .. }
        | LicenseEvent::ProcessKilled { .. }
        | LicenseEvent::ComponentAdded { .. }
        | LicenseEvent::ComponentUpdated { .. }
        | LicenseEvent::ComponentRemoved { .. }) => machines::fold(row, machine_event, at, beside)?,
        LicenseEvent::Created { .. } => {}
    }
    Ok(true)
}

/// Applies license events, in order, on `conn`: the rows they touch are read once (locked on
/// PostgreSQL, so no other writer moves them meanwhile), folded, and written once.
/// Answers the licenses whose rows are behind the events given (an event before them is
/// missing), which were left as they were.
pub(crate) async fn apply_run(conn: &mut Conn<'_>, events: &[EventRef<'_>]) -> Result<Vec<String>, ProjectionError> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.aggregate_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let per_statement = conn.parameters_per_statement();
    // PostgreSQL locks the rows it reads; SQLite's writer holds the whole file already.
    let lock = match conn {
        Conn::Postgres(_) => " for update",
        Conn::Sqlite(_) => "",
    };
    let mut rows: HashMap<String, Row> = HashMap::with_capacity(ids.len());
    on_conn!(conn, |c| {
        for chunk in ids.chunks(per_statement) {
            let sql = format!(
                "select {} from licenses where id in {}{lock}",
                COLUMNS.join(", "),
                value_rows(1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, Row>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *c).await? {
                rows.insert(row.id.clone(), row);
            }
        }
    });
    let mut beside = Vec::new();
    let mut behind = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    for event in events {
        if fold(&mut rows, *event, &mut beside, &mut behind)? {
            changed.push(event.aggregate_id.to_string());
        }
    }
    changed.sort_unstable();
    changed.dedup();
    let changed: Vec<&Row> = changed.iter().filter_map(|id| rows.get(id)).collect();
    on_conn!(conn, |c| {
        for chunk in changed.chunks((per_statement / COLUMNS.len()).max(1)) {
            let sql = upsert_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(&row.id)
                    .bind(&row.account_id)
                    .bind(&row.product_id)
                    .bind(&row.policy_id)
                    .bind(&row.key)
                    .bind(&row.name)
                    .bind(row.expiry)
                    .bind(row.suspended)
                    .bind(row.protected)
                    .bind(&row.limits)
                    .bind(&row.metadata)
                    .bind(row.uses)
                    .bind(row.last_check_in)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(row.deleted_at)
                    .bind(row.last_sequence)
                    .bind(row.machines_count)
                    .bind(row.machines_cores)
                    .bind(row.machines_memory)
                    .bind(row.machines_disk);
            }
            query.execute(&mut *c).await?;
        }
        for change in &beside {
            match change {
                Beside::TakeKey { key_id, at } => {
                    sqlx::query(
                        "update pool_keys set deleted_at = $1, updated_at = $1 where id = $2 and deleted_at is null",
                    )
                    .bind(*at)
                    .bind(key_id)
                    .execute(&mut *c)
                    .await?;
                }
                Beside::Entitlements {
                    license_id,
                    change,
                    attach,
                } => c.join_entitlements(Joins::LICENSE, license_id, change, *attach).await?,
                Beside::Activated(machine, deadline) => c.insert_machine(machine, *deadline).await?,
                Beside::Resized { machine, at } => {
                    let values = [
                        ("cores", Param::Int(machine.cores)),
                        ("memory", Param::Int(machine.memory)),
                        ("disk", Param::Int(machine.disk)),
                        ("updated_at", Param::Int(Some(*at))),
                    ];
                    c.set("machines", machine.id.as_str(), &values).await?;
                }
                Beside::Components(rows) => c.insert_components(rows).await?,
                Beside::ComponentUpdated { id, name, metadata, at } => {
                    let values = [
                        ("name", Param::Text(Some(name))),
                        ("metadata", Param::Text(Some(metadata))),
                        ("updated_at", Param::Int(Some(*at))),
                    ];
                    c.set("components", id, &values).await?;
                }
                Beside::ComponentRemoved { id } => {
                    sqlx::query("delete from components where id = $1")
                        .bind(id)
                        .execute(&mut *c)
                        .await?;
                }
                Beside::Spawned(process, deadline) => c.insert_process(process, *deadline).await?,
                Beside::ProcessUpdated { id, metadata, at } => {
                    let values = [
                        ("metadata", Param::Text(Some(metadata))),
                        ("updated_at", Param::Int(Some(*at))),
                    ];
                    c.set("processes", id, &values).await?;
                }
                Beside::Killed { id } => c.remove_process(id).await?,
                Beside::TokenUse { column, token } => {
                    let values = [(*column, Param::Int(Some(token.count)))];
                    c.set("tokens", token.id.as_str(), &values).await?;
                }
                Beside::Deactivated { machine_id } => c.remove_machines("machine_id", machine_id).await?,
                Beside::Gone { license_id } => c.remove_machines("license_id", license_id).await?,
            }
        }
    });
    Ok(behind)
}

mod beside;
mod machines;
#[cfg(test)]
mod tests;
