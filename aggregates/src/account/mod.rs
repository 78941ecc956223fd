//! Account: the tenant. Holds its signing key pairs — ed25519, RSA-2048 and ECDSA P-256, private
//! halves encrypted — and the secret its token digests are keyed with (encrypted too); the API
//! decrypts them with the master key.

use crate::{ClaimOp, DomainError, NoServices, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The account's key material as stored: public half in clear, secrets sealed with AES-256-GCM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountKeys {
    /// Ed25519 public key, 64 lowercase hex characters.
    pub ed25519_public_key: String,
    /// Ed25519 private seed, sealed (base64 of nonce ‖ ciphertext).
    pub ed25519_private_key_sealed: String,
    /// HMAC key for token digests, sealed the same way.
    pub token_secret_sealed: String,
    /// RSA-2048 pair (absent from accounts made before it existed, until `KeysAdded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa2048: Option<SealedKeyPair>,
    /// ECDSA P-256 pair (absent the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecdsa_p256: Option<SealedKeyPair>,
}

/// A key pair as stored: the public half as SPKI PEM, the private half sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKeyPair {
    pub public_key: String,
    pub private_key_sealed: String,
}

/// Commands on an account.
#[derive(Debug, Clone)]
pub enum AccountCommand {
    Create {
        id: String,
        name: String,
        slug: String,
        keys: AccountKeys,
        at: Timestamp,
    },
    /// Gives an account made before RSA and ECDSA keys existed its pairs; an account that has
    /// them already keeps them (nothing is recorded), so two processes racing to add them agree.
    AddKeys {
        rsa2048: SealedKeyPair,
        ecdsa_p256: SealedKeyPair,
        at: Timestamp,
    },
}

/// Events of an account, named as Keygen names its webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    #[serde(rename = "account.created")]
    Created {
        id: String,
        name: String,
        slug: String,
        protected: bool,
        keys: AccountKeys,
        created_at: Timestamp,
    },
    #[serde(rename = "account.keys.added")]
    KeysAdded {
        rsa2048: SealedKeyPair,
        ecdsa_p256: SealedKeyPair,
        added_at: Timestamp,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            AccountEvent::Created { .. } => "account.created".into(),
            AccountEvent::KeysAdded { .. } => "account.keys.added".into(),
        }
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl AccountEvent {
    /// Account slugs are unique across the whole server (they appear in URLs).
    pub fn claims(&self) -> Vec<ClaimOp> {
        match self {
            AccountEvent::Created { slug, .. } => vec![ClaimOp::Replace {
                scope: "account.slug".into(),
                value: Some(crate::claims::digest(&slug.to_ascii_lowercase())),
                code: "SLUG_TAKEN",
                attribute: "slug",
            }],
            AccountEvent::KeysAdded { .. } => vec![],
        }
    }
}

/// The account's state as far as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: Option<String>,
    pub slug: String,
    /// Whether it has its RSA and ECDSA pairs.
    #[serde(default)]
    pub all_keys: bool,
}

impl Account {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "account";
}

/// Slugs: 1–255 of lowercase letters, digits, `-` and `_`, not UUID-shaped.
pub fn validate_slug(slug: &str) -> Result<(), DomainError> {
    let ok_chars = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if slug.is_empty() {
        return Err(DomainError::invalid("slug", "MISSING", "can't be blank"));
    }
    let refused = if slug.len() > 255 {
        "is too long (maximum is 255 characters)"
    } else if !ok_chars {
        "can only contain lowercase letters, numbers, dashes and underscores"
    } else if crate::looks_like_uuid(slug) {
        // An account is addressed by id or slug: a UUID-shaped slug could name another account.
        "must not look like a UUID (accounts are addressed by id or slug)"
    } else if crate::is_reserved_word(slug) {
        "is a reserved word"
    } else {
        return Ok(());
    };
    Err(DomainError::invalid("slug", "INVALID", refused))
}

