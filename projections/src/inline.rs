//! The read-your-writes path: a cqrs-es query that projects events right after their commit.

use crate::{EventRef, Projector};
use cqrs_es::{Aggregate, EventEnvelope, Query};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Projects each committed batch before `execute` returns. A failure is logged and left to the
/// catch-up runner, which will apply the same events again from the feed.
pub struct InlineProjection {
    projector: Projector,
    enabled: Arc<AtomicBool>,
}

impl InlineProjection {
    /// `enabled` can be switched off at run time (to prove the catch-up runner alone suffices).
    pub fn new(projector: Projector, enabled: Arc<AtomicBool>) -> Self {
        Self { projector, enabled }
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
            if let Err(err) = self.projector.apply(event).await {
                tracing::error!(aggregate = A::TYPE, aggregate_id, %err, "inline projection failed; catch-up will repair");
                return;
            }
        }
    }
}
