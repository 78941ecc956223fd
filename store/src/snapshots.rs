//! The event store commands load and commit through: events plus a snapshot of the aggregate's
//! state every `every` events, so a command costs the same on a license with ten thousand
//! events as on a new one.
//!
//! cqrs-es 0.5 has a snapshot mode of its own, but it applies a command's events to a state that
//! already holds them (its `EventSink` applies each event as the command writes it, and the
//! snapshot step applies them again), so a counter such as a license's `uses` would be counted
//! twice in every snapshot. This store takes the state the command left instead: after `handle`
//! it is exactly the state after the new events.
//!
//! A snapshot is written once `every` events have passed since the one the command loaded (or,
//! with none, since the first event): a stream that predates snapshots, or whose snapshot was
//! ignored, gets one on its next command.
//!
//! A snapshot is written in the transaction of the events it follows, with the shape of the
//! aggregate's state (`Snapshotted::SHAPE`). One of another shape, or one that no longer
//! deserializes, is ignored: the state is replayed from events, and the next snapshot replaces
//! it. A missing snapshot is the same as none yet.

use crate::repo::EventRepo;
use aggregates::Snapshotted;
use cqrs_es::persist::{EventStoreAggregateContext, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope};
use std::collections::HashMap;
use std::marker::PhantomData;

/// How many events apart snapshots are taken unless configured otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100;

/// A snapshot as stored: the state's shape, the sequence of the last event it holds and the
/// state as JSON text.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    pub shape: i64,
    pub last_sequence: i64,
    pub payload: String,
}

/// cqrs-es's `EventStore` over Keyledger's store, with snapshots.
pub struct SnapshotStore<A> {
    repo: EventRepo,
    every: u64,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> SnapshotStore<A> {
    /// A snapshot after every `every` events (0 takes none).
    pub fn new(repo: EventRepo, every: u64) -> Self {
        Self {
            repo,
            every,
            _aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate + Snapshotted> SnapshotStore<A> {
    /// The state of `aggregate_id` replayed from its events alone, ignoring any snapshot.
    pub async fn replay(&self, aggregate_id: &str) -> Result<(A, usize), AggregateError<A::Error>> {
        let mut aggregate = A::default();
        let mut sequence = 0;
        for envelope in self.events_after(aggregate_id, 0).await? {
            sequence = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        Ok((aggregate, sequence))
    }

    /// The events of `aggregate_id` after `sequence`, in order (a bound parameter: postgres-es
    /// and sqlite-es would write the number into the statement's text, a new prepared statement
    /// for every sequence).
    async fn events_after(
        &self,
        aggregate_id: &str,
        sequence: usize,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let stored = self
            .repo
            .database()
            .aggregate_events(A::TYPE, aggregate_id, sequence as i64, i64::MAX)
            .await
            .map_err(|err| PersistenceError::UnknownError(Box::new(err)))?;
        let envelope = |event: crate::FeedEvent| -> Result<EventEnvelope<A>, serde_json::Error> {
            Ok(EventEnvelope {
                aggregate_id: event.aggregate_id,
                sequence: event.sequence as usize,
                payload: serde_json::from_value(event.payload)?,
                metadata: serde_json::from_value(event.metadata)?,
            })
        };
        Ok(stored
            .into_iter()
            .map(envelope)
            .collect::<Result<_, _>>()
            .map_err(PersistenceError::from)?)
    }

    /// The snapshot to start from, if there is a usable one.
    async fn snapshot(&self, aggregate_id: &str) -> Result<Option<(A, usize)>, PersistenceError> {
        let Some(stored) = self.repo.snapshot(A::TYPE, aggregate_id).await? else {
            return Ok(None);
        };
        if stored.shape != i64::from(A::SHAPE) {
            return Ok(None);
        }
        match serde_json::from_str(&stored.payload) {
            Ok(state) => Ok(Some((state, stored.last_sequence as usize))),
            Err(err) => {
                tracing::warn!(aggregate = A::TYPE, %err, "snapshot unreadable; replaying the events");
                Ok(None)
            }
        }
    }
}

/// Whether a stream of `after` events whose last snapshot holds `snapshotted` needs a new one:
/// `every` events or more have passed since (`every` 0: never).
fn due(every: u64, snapshotted: usize, after: usize) -> bool {
    every > 0 && after.saturating_sub(snapshotted) as u64 >= every
}

impl<A: Aggregate + Snapshotted> cqrs_es::EventStore<A> for SnapshotStore<A> {
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(&self, aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.events_after(aggregate_id, 0).await
    }

    async fn load_aggregate(&self, aggregate_id: &str) -> Result<Self::AC, AggregateError<A::Error>> {
        let (mut aggregate, mut current_sequence) = self.snapshot(aggregate_id).await?.unwrap_or_default();
        let current_snapshot = Some(current_sequence);
        for envelope in self.events_after(aggregate_id, current_sequence).await? {
            current_sequence = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        Ok(EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_string(),
            aggregate,
            current_sequence,
            // The sequence of the snapshot loaded (0: none), which says when the next is due.
            current_snapshot,
        })
    }

    /// `context.aggregate` already holds `events`: the command applied each as it wrote it.
    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let before = context.current_sequence;
        let envelopes: Vec<EventEnvelope<A>> = events
            .into_iter()
            .zip(before + 1..)
            .map(|(payload, sequence)| EventEnvelope {
                aggregate_id: context.aggregate_id.clone(),
                sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        let serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, PersistenceError>>()?;
        let after = before + envelopes.len();
        let snapshot = match due(self.every, context.current_snapshot.unwrap_or(0), after) {
            true => Some(StoredSnapshot {
                shape: i64::from(A::SHAPE),
                last_sequence: after as i64,
                payload: serde_json::to_string(&context.aggregate).map_err(PersistenceError::from)?,
            }),
            false => None,
        };
        self.repo.commit(&serialized, snapshot).await?;
        Ok(envelopes)
    }
}

#[cfg(test)]
mod tests {
    use super::due;

    #[test]
    fn a_snapshot_is_due_once_every_events_have_passed_since_the_last() {
        assert!(!due(3, 0, 2));
        assert!(due(3, 0, 3));
        assert!(due(3, 0, 4));
        assert!(!due(3, 3, 5));
        assert!(due(3, 3, 6));
        // A long stream without a snapshot gets one on its next command.
        assert!(due(100, 0, 10_001));
        assert!(!due(0, 0, 1000));
    }
}
