//! Webhook delivery: claims due webhook events, posts each to its endpoint signed as Keygen
//! signs it, and records the attempt with Keygen's statuses, retry schedule and limits.
//!
//! Delivery never holds up the API (it runs in the worker role, off the request path) and a
//! slow or dead receiver holds up no other endpoint: at most [`PER_ENDPOINT`] deliveries to one
//! endpoint run at once (its other due rows are left for later), every request has Keygen's
//! timeouts, and all deliveries together are bounded by `DeliveryOptions::concurrency`.

use crate::webhook_address::{deliverable, AllowedNets, Refusal, Resolver, SystemResolver};
use crate::WebhookHost;
use base64::Engine;
use projections::webhook_endpoints;
use projections::webhook_events::{self, Attempt, WebhookEventRow, DELIVERED, FAILED, FAILING};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Database;
use tokio::sync::{mpsc, watch, Notify, Semaphore};

/// Attempts in all: the first and Keygen's 15 retries.
pub const MAX_ATTEMPTS: i64 = 16;
/// Deliveries to one endpoint at a time.
pub const PER_ENDPOINT: usize = 4;
/// Keygen keeps a response body of at most this many bytes, else says so.
const BODY_LIMIT: usize = 2048;
/// Rows claimed per round.
const CLAIM: i64 = 64;

/// How delivery behaves.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Networks webhooks may reach despite being internal (`KEYLEDGER_WEBHOOK_ALLOW_NETS`).
    pub allowed: AllowedNets,
    /// Deliveries in flight at once, over all endpoints.
    pub concurrency: usize,
    /// Connect and whole-request timeout (Keygen: 15 s each for open, read and write).
    pub timeout: Duration,
    /// How often due rows are looked for when nothing wakes the loop.
    pub interval: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            allowed: AllowedNets::default(),
            concurrency: 64,
            timeout: Duration::from_secs(15),
            interval: Duration::from_millis(250),
        }
    }
}

/// The wait before retry `n` (0 for the first retry): Keygen's `n⁴` seconds plus 10 to 100
/// minutes of jitter.
pub fn retry_delay(n: i64, rng: &mut impl Rng) -> Duration {
    let n = n.clamp(0, MAX_ATTEMPTS) as u64;
    Duration::from_secs(n.pow(4) + 600 * rng.gen_range(1..=10))
}

/// A resolver for the HTTP client that gives it only addresses the rule allows, so a name that
/// changed since the check still cannot reach an internal address.
struct CheckedResolver {
    allowed: AllowedNets,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let found = SystemResolver.resolve(name.as_str(), 0).await?;
            let refused = found.iter().find(|a| allowed.refuses(a.ip()));
            if let Some(address) = refused {
                return Err(Box::new(Refusal::Internal(address.ip())) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// The HTTP client deliveries go through.
pub fn client(options: &DeliveryOptions) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver {
            allowed: options.allowed.clone(),
        }))
        .connect_timeout(options.timeout)
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(PER_ENDPOINT)
        .build()
        .expect("an HTTP client with rustls")
}

/// What a failed request is called in `lastResponseBody`, and whether Keygen retries it.
fn transport_failure(err: &reqwest::Error) -> (&'static str, bool) {
    let text = format!("{err:?}").to_lowercase();
    if err.is_timeout() {
        ("REQ_TIMEOUT", true)
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        ("SSL_ERROR", true)
    } else if text.contains("dns") || text.contains("resolve") || text.contains("refusal") || text.contains("internal")
    {
        ("DNS_ERROR", false)
    } else if text.contains("refused") {
        ("CONN_REFUSED", false)
    } else if text.contains("reset") {
        ("CONN_RESET", false)
    } else if text.contains("unreachable") {
        ("HOST_UNREACH", false)
    } else {
        ("EOF_ERROR", false)
    }
}

