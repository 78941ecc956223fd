//! The `artifacts` read model: the files of releases, from the artifact events in each
//! release's stream.

use crate::filter::{Bind, Filter, Source};
use crate::packages::note_lookup;
use crate::releases::{Audience, ReleaseFilter};
use crate::{json_text, micros, on_conn, Conn, Page, PageRequest, ProjectionError};
use aggregates::release::ReleaseEvent;
use store::Database;

/// An artifact row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArtifactRow {
    pub id: String,
    pub account_id: String,
    pub release_id: String,
    pub product_id: String,
    pub filename: String,
    pub filetype: Option<String>,
    pub filesize: Option<i64>,
    pub platform: Option<String>,
    pub arch: Option<String>,
    pub signature: Option<String>,
    pub checksum: Option<String>,
    pub status: String,
    pub metadata: String,
    /// JSON text of the package manifest read at upload, if any.
    pub manifest: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Applies an artifact event of a release's stream whose release row has reached it. Answers
/// false for the release's own events.
pub(crate) async fn apply(
    conn: &mut Conn<'_>,
    release_id: &str,
    event: &ReleaseEvent,
) -> Result<bool, ProjectionError> {
    match event {
        ReleaseEvent::ArtifactCreated {
            account_id,
            artifact_id,
            attributes: a,
            created_at,
        } => {
            let at = micros(created_at);
            on_conn!(conn, |c| {
                sqlx::query(
                    "insert into artifacts (id, account_id, release_id, product_id, filename, filetype, filesize, \
                     platform, arch, signature, checksum, status, metadata, created_at, updated_at) \
                     select $1, $2, $3, r.product_id, $4, $5, $6, $7, $8, $9, $10, 'WAITING', $11, $12, $12 \
                     from releases r where r.id = $3 on conflict (id) do nothing",
                )
                .bind(artifact_id)
                .bind(account_id)
                .bind(release_id)
                .bind(&a.filename)
                .bind(&a.filetype)
                .bind(a.filesize)
                .bind(&a.platform)
                .bind(&a.arch)
                .bind(&a.signature)
                .bind(&a.checksum)
                .bind(json_text(&a.metadata)?)
                .bind(at)
                .execute(&mut *c)
                .await?;
            });
            for (kind, key) in [("filetype", &a.filetype), ("platform", &a.platform), ("arch", &a.arch)] {
                if let Some(key) = key {
                    note_lookup(conn, account_id, kind, key, at).await?;
                }
            }
        }
        ReleaseEvent::ArtifactUpdated {
            artifact_id,
            attributes: a,
            updated_at,
            ..
        } => on_conn!(conn, |c| {
            sqlx::query(
                "update artifacts set filesize = $1, signature = $2, checksum = $3, metadata = $4, updated_at = $5 \
                 where id = $6",
            )
            .bind(a.filesize)
            .bind(&a.signature)
            .bind(&a.checksum)
            .bind(json_text(&a.metadata)?)
            .bind(micros(updated_at))
            .bind(artifact_id)
            .execute(&mut *c)
            .await?;
        }),
        ReleaseEvent::ArtifactUploaded {
            artifact_id,
            filesize,
            manifest,
            at,
            ..
        } => on_conn!(conn, |c| {
            sqlx::query(
                "update artifacts set status = 'UPLOADED', filesize = coalesce($1, filesize), manifest = $2, \
                 updated_at = $3 where id = $4",
            )
            .bind(*filesize)
            .bind(manifest.as_ref().map(|m| m.to_string()))
            .bind(micros(at))
            .bind(artifact_id)
            .execute(&mut *c)
            .await?;
        }),
        ReleaseEvent::ArtifactFailed { artifact_id, at, .. } => on_conn!(conn, |c| {
            sqlx::query("update artifacts set status = 'FAILED', updated_at = $1 where id = $2")
                .bind(micros(at))
                .bind(artifact_id)
                .execute(&mut *c)
                .await?;
        }),
        ReleaseEvent::ArtifactDeleted {
            artifact_id,
            deleted_at,
            ..
        } => on_conn!(conn, |c| {
            sqlx::query("update artifacts set deleted_at = $1, updated_at = $1 where id = $2")
                .bind(micros(deleted_at))
                .bind(artifact_id)
                .execute(&mut *c)
                .await?;
        }),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Marks a deleted release's artifacts deleted with it.
pub(crate) async fn release_deleted(conn: &mut Conn<'_>, release_id: &str, at: i64) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        sqlx::query("update artifacts set deleted_at = $1 where release_id = $2 and deleted_at is null")
            .bind(at)
            .bind(release_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

const COLUMNS: &str = "a.id, a.account_id, a.release_id, a.product_id, a.filename, a.filetype, a.filesize, \
    a.platform, a.arch, a.signature, a.checksum, a.status, a.metadata, a.manifest, a.created_at, a.updated_at";

/// Which artifacts to list or look up.
#[derive(Debug, Clone, Default)]
pub struct ArtifactFilter {
    pub release: Option<String>,
    pub platform: Option<String>,
    pub arch: Option<String>,
    pub filetype: Option<String>,
    pub status: Option<String>,
}

fn conditions(account_id: &str, audience: &Audience, releases: &ReleaseFilter, filter: &ArtifactFilter) -> Filter {
    let mut f = crate::releases::visible(account_id, audience, releases);
    f.push("a.deleted_at is null");
    f.push("a.release_id = r.id");
    for (column, value) in [
        ("a.release_id", &filter.release),
        ("a.platform", &filter.platform),
        ("a.arch", &filter.arch),
        ("a.filetype", &filter.filetype),
        ("a.status", &filter.status),
    ] {
        if let Some(value) = value {
            f.eq(column, value);
        }
    }
    f
}

const FROM: &str = "from artifacts a, releases r";
const SOURCE: Source<'static> = Source {
    table: "artifacts",
    alias: "a",
};

/// A page of the artifacts of releases `audience` may see.
pub async fn list(
    db: &Database,
    account_id: &str,
    audience: &Audience,
    releases: &ReleaseFilter,
    filter: &ArtifactFilter,
    page: PageRequest,
) -> Result<Page<ArtifactRow>, ProjectionError> {
    conditions(account_id, audience, releases, filter)
        .page(db, COLUMNS, FROM, SOURCE, page)
        .await
}

/// An artifact by id or filename of a release `audience` may see (the newest release's when a
/// filename is on several).
pub async fn find(
    db: &Database,
    account_id: &str,
    audience: &Audience,
    releases: &ReleaseFilter,
    filter: &ArtifactFilter,
    id_or_filename: &str,
) -> Result<Option<ArtifactRow>, ProjectionError> {
    let mut f = conditions(account_id, audience, releases, filter);
    let p = f.param(Bind::Text(id_or_filename.to_string()));
    f.push(format!("(a.id = {p} or a.filename = {p})"));
    f.first(db, COLUMNS, FROM, SOURCE, crate::ListOrder::NewestFirst).await
}
/// Artifacts still waiting for their bytes, oldest first (what the upload watcher checks).
pub async fn waiting(db: &Database, limit: i64) -> Result<Vec<ArtifactRow>, ProjectionError> {
    let sql = format!(
        "select {COLUMNS} from artifacts a where a.status = 'WAITING' and a.deleted_at is null \
         order by a.created_at limit {limit}"
    );
    store::on_pool!(db, |pool| Ok(sqlx::query_as(&sql).fetch_all(pool).await?))
}
