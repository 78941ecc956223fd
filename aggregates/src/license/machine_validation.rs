//! The machine rules of validation: the machine, fingerprint and components scopes (§1.4 f–h of
//! Keygen's order) and, for strict policies, the counts against the limits (§1.4 step 9).

use super::machines::within_overage;
use super::validation::Outcome;
use super::LicenseLimits;
use crate::machine::heartbeat::Status;
use crate::policy::PolicyAttributes;
use crate::vocabulary::MatchingStrategy;

/// An active machine of the license, as validation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineFact {
    pub id: String,
    pub fingerprint: String,
    pub heartbeat: Status,
    /// Fingerprints of its components.
    pub components: Vec<String>,
    /// Its running processes.
    pub processes: i64,
}

/// The license's machines: counts and sums always, each machine when a scope needs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineFacts {
    pub count: i64,
    pub cores: i64,
    pub memory: i64,
    pub disk: i64,
    /// Every active machine (loaded for a machine, fingerprint or components scope, and for a
    /// strict policy's process limit).
    pub listed: Vec<MachineFact>,
}

impl MachineFacts {
    /// The machine a scope names: by id, else the first alive one of the fingerprints.
    pub fn scoped(&self, machine: Option<&str>, fingerprints: &[&String]) -> Option<&MachineFact> {
        match machine {
            Some(id) => self.listed.iter().find(|m| m.id == id),
            None => self
                .listed
                .iter()
                .find(|m| m.heartbeat != Status::Dead && fingerprints.iter().any(|f| **f == m.fingerprint)),
        }
    }
}

fn fail(detail: &str, code: &'static str) -> Outcome {
    Outcome {
        valid: false,
        detail: detail.into(),
        code,
    }
}

pub(super) fn no_machines(policy: &PolicyAttributes, subject: &str) -> Outcome {
    if policy.floating {
        fail(
            &format!("{subject} is not activated (has no associated machines)"),
            "NO_MACHINES",
        )
    } else {
        fail(
            &format!("{subject} is not activated (has no associated machine)"),
            "NO_MACHINE",
        )
    }
}

fn heartbeat_not_started() -> Outcome {
    fail("machine heartbeat is required", "HEARTBEAT_NOT_STARTED")
}

fn heartbeat_dead() -> Outcome {
    fail("machine heartbeat is dead", "HEARTBEAT_DEAD")
}

/// Whether `matched` of `n` given fingerprints satisfy `strategy` (`MATCH_TWO` needs two even of
/// one, as Keygen counts components).
fn enough(strategy: MatchingStrategy, matched: usize, n: usize) -> bool {
    match strategy {
        MatchingStrategy::MatchAny => matched >= 1,
        MatchingStrategy::MatchTwo => matched >= 2,
        MatchingStrategy::MatchMost => matched >= n.div_ceil(2),
        MatchingStrategy::MatchAll => matched == n,
    }
}

/// The machine scope (by id): the machine must be one of the license's, and alive.
pub(super) fn check_machine(machines: &MachineFacts, policy: &PolicyAttributes, id: &str) -> Option<Outcome> {
    if machines.count == 0 {
        return Some(no_machines(policy, "machine"));
    }
    let Some(machine) = machines.listed.iter().find(|m| m.id == id) else {
        return Some(fail("machine scope does not match", "MACHINE_SCOPE_MISMATCH"));
    };
    match machine.heartbeat {
        Status::NotStarted if policy.require_heartbeat => Some(heartbeat_not_started()),
        Status::Dead => Some(heartbeat_dead()),
        _ => None,
    }
}

