//! The `tokens` read model: digests only, never raw tokens.

use crate::filter::{Filter, Source};
use crate::{fetch_row, micros, on_conn, Conn, EventRef, Page, PageRequest, ProjectionError, Statements};
use aggregates::token::TokenEvent;
use store::Database;

/// A live (unrevoked) token row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub account_id: String,
    pub bearer_type: String,
    pub bearer_id: String,
    pub kind: String,
    pub digest: String,
    pub name: Option<String>,
    pub expiry: Option<i64>,
    pub permissions: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub max_activations: Option<i64>,
    pub activations: i64,
    pub max_deactivations: Option<i64>,
    pub deactivations: i64,
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        match event.decode::<TokenEvent>()? {
            TokenEvent::Generated { token: t, created_at } => {
                sqlx::query(
                    "insert into tokens (id, account_id, bearer_type, bearer_id, kind, digest, name, expiry, \
                     permissions, created_at, updated_at, last_sequence, max_activations, max_deactivations) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13) on conflict (id) do nothing",
                )
                .bind(t.id)
                .bind(t.account_id)
                .bind(t.bearer.kind)
                .bind(t.bearer.id)
                .bind(t.kind)
                .bind(t.digest)
                .bind(t.name)
                .bind(t.expiry.as_ref().map(micros))
                .bind(serde_json::to_string(&t.permissions)?)
                .bind(micros(&created_at))
                .bind(event.sequence)
                .bind(t.max_activations)
                .bind(t.max_deactivations)
                .execute(&mut *c)
                .await?;
            }
            TokenEvent::Regenerated {
                digest,
                expiry,
                updated_at,
            } => {
                sqlx::query(
                    "update tokens set digest = $1, expiry = $2, updated_at = $3, last_sequence = $4 \
                     where id = $5 and last_sequence < $4",
                )
                .bind(digest)
                .bind(expiry.as_ref().map(micros))
                .bind(micros(&updated_at))
                .bind(event.sequence)
                .bind(event.aggregate_id)
                .execute(&mut *c)
                .await?;
            }
            TokenEvent::Revoked { revoked_at } => {
                c.mark_gone("tokens", "revoked_at", micros(&revoked_at), &event).await?;
            }
        }
        Ok(())
    })
}

const COLUMNS: &str = "id, account_id, bearer_type, bearer_id, kind, digest, name, expiry, permissions, created_at, \
     updated_at, max_activations, activations, max_deactivations, deactivations";

/// A live token, and its bearer's role when the bearer is a user: what authentication needs, in
/// one query.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenWithRole {
    #[sqlx(flatten)]
    pub token: TokenRow,
    pub bearer_role: Option<String>,
}

/// The live token of the account with this digest, with its user bearer's role.
pub async fn find_for_auth(
    db: &Database,
    account_id: &str,
    digest: &str,
) -> Result<Option<TokenWithRole>, ProjectionError> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
    let sql = format!(
        "select {}, u.role as bearer_role from tokens t left join users u on t.bearer_type = 'users' \
         and u.id = t.bearer_id and u.account_id = t.account_id \
         where t.account_id = $1 and t.digest = $2 and t.revoked_at is null",
        columns.join(", ")
    );
    fetch_row(db, &sql, &[account_id, digest]).await
}

/// A live token of the account by id.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<TokenRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from tokens where account_id = $1 and id = $2 and revoked_at is null");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// Live tokens of the account, optionally only those of one bearer.
pub async fn list(
    db: &Database,
    account_id: &str,
    bearer: Option<(&str, &str)>,
    page: PageRequest,
) -> Result<Page<TokenRow>, ProjectionError> {
    let mut filter = Filter::default();
    filter.eq("account_id", account_id);
    filter.push("revoked_at is null");
    if let Some((bearer_type, bearer_id)) = bearer {
        filter.eq("bearer_type", bearer_type);
        filter.eq("bearer_id", bearer_id);
    }
    filter
        .page(db, COLUMNS, "from tokens", Source::table("tokens"), page)
        .await
}
