//! User: a person who belongs to an account; here the admin created at setup, whose email and
//! password generate admin tokens.

use crate::{ClaimOp, DomainError, NoServices, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Roles a user can hold (Keygen renders them dasherized).
pub const ROLES: &[&str] = crate::vocabulary::Role::ALL;

/// A user as it is made: the command asks for it and the event records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    pub id: String,
    pub account_id: String,
    pub email: String,
    /// argon2id PHC string, never the password.
    pub password_digest: Option<String>,
    pub role: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Commands on a user.
#[derive(Debug, Clone)]
pub enum UserCommand {
    Create { user: NewUser, at: Timestamp },
}

/// Events of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    #[serde(rename = "user.created")]
    Created {
        #[serde(flatten)]
        user: NewUser,
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
            UserEvent::Created { user, .. } => vec![ClaimOp::Replace {
                scope: format!("user.email:{}", user.account_id),
                value: Some(crate::claims::digest(&user.email.to_lowercase())),
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
            UserCommand::Create { mut user, at } => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists());
                }
                validate_email(&user.email)?;
                if !ROLES.contains(&user.role.as_str()) {
                    return Err(DomainError::invalid("role", "NOT_ALLOWED", "must be a valid user role"));
                }
                user.email = user.email.to_lowercase();
                let event = UserEvent::Created { user, created_at: at };
                sink.write(event, self).await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UserEvent::Created { user, .. } => self.id = Some(user.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_user_reads_as_it_was_stored_before_its_fields_were_grouped() {
        let stored = serde_json::json!({
            "user.created": {
                "id": "u1",
                "account_id": "a1",
                "email": "admin@example.com",
                "password_digest": null,
                "role": "admin",
                "first_name": null,
                "last_name": null,
                "created_at": "2026-01-01T00:00:00Z"
            }
        });
        let event: UserEvent = serde_json::from_value(stored.clone()).unwrap();
        let UserEvent::Created { user, .. } = &event;
        assert_eq!((user.id.as_str(), user.role.as_str()), ("u1", "admin"));
        assert_eq!(serde_json::to_value(&event).unwrap(), stored, "written back the same");
    }
}
