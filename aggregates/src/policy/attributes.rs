//! A policy's attributes with Keygen's defaults, enums and rules for combining them.

use crate::DomainError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Allowed values of each enum attribute (snake_case names as stored).
pub const ENUMS: &[(&str, &[&str])] = &[
    ("check_in_interval", &["day", "week", "month", "year"]),
    ("heartbeat_cull_strategy", &["DEACTIVATE_DEAD", "KEEP_DEAD"]),
    (
        "heartbeat_resurrection_strategy",
        &[
            "ALWAYS_REVIVE",
            "15_MINUTE_REVIVE",
            "10_MINUTE_REVIVE",
            "5_MINUTE_REVIVE",
            "2_MINUTE_REVIVE",
            "1_MINUTE_REVIVE",
            "NO_REVIVE",
        ],
    ),
    ("heartbeat_basis", &["FROM_CREATION", "FROM_FIRST_PING"]),
    (
        "machine_uniqueness_strategy",
        &[
            "UNIQUE_PER_ACCOUNT",
            "UNIQUE_PER_PRODUCT",
            "UNIQUE_PER_POLICY",
            "UNIQUE_PER_LICENSE",
        ],
    ),
    (
        "machine_matching_strategy",
        &["MATCH_ANY", "MATCH_TWO", "MATCH_MOST", "MATCH_ALL"],
    ),
    (
        "component_uniqueness_strategy",
        &[
            "UNIQUE_PER_ACCOUNT",
            "UNIQUE_PER_PRODUCT",
            "UNIQUE_PER_POLICY",
            "UNIQUE_PER_LICENSE",
            "UNIQUE_PER_MACHINE",
        ],
    ),
    (
        "component_matching_strategy",
        &["MATCH_ANY", "MATCH_TWO", "MATCH_MOST", "MATCH_ALL"],
    ),
    (
        "expiration_strategy",
        &["RESTRICT_ACCESS", "REVOKE_ACCESS", "MAINTAIN_ACCESS", "ALLOW_ACCESS"],
    ),
    (
        "expiration_basis",
        &[
            "FROM_CREATION",
            "FROM_FIRST_VALIDATION",
            "FROM_FIRST_ACTIVATION",
            "FROM_FIRST_DOWNLOAD",
            "FROM_FIRST_USE",
        ],
    ),
    ("renewal_basis", &["FROM_EXPIRY", "FROM_NOW", "FROM_NOW_IF_EXPIRED"]),
    ("transfer_strategy", &["RESET_EXPIRY", "KEEP_EXPIRY"]),
    (
        "authentication_strategy",
        &["TOKEN", "LICENSE", "SESSION", "MIXED", "NONE"],
    ),
    ("machine_leasing_strategy", &["PER_LICENSE", "PER_USER"]),
    ("process_leasing_strategy", &["PER_LICENSE", "PER_MACHINE", "PER_USER"]),
    (
        "overage_strategy",
        &[
            "ALWAYS_ALLOW_OVERAGE",
            "ALLOW_1_25X_OVERAGE",
            "ALLOW_1_5X_OVERAGE",
            "ALLOW_2X_OVERAGE",
            "NO_OVERAGE",
        ],
    ),
    (
        "scheme",
        &[
            "LEGACY_ENCRYPT",
            "RSA_2048_PKCS1_ENCRYPT",
            "RSA_2048_PKCS1_SIGN",
            "RSA_2048_PKCS1_PSS_SIGN",
            "RSA_2048_JWT_RS256",
            "RSA_2048_PKCS1_SIGN_V2",
            "RSA_2048_PKCS1_PSS_SIGN_V2",
            "ED25519_SIGN",
            "ECDSA_P256_SIGN",
        ],
    ),
];

/// Key schemes this server can sign with.
pub const SUPPORTED_SCHEMES: &[&str] = &[];

/// Boolean attributes.
pub const BOOLEANS: &[&str] = &[
    "strict",
    "floating",
    "protected",
    "use_pool",
    "encrypted",
    "require_product_scope",
    "require_policy_scope",
    "require_machine_scope",
    "require_fingerprint_scope",
    "require_components_scope",
    "require_user_scope",
    "require_checksum_scope",
    "require_version_scope",
    "require_check_in",
    "require_heartbeat",
];

/// Integer attributes that may be null.
pub const INTEGERS: &[&str] = &[
    "duration",
    "max_machines",
    "max_cores",
    "max_memory",
    "max_disk",
    "max_uses",
    "max_processes",
    "max_users",
    "check_in_interval_count",
    "heartbeat_duration",
];

/// Attributes fixed at creation.
pub const CREATE_ONLY: &[&str] = &["use_pool", "encrypted", "scheme"];

