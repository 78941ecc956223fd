//! The `entitlements` read model.

use crate::filter::{Bind, Filter, Source};
use crate::{
    fetch_row, json_text, micros, oldest_of, on_conn, Conn, EventRef, Page, PageRequest, ProjectionError, Statements,
};
use aggregates::entitlement::EntitlementEvent;
use store::Database;

/// An entitlement row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntitlementRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub code: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        let payload: EntitlementEvent = event.decode()?;
        if let EntitlementEvent::Created {
            id,
            account_id,
            attributes: a,
            created_at,
        } = payload
        {
            sqlx::query(
                "insert into entitlements (id, account_id, name, code, metadata, created_at, updated_at, last_sequence) \
                 values ($1, $2, $3, $4, $5, $6, $6, $7) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(account_id)
            .bind(a.name)
            .bind(a.code)
            .bind(json_text(&a.metadata)?)
            .bind(micros(&created_at))
            .bind(event.sequence)
            .execute(&mut *c)
            .await?;
            return Ok(());
        }
        let at = match &payload {
            EntitlementEvent::Updated { updated_at, .. } => micros(updated_at),
            EntitlementEvent::Deleted { deleted_at, .. } => micros(deleted_at),
            EntitlementEvent::Created { .. } => unreachable!("handled above"),
        };
        if c.advance("entitlements", event.aggregate_id, event.sequence, Some(at))
            .await?
        {
            match payload {
                EntitlementEvent::Updated { attributes: a, .. } => {
                    sqlx::query("update entitlements set name = $1, code = $2, metadata = $3 where id = $4")
                        .bind(a.name)
                        .bind(a.code)
                        .bind(json_text(&a.metadata)?)
                        .bind(event.aggregate_id)
                        .execute(&mut *c)
                        .await?;
                }
                EntitlementEvent::Deleted { .. } => {
                    sqlx::query("update entitlements set deleted_at = $1 where id = $2")
                        .bind(at)
                        .bind(event.aggregate_id)
                        .execute(&mut *c)
                        .await?;
                }
                EntitlementEvent::Created { .. } => {}
            }
        }
        Ok(())
    })
}

const COLUMNS: &str = "e.id, e.account_id, e.name, e.code, e.metadata, e.created_at, e.updated_at";

/// A live entitlement by id or code.
pub async fn find(
    db: &Database,
    account_id: &str,
    id_or_code: &str,
) -> Result<Option<EntitlementRow>, ProjectionError> {
    fetch_row(db, &find_sql(), &[account_id, id_or_code, &id_or_code.to_lowercase()]).await
}

pub(crate) fn find_sql() -> String {
    let select = format!("select {COLUMNS} from entitlements e where e.account_id = $1 and e.deleted_at is null and");
    oldest_of(&select, "e.id = $2", "lower(e.code) = $3", "created_at")
}

/// Which entitlements to list.
#[derive(Debug, Clone, Copy)]
pub enum EntitlementSet<'a> {
    /// Every live entitlement of the account.
    Account,
    /// Those attached to a policy.
    Policy(&'a str),
    /// A license's: its policy's and its own.
    License { license_id: &'a str, policy_id: &'a str },
}

impl EntitlementSet<'_> {
    /// The account's live entitlements in this set.
    fn filter(&self, account_id: &str) -> Filter {
        let mut filter = Filter::default();
        filter.eq("e.account_id", account_id);
        filter.push("e.deleted_at is null");
        match self {
            EntitlementSet::Account => {}
            EntitlementSet::Policy(policy) => {
                let p = filter.param(Bind::Text(policy.to_string()));
                filter.push(format!(
                    "e.id in (select entitlement_id from policy_entitlements where policy_id = {p})"
                ));
            }
            EntitlementSet::License { license_id, policy_id } => {
                let p = filter.param(Bind::Text(policy_id.to_string()));
                let l = filter.param(Bind::Text(license_id.to_string()));
                filter.push(format!(
                    "(e.id in (select entitlement_id from policy_entitlements where policy_id = {p}) \
                     or e.id in (select entitlement_id from license_entitlements where license_id = {l}))"
                ));
            }
        }
        filter
    }
}

/// A page of live entitlements in `set`.
pub async fn list(
    db: &Database,
    account_id: &str,
    set: EntitlementSet<'_>,
    page: PageRequest,
) -> Result<Page<EntitlementRow>, ProjectionError> {
    set.filter(account_id)
        .page(
            db,
            COLUMNS,
            "from entitlements e",
            Source {
                table: "entitlements",
                alias: "e",
            },
            page,
        )
        .await
}

/// Every live entitlement in `set`.
pub async fn all(
    db: &Database,
    account_id: &str,
    set: EntitlementSet<'_>,
) -> Result<Vec<EntitlementRow>, ProjectionError> {
    Ok(list(db, account_id, set, PageRequest::everything()).await?.items)
}

/// Codes of every live entitlement in `set` (for validation's entitlements scope).
pub async fn codes(db: &Database, account_id: &str, set: EntitlementSet<'_>) -> Result<Vec<String>, ProjectionError> {
    Ok(all(db, account_id, set).await?.into_iter().map(|e| e.code).collect())
}

/// Ids of every live entitlement in `set` (what a license inherits from its policy).
pub async fn ids(db: &Database, account_id: &str, set: EntitlementSet<'_>) -> Result<Vec<String>, ProjectionError> {
    Ok(all(db, account_id, set).await?.into_iter().map(|e| e.id).collect())
}

/// The live entitlements among `ids` (by id), to check an attach request.
pub async fn existing_ids(db: &Database, account_id: &str, ids: &[String]) -> Result<Vec<String>, ProjectionError> {
    let mut found = Vec::new();
    for id in ids {
        if let Some(row) = find(db, account_id, id).await? {
            found.push(row.id);
        }
    }
    Ok(found)
}
