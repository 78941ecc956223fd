//! Keygen's fixed vocabularies as types: each value an enum variant that serializes as Keygen's
//! string, so a rule matches on variants instead of comparing strings, and a misspelling is a
//! compile error. Requests are still checked against `ALL` first, so an unknown value gets
//! Keygen's 422 rather than a deserialization error.

/// Defines an enum whose variants serialize as the given strings, with `ALL` and `as_str`.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Keygen's names of every value.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// Keygen's name of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value Keygen's name stands for, if it is one.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What an expired license may still do.
    ExpirationStrategy {
        RestrictAccess = "RESTRICT_ACCESS",
        RevokeAccess = "REVOKE_ACCESS",
        MaintainAccess = "MAINTAIN_ACCESS",
        AllowAccess = "ALLOW_ACCESS",
    }
}

vocabulary! {
    /// When a license's expiry starts counting.
    ExpirationBasis {
        FromCreation = "FROM_CREATION",
        FromFirstValidation = "FROM_FIRST_VALIDATION",
        FromFirstActivation = "FROM_FIRST_ACTIVATION",
        FromFirstDownload = "FROM_FIRST_DOWNLOAD",
        FromFirstUse = "FROM_FIRST_USE",
    }
}

vocabulary! {
    /// Where a renewal extends the expiry from.
    RenewalBasis {
        FromExpiry = "FROM_EXPIRY",
        FromNow = "FROM_NOW",
        FromNowIfExpired = "FROM_NOW_IF_EXPIRED",
    }
}

vocabulary! {
    /// What a license moving to this policy does with its expiry.
    TransferStrategy {
        ResetExpiry = "RESET_EXPIRY",
        KeepExpiry = "KEEP_EXPIRY",
    }
}

vocabulary! {
    /// How a license may authenticate.
    AuthenticationStrategy {
        Token = "TOKEN",
        License = "LICENSE",
        Session = "SESSION",
        Mixed = "MIXED",
        None = "NONE",
    }
}

impl AuthenticationStrategy {
    /// Whether activation tokens may act for licenses of this policy.
    pub fn allows_tokens(self) -> bool {
        matches!(self, Self::Token | Self::Mixed)
    }

    /// Whether license keys may authenticate.
    pub fn allows_license_keys(self) -> bool {
        matches!(self, Self::License | Self::Mixed)
    }
}

vocabulary! {
    /// What happens to a machine whose heartbeat died.
    HeartbeatCullStrategy {
        DeactivateDead = "DEACTIVATE_DEAD",
        KeepDead = "KEEP_DEAD",
    }
}

vocabulary! {
    /// Whether, and for how long, a dead machine may come back with a ping.
    HeartbeatResurrectionStrategy {
        AlwaysRevive = "ALWAYS_REVIVE",
        Revive15Minutes = "15_MINUTE_REVIVE",
        Revive10Minutes = "10_MINUTE_REVIVE",
        Revive5Minutes = "5_MINUTE_REVIVE",
        Revive2Minutes = "2_MINUTE_REVIVE",
        Revive1Minute = "1_MINUTE_REVIVE",
        NoRevive = "NO_REVIVE",
    }
}

vocabulary! {
    /// When a machine's heartbeat starts being required.
    HeartbeatBasis {
        FromCreation = "FROM_CREATION",
        FromFirstPing = "FROM_FIRST_PING",
    }
}

vocabulary! {
    /// Within what a fingerprint must be unique (machines: all but per-machine).
    UniquenessStrategy {
        UniquePerAccount = "UNIQUE_PER_ACCOUNT",
        UniquePerProduct = "UNIQUE_PER_PRODUCT",
        UniquePerPolicy = "UNIQUE_PER_POLICY",
        UniquePerLicense = "UNIQUE_PER_LICENSE",
        UniquePerMachine = "UNIQUE_PER_MACHINE",
    }
}

impl UniquenessStrategy {
    /// The values a machine's uniqueness may take (components may also be per machine).
    pub const FOR_MACHINES: &'static [&'static str] = &[
        "UNIQUE_PER_ACCOUNT",
        "UNIQUE_PER_PRODUCT",
        "UNIQUE_PER_POLICY",
        "UNIQUE_PER_LICENSE",
    ];

    /// Rank of the strategy: a license may only move to a policy of equal or lower rank.
    pub fn rank(self) -> u8 {
        match self {
            Self::UniquePerAccount => 4,
            Self::UniquePerProduct => 3,
            Self::UniquePerPolicy => 2,
            Self::UniquePerLicense => 1,
            Self::UniquePerMachine => 0,
        }
    }
}