/// Every attribute of a policy, with Keygen's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyAttributes {
    pub name: String,
    pub duration: Option<i64>,
    pub strict: bool,
    pub floating: bool,
    pub protected: bool,
    pub use_pool: bool,
    pub encrypted: bool,
    pub scheme: Option<String>,
    pub max_machines: Option<i64>,
    pub max_cores: Option<i64>,
    pub max_memory: Option<i64>,
    pub max_disk: Option<i64>,
    pub max_uses: Option<i64>,
    pub max_processes: Option<i64>,
    pub max_users: Option<i64>,
    pub require_product_scope: bool,
    pub require_policy_scope: bool,
    pub require_machine_scope: bool,
    pub require_fingerprint_scope: bool,
    pub require_components_scope: bool,
    pub require_user_scope: bool,
    pub require_checksum_scope: bool,
    pub require_version_scope: bool,
    pub require_check_in: bool,
    pub check_in_interval: Option<String>,
    pub check_in_interval_count: Option<i64>,
    pub require_heartbeat: bool,
    pub heartbeat_duration: Option<i64>,
    pub heartbeat_cull_strategy: String,
    pub heartbeat_resurrection_strategy: String,
    pub heartbeat_basis: String,
    pub machine_uniqueness_strategy: String,
    pub machine_matching_strategy: String,
    pub component_uniqueness_strategy: String,
    pub component_matching_strategy: String,
    pub expiration_strategy: String,
    pub expiration_basis: String,
    pub renewal_basis: String,
    pub transfer_strategy: String,
    pub authentication_strategy: String,
    pub machine_leasing_strategy: String,
    pub process_leasing_strategy: String,
    pub overage_strategy: String,
    pub metadata: Map<String, Value>,
}

const MAX_INT32: i64 = 2_147_483_647;

/// Keygen's machine limit for a policy or a license override: exactly 1 when node-locked, at
/// least 1 when floating; no limit (`None`) passes here (a policy settles it first).
pub fn check_max_machines(floating: bool, max_machines: Option<i64>) -> Result<(), DomainError> {
    match max_machines {
        Some(n) if !(0..=MAX_INT32).contains(&n) => Err(DomainError::invalid(
            "max_machines",
            "INVALID",
            "must be greater than or equal to 0",
        )),
        Some(n) if floating && n < 1 => Err(DomainError::invalid(
            "max_machines",
            "INVALID",
            "must be greater than or equal to 1 for floating policy",
        )),
        Some(n) if !floating && n != 1 => Err(DomainError::invalid(
            "max_machines",
            "INVALID",
            "must be equal to 1 for non-floating policy",
        )),
        _ => Ok(()),
    }
}

impl PolicyAttributes {
    /// Keygen's defaults for a new policy, before the request's attributes are laid over them.
    pub fn defaults(name: String, account_protected: bool) -> Self {
        Self {
            name,
            duration: None,
            strict: false,
            floating: false,
            protected: account_protected,
            use_pool: false,
            encrypted: false,
            scheme: None,
            max_machines: None,
            max_cores: None,
            max_memory: None,
            max_disk: None,
            max_uses: None,
            max_processes: None,
            max_users: None,
            require_product_scope: false,
            require_policy_scope: false,
            require_machine_scope: false,
            require_fingerprint_scope: false,
            require_components_scope: false,
            require_user_scope: false,
            require_checksum_scope: false,
            require_version_scope: false,
            require_check_in: false,
            check_in_interval: None,
            check_in_interval_count: None,
            require_heartbeat: false,
            heartbeat_duration: None,
            heartbeat_cull_strategy: "DEACTIVATE_DEAD".into(),
            heartbeat_resurrection_strategy: "NO_REVIVE".into(),
            heartbeat_basis: "FROM_FIRST_PING".into(),
            machine_uniqueness_strategy: "UNIQUE_PER_LICENSE".into(),
            machine_matching_strategy: "MATCH_ANY".into(),
            component_uniqueness_strategy: "UNIQUE_PER_MACHINE".into(),
            component_matching_strategy: "MATCH_ANY".into(),
            expiration_strategy: "RESTRICT_ACCESS".into(),
            expiration_basis: "FROM_CREATION".into(),
            renewal_basis: "FROM_EXPIRY".into(),
            transfer_strategy: "KEEP_EXPIRY".into(),
            authentication_strategy: "TOKEN".into(),
            machine_leasing_strategy: "PER_LICENSE".into(),
            process_leasing_strategy: "PER_MACHINE".into(),
            overage_strategy: "NO_OVERAGE".into(),
            metadata: Map::new(),
        }
    }

    /// These attributes with `changes` (snake_case keys) laid over them.
    pub fn merged(&self, changes: &Map<String, Value>) -> Result<Self, DomainError> {
        crate::merge_attributes(self, changes, "policy")
    }

    /// Whether a node-locked policy (not floating).
    pub fn node_locked(&self) -> bool {
        !self.floating
    }

    /// A node-locked policy holds exactly one machine: with no limit given, the limit is 1.
    pub fn settle_max_machines(&mut self) {
        if self.node_locked() && self.max_machines.is_none() {
            self.max_machines = Some(1);
        }
    }

    /// The limits the overage strategy's divisibility rule looks at.
    fn divisible_limits(&self) -> Vec<(&'static str, Option<i64>)> {
        let machines = if self.floating { self.max_machines } else { None };
        vec![
            ("max_machines", machines),
            ("max_cores", self.max_cores),
            ("max_memory", self.max_memory),
            ("max_disk", self.max_disk),
            ("max_processes", self.max_processes),
            ("max_users", self.max_users),
        ]
    }

