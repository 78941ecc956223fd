//! A policy's attributes with Keygen's defaults, enums and rules for combining them.

use crate::license::LicenseLimits;
use crate::vocabulary::{
    AuthenticationStrategy, CheckInInterval, ExpirationBasis, ExpirationStrategy, HeartbeatBasis,
    HeartbeatCullStrategy, HeartbeatResurrectionStrategy, MachineLeasingStrategy, MatchingStrategy, OverageStrategy,
    ProcessLeasingStrategy, RenewalBasis, TransferStrategy, UniquenessStrategy,
};
use crate::DomainError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Allowed values of each enum attribute (snake_case names as stored), checked on a request's
/// raw values before they are read into the typed attributes.
pub const ENUMS: &[(&str, &[&str])] = &[
    ("check_in_interval", CheckInInterval::ALL),
    ("heartbeat_cull_strategy", HeartbeatCullStrategy::ALL),
    ("heartbeat_resurrection_strategy", HeartbeatResurrectionStrategy::ALL),
    ("heartbeat_basis", HeartbeatBasis::ALL),
    ("machine_uniqueness_strategy", UniquenessStrategy::FOR_MACHINES),
    ("machine_matching_strategy", MatchingStrategy::ALL),
    ("component_uniqueness_strategy", UniquenessStrategy::ALL),
    ("component_matching_strategy", MatchingStrategy::ALL),
    ("expiration_strategy", ExpirationStrategy::ALL),
    ("expiration_basis", ExpirationBasis::ALL),
    ("renewal_basis", RenewalBasis::ALL),
    ("transfer_strategy", TransferStrategy::ALL),
    ("authentication_strategy", AuthenticationStrategy::ALL),
    ("machine_leasing_strategy", MachineLeasingStrategy::ALL),
    ("process_leasing_strategy", ProcessLeasingStrategy::ALL),
    ("overage_strategy", OverageStrategy::ALL),
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
/// (The limits, `LicenseLimits::NAMES`, are integers too.)
pub const INTEGERS: &[&str] = &["duration", "check_in_interval_count", "heartbeat_duration"];

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
    /// The limits of every license under the policy (a license may override them).
    #[serde(flatten)]
    pub limits: LicenseLimits,
    pub require_product_scope: bool,
    pub require_policy_scope: bool,
    pub require_machine_scope: bool,
    pub require_fingerprint_scope: bool,
    pub require_components_scope: bool,
    pub require_user_scope: bool,
    pub require_checksum_scope: bool,
    pub require_version_scope: bool,
    pub require_check_in: bool,
    pub check_in_interval: Option<CheckInInterval>,
    pub check_in_interval_count: Option<i64>,
    pub require_heartbeat: bool,
    pub heartbeat_duration: Option<i64>,
    pub heartbeat_cull_strategy: HeartbeatCullStrategy,
    pub heartbeat_resurrection_strategy: HeartbeatResurrectionStrategy,
    pub heartbeat_basis: HeartbeatBasis,
    pub machine_uniqueness_strategy: UniquenessStrategy,
    pub machine_matching_strategy: MatchingStrategy,
    pub component_uniqueness_strategy: UniquenessStrategy,
    pub component_matching_strategy: MatchingStrategy,
    pub expiration_strategy: ExpirationStrategy,
    pub expiration_basis: ExpirationBasis,
    pub renewal_basis: RenewalBasis,
    pub transfer_strategy: TransferStrategy,
    pub authentication_strategy: AuthenticationStrategy,
    pub machine_leasing_strategy: MachineLeasingStrategy,
    pub process_leasing_strategy: ProcessLeasingStrategy,
    pub overage_strategy: OverageStrategy,
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
            limits: LicenseLimits::default(),
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
            heartbeat_cull_strategy: HeartbeatCullStrategy::DeactivateDead,
            heartbeat_resurrection_strategy: HeartbeatResurrectionStrategy::NoRevive,
            heartbeat_basis: HeartbeatBasis::FromFirstPing,
            machine_uniqueness_strategy: UniquenessStrategy::UniquePerLicense,
            machine_matching_strategy: MatchingStrategy::MatchAny,
            component_uniqueness_strategy: UniquenessStrategy::UniquePerMachine,
            component_matching_strategy: MatchingStrategy::MatchAny,
            expiration_strategy: ExpirationStrategy::RestrictAccess,
            expiration_basis: ExpirationBasis::FromCreation,
            renewal_basis: RenewalBasis::FromExpiry,
            transfer_strategy: TransferStrategy::KeepExpiry,
            authentication_strategy: AuthenticationStrategy::Token,
            machine_leasing_strategy: MachineLeasingStrategy::PerLicense,
            process_leasing_strategy: ProcessLeasingStrategy::PerMachine,
            overage_strategy: OverageStrategy::NoOverage,
            metadata: Map::new(),
        }
    }

    /// These attributes with `changes` (snake_case keys) laid over them.
    pub fn merged(&self, changes: &Map<String, Value>) -> Result<Self, DomainError> {
        for (attribute, allowed) in ENUMS {
            if let Some(Value::String(v)) = changes.get(*attribute) {
                if !allowed.contains(&v.as_str()) {
                    return Err(DomainError::invalid(
                        attribute,
                        "NOT_ALLOWED",
                        format!("unsupported {}", attribute.replace('_', " ")),
                    ));
                }
            }
        }
        crate::merge_attributes(self, changes, "policy")
    }

    /// Whether a node-locked policy (not floating).
    pub fn node_locked(&self) -> bool {
        !self.floating
    }

    /// A node-locked policy holds exactly one machine: with no limit given, the limit is 1.
    pub fn settle_max_machines(&mut self) {
        if self.node_locked() && self.limits.max_machines.is_none() {
            self.limits.max_machines = Some(1);
        }
    }

    /// The limits the overage strategy's divisibility rule looks at.
    fn divisible_limits(&self) -> Vec<(&'static str, Option<i64>)> {
        let machines = if self.floating { self.limits.max_machines } else { None };
        vec![
            ("max_machines", machines),
            ("max_cores", self.limits.max_cores),
            ("max_memory", self.limits.max_memory),
            ("max_disk", self.limits.max_disk),
            ("max_processes", self.limits.max_processes),
            ("max_users", self.limits.max_users),
        ]
    }

    /// Keygen's validations of a policy, including the combinations of attributes.
    pub fn validate(&self) -> Result<(), DomainError> {
        crate::validate_name(&self.name)?;
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
        range(
            "max_cores",
            self.limits.max_cores,
            1,
            "must be greater than or equal to 1",
        )?;
        range(
            "max_uses",
            self.limits.max_uses,
            0,
            "must be greater than or equal to 0",
        )?;
        range("max_processes", self.limits.max_processes, 1, "must be greater than 0")?;
        range("max_users", self.limits.max_users, 1, "must be greater than 0")?;
        range(
            "heartbeat_duration",
            self.heartbeat_duration,
            60,
            "must be greater than or equal to 60 (1 minute)",
        )?;
        for (attribute, v) in [
            ("max_memory", self.limits.max_memory),
            ("max_disk", self.limits.max_disk),
        ] {
            if v.is_some_and(|n| n < 1) {
                return Err(DomainError::invalid(
                    attribute,
                    "INVALID",
                    "must be greater than or equal to 1",
                ));
            }
        }
        check_max_machines(self.floating, self.limits.max_machines)?;
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
        if self.heartbeat_resurrection_strategy == HeartbeatResurrectionStrategy::AlwaysRevive
            && self.heartbeat_cull_strategy != HeartbeatCullStrategy::KeepDead
        {
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
        let divisor = match self.overage_strategy {
            OverageStrategy::Allow125x => 4,
            OverageStrategy::Allow15x => 2,
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
            if crate::license::keys::Scheme::parse(scheme).is_none() {
                return Err(DomainError::invalid(
                    "scheme",
                    "NOT_ALLOWED",
                    "unsupported scheme (LEGACY_ENCRYPT is deprecated and not supported by this server)",
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
}
