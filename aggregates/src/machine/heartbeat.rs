//! A machine's heartbeat status, computed on read as Keygen computes it.

use crate::policy::PolicyAttributes;
use crate::vocabulary::HeartbeatBasis;
use crate::Timestamp;
use chrono::Duration;

/// The heartbeat duration in force when a policy sets none (seconds).
pub const DEFAULT_DURATION: i64 = 600;

/// A machine's heartbeat status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotStarted,
    Alive,
    Dead,
    /// Only in the answer to the ping that revived a dead machine.
    Resurrected,
}

impl Status {
    /// Keygen's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::Alive => "ALIVE",
            Self::Dead => "DEAD",
            Self::Resurrected => "RESURRECTED",
        }
    }
}

/// The heartbeat duration in force under `policy` (seconds).
pub fn duration(policy: &PolicyAttributes) -> i64 {
    policy.heartbeat_duration.unwrap_or(DEFAULT_DURATION)
}

/// The machine's last heartbeat: its last ping, or its creation when the policy's basis is
/// creation.
pub fn last_heartbeat(
    policy: &PolicyAttributes,
    created_at: Timestamp,
    last_ping: Option<Timestamp>,
) -> Option<Timestamp> {
    last_ping.or((policy.heartbeat_basis == HeartbeatBasis::FromCreation).then_some(created_at))
}

/// The deadline a new machine starts with: one duration after its creation when its policy
/// requires heartbeats or counts them from creation; none otherwise (it has not started).
pub fn first_deadline(policy: &PolicyAttributes, created_at: Timestamp) -> Option<Timestamp> {
    (policy.require_heartbeat || policy.heartbeat_basis == HeartbeatBasis::FromCreation)
        .then(|| created_at + Duration::seconds(duration(policy)))
}

/// Keygen's status: a machine that never had a heartbeat has not started, unless its policy
/// requires heartbeats and one duration has passed since its creation; one whose last heartbeat
/// is within a duration is alive; any other is dead.
pub fn status(
    policy: &PolicyAttributes,
    created_at: Timestamp,
    last_heartbeat: Option<Timestamp>,
    now: Timestamp,
) -> Status {
    let duration = Duration::seconds(duration(policy));
    match last_heartbeat {
        None if !policy.require_heartbeat || created_at + duration >= now => Status::NotStarted,
        None => Status::Dead,
        Some(at) if at + duration >= now => Status::Alive,
        Some(_) => Status::Dead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyAttributes;

    fn policy(require_heartbeat: bool) -> PolicyAttributes {
        PolicyAttributes {
            require_heartbeat,
            heartbeat_duration: Some(60),
            ..PolicyAttributes::defaults("p".into(), false)
        }
    }

    #[test]
    fn a_machine_that_never_pinged_has_not_started_unless_its_policy_requires_heartbeats_and_a_duration_passed() {
        let created = chrono::Utc::now();
        let later = created + Duration::seconds(61);
        assert_eq!(status(&policy(false), created, None, later), Status::NotStarted);
        assert_eq!(
            status(&policy(true), created, None, created + Duration::seconds(60)),
            Status::NotStarted
        );
        assert_eq!(status(&policy(true), created, None, later), Status::Dead);
    }

    #[test]
    fn a_heartbeat_keeps_a_machine_alive_for_one_duration() {
        let at = chrono::Utc::now();
        assert_eq!(
            status(&policy(false), at, Some(at), at + Duration::seconds(60)),
            Status::Alive
        );
        assert_eq!(
            status(&policy(false), at, Some(at), at + Duration::seconds(61)),
            Status::Dead
        );
    }
}
