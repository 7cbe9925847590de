//! Shipper throughput: a 1 GiB Apache combined log read (a) into a null output (the reader
//! alone) and (b) into the real store with acks 1. Prints lines/s, MB/s, CPU time and peak RSS.
//!
//! `cargo bench --bench shipper` (env `SHIPPER_BENCH_MB` changes the file size, default 1024;
//! arguments `null-events`, `null-encoded`, `store-events`, `store-encoded` pick scenarios).
//! `-events`: the output takes `Vec<Event>` (a serde_json map per line); `-encoded`: the output
//! takes the serialised fast path (`ShipperOutput::send_encoded`).

/// The binary's allocator (`src/main.rs`), so the figures match `sluice run`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/source_common/store_output.rs"]
mod store_output;

use futures_util::future::BoxFuture;
use sluice::event::Event;
use sluice::source::{EncodedEvent, FileSourceConfig, OutputError, ShipperOutput, run_file_source};
use sluice::store::{Acks, Producer, ProducerConfig, Store, TopicConfig};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store_output::StoreOutput;
use tokio_util::sync::CancellationToken;

/// Counts and drops (`encoded`: takes the serialised fast path).
#[derive(Default)]
struct NullOutput {
    events: AtomicU64,
    encoded: bool,
}

impl ShipperOutput for NullOutput {
    fn send(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), OutputError>> {
        self.events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        drop(events);
        Box::pin(async { Ok(()) })
    }

    fn prefers_encoded(&self) -> bool {
        self.encoded
    }

    fn send_encoded(&self, events: Vec<EncodedEvent>) -> BoxFuture<'_, Result<(), OutputError>> {
        self.events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        drop(events);
        Box::pin(async { Ok(()) })
    }
}

fn generate(path: &Path, bytes: u64) -> u64 {
    const PATHS: [&str; 6] = [
        "/index.html",
        "/images/logo.png",
        "/api/v1/users/12345",
        "/search?q=rust+log+pipeline",
        "/static/app.3f2a1c.js",
        "/login",
    ];
    const AGENTS: [&str; 3] = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Gecko/20100101 Firefox/121.0",
        "curl/8.5.0",
    ];
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let (mut written, mut lines, mut x) = (0u64, 0u64, 12345u64);
    while written < bytes {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let line = format!(
            "{}.{}.{}.{} - - [10/Oct/2024:13:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"https://example.com/\" \"{}\"\n",
            (x >> 8) & 255,
            (x >> 16) & 255,
            (x >> 24) & 255,
            (x >> 32) & 255,
            (x >> 40) % 60,
            (x >> 46) % 60,
            PATHS[(x >> 20) as usize % PATHS.len()],
            [200, 200, 200, 304, 404, 500][(x >> 12) as usize % 6],
            (x >> 33) % 50_000,
            AGENTS[(x >> 52) as usize % AGENTS.len()],
        );
        w.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        lines += 1;
    }
    w.flush().unwrap();
    lines
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn reset_hwm() {
    // Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn config(dir: &Path) -> FileSourceConfig {
    FileSourceConfig {
        paths: vec![format!("{}/*.log", dir.display())],
        poll_interval: Duration::from_millis(10),
        ..Default::default()
    }
}

fn report(name: &str, lines: u64, bytes: u64, t0: Instant, cpu0: f64) {
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{name:>13}: {lines} lines, {:.0} MiB in {secs:.2} s: {:.0} lines/s, {:.0} MB/s; CPU {cpu:.2} s ({:.0}% of one core); peak RSS {} MiB",
        bytes as f64 / (1 << 20) as f64,
        lines as f64 / secs,
        bytes as f64 / 1e6 / secs,
        100.0 * cpu / secs,
        vm_hwm_kib() / 1024
    );
}

async fn run_null(logs: &Path, ck: &Path, lines: u64, bytes: u64, encoded: bool) {
    reset_hwm();
    let out = Arc::new(NullOutput {
        encoded,
        ..Default::default()
    });
    let cancel = CancellationToken::new();
    let (t0, cpu0) = (Instant::now(), cpu_seconds());
    let o: Arc<dyn ShipperOutput> = out.clone();
    let task = tokio::spawn(run_file_source(
        "bench-null",
        config(logs),
        ck.to_path_buf(),
        o,
        cancel.clone(),
    ));
    while out.events.load(Ordering::Relaxed) < lines {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    report(
        if encoded {
            "null-encoded"
        } else {
            "null-events"
        },
        lines,
        bytes,
        t0,
        cpu0,
    );
    cancel.cancel();
    task.await.unwrap().unwrap();
}

async fn run_store(logs: &Path, root: &Path, lines: u64, bytes: u64, encoded: bool) {
    reset_hwm();
    let name = if encoded {
        "store-encoded"
    } else {
        "store-events"
    };
    let store = Store::open(root.join(name)).unwrap();
    let topic = store.create_topic("bench", TopicConfig::default()).unwrap();
    let producer = Producer::new(
        topic.clone(),
        ProducerConfig {
            acks: Acks::Written,
            ..Default::default()
        },
    );
    let out: Arc<dyn ShipperOutput> = Arc::new(StoreOutput { producer, encoded });
    let cancel = CancellationToken::new();
    let (t0, cpu0) = (Instant::now(), cpu_seconds());
    let task = tokio::spawn(run_file_source(
        name,
        config(logs),
        root.join(format!("ck-{name}")),
        out,
        cancel.clone(),
    ));
    let total = || {
        (0..topic.partition_count())
            .map(|p| topic.end_offset(p))
            .sum::<u64>()
    };
    let mut last = (0, Instant::now());
    while total() < lines {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if total() != last.0 {
            last = (total(), Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(20) {
            panic!(
                "{name}: stalled at {} of {lines} records; files: {:?}",
                last.0,
                sluice::source::files_status(name)
            );
        }
    }
    report(name, lines, bytes, t0, cpu0);
    println!(
        "{name:>13}: {:.0} MB written into the log ({:.2}x the file)",
        topic.bytes() as f64 / 1e6,
        topic.bytes() as f64 / bytes as f64
    );
    cancel.cancel();
    task.await.unwrap().unwrap();
    drop(store);
    let _ = std::fs::remove_dir_all(root.join(name));
}

fn main() {
    sluice::alloc::tune_allocator();
    if std::env::var("SHIPPER_BENCH_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter("sluice=debug")
            .with_writer(std::io::stderr)
            .init();
    }
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| only.is_empty() || only.iter().any(|a| a == s);
    let mb: u64 = std::env::var("SHIPPER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::TempDir::new().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let file = logs.join("access.log");
    let t = Instant::now();
    let lines = generate(&file, mb << 20);
    let bytes = std::fs::metadata(&file).unwrap().len();
    println!(
        "generated {lines} lines, {} MiB in {:.1} s",
        bytes >> 20,
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        if want("null-events") {
            run_null(&logs, &dir.path().join("ck-null-ev"), lines, bytes, false).await;
        }
        if want("null-encoded") {
            run_null(&logs, &dir.path().join("ck-null-enc"), lines, bytes, true).await;
        }
        if want("store-events") {
            run_store(&logs, dir.path(), lines, bytes, false).await;
        }
        if want("store-encoded") {
            run_store(&logs, dir.path(), lines, bytes, true).await;
        }
    });
}
