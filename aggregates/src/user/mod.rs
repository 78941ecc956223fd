//! User: a person who belongs to an account; here the admin created at setup, whose email and
//! password generate admin tokens.

use crate::{ClaimOp, DomainError, NoServices, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Roles a user can hold (Keygen renders them dasherized).
pub const ROLES: &[&str] = crate::vocabulary::Role::ALL;

/// Commands on a user.
#[derive(Debug, Clone)]
pub enum UserCommand {
    Create {
        id: String,
        account_id: String,
        email: String,
        /// argon2id PHC string, never the password.
        password_digest: Option<String>,
        role: String,
        first_name: Option<String>,
        last_name: Option<String>,
        at: Timestamp,
    },
}

/// Events of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    #[serde(rename = "user.created")]
    Created {
        id: String,
        account_id: String,
        email: String,
        password_digest: Option<String>,
        role: String,
        first_name: Option<String>,
        last_name: Option<String>,
        created_at: Timestamp,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            UserEvent::Created { .. } => "user.created".into(),
        }
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl UserEvent {
    /// Emails are unique per account, case-insensitively.
    pub fn claims(&self) -> Vec<ClaimOp> {
        match self {
            UserEvent::Created { account_id, email, .. } => vec![ClaimOp::Replace {
                scope: format!("user.email:{account_id}"),
                value: Some(email.to_lowercase()),
                code: "EMAIL_TAKEN",
                attribute: "email",
            }],
        }
    }
}

/// A user's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: Option<String>,
}

impl User {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "user";
}

fn validate_email(email: &str) -> Result<(), DomainError> {
    let mut parts = email.splitn(2, '@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if email.is_empty() {
        return Err(DomainError::invalid("email", "MISSING", "can't be blank"));
    }
    if local.is_empty() || !domain.contains('.') || email.len() > 255 || email.contains(char::is_whitespace) {
        return Err(DomainError::invalid("email", "INVALID", "must be a valid email"));
    }
    Ok(())
}

impl Aggregate for User {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            UserCommand::Create {
                id,
                account_id,
                email,
                password_digest,
                role,
                first_name,
                last_name,
                at,
            } => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists());
                }
                validate_email(&email)?;
                if !ROLES.contains(&role.as_str()) {
                    return Err(DomainError::invalid("role", "NOT_ALLOWED", "must be a valid user role"));
                }
                let event = UserEvent::Created {
                    id,
                    account_id,
                    email: email.to_lowercase(),
                    password_digest,
                    role,
                    first_name,
                    last_name,
                    created_at: at,
                };
                sink.write(event, self).await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UserEvent::Created { id, .. } => self.id = Some(id),
        }
    }
}