impl Aggregate for Account {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            AccountCommand::Create {
                id,
                name,
                slug,
                keys,
                at,
            } => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists());
                }
                if name.trim().is_empty() || name.len() > 255 {
                    return Err(DomainError::invalid("name", "MISSING", "can't be blank"));
                }
                validate_slug(&slug)?;
                let event = AccountEvent::Created {
                    id,
                    name,
                    slug,
                    protected: false,
                    keys,
                    created_at: at,
                };
                sink.write(event, self).await;
                Ok(())
            }
            AccountCommand::AddKeys {
                rsa2048,
                ecdsa_p256,
                at,
            } => {
                if self.id.is_none() {
                    return Err(DomainError::not_found());
                }
                if !self.all_keys {
                    let event = AccountEvent::KeysAdded {
                        rsa2048,
                        ecdsa_p256,
                        added_at: at,
                    };
                    sink.write(event, self).await;
                }
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccountEvent::Created { id, slug, keys, .. } => {
                self.id = Some(id);
                self.slug = slug;
                self.all_keys = keys.rsa2048.is_some() && keys.ecdsa_p256.is_some();
            }
            AccountEvent::KeysAdded { .. } => self.all_keys = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn keys() -> AccountKeys {
        AccountKeys {
            ed25519_public_key: "ab".repeat(32),
            ed25519_private_key_sealed: "sealed".into(),
            token_secret_sealed: "sealed".into(),
            rsa2048: None,
            ecdsa_p256: None,
        }
    }

    fn pair(name: &str) -> SealedKeyPair {
        SealedKeyPair {
            public_key: format!("{name} public"),
            private_key_sealed: format!("{name} sealed"),
        }
    }

    fn add_keys() -> AccountCommand {
        AccountCommand::AddKeys {
            rsa2048: pair("rsa"),
            ecdsa_p256: pair("ecdsa"),
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn created(keys: AccountKeys) -> AccountEvent {
        AccountEvent::Created {
            id: "a1".into(),
            name: "Acme".into(),
            slug: "acme".into(),
            protected: false,
            keys,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_account_without_rsa_and_ecdsa_keys_gains_them_by_an_event() {
        TestFramework::<Account>::with(NoServices)
            .given(vec![created(keys())])
            .when(add_keys())
            .then_expect_events(vec![AccountEvent::KeysAdded {
                rsa2048: pair("rsa"),
                ecdsa_p256: pair("ecdsa"),
                added_at: chrono::DateTime::UNIX_EPOCH,
            }]);
    }

    #[test]
    fn an_account_with_all_its_keys_keeps_them() {
        let all = AccountKeys {
            rsa2048: Some(pair("first rsa")),
            ecdsa_p256: Some(pair("first ecdsa")),
            ..keys()
        };
        TestFramework::<Account>::with(NoServices)
            .given(vec![created(all)])
            .when(add_keys())
            .then_expect_events(vec![]);
        let added = AccountEvent::KeysAdded {
            rsa2048: pair("first rsa"),
            ecdsa_p256: pair("first ecdsa"),
            added_at: chrono::DateTime::UNIX_EPOCH,
        };
        TestFramework::<Account>::with(NoServices)
            .given(vec![created(keys()), added])
            .when(add_keys())
            .then_expect_events(vec![]);
    }

    #[test]
    fn events_recorded_before_rsa_and_ecdsa_keys_still_read() {
        let old = serde_json::json!({"account.created": {
            "id": "a1", "name": "Acme", "slug": "acme", "protected": false,
            "keys": {"ed25519_public_key": "ab", "ed25519_private_key_sealed": "s", "token_secret_sealed": "t"},
            "created_at": "2024-01-01T00:00:00Z"
        }});
        let event: AccountEvent = serde_json::from_value(old).unwrap();
        let AccountEvent::Created { keys, .. } = event else {
            panic!("not a creation")
        };
        assert!(keys.rsa2048.is_none() && keys.ecdsa_p256.is_none());
    }

    fn create(slug: &str) -> AccountCommand {
        AccountCommand::Create {
            id: "a1".into(),
            name: "Acme".into(),
            slug: slug.into(),
            keys: keys(),
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn creating_an_account_records_its_keys() {
        TestFramework::<Account>::with(NoServices)
            .given_no_previous_events()
            .when(create("acme"))
            .then_expect_events(vec![AccountEvent::Created {
                id: "a1".into(),
                name: "Acme".into(),
                slug: "acme".into(),
                protected: false,
                keys: keys(),
                created_at: chrono::DateTime::UNIX_EPOCH,
            }]);
    }

    #[test]
    fn uuid_shaped_slugs_are_refused() {
        let result = TestFramework::<Account>::with(NoServices)
            .given_no_previous_events()
            .when(create("6a7562be-b302-43d2-a550-30d6026247aa"))
            .inspect_result();
        let err = result.unwrap_err();
        assert_eq!(err.code, "SLUG_INVALID");
        assert!(
            err.detail.contains("UUID"),
            "the detail names what is refused: {}",
            err.detail
        );
    }
}
