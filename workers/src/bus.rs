//! The bus: how events leave the relay for the workers that act on them. One trait, two
//! implementations: NATS JetStream (several worker processes share each durable consumer) and
//! an in-process bus, the default, that needs no setup.
//!
//! `publish` returns only when the batch is safe: JetStream has stored it, or (in process)
//! every consumer has handled and acknowledged it. The relay moves its checkpoint after that,
//! so the store, not the bus, decides what has been published; a batch published twice (a
//! crash between publish and checkpoint) is de-duplicated by JetStream's message ids and, past
//! its window, by the consumers (a webhook event is unique per endpoint and message).

use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};

/// One message: its id (the event's feed position, unique forever), subject and body.
#[derive(Debug, Clone)]
pub struct BusMessage {
    pub id: String,
    pub subject: String,
    pub body: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus: {0}")]
    Nats(String),
    #[error("bus: a consumer went away before acknowledging")]
    Unacknowledged,
}

/// The bus's two halves.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes a batch, in order; returns once it is safe (see the module's text).
    async fn publish(&self, batch: Vec<BusMessage>) -> Result<(), BusError>;
    /// A consumer of the durable named `durable`: every message reaches each durable once (or
    /// again, if it is not acknowledged), shared among all consumers of that durable.
    async fn consumer(&self, durable: &str) -> Result<Box<dyn Consumer>, BusError>;
}

/// Receives messages of one durable.
#[async_trait]
pub trait Consumer: Send {
    /// Up to `max` messages, waiting at most `wait` for the first.
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;
}

/// A received message, to acknowledge once handled.
pub struct Delivery {
    pub message: BusMessage,
    ack: Ack,
}

enum Ack {
    Local(oneshot::Sender<()>),
    Nats(Box<async_nats::jetstream::Message>),
}

impl Delivery {
    /// Tells the bus the message is handled (an unacknowledged one comes again).
    pub async fn ack(self) -> Result<(), BusError> {
        match self.ack {
            Ack::Local(done) => {
                let _ = done.send(());
                Ok(())
            }
            Ack::Nats(message) => message.ack().await.map_err(|err| BusError::Nats(err.to_string())),
        }
    }
}

/// A message and the sender its consumer acknowledges it on.
type Handed = (BusMessage, oneshot::Sender<()>);
type Queue = mpsc::Receiver<Handed>;
/// A local durable: where `publish` puts messages, and the queue its consumers share.
type Durable = (mpsc::Sender<Handed>, Arc<Mutex<Queue>>);

/// The in-process bus: each durable is a queue; `publish` waits until every durable's consumer
/// has acknowledged every message, so a 2xx-committed event is handled before the relay's
/// checkpoint passes it (a crash re-publishes from the checkpoint).
#[derive(Default, Clone)]
pub struct InProcessBus {
    durables: Arc<std::sync::Mutex<HashMap<String, Durable>>>,
}

/// How many messages a local durable holds before `publish` waits.
const LOCAL_QUEUE: usize = 4096;

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, batch: Vec<BusMessage>) -> Result<(), BusError> {
        let senders: Vec<_> = {
            let durables = self.durables.lock().expect("bus registry");
            durables.values().map(|(tx, _)| tx.clone()).collect()
        };
        let mut acks = Vec::with_capacity(batch.len() * senders.len());
        for message in batch {
            for tx in &senders {
                let (done, acked) = oneshot::channel();
                tx.send((message.clone(), done))
                    .await
                    .map_err(|_| BusError::Unacknowledged)?;
                acks.push(acked);
            }
        }
        for acked in acks {
            acked.await.map_err(|_| BusError::Unacknowledged)?;
        }
        Ok(())
    }

    async fn consumer(&self, durable: &str) -> Result<Box<dyn Consumer>, BusError> {
        let queue = {
            let mut durables = self.durables.lock().expect("bus registry");
            let (_, queue) = durables.entry(durable.to_string()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(LOCAL_QUEUE);
                (tx, Arc::new(Mutex::new(rx)))
            });
            queue.clone()
        };
        Ok(Box::new(LocalConsumer { queue }))
    }
}

