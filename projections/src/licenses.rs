//! The `licenses` and `license_entitlements` read models, and license queries with Keygen's
//! filters. `license_activity` (last validation) is operational state written by observations.

use crate::filter::{Bind, Filter, Source};
use crate::{fetch_row, oldest_of, Page, PageRequest, ProjectionError};
use aggregates::license::LicenseLimits;
use aggregates::policy::PolicyAttributes;
use store::Database;

/// A license row with what rendering needs beside it: its policy's attributes and activity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LicenseRow {
    pub id: String,
    pub account_id: String,
    pub product_id: String,
    pub policy_id: String,
    pub key: String,
    pub name: Option<String>,
    pub expiry: Option<i64>,
    pub suspended: i64,
    pub protected: Option<i64>,
    pub limits: String,
    pub metadata: String,
    pub uses: i64,
    pub last_check_in: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub policy_attributes: String,
    pub last_validated: Option<i64>,
    /// The latest license-file check-out (an observation).
    pub last_check_out: Option<i64>,
    /// The license's active machines and the sum of their sizes.
    pub machines_count: i64,
    pub machines_cores: i64,
    pub machines_memory: i64,
    pub machines_disk: i64,
}

impl LicenseRow {
    /// The attributes of the license's policy, as stored with the row.
    pub fn policy(&self) -> Result<PolicyAttributes, ProjectionError> {
        Ok(serde_json::from_str(&self.policy_attributes)?)
    }

    /// The license's own overrides of its policy's limits.
    pub fn limits(&self) -> Result<LicenseLimits, ProjectionError> {
        Ok(serde_json::from_str(&self.limits)?)
    }

    /// The license's metadata (an object).
    pub fn metadata(&self) -> Result<serde_json::Value, ProjectionError> {
        Ok(serde_json::from_str(&self.metadata)?)
    }
}

const COLUMNS: &str = "l.id, l.account_id, l.product_id, l.policy_id, l.key, l.name, l.expiry, l.suspended, \
    l.protected, l.limits, l.metadata, l.uses, l.last_check_in, l.created_at, l.updated_at, \
    p.attributes as policy_attributes, a.last_validated, a.last_check_out, l.machines_count, l.machines_cores, l.machines_memory, \
    l.machines_disk";
/// Licenses whose policy or product is gone are gone too (their deletion cascades; this also
/// hides one created in the instant a cascade ran).
const FROM: &str = "from licenses l join policies p on p.id = l.policy_id and p.deleted_at is null \
    join products pr on pr.id = l.product_id and pr.deleted_at is null \
    left join license_activity a on a.license_id = l.id";

/// A live license by id or by key.
pub async fn find(db: &Database, account_id: &str, id_or_key: &str) -> Result<Option<LicenseRow>, ProjectionError> {
    fetch_row(db, &find_sql(), &[account_id, id_or_key]).await
}

pub(crate) fn find_sql() -> String {
    let select = format!("select {COLUMNS} {FROM} where l.account_id = $1 and l.deleted_at is null and");
    oldest_of(&select, "l.id = $2", "l.key = $2", "created_at")
}

/// A live license by key only (license-key authentication, validate-key).
pub async fn find_by_key(db: &Database, account_id: &str, key: &str) -> Result<Option<LicenseRow>, ProjectionError> {
    fetch_row(db, &find_by_key_sql(), &[account_id, key]).await
}

pub(crate) fn find_by_key_sql() -> String {
    format!("select {COLUMNS} {FROM} where l.account_id = $1 and l.deleted_at is null and l.key = $2 order by l.created_at limit 1")
}

/// Keygen's license list filters.
#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    pub product: Option<String>,
    pub policy: Option<String>,
    /// ACTIVE, INACTIVE, EXPIRING, EXPIRED or SUSPENDED.
    pub status: Option<String>,
    pub suspended: Option<bool>,
    pub expired: Option<bool>,
    pub expiring: Option<bool>,
    pub expires_before: Option<i64>,
    pub expires_after: Option<i64>,
    /// `metadata[key]=value` pairs (snake_case keys of letters, digits and `_`).
    pub metadata: Vec<(String, String)>,
    /// Only this license (a license bearer lists itself).
    pub only: Option<String>,
}