/// The fingerprint scope: enough of the given fingerprints must be alive machines of the license.
pub(super) fn check_fingerprints(
    machines: &MachineFacts,
    policy: &PolicyAttributes,
    given: &[&String],
) -> Option<Outcome> {
    let mut fingerprints: Vec<&str> = given.iter().map(|f| f.as_str()).filter(|f| !f.is_empty()).collect();
    fingerprints.sort_unstable();
    fingerprints.dedup();
    if fingerprints.is_empty() {
        return Some(fail("fingerprint scope is empty", "FINGERPRINT_SCOPE_EMPTY"));
    }
    if machines.count == 0 {
        return Some(no_machines(policy, "fingerprint"));
    }
    let matched: Vec<&MachineFact> = machines
        .listed
        .iter()
        .filter(|m| fingerprints.contains(&m.fingerprint.as_str()))
        .collect();
    let dead = matched.iter().filter(|m| m.heartbeat == Status::Dead).count();
    if dead > 0 && dead == fingerprints.len() {
        return Some(heartbeat_dead());
    }
    let alive: Vec<&&MachineFact> = matched.iter().filter(|m| m.heartbeat != Status::Dead).collect();
    let n = fingerprints.len();
    let strategy = policy.machine_matching_strategy;
    let satisfied = if n == 1 {
        !alive.is_empty()
    } else {
        enough(strategy, alive.len(), n)
    };
    if !satisfied {
        let detail = match (n, strategy) {
            (1, _) | (_, MatchingStrategy::MatchAny) => {
                "fingerprint is not activated (does not match any associated machines)"
            }
            (_, MatchingStrategy::MatchTwo) => {
                "one or more fingerprint is not activated (does not match at least 2 associated machines)"
            }
            (_, MatchingStrategy::MatchMost) => {
                "one or more fingerprint is not activated (does not match enough associated machines)"
            }
            (_, MatchingStrategy::MatchAll) => {
                "one or more fingerprint is not activated (does not match all associated machines)"
            }
        };
        return Some(fail(detail, "FINGERPRINT_SCOPE_MISMATCH"));
    }
    if policy.require_heartbeat && alive.iter().any(|m| m.heartbeat == Status::NotStarted) {
        return Some(heartbeat_not_started());
    }
    None
}

/// The components scope, against the machine of the (singular) fingerprint.
pub(super) fn check_components(
    machines: &MachineFacts,
    policy: &PolicyAttributes,
    fingerprint: &str,
    components: &[String],
) -> Option<Outcome> {
    let mut wanted: Vec<&str> = components.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() {
        return Some(fail("components scope is empty", "COMPONENTS_SCOPE_EMPTY"));
    }
    let matched = machines
        .listed
        .iter()
        .find(|m| m.fingerprint == fingerprint)
        .map(|m| m.components.iter().filter(|c| wanted.contains(&c.as_str())).count())
        .unwrap_or(0);
    if enough(policy.component_matching_strategy, matched, wanted.len()) {
        None
    } else {
        Some(fail("components scope does not match", "COMPONENTS_SCOPE_MISMATCH"))
    }
}

/// A strict policy's counts against the limits in force: no machines, too many machines, cores,
/// memory or disk. An overage the policy allows answers `valid: true` with the limit's code.
pub(super) fn check_strict(
    machines: &MachineFacts,
    policy: &PolicyAttributes,
    limits: &LicenseLimits,
    scoped: Option<&MachineFact>,
) -> Option<Outcome> {
    let overage = policy.overage_strategy;
    let over = |count: i64, limit: i64, detail: &str, code: &'static str| Outcome {
        valid: within_overage(overage, count, limit),
        detail: detail.into(),
        code,
    };
    if machines.count == 0 {
        return Some(if policy.floating {
            fail("must have at least 1 associated machine", "NO_MACHINES")
        } else {
            fail("must have exactly 1 associated machine", "NO_MACHINE")
        });
    }
    let machine_limit = if policy.floating {
        limits.max_machines
    } else {
        Some(limits.max_machines.unwrap_or(1))
    };
    if let Some(limit) = machine_limit.filter(|&limit| machines.count > 1 && machines.count > limit) {
        return Some(over(
            machines.count,
            limit,
            "has too many associated machines",
            "TOO_MANY_MACHINES",
        ));
    }
    for (limit, total, detail, code) in [
        (
            limits.max_cores,
            machines.cores,
            "has too many associated machine cores",
            "TOO_MANY_CORES",
        ),
        (
            limits.max_memory,
            machines.memory,
            "has too much associated machine memory",
            "TOO_MUCH_MEMORY",
        ),
        (
            limits.max_disk,
            machines.disk,
            "has too much associated machine disk",
            "TOO_MUCH_DISK",
        ),
    ] {
        if let Some(limit) = limit.filter(|&limit| total > limit) {
            return Some(over(total, limit, detail, code));
        }
    }
    // Processes: per machine only when the scope names one; across the license otherwise
    // (PER_USER counts the unowned, which without license owners is every machine).
    let processes = match policy.process_leasing_strategy {
        crate::vocabulary::ProcessLeasingStrategy::PerMachine => scoped.map(|m| m.processes),
        _ => Some(machines.listed.iter().map(|m| m.processes).sum()),
    };
    if let (Some(limit), Some(count)) = (limits.max_processes, processes) {
        if count > limit {
            return Some(over(
                count,
                limit,
                "has too many associated processes",
                "TOO_MANY_PROCESSES",
            ));
        }
    }
    None
}