/// The body Keygen keeps of a response.
fn kept_body(bytes: &[u8]) -> String {
    if bytes.len() > BODY_LIMIT {
        "RES_BODY_TOO_LARGE".into()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// The signed request headers of a webhook (Keygen's, over `(request-target) host date digest`).
pub async fn signed_headers(
    host: &dyn WebhookHost,
    row: &WebhookEventRow,
    algorithm: &str,
    url: &url::Url,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, String> {
    let date = httpdate::fmt_http_date(host.now().into());
    let digest = format!(
        "sha-256={}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
    );
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let host_name = url.host_str().unwrap_or_default();
    let signing = format!("(request-target): post {target}\nhost: {host_name}\ndate: {date}\ndigest: {digest}");
    let signature = host.sign(&row.account_id, algorithm, signing.as_bytes()).await?;
    let header = format!(
        "keyid=\"{}\", algorithm=\"{algorithm}\", signature=\"{signature}\", headers=\"(request-target) host date digest\"",
        row.account_id
    );
    Ok(vec![
        (
            "user-agent",
            format!("Keygen/{} (+https://keygen.sh/docs/api/webhooks/)", row.api_version),
        ),
        ("content-type", "application/json".into()),
        ("date", date.clone()),
        ("keygen-date", date),
        ("digest", digest.clone()),
        ("keygen-digest", digest),
        ("keygen-version", row.api_version.clone()),
        ("keygen-signature", header),
    ])
}

/// One attempt at one webhook event; returns what to record, and whether the endpoint asked to
/// be disabled (410 Gone, 530).
async fn attempt(
    host: &dyn WebhookHost,
    client: &reqwest::Client,
    options: &DeliveryOptions,
    db: &Database,
    row: &WebhookEventRow,
) -> Result<(Attempt, bool), String> {
    let now = || host.now().timestamp_micros();
    let stop = |body: Option<&str>| Attempt {
        status: FAILED,
        response_code: None,
        response_body: body.map(str::to_string),
        next_attempt_at: None,
        at: now(),
    };
    // Keygen checks before each attempt that the endpoint is still there and still subscribes.
    let endpoint = webhook_endpoints::find(db, &row.account_id, &row.endpoint_id)
        .await
        .map_err(|e| e.to_string())?;
    let Some(endpoint) = endpoint.filter(|e| e.subscribes_to(&row.event)) else {
        return Ok((stop(None), false));
    };
    if let Err(refusal) = deliverable(&endpoint.url, &options.allowed, &SystemResolver).await {
        tracing::warn!(endpoint = %endpoint.id, %refusal, "webhook not delivered");
        return Ok((stop(Some("DNS_ERROR")), false));
    }
    let url = url::Url::parse(&endpoint.url).map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&host.webhook_document(row)).map_err(|e| e.to_string())?;
    let mut request = client.post(url.clone()).body(body.clone());
    for (name, value) in signed_headers(host, row, &endpoint.signature_algorithm, &url, &body).await? {
        request = request.header(name, value);
    }
    let sent = request.send().await;
    // One instant for the attempt and the retry it schedules.
    let at = now();
    let retry_at = |attempts: i64| {
        (attempts + 1 < MAX_ATTEMPTS).then(|| at + retry_delay(attempts, &mut rand::thread_rng()).as_micros() as i64)
    };
    let recorded = |status, response_code, response_body, next_attempt_at| Attempt {
        status,
        response_code,
        response_body,
        next_attempt_at,
        at,
    };
    let outcome = match sent {
        Ok(response) => {
            let code = response.status().as_u16();
            let bytes = response.bytes().await.unwrap_or_default();
            let kept = Some(kept_body(&bytes));
            if (200..300).contains(&code) {
                (recorded(DELIVERED, Some(code.into()), kept, None), false)
            } else if code == 410 || code == 530 {
                (recorded(FAILED, Some(code.into()), kept, None), true)
            } else {
                let next = retry_at(row.attempts);
                let status = if next.is_some() { FAILING } else { FAILED };
                (recorded(status, Some(code.into()), kept, next), false)
            }
        }
        Err(err) => {
            let (name, retried) = transport_failure(&err);
            let next = retry_at(row.attempts).filter(|_| retried);
            let status = if next.is_some() { FAILING } else { FAILED };
            (recorded(status, None, Some(name.into()), next), false)
        }
    };
    Ok(outcome)
}

/// What the delivery loop shares with its lanes: the rows claimed and waiting per endpoint,
/// how many lanes each endpoint has, and the channel attempts are recorded through.
struct Lanes {
    waiting: HashMap<String, VecDeque<WebhookEventRow>>,
    running: HashMap<String, usize>,
}

/// Rows an endpoint may have claimed and waiting beyond its running deliveries: with Keygen's
/// timeouts the last waits at most this many rounds of `PER_ENDPOINT`, well inside its lease.
const WAITING_PER_ENDPOINT: usize = 3 * PER_ENDPOINT;
/// Rows one worker holds claimed at most (running and waiting).
const HELD: usize = 512;

/// Context every lane needs.
#[derive(Clone)]
struct Lane {
    host: Arc<dyn WebhookHost>,
    client: reqwest::Client,
    options: Arc<DeliveryOptions>,
    db: Database,
    lanes: Arc<Mutex<Lanes>>,
    all: Arc<Semaphore>,
    recorded: mpsc::Sender<(String, Attempt)>,
    freed: Arc<Notify>,
}

impl Lane {
    /// Delivers the endpoint's waiting rows one after another until none wait, then ends.
    async fn run(self, endpoint: String) {
        loop {
            let row = {
                let mut lanes = self.lanes.lock().expect("delivery lanes");
                match lanes.waiting.get_mut(&endpoint).and_then(VecDeque::pop_front) {
                    Some(row) => row,
                    None => {
                        lanes.waiting.remove(&endpoint);
                        if let Some(n) = lanes.running.get_mut(&endpoint) {
                            *n -= 1;
                            if *n == 0 {
                                lanes.running.remove(&endpoint);
                            }
                        }
                        break;
                    }
                }
            };
            let Ok(_permit) = self.all.acquire().await else { break };
            match attempt(self.host.as_ref(), &self.client, &self.options, &self.db, &row).await {
                Ok((outcome, disable)) => {
                    if self.recorded.send((row.id.clone(), outcome)).await.is_err() {
                        break;
                    }
                    if disable {
                        if let Err(err) = self.host.disable_endpoint(&row.account_id, &row.endpoint_id).await {
                            tracing::error!(%err, endpoint = %row.endpoint_id, "endpoint not disabled");
                        }
                    }
                }
                Err(err) => {
                    tracing::error!(%err, id = %row.id, "webhook attempt failed before sending; tried again after its lease")
                }
            }
        }
        self.freed.notify_one();
    }
}

/// Records attempts in batches (one statement for up to a hundred), so a fast receiver is not
/// held to one commit per delivery.
async fn record(db: Database, mut attempts: mpsc::Receiver<(String, Attempt)>) {
    while let Some(first) = attempts.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match attempts.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if let Err(err) = webhook_events::record_attempts(&db, &batch).await {
            tracing::error!(%err, attempts = batch.len(), "webhook attempts not recorded; tried again after their leases");
        }
    }
}

/// Delivers due webhook events until `shutdown` turns true; `wake` brings the next round
/// forward (fan-out just stored some).
pub async fn run_delivery(
    db: Database,
    host: Arc<dyn WebhookHost>,
    options: DeliveryOptions,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (recorded, attempts) = mpsc::channel(1024);
    let recorder = tokio::spawn(record(db.clone(), attempts));
    // Long enough for a row to wait its turn behind `WAITING_PER_ENDPOINT` others.
    let lease = (options.timeout * 2 * (1 + (WAITING_PER_ENDPOINT / PER_ENDPOINT) as u32)).as_micros() as i64;
    let lane = Lane {
        host: host.clone(),
        client: client(&options),
        all: Arc::new(Semaphore::new(options.concurrency)),
        options: Arc::new(options),
        db: db.clone(),
        lanes: Arc::new(Mutex::new(Lanes {
            waiting: HashMap::new(),
            running: HashMap::new(),
        })),
        recorded,
        freed: Arc::new(Notify::new()),
    };
    loop {
        let (busy, held) = {
            let lanes = lane.lanes.lock().expect("delivery lanes");
            let busy: Vec<String> = lanes
                .waiting
                .iter()
                .filter(|(_, rows)| rows.len() >= WAITING_PER_ENDPOINT)
                .map(|(endpoint, _)| endpoint.clone())
                .collect();
            let held = lanes.waiting.values().map(VecDeque::len).sum::<usize>() + lanes.running.values().sum::<usize>();
            (busy, held)
        };
        let room = HELD.saturating_sub(held).min(CLAIM as usize) as i64;
        let now = host.now().timestamp_micros();
        let claimed = match room {
            0 => Vec::new(),
            _ => webhook_events::claim_due(&db, now, now + lease, room, &busy)
                .await
                .unwrap_or_else(|err| {
                    tracing::error!(%err, "cannot claim due webhook events; will retry");
                    Vec::new()
                }),
        };
        let full = room > 0 && claimed.len() as i64 == room;
        let mut start = Vec::new();
        let mut excess = Vec::new();
        {
            let mut lanes = lane.lanes.lock().expect("delivery lanes");
            for row in claimed {
                let waiting = lanes.waiting.entry(row.endpoint_id.clone()).or_default();
                // More than an endpoint may have waiting goes back, for a later round.
                if waiting.len() >= WAITING_PER_ENDPOINT {
                    excess.push(row.id);
                } else {
                    waiting.push_back(row);
                }
            }
            let Lanes { waiting, running } = &mut *lanes;
            for endpoint in waiting.keys() {
                let n = running.entry(endpoint.clone()).or_insert(0);
                let want = waiting[endpoint].len().min(PER_ENDPOINT);
                while *n < want {
                    *n += 1;
                    start.push(endpoint.clone());
                }
            }
        }
        for endpoint in start {
            tokio::spawn(lane.clone().run(endpoint));
        }
        if !excess.is_empty() {
            if let Err(err) = webhook_events::release(&db, &excess).await {
                tracing::error!(%err, "claimed webhook events not released; they return after their lease");
            }
        }
        if full && excess.is_empty() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(lane.options.interval) => {}
            _ = wake.notified() => {}
            _ = lane.freed.notified() => {}
            _ = shutdown.changed() => break,
        }
    }
    // What waits stays claimed until its lease runs out (then another worker takes it); what
    // runs ends with its attempt, which is recorded before the loop returns.
    lane.lanes.lock().expect("delivery lanes").waiting.clear();
    drop(lane);
    let _ = recorder.await;
}