vocabulary! {
    /// How many of a request's fingerprints or components must match.
    MatchingStrategy {
        MatchAny = "MATCH_ANY",
        MatchTwo = "MATCH_TWO",
        MatchMost = "MATCH_MOST",
        MatchAll = "MATCH_ALL",
    }
}

vocabulary! {
    /// Across what machine limits are counted.
    MachineLeasingStrategy {
        PerLicense = "PER_LICENSE",
        PerUser = "PER_USER",
    }
}

vocabulary! {
    /// Across what process limits are counted.
    ProcessLeasingStrategy {
        PerLicense = "PER_LICENSE",
        PerMachine = "PER_MACHINE",
        PerUser = "PER_USER",
    }
}

vocabulary! {
    /// How far counts may exceed their limits.
    OverageStrategy {
        AlwaysAllow = "ALWAYS_ALLOW_OVERAGE",
        Allow125x = "ALLOW_1_25X_OVERAGE",
        Allow15x = "ALLOW_1_5X_OVERAGE",
        Allow2x = "ALLOW_2X_OVERAGE",
        NoOverage = "NO_OVERAGE",
    }
}

vocabulary! {
    /// The calendar unit of a check-in interval.
    CheckInInterval {
        Day = "day",
        Week = "week",
        Month = "month",
        Year = "year",
    }
}

vocabulary! {
    /// A user's role (API renders them dasherized).
    Role {
        User = "user",
        Admin = "admin",
        Developer = "developer",
        SalesAgent = "sales-agent",
        SupportAgent = "support-agent",
        ReadOnly = "read-only",
    }
}

vocabulary! {
    /// The JSON:API type of what a token speaks for.
    BearerType {
        Users = "users",
        Products = "products",
        Licenses = "licenses",
        Environments = "environments",
    }
}

vocabulary! {
    /// A token's `kind`, which follows from its bearer (and a user's role).
    TokenKind {
        AdminToken = "admin-token",
        UserToken = "user-token",
        DeveloperToken = "developer-token",
        SalesToken = "sales-token",
        SupportToken = "support-token",
        ReadOnlyToken = "read-only-token",
        ProductToken = "product-token",
        ActivationToken = "activation-token",
        EnvironmentToken = "environment-token",
    }
}

impl TokenKind {
    /// The kind of a user's tokens.
    pub fn of_role(role: Role) -> Self {
        match role {
            Role::Admin => Self::AdminToken,
            Role::User => Self::UserToken,
            Role::Developer => Self::DeveloperToken,
            Role::SalesAgent => Self::SalesToken,
            Role::SupportAgent => Self::SupportToken,
            Role::ReadOnly => Self::ReadOnlyToken,
        }
    }

    /// The raw token's prefix (`admin-…v3`).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::AdminToken => "admin",
            Self::UserToken => "user",
            Self::DeveloperToken => "dev",
            Self::SalesToken => "sales",
            Self::SupportToken => "spprt",
            Self::ReadOnlyToken => "read",
            Self::ProductToken => "prod",
            Self::ActivationToken => "activ",
            Self::EnvironmentToken => "env",
        }
    }

    /// How many random bytes the raw token carries: 16 for license (activation) tokens, else 32.
    pub fn random_bytes(self) -> usize {
        match self {
            Self::ActivationToken => 16,
            _ => 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_as_keygens_strings() {
        assert_eq!(
            serde_json::to_value(HeartbeatResurrectionStrategy::Revive15Minutes).unwrap(),
            "15_MINUTE_REVIVE"
        );
        let parsed: OverageStrategy = serde_json::from_value("ALLOW_1_25X_OVERAGE".into()).unwrap();
        assert_eq!(parsed, OverageStrategy::Allow125x);
        assert!(serde_json::from_value::<ExpirationStrategy>("FOREVER".into()).is_err());
        assert_eq!(CheckInInterval::ALL, ["day", "week", "month", "year"]);
        assert_eq!(Role::parse("read-only"), Some(Role::ReadOnly));
        assert_eq!(TokenKind::parse("nonsense"), None);
    }
}
