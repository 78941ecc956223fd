//! Artifact streaming through the local store: a 200 MB artifact uploaded to its presigned URL
//! and downloaded again, against `keyledger serve` in a process of its own. Prints the server's
//! resident memory at idle and at its peak during each transfer (sampled from
//! `/proc/<pid>/status` every 5 ms), and the throughput. Goal: the peak within 50 MB of idle.
//!
//! `cargo bench --bench artifacts` (`KEYLEDGER_BENCH_ARTIFACT_MB` to change the size).

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-0123456789";
const CHUNK: usize = 64 * 1024;

/// Resident memory of `pid` in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples `pid`'s resident memory until stopped; answers the peak.
fn sample_peak(pid: u32) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut peak = 0;
        while !flag.load(Ordering::Relaxed) {
            peak = peak.max(rss_kb(pid));
            std::thread::sleep(Duration::from_millis(5));
        }
        peak.max(rss_kb(pid))
    });
    (stop, handle)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main]
async fn main() {
    let megabytes: u64 = std::env::var("KEYLEDGER_BENCH_ARTIFACT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let size = megabytes * 1024 * 1024;
    let dir = std::env::temp_dir().join(format!("keyledger-bench-artifacts-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_keyledger"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("KEYLEDGER_DATA_DIR", &dir)
            .env("KEYLEDGER_ADMIN_PASSWORD", PASSWORD)
            .env("KEYLEDGER_REQUEST_LOGS", "false")
            .env("KEYLEDGER_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("keyledger serve starts"),
    );
    let pid = server.0.id();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    while client.get(format!("{base}/v1/ping")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin@keyledger.local:{PASSWORD}"));
    let token: Value = client
        .post(format!("{base}/v1/tokens"))
        .header("Authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["data"]["attributes"]["token"]
        .as_str()
        .expect("an admin token")
        .to_string();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}/v1/{path}"))
            .bearer_auth(&token)
            .header("Content-Type", "application/vnd.api+json")
            .header("Prefer", "no-redirect")
            .body(body.to_string())
    };
    let product: Value = post(
        "products",
        json!({"data": {"type": "products", "attributes": {"name": "Bench"}}}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let release: Value = post(
        "releases",
        json!({"data": {"type": "releases", "attributes": {"version": "1.0.0", "channel": "stable", "status": "PUBLISHED"},
            "relationships": {"product": {"data": {"type": "products", "id": product["data"]["id"]}}}}}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let created = post(
        "artifacts",
        json!({"data": {"type": "artifacts", "attributes": {"filename": "big.bin", "filesize": size},
            "relationships": {"release": {"data": {"type": "releases", "id": release["data"]["id"]}}}}}),
    )
    .send()
    .await
    .unwrap();
    let upload_url = created.headers()["location"].to_str().unwrap().to_string();
    let artifact: Value = created.json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kb(pid);

    // Upload: 200 MB from a generator, never held whole on either side.
    let (stop, peak) = sample_peak(pid);
    let chunk = Bytes::from(vec![0x5a; CHUNK]);
    let chunks = size.div_ceil(CHUNK as u64);
    let body = futures::stream::iter((0..chunks).map(move |i| {
        let len = if i + 1 == chunks {
            size - i * CHUNK as u64
        } else {
            CHUNK as u64
        };
        Ok::<_, std::io::Error>(chunk.slice(..len as usize))
    }));
    let started = Instant::now();
    let put = client
        .put(&upload_url)
        .header("Content-Length", size)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "upload: {}", put.status());
    let upload_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let upload_peak = peak.join().unwrap();

    // Download: through the 303 to the presigned URL, read and dropped as it arrives.
    let id = artifact["data"]["id"].as_str().unwrap();
    let redirect = client
        .get(format!("{base}/v1/artifacts/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), reqwest::StatusCode::SEE_OTHER);
    let download_url = redirect.headers()["location"].to_str().unwrap().to_string();
    let (stop, peak) = sample_peak(pid);
    let started = Instant::now();
    let received = AtomicU64::new(0);
    let mut stream = client.get(&download_url).send().await.unwrap().bytes_stream();
    while let Some(chunk) = stream.next().await {
        received.fetch_add(chunk.unwrap().len() as u64, Ordering::Relaxed);
    }
    let download_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let download_peak = peak.join().unwrap();
    assert_eq!(received.load(Ordering::Relaxed), size);

    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("artifact of {megabytes} MB through the local store (server in its own process)");
    println!("  server RSS idle:            {:8.1} MB", mb(idle));
    println!(
        "  upload:   {:8.1} MB/s, peak RSS {:8.1} MB (+{:.1} MB over idle)",
        megabytes as f64 / upload_secs,
        mb(upload_peak),
        mb(upload_peak.saturating_sub(idle))
    );
    println!(
        "  download: {:8.1} MB/s, peak RSS {:8.1} MB (+{:.1} MB over idle)",
        megabytes as f64 / download_secs,
        mb(download_peak),
        mb(download_peak.saturating_sub(idle))
    );
    let worst = upload_peak.max(download_peak).saturating_sub(idle);
    println!(
        "  goal: peak within 50 MB of idle: {}",
        if mb(worst) <= 50.0 { "met" } else { "NOT met" }
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
