//! The `releases` read model with its entitlement constraints, and who may see which release.

use crate::filter::{Bind, Filter, Source};
use crate::packages::note_lookup;
use crate::{fetch_row, json_text, micros, on_conn, Conn, EventRef, Page, PageRequest, ProjectionError, Statements};
use aggregates::release::ReleaseEvent;
use store::Database;

pub use crate::audience::{Audience, Window};

/// A release row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    pub id: String,
    pub account_id: String,
    pub product_id: String,
    pub package_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub channel: String,
    pub status: String,
    pub tag: Option<String>,
    pub version: String,
    pub backdated_at: Option<i64>,
    pub yanked_at: Option<i64>,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A constraint row: a release requires an entitlement.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConstraintRow {
    pub id: String,
    pub account_id: String,
    pub release_id: String,
    pub entitlement_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

async fn insert_constraints(
    conn: &mut Conn<'_>,
    account_id: &str,
    release_id: &str,
    constraints: &[aggregates::release::Constraint],
) -> Result<(), ProjectionError> {
    for c in constraints {
        on_conn!(conn, |db| {
            sqlx::query(
                "insert into release_constraints (id, account_id, release_id, entitlement_id, created_at, updated_at) \
                 values ($1, $2, $3, $4, $5, $5) on conflict (id) do nothing",
            )
            .bind(&c.id)
            .bind(account_id)
            .bind(release_id)
            .bind(c.entitlement_id.as_str())
            .bind(micros(&c.created_at))
            .execute(&mut *db)
            .await?;
        });
    }
    Ok(())
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    let payload: ReleaseEvent = event.decode()?;
    if let ReleaseEvent::Created {
        id,
        account_id,
        line,
        attributes: a,
        constraints,
        created_at,
    } = &payload
    {
        let at = micros(created_at);
        let inserted = on_conn!(conn, |c| {
            sqlx::query(
                "insert into releases (id, account_id, product_id, package_id, name, description, channel, status, \
                 tag, version, backdated_at, yanked_at, metadata, created_at, updated_at, last_sequence) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15) \
                 on conflict (id) do nothing",
            )
            .bind(id)
            .bind(account_id)
            .bind(line.product_id.as_str())
            .bind(line.package_id.as_ref().map(|p| p.as_str()))
            .bind(&a.name)
            .bind(&a.description)
            .bind(&a.channel)
            .bind(&a.status)
            .bind(&a.tag)
            .bind(&a.version)
            .bind(a.backdated.as_ref().map(micros))
            .bind(a.yanked.as_ref().map(micros))
            .bind(json_text(&a.metadata)?)
            .bind(at)
            .bind(event.sequence)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            insert_constraints(conn, account_id, id, constraints).await?;
            note_lookup(conn, account_id, "channel", &a.channel, at).await?;
        }
        return Ok(());
    }
    let id = event.aggregate_id;
    if is_artifact_event(&payload) {
        // They advance the release's row (its events apply in order) but do not change it.
        if on_conn!(conn, |c| c.advance("releases", id, event.sequence, None).await?) {
            crate::artifacts::apply(conn, id, &payload).await?;
        }
        return Ok(());
    }
    let at = match &payload {
        ReleaseEvent::Updated { updated_at, .. } => micros(updated_at),
        ReleaseEvent::Deleted { deleted_at, .. } => micros(deleted_at),
        ReleaseEvent::Published { at, .. }
        | ReleaseEvent::Yanked { at, .. }
        | ReleaseEvent::ConstraintsAttached { at, .. }
        | ReleaseEvent::ConstraintsDetached { at, .. }
        | ReleaseEvent::PackageChanged { at, .. } => micros(at),
        _ => unreachable!("handled above"),
    };
    let advanced = on_conn!(conn, |c| c.advance("releases", id, event.sequence, Some(at)).await?);
    if !advanced {
        return Ok(());
    }
    match payload {
        ReleaseEvent::Updated { attributes: a, .. } => on_conn!(conn, |c| {
            sqlx::query(
                "update releases set name = $1, description = $2, tag = $3, backdated_at = $4, metadata = $5 \
                 where id = $6",
            )
            .bind(&a.name)
            .bind(&a.description)
            .bind(&a.tag)
            .bind(a.backdated.as_ref().map(micros))
            .bind(json_text(&a.metadata)?)
            .bind(id)
            .execute(&mut *c)
            .await?;
        }),
        ReleaseEvent::Published { .. } => on_conn!(conn, |c| {
            sqlx::query("update releases set status = 'PUBLISHED', yanked_at = null where id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
        }),
        ReleaseEvent::Yanked { .. } => on_conn!(conn, |c| {
            sqlx::query("update releases set status = 'YANKED', yanked_at = $1 where id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *c)
                .await?;
        }),
        ReleaseEvent::ConstraintsAttached {
            account_id,
            constraints,
            ..
        } => insert_constraints(conn, &account_id, id, &constraints).await?,
        ReleaseEvent::ConstraintsDetached { constraint_ids, .. } => {
            for constraint in constraint_ids {
                on_conn!(conn, |c| {
                    sqlx::query("delete from release_constraints where id = $1 and release_id = $2")
                        .bind(&constraint)
                        .bind(id)
                        .execute(&mut *c)
                        .await?;
                });
            }
        }
        ReleaseEvent::PackageChanged { to, .. } => on_conn!(conn, |c| {
            sqlx::query("update releases set package_id = $1 where id = $2")
                .bind(to.package_id.as_ref().map(|p| p.as_str()))
                .bind(id)
                .execute(&mut *c)
                .await?;
        }),
        ReleaseEvent::Deleted { .. } => {
            on_conn!(conn, |c| {
                sqlx::query("update releases set deleted_at = $1 where id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("delete from release_constraints where release_id = $1")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
            });
            crate::artifacts::release_deleted(conn, id, at).await?;
        }
        _ => {}
    }
    Ok(())
}

fn is_artifact_event(event: &ReleaseEvent) -> bool {
    matches!(
        event,
        ReleaseEvent::ArtifactCreated { .. }
            | ReleaseEvent::ArtifactUpdated { .. }
            | ReleaseEvent::ArtifactUploaded { .. }
            | ReleaseEvent::ArtifactUploadedLegacy { .. }
            | ReleaseEvent::ArtifactFailed { .. }
            | ReleaseEvent::ArtifactDeleted { .. }
    )
}

const COLUMNS: &str = "r.id, r.account_id, r.product_id, r.package_id, r.name, r.description, r.channel, r.status, \
    r.tag, r.version, r.backdated_at, r.yanked_at, r.metadata, r.created_at, r.updated_at";

/// Which releases to list.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilter {
    pub product: Option<String>,
    /// `Some(None)`: releases without a package.
    pub package: Option<Option<String>>,
    pub channels: Option<Vec<&'static str>>,
    pub status: Option<String>,
    pub version: Option<String>,
    pub engine: Option<String>,
}

/// The conditions on `releases r` of the releases `audience` may see under `filter`.
pub(crate) fn visible(account_id: &str, audience: &Audience, filter: &ReleaseFilter) -> Filter {
    let mut f = Filter::default();
    f.eq("r.account_id", account_id);
    f.push("r.deleted_at is null");
    audience.restrict(&mut f);
    if let Some(product) = &filter.product {
        f.eq("r.product_id", product);
    }
    match &filter.package {
        Some(Some(package)) => f.eq("r.package_id", package),
        Some(None) => f.push("r.package_id is null"),
        None => {}
    }
    if let Some(channels) = &filter.channels {
        let list: Vec<String> = channels.iter().map(|c| format!("'{c}'")).collect();
        f.push(format!(
            "r.channel in ({})",
            if list.is_empty() { "''".into() } else { list.join(", ") }
        ));
    }
    if let Some(status) = &filter.status {
        f.eq("r.status", status);
    }
    if let Some(version) = &filter.version {
        f.eq("r.version", version);
    }
    if let Some(engine) = &filter.engine {
        let e = f.param(Bind::Text(engine.clone()));
        f.push(format!(
            "r.package_id in (select id from packages where engine = {e} and deleted_at is null)"
        ));
    }
    f
}

/// A page of the releases `audience` may see.
pub async fn list(
    db: &Database,
    account_id: &str,
    audience: &Audience,
    filter: &ReleaseFilter,
    page: PageRequest,
) -> Result<Page<ReleaseRow>, ProjectionError> {
    visible(account_id, audience, filter)
        .page(
            db,
            COLUMNS,
            "from releases r",
            Source {
                table: "releases",
                alias: "r",
            },
            page,
        )
        .await
}

/// A live release by id, version or tag that `audience` may see (the oldest when a version or
/// tag is on more than one package or product; `filter` narrows which).
pub async fn find(
    db: &Database,
    account_id: &str,
    audience: &Audience,
    filter: &ReleaseFilter,
    id_version_or_tag: &str,
) -> Result<Option<ReleaseRow>, ProjectionError> {
    let mut f = visible(account_id, audience, filter);
    let p = f.param(Bind::Text(id_version_or_tag.to_string()));
    f.push(format!("(r.id = {p} or r.version = {p} or r.tag = {p})"));
    let source = Source {
        table: "releases",
        alias: "r",
    };
    f.first(db, COLUMNS, "from releases r", source, crate::ListOrder::OldestFirst)
        .await
}

/// A live release by id only, whoever may see it (what commands and cascades act on).
pub async fn find_by_id(db: &Database, account_id: &str, id: &str) -> Result<Option<ReleaseRow>, ProjectionError> {
    let sql =
        format!("select {COLUMNS} from releases r where r.account_id = $1 and r.id = $2 and r.deleted_at is null");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// A release's constraints, oldest first.
pub async fn constraints(
    db: &Database,
    account_id: &str,
    release_id: &str,
    page: PageRequest,
) -> Result<Page<ConstraintRow>, ProjectionError> {
    let mut f = Filter::default();
    f.eq("c.account_id", account_id);
    f.eq("c.release_id", release_id);
    f.page(
        db,
        "c.id, c.account_id, c.release_id, c.entitlement_id, c.created_at, c.updated_at",
        "from release_constraints c",
        Source {
            table: "release_constraints",
            alias: "c",
        },
        page,
    )
    .await
}
