//! Creating an account with its first admin user and admin token (`keyledger setup`, and the
//! `default` account `keyledger serve` makes on an empty store).

use crate::auth::Bearer;
use crate::commands::token::{self, TokenOptions};
use crate::crypto;
use crate::error::ApiResult;
use crate::state::{execute, AccountContext, AppState};
use aggregates::account::AccountCommand;
use aggregates::user::{NewUser, UserCommand};
use aggregates::vocabulary::Role;
use aggregates::{AccountId, UserId};
use std::collections::HashMap;
use std::sync::Arc;

/// What setup prints: the only time the admin token is shown.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub account_id: String,
    pub account_slug: String,
    pub admin_token: String,
    /// Ed25519 public key, 64 hex characters: what Keygen SDKs are configured with.
    pub public_key: String,
}

/// Creates the account, its admin and an admin token, each as a command on its aggregate.
pub async fn create_account(
    state: &AppState,
    name: &str,
    slug: &str,
    email: &str,
    password: &str,
) -> ApiResult<Bootstrap> {
    let at = state.now();
    let account_id = uuid::Uuid::new_v4().to_string();
    let master = state.master.clone();
    let keys = tokio::task::spawn_blocking(move || crypto::generate_account_keys(&master))
        .await
        .map_err(crate::error::ApiError::internal)?
        .map_err(crate::error::ApiError::internal)?;
    let public_key = keys.ed25519_public_key.clone();
    let mut metadata = HashMap::new();
    metadata.insert("account_id".to_string(), account_id.clone());
    metadata.insert("whodunnit_type".to_string(), "system".to_string());
    let create = AccountCommand::Create {
        id: account_id.clone(),
        name: name.into(),
        slug: slug.into(),
        keys,
        at,
    };
    execute(
        &state.frameworks.account,
        &AccountId::from(&account_id),
        create,
        metadata.clone(),
    )
    .await?;

    let user_id = uuid::Uuid::new_v4().to_string();
    let user = NewUser {
        id: user_id.clone(),
        account_id: account_id.clone(),
        email: email.into(),
        password_digest: Some(crypto::hash_password(password)),
        role: Role::Admin.as_str().into(),
        first_name: None,
        last_name: None,
    };
    let user = UserCommand::Create { user, at };
    execute(&state.frameworks.user, &UserId::from(&user_id), user, metadata.clone()).await?;

    let account = state
        .account(&account_id)
        .await?
        .ok_or_else(|| crate::error::ApiError::internal("account not projected"))?;
    let issued = issue_admin_token(state, &account, &user_id, metadata).await?;
    Ok(Bootstrap {
        account_id,
        account_slug: slug.into(),
        admin_token: issued.admin_token,
        public_key,
    })
}

/// A new admin token minted from the command line (`keyledger tokens create --admin`), for an
/// operator who lost the one setup printed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub account_id: String,
    pub token_id: String,
    pub admin_email: String,
    pub admin_token: String,
}

/// Mints an admin token for `account` (id or slug): for the admin with `email`, or the oldest
/// admin. `None` when there is no such account or admin.
pub async fn admin_token(state: &AppState, account: &str, email: Option<&str>) -> ApiResult<Option<IssuedToken>> {
    let Some(account) = state.account(account).await? else {
        return Ok(None);
    };
    let admin = match email {
        Some(email) => projections::users::find_by_email(&state.db, &account.row.id, email)
            .await?
            .filter(|user| user.role == Role::Admin.as_str()),
        None => projections::users::first_admin(&state.db, &account.row.id).await?,
    };
    let Some(admin) = admin else { return Ok(None) };
    let mut metadata = HashMap::new();
    metadata.insert("account_id".to_string(), account.row.id.clone());
    metadata.insert("whodunnit_type".to_string(), "system".to_string());
    let mut issued = issue_admin_token(state, &account, &admin.id, metadata).await?;
    issued.admin_email = admin.email;
    Ok(Some(issued))
}

async fn issue_admin_token(
    state: &AppState,
    account: &Arc<AccountContext>,
    user_id: &str,
    metadata: HashMap<String, String>,
) -> ApiResult<IssuedToken> {
    let admin = Bearer::Admin {
        user_id: user_id.into(),
    };
    let issued = token::generate_for(state, account, &admin, TokenOptions::default(), metadata).await?;
    let (token_id, raw) = (issued.row.id, issued.raw);
    Ok(IssuedToken {
        account_id: account.row.id.clone(),
        token_id,
        admin_email: String::new(),
        admin_token: raw,
    })
}
