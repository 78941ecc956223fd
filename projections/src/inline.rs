//! The read-your-writes path: a cqrs-es query that projects events right after their commit.

use crate::{EventRef, ProjectionError, Projector};
use cqrs_es::{Aggregate, EventEnvelope, Query};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Projects each committed batch before `execute` returns. A failure is logged and noted in
/// [`InlineFailures`], so the command's caller repairs the rows before it answers (see
/// [`Projector::settle`]); the catch-up runner would apply the same events again later anyway.
pub struct InlineProjection {
    projector: Projector,
    enabled: Arc<AtomicBool>,
    failures: Arc<InlineFailures>,
}

impl InlineProjection {
    /// `enabled` can be switched off at run time (to prove the catch-up runner alone suffices).
    pub fn new(projector: Projector, enabled: Arc<AtomicBool>, failures: Arc<InlineFailures>) -> Self {
        Self {
            projector,
            enabled,
            failures,
        }
    }
}

/// The aggregates whose latest inline projection failed, and a fault switch for tests.
#[derive(Debug, Default)]
pub struct InlineFailures {
    failed: Mutex<HashSet<(&'static str, String)>>,
    inject: AtomicUsize,
}

impl InlineFailures {
    /// Test hook: the next `count` inline applies fail as a database error would.
    pub fn fail_next(&self, count: usize) {
        self.inject.store(count, Ordering::SeqCst);
    }

    /// Whether the latest inline projection of this aggregate failed; clears the note.
    pub fn take(&self, aggregate_type: &'static str, aggregate_id: &str) -> bool {
        let mut failed = self.failed.lock().expect("inline failures poisoned");
        failed.remove(&(aggregate_type, aggregate_id.to_string()))
    }

    fn note(&self, aggregate_type: &'static str, aggregate_id: &str) {
        let mut failed = self.failed.lock().expect("inline failures poisoned");
        failed.insert((aggregate_type, aggregate_id.to_string()));
    }

    fn injected(&self) -> bool {
        self.inject
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[async_trait::async_trait]
impl<A: Aggregate> Query<A> for InlineProjection {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<A>]) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        for envelope in events {
            let payload = match serde_json::to_value(&envelope.payload) {
                Ok(payload) => payload,
                Err(err) => {
                    tracing::error!(aggregate = A::TYPE, %err, "event did not serialize for projection");
                    return;
                }
            };
            let event = EventRef {
                aggregate_type: A::TYPE,
                aggregate_id,
                sequence: envelope.sequence as i64,
                payload: &payload,
            };
            let applied = match self.failures.injected() {
                true => Err(ProjectionError::Busy("inline projection failure injected by a test")),
                false => self.projector.apply(event).await,
            };
            if let Err(err) = applied {
                tracing::error!(aggregate = A::TYPE, aggregate_id, %err, "inline projection failed");
                self.failures.note(A::TYPE, aggregate_id);
                return;
            }
        }
    }
}
