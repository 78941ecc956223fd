//! The relay: reads the global feed and the observation log from its checkpoints and publishes
//! every event and observation, in order, on the bus. The checkpoints move only after the bus
//! has taken a batch (`Bus::publish`), so a relay killed at any point resumes where the store
//! says it stopped: nothing is lost, and what is published again carries the same message id.
//!
//! One relay works at a time, whichever process holds its checkpoint's lock.

use crate::bus::{Bus, BusMessage};
use projections::event_logs::{account_of, event_data, subject_of};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use store::{Database, FeedEvent, FeedPosition, LockSession, ObservationRecord, StoreError};
use tokio::sync::watch;

/// The checkpoint of the events the relay has published.
pub const EVENTS_CHECKPOINT: &str = "relay.events";
/// The checkpoint of the observations the relay has published.
pub const OBSERVATIONS_CHECKPOINT: &str = "relay.observations";
/// Events or observations read and published at once.
const BATCH: i64 = 1000;

/// What travels on the bus: an event or an observation, with the resource it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique forever: `e.<xid>.<position>` for an event, `o.<xid>.<position>` for an
    /// observation. JetStream's `Nats-Msg-Id`, and the source of every webhook event.
    pub id: String,
    pub account_id: String,
    /// Keygen's event name, e.g. `license.created`.
    pub event: String,
    /// The resource it is about, by its JSON:API type (`licenses`, `machines`, …).
    pub resource_type: String,
    pub resource_id: String,
    /// The event's stream and sequence (`None` for an observation).
    pub aggregate: Option<(String, String, i64)>,
    /// The event's data (the variant's fields) or the observation's payload.
    pub data: Value,
    /// Who caused it (`account_id`, `whodunnit_*`, `request_id`, …).
    pub metadata: Value,
}

impl Envelope {
    /// The bus subject: `keyledger.<account>.<event>`.
    pub fn subject(&self) -> String {
        format!("keyledger.{}.{}", self.account_id, self.event)
    }

    fn message(&self) -> Result<BusMessage, serde_json::Error> {
        Ok(BusMessage {
            id: self.id.clone(),
            subject: self.subject(),
            body: serde_json::to_vec(self)?.into(),
        })
    }

    /// The envelope of a stored event.
    pub fn of_event(event: &FeedEvent) -> Self {
        let data = event_data(&event.payload).clone();
        let (resource_type, resource_id) =
            subject_of(&event.event_type, &event.aggregate_type, &event.aggregate_id, &data);
        let account_id = account_of(event, &data);
        Envelope {
            id: format!("e.{}.{}", event.position.xid, event.position.position),
            account_id,
            event: event.event_type.clone(),
            resource_type,
            resource_id,
            aggregate: Some((event.aggregate_type.clone(), event.aggregate_id.clone(), event.sequence)),
            data,
            metadata: event.metadata.clone(),
        }
    }

    /// The envelope of an observation.
    pub fn of_observation(o: &ObservationRecord) -> Self {
        Envelope {
            id: format!("o.{}.{}", o.position.xid, o.position.position),
            account_id: o.account_id.clone(),
            event: o.event_type.clone(),
            resource_type: o.resource_type.clone(),
            resource_id: o.resource_id.clone(),
            aggregate: None,
            data: o.payload.clone(),
            metadata: o.metadata.clone(),
        }
    }
}

/// Publishes what is after one checkpoint, `read` batch by batch, while `session` holds the
/// checkpoint's lock; returns how many messages went out.
async fn relay_from<F, Fut>(
    db: &Database,
    bus: &dyn Bus,
    session: &mut LockSession,
    checkpoint: &str,
    read: F,
) -> Result<usize, RelayError>
where
    F: Fn(FeedPosition) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<(FeedPosition, Envelope)>, StoreError>>,
{
    let mut sent = 0;
    let mut at = db.checkpoint(checkpoint).await?;
    loop {
        let batch = read(at).await?;
        let Some(last) = batch.last().map(|(position, _)| *position) else {
            return Ok(sent);
        };
        let messages = batch
            .iter()
            .map(|(_, envelope)| envelope.message())
            .collect::<Result<Vec<_>, _>>()?;
        sent += messages.len();
        bus.publish(messages).await?;
        at = last;
        session.save_checkpoint(db, checkpoint, at).await?;
    }
}

/// One round: events, then observations, each from its own checkpoint under its own lock;
/// `None` when another process's relay holds both.
pub async fn relay_round(db: &Database, bus: &dyn Bus, session: &mut LockSession) -> Result<Option<usize>, RelayError> {
    let mut sent = None;
    if session.try_lock(EVENTS_CHECKPOINT).await? {
        let events = |at| async move {
            let batch = db.read_feed(at, BATCH).await?;
            Ok(batch.iter().map(|e| (e.position, Envelope::of_event(e))).collect())
        };
        let result = relay_from(db, bus, session, EVENTS_CHECKPOINT, events).await;
        session.unlock(EVENTS_CHECKPOINT).await?;
        sent = Some(result?);
    }
    if session.try_lock(OBSERVATIONS_CHECKPOINT).await? {
        let observations = |at| async move {
            let batch = db.read_observations(at, BATCH).await?;
            Ok(batch
                .iter()
                .map(|o| (o.position, Envelope::of_observation(o)))
                .collect())
        };
        let result = relay_from(db, bus, session, OBSERVATIONS_CHECKPOINT, observations).await;
        session.unlock(OBSERVATIONS_CHECKPOINT).await?;
        sent = Some(sent.unwrap_or(0) + result?);
    }
    Ok(sent)
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    #[error("relay: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Relays every `interval` until `shutdown` turns true.
pub async fn run_relay(
    db: Database,
    bus: std::sync::Arc<dyn Bus>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut session: Option<LockSession> = None;
    loop {
        if session.is_none() {
            match db.lock_session().await {
                Ok(opened) => session = Some(opened),
                Err(err) => tracing::error!(%err, "relay: cannot open a lock session; will retry"),
            }
        }
        if let Some(open) = session.as_mut() {
            // A round waits on the bus, whose consumers stop with the process: shutdown ends it.
            let round = tokio::select! {
                round = relay_round(&db, bus.as_ref(), open) => round,
                _ = shutdown.changed() => break,
            };
            if let Err(err) = round {
                tracing::error!(%err, "relay round failed; will retry");
                session = None;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => break,
        }
    }
    if let Some(open) = session {
        open.close().await;
    }
}