const DAY_US: i64 = 86_400_000_000;

fn status_condition(w: &mut Filter, status: &str, now: i64) -> Option<String> {
    // Only the parameters a condition uses are bound: PostgreSQL refuses unused ones.
    let not_expiring = |w: &mut Filter| {
        format!(
            "(l.expiry is null or l.expiry >= {})",
            w.param(Bind::Int(now + 3 * DAY_US))
        )
    };
    let inactive = |w: &mut Filter| {
        let stale = w.param(Bind::Int(now - 90 * DAY_US));
        format!(
            "(l.created_at < {stale} and coalesce(a.last_validated, 0) < {stale} \
             and coalesce(a.last_check_out, 0) < {stale} and coalesce(l.last_check_in, 0) < {stale})"
        )
    };
    Some(match status {
        "SUSPENDED" => "l.suspended = 1".to_string(),
        "EXPIRED" => format!(
            "l.suspended = 0 and l.expiry is not null and l.expiry < {}",
            w.param(Bind::Int(now))
        ),
        "EXPIRING" => {
            let (now_p, soon) = (w.param(Bind::Int(now)), w.param(Bind::Int(now + 3 * DAY_US)));
            format!("l.suspended = 0 and l.expiry >= {now_p} and l.expiry < {soon}")
        }
        "INACTIVE" => format!("l.suspended = 0 and {} and {}", not_expiring(w), inactive(w)),
        "ACTIVE" => format!("l.suspended = 0 and {} and not {}", not_expiring(w), inactive(w)),
        _ => return None,
    })
}

/// A page of live licenses matching `filter`; `now` (µs) decides statuses.
pub async fn list(
    db: &Database,
    account_id: &str,
    filter: &LicenseFilter,
    now: i64,
    page: PageRequest,
) -> Result<Page<LicenseRow>, ProjectionError> {
    let mut w = Filter::default();
    w.eq("l.account_id", account_id);
    w.push("l.deleted_at is null");
    for (column, value) in [
        ("l.product_id", &filter.product),
        ("l.policy_id", &filter.policy),
        ("l.id", &filter.only),
    ] {
        if let Some(value) = value {
            w.eq(column, value);
        }
    }
    if let Some(status) = &filter.status {
        let condition = status_condition(&mut w, status, now).unwrap_or_else(|| "1 = 0".into());
        w.push(condition);
    }
    if let Some(suspended) = filter.suspended {
        w.push(format!("l.suspended = {}", suspended as i64));
    }
    if let Some(expired) = filter.expired {
        let p = w.param(Bind::Int(now));
        let condition = format!("(l.expiry is not null and l.expiry < {p})");
        w.push(if expired { condition } else { format!("not {condition}") });
    }
    if let Some(expiring) = filter.expiring {
        let (p, soon) = (w.param(Bind::Int(now)), w.param(Bind::Int(now + 3 * DAY_US)));
        let condition = format!("(l.expiry is not null and l.expiry >= {p} and l.expiry < {soon})");
        w.push(if expiring {
            condition
        } else {
            format!("not {condition}")
        });
    }
    if let Some(before) = filter.expires_before {
        let p = w.param(Bind::Int(before));
        w.push(format!("l.expiry < {p}"));
    }
    if let Some(after) = filter.expires_after {
        let p = w.param(Bind::Int(after));
        w.push(format!("l.expiry > {p}"));
    }
    for (key, value) in &filter.metadata {
        w.metadata(db.backend(), "l.metadata", key, value);
    }
    w.page(
        db,
        COLUMNS,
        FROM,
        Source {
            table: "licenses",
            alias: "l",
        },
        page,
    )
    .await
}
