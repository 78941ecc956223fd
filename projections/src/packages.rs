//! The `packages` read model, and the lookup rows (engines, channels, platforms, arches) that
//! Keygen creates from the keys packages and releases name.

use crate::filter::{Filter, Source};
use crate::{
    fetch_row, json_text, micros, oldest_of, on_conn, Conn, EventRef, Page, PageRequest, ProjectionError, Statements,
};
use aggregates::package::PackageEvent;
use sha2::{Digest, Sha256};
use store::Database;

/// A package row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PackageRow {
    pub id: String,
    pub account_id: String,
    pub product_id: String,
    pub name: String,
    pub key: String,
    pub engine: Option<String>,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Records that an account uses `key` of `kind` (`engine`, `channel`, …), at its first use. The
/// row's id is derived from the three, so a rebuild gives it again.
pub(crate) async fn note_lookup(
    conn: &mut Conn<'_>,
    account_id: &str,
    kind: &str,
    key: &str,
    at: i64,
) -> Result<(), ProjectionError> {
    let digest = Sha256::digest(format!("{account_id}:{kind}:{key}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string();
    on_conn!(conn, |c| {
        sqlx::query(
            "insert into release_lookups (id, account_id, kind, key, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $5) on conflict do nothing",
        )
        .bind(id)
        .bind(account_id)
        .bind(kind)
        .bind(key)
        .bind(at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    let payload: PackageEvent = event.decode()?;
    if let PackageEvent::Created {
        id,
        account_id,
        product_id,
        attributes: a,
        created_at,
    } = &payload
    {
        let at = micros(created_at);
        on_conn!(conn, |c| {
            sqlx::query(
                "insert into packages (id, account_id, product_id, name, key, engine, metadata, created_at, \
                 updated_at, last_sequence) values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) on conflict (id) do nothing",
            )
            .bind(id.as_str())
            .bind(account_id)
            .bind(product_id.as_str())
            .bind(&a.name)
            .bind(&a.key)
            .bind(&a.engine)
            .bind(json_text(&a.metadata)?)
            .bind(at)
            .bind(event.sequence)
            .execute(&mut *c)
            .await?;
        });
        if let Some(engine) = &a.engine {
            note_lookup(conn, account_id, "engine", engine, at).await?;
        }
        return Ok(());
    }
    let at = match &payload {
        PackageEvent::Updated { updated_at, .. } => micros(updated_at),
        PackageEvent::Deleted { deleted_at, .. } => micros(deleted_at),
        PackageEvent::Created { .. } => unreachable!("handled above"),
    };
    let advanced = on_conn!(conn, |c| {
        c.advance("packages", event.aggregate_id, event.sequence, Some(at))
            .await?
    });
    if !advanced {
        return Ok(());
    }
    match payload {
        PackageEvent::Updated {
            account_id,
            attributes: a,
            ..
        } => {
            on_conn!(conn, |c| {
                sqlx::query("update packages set name = $1, key = $2, engine = $3, metadata = $4 where id = $5")
                    .bind(&a.name)
                    .bind(&a.key)
                    .bind(&a.engine)
                    .bind(json_text(&a.metadata)?)
                    .bind(event.aggregate_id)
                    .execute(&mut *c)
                    .await?;
            });
            if let Some(engine) = &a.engine {
                note_lookup(conn, &account_id, "engine", engine, at).await?;
            }
        }
        PackageEvent::Deleted { .. } => on_conn!(conn, |c| {
            sqlx::query("update packages set deleted_at = $1 where id = $2")
                .bind(at)
                .bind(event.aggregate_id)
                .execute(&mut *c)
                .await?;
        }),
        PackageEvent::Created { .. } => {}
    }
    Ok(())
}

const COLUMNS: &str =
    "k.id, k.account_id, k.product_id, k.name, k.key, k.engine, k.metadata, k.created_at, k.updated_at";

/// A live package by id or key.
pub async fn find(db: &Database, account_id: &str, id_or_key: &str) -> Result<Option<PackageRow>, ProjectionError> {
    let select = format!("select {COLUMNS} from packages k where k.account_id = $1 and k.deleted_at is null and");
    let sql = oldest_of(&select, "k.id = $2", "k.key = $2", "created_at");
    fetch_row(db, &sql, &[account_id, id_or_key]).await
}

/// Which packages to list.
#[derive(Debug, Clone, Default)]
pub struct PackageFilter {
    pub product: Option<String>,
    pub engine: Option<String>,
    /// Only packages of products with these distribution strategies (none: any).
    pub strategies: Option<Vec<&'static str>>,
}

/// A page of live packages.
pub async fn list(
    db: &Database,
    account_id: &str,
    filter: &PackageFilter,
    page: PageRequest,
) -> Result<Page<PackageRow>, ProjectionError> {
    let mut f = Filter::default();
    f.eq("k.account_id", account_id);
    f.push("k.deleted_at is null");
    if let Some(product) = &filter.product {
        f.eq("k.product_id", product);
    }
    if let Some(engine) = &filter.engine {
        f.eq("k.engine", engine);
    }
    if let Some(strategies) = &filter.strategies {
        let list: Vec<String> = strategies.iter().map(|s| format!("'{s}'")).collect();
        f.push(format!(
            "k.product_id in (select id from products where distribution_strategy in ({}))",
            list.join(", ")
        ));
    }
    f.page(
        db,
        COLUMNS,
        "from packages k",
        Source {
            table: "packages",
            alias: "k",
        },
        page,
    )
    .await
}

/// A lookup row (an engine, channel, platform or arch an account uses).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LookupRow {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub key: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const LOOKUP_COLUMNS: &str = "l.id, l.account_id, l.kind, l.key, l.created_at, l.updated_at";

/// A page of an account's lookups of one kind.
pub async fn lookups(
    db: &Database,
    account_id: &str,
    kind: &str,
    page: PageRequest,
) -> Result<Page<LookupRow>, ProjectionError> {
    let mut f = Filter::default();
    f.eq("l.account_id", account_id);
    f.eq("l.kind", kind);
    f.page(
        db,
        LOOKUP_COLUMNS,
        "from release_lookups l",
        Source {
            table: "release_lookups",
            alias: "l",
        },
        page,
    )
    .await
}

/// One lookup of an account by id or key.
pub async fn lookup(
    db: &Database,
    account_id: &str,
    kind: &str,
    id_or_key: &str,
) -> Result<Option<LookupRow>, ProjectionError> {
    let sql = format!(
        "select {LOOKUP_COLUMNS} from release_lookups l where l.account_id = $1 and l.kind = $2 \
         and (l.id = $3 or l.key = $3) limit 1"
    );
    fetch_row(db, &sql, &[account_id, kind, id_or_key]).await
}