    /// Keygen's validations of a policy, including the combinations of attributes.
    pub fn validate(&self) -> Result<(), DomainError> {
        crate::validate_name(&self.name)?;
        let value = serde_json::to_value(self).expect("attributes serialize");
        for (attribute, allowed) in ENUMS {
            if let Some(v) = value.get(*attribute).and_then(Value::as_str) {
                if !allowed.contains(&v) {
                    return Err(DomainError::invalid(
                        attribute,
                        "NOT_ALLOWED",
                        format!("unsupported {}", attribute.replace('_', " ")),
                    ));
                }
            }
        }
        let range = |attribute: &str, v: Option<i64>, min: i64, detail: &str| -> Result<(), DomainError> {
            match v {
                Some(n) if n < min || n > MAX_INT32 => Err(DomainError::invalid(attribute, "INVALID", detail)),
                _ => Ok(()),
            }
        };
        range(
            "duration",
            self.duration,
            86_400,
            "must be greater than or equal to 86400 (1 day)",
        )?;
        range("max_cores", self.max_cores, 1, "must be greater than or equal to 1")?;
        range("max_uses", self.max_uses, 0, "must be greater than or equal to 0")?;
        range("max_processes", self.max_processes, 1, "must be greater than 0")?;
        range("max_users", self.max_users, 1, "must be greater than 0")?;
        range(
            "heartbeat_duration",
            self.heartbeat_duration,
            60,
            "must be greater than or equal to 60 (1 minute)",
        )?;
        for (attribute, v) in [("max_memory", self.max_memory), ("max_disk", self.max_disk)] {
            if v.is_some_and(|n| n < 1) {
                return Err(DomainError::invalid(
                    attribute,
                    "INVALID",
                    "must be greater than or equal to 1",
                ));
            }
        }
        check_max_machines(self.floating, self.max_machines)?;
        if self.require_check_in {
            if self.check_in_interval.is_none() {
                return Err(DomainError::invalid(
                    "check_in_interval",
                    "NOT_ALLOWED",
                    "must be one of: day, week, month, year",
                ));
            }
            match self.check_in_interval_count {
                Some(n) if (1..=365).contains(&n) => {}
                _ => {
                    return Err(DomainError::invalid(
                        "check_in_interval_count",
                        "INVALID",
                        "must be a number between 1 and 365 inclusive",
                    ))
                }
            }
        }
        if self.heartbeat_resurrection_strategy == "ALWAYS_REVIVE" && self.heartbeat_cull_strategy != "KEEP_DEAD" {
            return Err(DomainError::invalid(
                "heartbeat_cull_strategy",
                "NOT_ALLOWED",
                "must be KEEP_DEAD when resurrection strategy is ALWAYS_REVIVE",
            ));
        }
        self.validate_overage()?;
        self.validate_key_generation()?;
        crate::metadata::validate(&self.metadata)
    }

    fn validate_overage(&self) -> Result<(), DomainError> {
        let divisor = match self.overage_strategy.as_str() {
            "ALLOW_1_25X_OVERAGE" => 4,
            "ALLOW_1_5X_OVERAGE" => 2,
            _ => return Ok(()),
        };
        if self.node_locked() {
            return Err(DomainError::invalid(
                "overage_strategy",
                "NOT_ALLOWED",
                "incompatible overage strategy (cannot use ALLOW_1_25X_OVERAGE or ALLOW_1_5X_OVERAGE for node-locked policy)",
            ));
        }
        for (attribute, limit) in self.divisible_limits() {
            if limit.is_some_and(|n| n % divisor != 0) {
                return Err(DomainError::invalid(
                    attribute,
                    "INVALID",
                    format!("must be divisible by {divisor} when using {}", self.overage_strategy),
                ));
            }
        }
        Ok(())
    }

    fn validate_key_generation(&self) -> Result<(), DomainError> {
        if self.encrypted {
            return Err(DomainError::invalid(
                "encrypted",
                "NOT_ALLOWED",
                "legacy encrypted keys are not supported by this server",
            ));
        }
        if let Some(scheme) = &self.scheme {
            if !SUPPORTED_SCHEMES.contains(&scheme.as_str()) {
                return Err(DomainError::invalid(
                    "scheme",
                    "NOT_ALLOWED",
                    "unsupported scheme (signed and encrypted key schemes are not supported yet)",
                ));
            }
            if self.use_pool {
                return Err(DomainError::invalid(
                    "scheme",
                    "NOT_ALLOWED",
                    "cannot be combined with a pool",
                ));
            }
        }
        Ok(())
    }

    /// Rank of a uniqueness strategy: a license may only move to a policy of equal or lower rank.
    pub fn uniqueness_rank(strategy: &str) -> u8 {
        match strategy {
            "UNIQUE_PER_ACCOUNT" => 4,
            "UNIQUE_PER_PRODUCT" => 3,
            "UNIQUE_PER_POLICY" => 2,
            "UNIQUE_PER_LICENSE" => 1,
            _ => 0,
        }
    }
}