struct LocalConsumer {
    queue: Arc<Mutex<Queue>>,
}

#[async_trait]
impl Consumer for LocalConsumer {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let mut queue = self.queue.lock().await;
        let mut batch = Vec::new();
        let first = match tokio::time::timeout(wait, queue.recv()).await {
            Ok(Some(first)) => first,
            Ok(None) | Err(_) => return Ok(Vec::new()),
        };
        batch.push(first);
        while batch.len() < max {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        Ok(batch
            .into_iter()
            .map(|(message, done)| Delivery {
                message,
                ack: Ack::Local(done),
            })
            .collect())
    }
}

/// The JetStream stream every event goes to.
pub const STREAM: &str = "KEYLEDGER";
/// Its subjects: `keyledger.<account>.<event name>` (event names are `<resource>.<event>`).
pub const SUBJECTS: &str = "keyledger.>";

/// NATS JetStream: one file-stored stream; publishes carry `Nats-Msg-Id`, so a replayed tail
/// within the duplicate window is dropped by the server.
#[derive(Clone)]
pub struct NatsBus {
    jetstream: async_nats::jetstream::Context,
    stream: async_nats::jetstream::stream::Stream,
}

fn nats_error(err: impl std::fmt::Display) -> BusError {
    BusError::Nats(err.to_string())
}

impl NatsBus {
    /// Connects to `url` (e.g. `nats://127.0.0.1:4222`) and makes sure the stream exists.
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        use async_nats::jetstream::stream;
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(nats_error)?;
        let jetstream = async_nats::jetstream::new(client);
        let stream = jetstream
            .get_or_create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec![SUBJECTS.into()],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(300),
                // A new consumer starts from what the stream still holds; the store keeps the
                // rest, so a week is plenty.
                max_age: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(nats_error)?;
        Ok(Self { jetstream, stream })
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, batch: Vec<BusMessage>) -> Result<(), BusError> {
        use async_nats::jetstream::context::Publish;
        let mut acks = Vec::with_capacity(batch.len());
        for message in batch {
            let publish = Publish::build().payload(message.body).message_id(&message.id);
            acks.push(
                self.jetstream
                    .send_publish(message.subject, publish)
                    .await
                    .map_err(nats_error)?,
            );
        }
        for ack in acks {
            ack.await.map_err(nats_error)?;
        }
        Ok(())
    }

    async fn consumer(&self, durable: &str) -> Result<Box<dyn Consumer>, BusError> {
        use async_nats::jetstream::consumer::{pull, AckPolicy};
        let consumer = self
            .stream
            .get_or_create_consumer(
                durable,
                pull::Config {
                    durable_name: Some(durable.into()),
                    ack_policy: AckPolicy::Explicit,
                    // What a consumer that died had fetched comes again to another after this:
                    // short, since handling a batch takes milliseconds and a duplicate is
                    // dropped by the consumers anyway.
                    ack_wait: Duration::from_secs(10),
                    max_ack_pending: 20_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(nats_error)?;
        Ok(Box::new(NatsConsumer { consumer }))
    }
}

struct NatsConsumer {
    consumer: async_nats::jetstream::consumer::Consumer<async_nats::jetstream::consumer::pull::Config>,
}

#[async_trait]
impl Consumer for NatsConsumer {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        use futures::StreamExt;
        let mut messages = self
            .consumer
            .fetch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(nats_error)?;
        let mut batch = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.map_err(nats_error)?;
            let id = message
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            batch.push(Delivery {
                message: BusMessage {
                    id,
                    subject: message.subject.to_string(),
                    body: message.payload.clone(),
                },
                ack: Ack::Nats(Box::new(message)),
            });
        }
        Ok(batch)
    }
}
