//! Writing the uniqueness claims an event makes, inside the transaction that stores it.

use aggregates::ClaimOp;
use cqrs_es::persist::SerializedEvent;

/// Another aggregate already holds a unique value; rendered by the API as a 422.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: has already been taken")]
pub struct ClaimConflict {
    /// Keygen's code, e.g. `CODE_TAKEN`.
    pub code: &'static str,
    /// The request attribute that holds the value.
    pub attribute: &'static str,
}

/// One statement to run for a claim operation.
pub(crate) enum ClaimStatement {
    /// `delete … where scope = $1 and aggregate_type = $2 and aggregate_id = $3`
    ReleaseScope { scope: String },
    /// `insert (scope, value, aggregate_type, aggregate_id)`; a unique violation is a conflict.
    Insert {
        scope: String,
        value: String,
        conflict: ClaimConflict,
    },
    /// `delete … where scope = $1 and value = $2 and aggregate_type = $3 and aggregate_id = $4`
    ReleaseValue { scope: String, value: String },
    /// `delete … where aggregate_type = $1 and aggregate_id = $2`
    ReleaseAll,
}

pub(crate) const RELEASE_SCOPE: &str =
    "delete from claims where scope = $1 and aggregate_type = $2 and aggregate_id = $3";
pub(crate) const INSERT: &str =
    "insert into claims (scope, value, aggregate_type, aggregate_id) values ($1, $2, $3, $4)";
pub(crate) const RELEASE_VALUE: &str =
    "delete from claims where scope = $1 and value = $2 and aggregate_type = $3 and aggregate_id = $4";
pub(crate) const RELEASE_ALL: &str = "delete from claims where aggregate_type = $1 and aggregate_id = $2";

/// The statements for a batch of events, in order.
pub(crate) fn statements(events: &[SerializedEvent]) -> Result<Vec<ClaimStatement>, serde_json::Error> {
    let mut out = Vec::new();
    for event in events {
        for op in aggregates::claims::claims_for(&event.aggregate_type, &event.payload)? {
            match op {
                ClaimOp::ReleaseAll => out.push(ClaimStatement::ReleaseAll),
                ClaimOp::Add {
                    scope,
                    value,
                    code,
                    attribute,
                } => out.push(ClaimStatement::Insert {
                    scope,
                    value,
                    conflict: ClaimConflict { code, attribute },
                }),
                ClaimOp::Release { scope, value } => out.push(ClaimStatement::ReleaseValue { scope, value }),
                ClaimOp::Replace {
                    scope,
                    value,
                    code,
                    attribute,
                } => {
                    out.push(ClaimStatement::ReleaseScope { scope: scope.clone() });
                    if let Some(value) = value {
                        out.push(ClaimStatement::Insert {
                            scope,
                            value,
                            conflict: ClaimConflict { code, attribute },
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}
