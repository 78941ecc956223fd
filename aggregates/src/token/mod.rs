//! Token: an API credential. Only its HMAC-SHA256 digest is ever stored; the raw value is shown
//! once, in the response to the command that made it.

use crate::{DomainError, NoServices, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBearer {
    /// JSON:API type of the bearer: `users`, `products`, `licenses`, `environments`.
    pub kind: String,
    pub id: String,
}

/// A token as it is made: the command asks for it and the event records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub id: String,
    pub account_id: String,
    pub bearer: TokenBearer,
    /// Keygen's `kind` attribute, e.g. `admin-token`, `product-token`.
    pub kind: String,
    pub digest: String,
    pub name: Option<String>,
    pub expiry: Option<Timestamp>,
    pub permissions: Vec<String>,
    /// An activation token's maxima of machines activated and deactivated with it (its license
    /// counts them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_activations: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deactivations: Option<i64>,
}

/// Commands on a token.
// A command or event lives for one request; boxing the new token would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TokenCommand {
    Generate {
        token: NewToken,
        at: Timestamp,
    },
    Regenerate {
        digest: String,
        expiry: Option<Timestamp>,
        at: Timestamp,
    },
    Revoke {
        at: Timestamp,
    },
}

/// Events of a token.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenEvent {
    #[serde(rename = "token.generated")]
    Generated {
        #[serde(flatten)]
        token: NewToken,
        created_at: Timestamp,
    },
    #[serde(rename = "token.regenerated")]
    Regenerated {
        digest: String,
        expiry: Option<Timestamp>,
        updated_at: Timestamp,
    },
    #[serde(rename = "token.revoked")]
    Revoked { revoked_at: Timestamp },
}

impl DomainEvent for TokenEvent {
    fn event_type(&self) -> String {
        match self {
            TokenEvent::Generated { .. } => "token.generated",
            TokenEvent::Regenerated { .. } => "token.regenerated",
            TokenEvent::Revoked { .. } => "token.revoked",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

/// A token's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Token {
    pub id: Option<String>,
    pub revoked: bool,
}

impl Token {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "token";

    fn live(&self) -> Result<(), DomainError> {
        match (&self.id, self.revoked) {
            (Some(_), false) => Ok(()),
            _ => Err(DomainError::not_found()),
        }
    }
}

impl Aggregate for Token {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = TokenCommand;
    type Event = TokenEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            TokenCommand::Generate { token, at } => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists());
                }
                if token.name.as_ref().is_some_and(|n| n.len() > 255) {
                    return Err(DomainError::invalid(
                        "name",
                        "TOO_LONG",
                        "is too long (maximum is 255 characters)",
                    ));
                }
                if token.expiry.is_some_and(|expiry| expiry <= at) {
                    return Err(DomainError::invalid("expiry", "INVALID", "must be in the future"));
                }
                crate::permissions::validate(&token.permissions)?;
                for (attribute, max) in [
                    ("max_activations", token.max_activations),
                    ("max_deactivations", token.max_deactivations),
                ] {
                    if max.is_some_and(|n| n < 0) {
                        return Err(DomainError::invalid(
                            attribute,
                            "INVALID",
                            "must be greater than or equal to 0",
                        ));
                    }
                }
                TokenEvent::Generated { token, created_at: at }
            }
            TokenCommand::Regenerate { digest, expiry, at } => {
                self.live()?;
                TokenEvent::Regenerated {
                    digest,
                    expiry,
                    updated_at: at,
                }
            }
            TokenCommand::Revoke { at } => {
                self.live()?;
                TokenEvent::Revoked { revoked_at: at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            TokenEvent::Generated { token, .. } => self.id = Some(token.id),
            TokenEvent::Regenerated { .. } => {}
            TokenEvent::Revoked { .. } => self.revoked = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn new_token(permissions: &[&str]) -> NewToken {
        NewToken {
            id: "t1".into(),
            account_id: "a1".into(),
            bearer: TokenBearer {
                kind: "products".into(),
                id: "p1".into(),
            },
            kind: "product-token".into(),
            digest: "d1".into(),
            name: None,
            expiry: None,
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            max_activations: None,
            max_deactivations: None,
        }
    }

    fn generated() -> TokenEvent {
        TokenEvent::Generated {
            token: new_token(&["*"]),
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_generated_token_is_stored_as_before_its_fields_were_grouped() {
        let stored = serde_json::to_value(generated()).unwrap();
        let fields = stored["token.generated"].as_object().unwrap();
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "account_id",
                "bearer",
                "created_at",
                "digest",
                "expiry",
                "id",
                "kind",
                "name",
                "permissions"
            ]
        );
        assert_eq!(serde_json::from_value::<TokenEvent>(stored).unwrap(), generated());
    }

    #[test]
    fn a_revoked_token_cannot_be_regenerated() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let result = TestFramework::<Token>::with(NoServices)
            .given(vec![generated(), TokenEvent::Revoked { revoked_at: at }])
            .when(TokenCommand::Regenerate {
                digest: "d2".into(),
                expiry: None,
                at,
            })
            .inspect_result();
        assert_eq!(result.unwrap_err().code, "NOT_FOUND");
    }

    #[test]
    fn regenerating_records_the_new_digest() {
        let at = chrono::DateTime::UNIX_EPOCH;
        TestFramework::<Token>::with(NoServices)
            .given(vec![generated()])
            .when(TokenCommand::Regenerate {
                digest: "d2".into(),
                expiry: None,
                at,
            })
            .then_expect_events(vec![TokenEvent::Regenerated {
                digest: "d2".into(),
                expiry: None,
                updated_at: at,
            }]);
    }

    #[test]
    fn unknown_permissions_are_refused() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let result = TestFramework::<Token>::with(NoServices)
            .given_no_previous_events()
            .when(TokenCommand::Generate {
                token: new_token(&["license.fly"]),
                at,
            })
            .inspect_result();
        assert_eq!(result.unwrap_err().code, "PERMISSIONS_NOT_ALLOWED");
    }

    #[test]
    fn an_activation_tokens_maxima_are_counts_so_not_negative() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let token = NewToken {
            max_deactivations: Some(-1),
            ..new_token(&["*"])
        };
        let result = TestFramework::<Token>::with(NoServices)
            .given_no_previous_events()
            .when(TokenCommand::Generate { token, at })
            .inspect_result();
        assert_eq!(result.unwrap_err().code, "MAX_DEACTIVATIONS_INVALID");
    }
}
