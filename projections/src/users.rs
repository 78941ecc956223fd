//! The `users` read model.

use crate::{fetch_row, micros, on_conn, Conn, EventRef, ProjectionError};
use aggregates::user::UserEvent;
use store::Database;

/// A user row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub role: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_digest: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) async fn apply(conn: &mut Conn<'_>, event: EventRef<'_>) -> Result<(), ProjectionError> {
    on_conn!(conn, |c| {
        match event.decode::<UserEvent>()? {
            UserEvent::Created { user: u, created_at } => {
                sqlx::query(
                    "insert into users (id, account_id, email, role, first_name, last_name, password_digest, \
                     created_at, updated_at, last_sequence) values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
                     on conflict (id) do nothing",
                )
                .bind(u.id)
                .bind(u.account_id)
                .bind(u.email)
                .bind(u.role)
                .bind(u.first_name)
                .bind(u.last_name)
                .bind(u.password_digest)
                .bind(micros(&created_at))
                .bind(event.sequence)
                .execute(&mut *c)
                .await?;
            }
        }
        Ok(())
    })
}

const COLUMNS: &str = "id, account_id, email, role, first_name, last_name, password_digest, created_at, updated_at";

/// A user of the account by id.
pub async fn find(db: &Database, account_id: &str, id: &str) -> Result<Option<UserRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from users where account_id = $1 and id = $2");
    fetch_row(db, &sql, &[account_id, id]).await
}

/// A user of the account by email, case-insensitively.
pub async fn find_by_email(db: &Database, account_id: &str, email: &str) -> Result<Option<UserRow>, ProjectionError> {
    let sql = format!("select {COLUMNS} from users where account_id = $1 and email = $2");
    fetch_row(db, &sql, &[account_id, &email.to_lowercase()]).await
}

/// The account's oldest admin.
pub async fn first_admin(db: &Database, account_id: &str) -> Result<Option<UserRow>, ProjectionError> {
    let sql =
        format!("select {COLUMNS} from users where account_id = $1 and role = 'admin' order by created_at, id limit 1");
    fetch_row(db, &sql, &[account_id]).await
}
