//! The `accounts` read model.

use crate::{fetch_row, micros, on_conn, Conn, EventRef, ProjectionError};
use aggregates::account::AccountEvent;
use store::{on_pool, Database};

/// An account row, secrets still sealed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub protected: i64,
    pub ed25519_public_key: String,
    pub ed25519_private_key_sealed: String,
    pub token_secret_sealed: String,
    /// SPKI PEM; none until the account has its RSA pair (`account.keys.added`).
    pub rsa2048_public_key: Option<String>,
    pub rsa2048_private_key_sealed: Option<String>,
    /// SPKI PEM; none until the account has its ECDSA pair.
    pub ecdsa_public_key: Option<String>,
    pub ecdsa_private_key_sealed: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        match event.decode::<AccountEvent>()? {
            AccountEvent::Created {
                id,
                name,
                slug,
                protected,
                keys,
                created_at,
            } => {
                sqlx::query(
                    "insert into accounts (id, slug, name, protected, ed25519_public_key, ed25519_private_key_sealed, \
                     token_secret_sealed, rsa2048_public_key, rsa2048_private_key_sealed, ecdsa_public_key, \
                     ecdsa_private_key_sealed, created_at, updated_at, last_sequence) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) on conflict (id) do nothing",
                )
                .bind(id)
                .bind(slug)
                .bind(name)
                .bind(protected as i64)
                .bind(keys.ed25519_public_key)
                .bind(keys.ed25519_private_key_sealed)
                .bind(keys.token_secret_sealed)
                .bind(keys.rsa2048.as_ref().map(|pair| &pair.public_key))
                .bind(keys.rsa2048.as_ref().map(|pair| &pair.private_key_sealed))
                .bind(keys.ecdsa_p256.as_ref().map(|pair| &pair.public_key))
                .bind(keys.ecdsa_p256.as_ref().map(|pair| &pair.private_key_sealed))
                .bind(micros(&created_at))
                .bind(event.sequence)
                .execute(&mut *c)
                .await?;
            }
            AccountEvent::KeysAdded {
                rsa2048,
                ecdsa_p256,
                added_at,
            } => {
                sqlx::query(
                    "update accounts set rsa2048_public_key = $2, rsa2048_private_key_sealed = $3, \
                     ecdsa_public_key = $4, ecdsa_private_key_sealed = $5, updated_at = $6, last_sequence = $7 \
                     where id = $1 and last_sequence < $7",
                )
                .bind(event.aggregate_id)
                .bind(rsa2048.public_key)
                .bind(rsa2048.private_key_sealed)
                .bind(ecdsa_p256.public_key)
                .bind(ecdsa_p256.private_key_sealed)
                .bind(micros(&added_at))
                .bind(event.sequence)
                .execute(&mut *c)
                .await?;
            }
        }
        Ok(())
    })
}

const COLUMNS: &str = "id, slug, name, protected, ed25519_public_key, ed25519_private_key_sealed, \
    token_secret_sealed, rsa2048_public_key, rsa2048_private_key_sealed, ecdsa_public_key, \
    ecdsa_private_key_sealed, created_at, updated_at";

/// Finds an account by id or by slug (Keygen resolves `/accounts/{id-or-slug}`).
pub async fn find(db: &Database, id_or_slug: &str) -> Result<Option<AccountRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from accounts where id = $1 or slug = $2 order by created_at limit 1");
    fetch_row(db, &sql, &[id_or_slug, &id_or_slug.to_lowercase()]).await
}

/// The oldest account, if any (the one `keyledger serve` made on an empty store).
pub async fn first(db: &Database) -> Result<Option<AccountRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from accounts order by created_at limit 1");
    fetch_row(db, &sql, &[]).await
}

/// The id of the store's account when it holds exactly one.
pub async fn only(db: &Database) -> Result<Option<String>, ProjectionError> {
    on_pool!(db, |pool| {
        let ids: Vec<String> = sqlx::query_scalar("select id from accounts order by created_at limit 2")
            .fetch_all(pool)
            .await?;
        Ok(match ids.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
    })
}
