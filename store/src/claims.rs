//! Writing the uniqueness claims an event makes, inside the transaction that stores it.

use aggregates::ClaimOp;
use cqrs_es::persist::SerializedEvent;

/// Another aggregate already holds a unique value, or what an event refers to is gone; rendered
/// by the API as a 422.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ClaimConflict {
    /// Keygen's code, e.g. `CODE_TAKEN` or `POLICY_NOT_FOUND`.
    pub code: &'static str,
    /// What in the request it is about.
    pub subject: aggregates::Subject,
    /// Keygen's detail, e.g. `has already been taken` or `must exist`.
    pub detail: &'static str,
}

/// The code of a deletion refused because dependents joined the parent meanwhile (a cascade
/// deletes them and tries again).
pub const DEPENDENTS_REMAIN: &str = "DEPENDENTS_REMAIN";

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
    /// `insert … on conflict do nothing`: taken when free, else left to its holder.
    InsertIfFree { scope: String, value: String },
    /// `delete … where scope = $1 and value = $2 and aggregate_type = $3 and aggregate_id = $4`
    ReleaseValue { scope: String, value: String },
    /// `delete … where aggregate_type = $1 and aggregate_id = $2`
    ReleaseAll,
    /// A row `(scope, value)` must exist (and stay, until the commit); none is a conflict.
    Require {
        scope: String,
        value: String,
        missing: ClaimConflict,
    },
    /// Moves the row `(scope, value)` from the aggregate `from` to this one; none moved is a
    /// conflict.
    Take {
        scope: String,
        value: String,
        from_type: &'static str,
        from_id: String,
        missing: ClaimConflict,
    },
    /// `ReleaseValue`, but a conflict when there was nothing to release.
    ReleaseHeld {
        scope: String,
        value: String,
        missing: ClaimConflict,
    },
    /// This aggregate's group `prefix` + its id must be empty.
    RequireEmpty {
        prefix: &'static str,
        remaining: ClaimConflict,
    },
    /// Leaves this aggregate's groups of `prefix`, then joins `prefix` + `group`.
    Join { prefix: &'static str, group: String },
    /// Leaves this aggregate's groups of `prefix`.
    Leave { prefix: &'static str },
}

pub(crate) const RELEASE_SCOPE: &str =
    "delete from claims where scope = $1 and aggregate_type = $2 and aggregate_id = $3";
pub(crate) const INSERT: &str =
    "insert into claims (scope, value, aggregate_type, aggregate_id) values ($1, $2, $3, $4)";
pub(crate) const INSERT_IF_FREE: &str = "insert into claims (scope, value, aggregate_type, aggregate_id) \
    values ($1, $2, $3, $4) on conflict do nothing";
pub(crate) const RELEASE_VALUE: &str =
    "delete from claims where scope = $1 and value = $2 and aggregate_type = $3 and aggregate_id = $4";
pub(crate) const RELEASE_ALL: &str = "delete from claims where aggregate_type = $1 and aggregate_id = $2";
/// On PostgreSQL the row is locked until the commit, so a concurrent delete of what it claims
/// waits for this transaction (and then its cascade sees what this one added).
pub(crate) const REQUIRE_POSTGRES: &str = "select 1 from claims where scope = $1 and value = $2 for key share";
/// SQLite: the transaction already holds the write lock (its events were inserted first).
pub(crate) const REQUIRE_SQLITE: &str = "select 1 from claims where scope = $1 and value = $2";
/// The group's prefix is matched exactly: `substr` rather than `like`, whose `_` is a wildcard.
pub(crate) const LEAVE_GROUPS: &str = "delete from claims where aggregate_type = $1 and aggregate_id = $2 \
     and substr(scope, 1, length($3)) = $3";
pub(crate) const RELEASE_HELD: &str = "delete from claims where scope = $1 and value = $2 \
     and aggregate_type = $3 and aggregate_id = $4 returning value";
pub(crate) const ANY_MEMBER: &str = "select value from claims where scope = $1 limit 1";
pub(crate) const TAKE: &str = "update claims set aggregate_type = $3, aggregate_id = $4 \
     where scope = $1 and value = $2 and aggregate_type = $5 and aggregate_id = $6 returning value";
pub(crate) const JOIN_GROUP: &str =
    "insert into claims (scope, value, aggregate_type, aggregate_id) values ($1, $2, $3, $2)";

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
                    detail,
                    subject,
                } => out.push(ClaimStatement::Insert {
                    scope,
                    value,
                    conflict: ClaimConflict { code, subject, detail },
                }),
                ClaimOp::Release { scope, value } => out.push(ClaimStatement::ReleaseValue { scope, value }),
                ClaimOp::AddIfFree { scope, value } => out.push(ClaimStatement::InsertIfFree { scope, value }),
                ClaimOp::ReleaseHeld {
                    scope,
                    value,
                    code,
                    relationship,
                } => out.push(ClaimStatement::ReleaseHeld {
                    scope,
                    value,
                    missing: ClaimConflict {
                        code,
                        subject: aggregates::Subject::Relationship(relationship.into()),
                        detail: "pool is empty",
                    },
                }),
                ClaimOp::Require {
                    scope,
                    value,
                    code,
                    relationship,
                } => out.push(ClaimStatement::Require {
                    scope,
                    value,
                    missing: ClaimConflict {
                        code,
                        subject: aggregates::Subject::Relationship(relationship.into()),
                        detail: "must exist",
                    },
                }),
                ClaimOp::Join { prefix, group } => out.push(ClaimStatement::Join { prefix, group }),
                ClaimOp::Leave { prefix } => out.push(ClaimStatement::Leave { prefix }),
                ClaimOp::RequireEmpty { prefix } => out.push(ClaimStatement::RequireEmpty {
                    prefix,
                    remaining: ClaimConflict {
                        code: DEPENDENTS_REMAIN,
                        subject: aggregates::Subject::Data,
                        detail: "has dependents that were created while it was being deleted",
                    },
                }),
                ClaimOp::Take {
                    scope,
                    value,
                    from_type,
                    from_id,
                    code,
                    relationship,
                } => out.push(ClaimStatement::Take {
                    scope,
                    value,
                    from_type,
                    from_id,
                    missing: ClaimConflict {
                        code,
                        subject: aggregates::Subject::Relationship(relationship.into()),
                        detail: "pool is empty",
                    },
                }),
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
                            conflict: taken(code, attribute),
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

fn taken(code: &'static str, attribute: &'static str) -> ClaimConflict {
    ClaimConflict {
        code,
        subject: aggregates::Subject::Attribute(attribute.into()),
        detail: "has already been taken",
    }
}

impl crate::Database {
    /// The ids of the members of a group (`prefix` + `group`, see `ClaimOp::Join`): e.g. every
    /// license committed under a policy, whether or not the read models show it yet.
    pub async fn claim_group(&self, prefix: &str, group: &str) -> Result<Vec<String>, crate::StoreError> {
        let sql = "select value from claims where scope = $1 order by value";
        let scope = format!("{prefix}{group}");
        Ok(crate::on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(&scope)
            .fetch_all(pool)
            .await?))
    }
}
