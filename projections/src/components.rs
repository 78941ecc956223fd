//! The `components` read model: a machine's components, written beside its license's row when
//! the machine is activated (its license's stream holds them) and removed with the machine.

use crate::{fetch_row, json_text, Page, PageRequest, ProjectionError};
use aggregates::license::machines::NewComponent;
use store::Database;

/// A `components` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ComponentRow {
    pub id: String,
    pub account_id: String,
    pub license_id: String,
    pub machine_id: String,
    pub fingerprint: String,
    pub name: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, account_id, license_id, machine_id, fingerprint, name, metadata, created_at, updated_at";

impl ComponentRow {
    /// The row of `component`, created with machine `machine_id` of `license_id` at `at` (µs).
    pub(crate) fn created(
        account_id: &str,
        license_id: &str,
        machine_id: &str,
        component: NewComponent,
        at: i64,
    ) -> Result<Self, ProjectionError> {
        Ok(Self {
            id: component.id.into_string(),
            account_id: account_id.to_string(),
            license_id: license_id.to_string(),
            machine_id: machine_id.to_string(),
            fingerprint: component.fingerprint,
            name: component.name,
            metadata: json_text(&component.metadata)?,
            created_at: at,
            updated_at: at,
        })
    }

    /// The metadata (an object).
    pub fn metadata(&self) -> Result<serde_json::Value, ProjectionError> {
        Ok(serde_json::from_str(&self.metadata)?)
    }
}

/// Inserts a row; one already there (an event applied twice) stays as it is.
pub(crate) const INSERT: &str = "insert into components (id, account_id, license_id, machine_id, fingerprint, name, \
    metadata, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (id) do nothing";

/// A component of the account by id.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<ComponentRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from components where account_id = $1 and id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// Every component of a license's machines: (machine id, fingerprint), for validation's scope.
pub async fn fingerprints_of_license(
    db: &Database,
    license_id: &str,
) -> Result<Vec<(String, String)>, ProjectionError> {
    let sql = "select machine_id, fingerprint from components where license_id = $1";
    Ok(store::on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(license_id)
        .fetch_all(pool)
        .await?))
}

/// Which components to list.
#[derive(Debug, Clone, Default)]
pub struct ComponentFilter {
    pub machine: Option<String>,
    pub license: Option<String>,
    /// Only components of this product's licenses (a product bearer).
    pub only_product: Option<String>,
}

/// A page of the account's components.
pub async fn list(
    db: &Database,
    account_id: &str,
    filter: &ComponentFilter,
    page: PageRequest,
) -> Result<Page<ComponentRow>, ProjectionError> {
    let mut w = crate::filter::Filter::default();
    w.eq("c.account_id", account_id);
    for (column, value) in [
        ("c.machine_id", &filter.machine),
        ("c.license_id", &filter.license),
        ("l.product_id", &filter.only_product),
    ] {
        if let Some(value) = value {
            w.eq(column, value);
        }
    }
    let select = "c.id, c.account_id, c.license_id, c.machine_id, c.fingerprint, c.name, c.metadata, c.created_at, \
        c.updated_at";
    let from = "from components c join licenses l on l.id = c.license_id";
    let source = crate::filter::Source {
        table: "components",
        alias: "c",
    };
    w.page(db, select, from, source, page).await
}
