//! End-to-end benchmark: a 1 GiB Apache combined log through the real `sluice run`
//! (tail → durable log with acks all → grok + date + convert → `_bulk`) into the
//! Elasticsearch-compatible test server on loopback.
//!
//!   cargo bench --bench e2e                       # 1 GiB
//!   SLUICE_E2E_BYTES=268435456 cargo bench --bench e2e   # 256 MiB
//!   E2E_BATCH=4000 cargo bench --bench e2e       # records per worker poll (default 1000)
//!   E2E_WORKERS=4 cargo bench --bench e2e        # partitions and cleaner workers (default 2)
//!   E2E_KEEP_SOURCES=1 cargo bench --bench e2e   # the test server keeps every `_source`
//!
//! Reports MB/s and events/s of input, CPU seconds per GB and peak RSS of the sluice process
//! (from /proc). The test server runs in this process, on the same 2 cores; its CPU (this
//! process's, from the start of `sluice run`) is reported apart and not counted in sluice's.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "curl/8.10.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];

fn write_log(path: &std::path::Path, bytes: u64) -> u64 {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let (mut written, mut n) = (0u64, 0u64);
    while written < bytes {
        let line = format!(
            "192.168.{}.{} - - [25/Nov/2026:{:02}:{:02}:{:02} +0000] \"{} /api/v1/items/{}?page={} HTTP/1.1\" {} {} \"https://example.com/p/{}\" \"{}\"\n",
            (n >> 8) & 255,
            n & 255,
            (n / 3600) % 24,
            (n / 60) % 60,
            n % 60,
            METHODS[(n % 4) as usize],
            n,
            n % 17,
            [200, 200, 201, 304, 404, 500][(n % 6) as usize],
            200 + n % 9000,
            n % 1000,
            AGENTS[(n % 3) as usize]
        );
        f.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        n += 1;
    }
    f.flush().unwrap();
    n
}

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// utime + stime of `pid` in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bytes: u64 = std::env::var("SLUICE_E2E_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let es = rt.block_on(support::EsServer::start());
    // The server stands in for an Elasticsearch cluster on other machines. By default it keeps
    // each document's `_id` and version but not its source: holding every request body (3.3 GB
    // for 1 GiB of input) made fresh-page zeroing 40 % of its CPU on this VM, on the cores
    // sluice runs on. `E2E_KEEP_SOURCES=1` keeps them.
    let keep_sources = std::env::var_os("E2E_KEEP_SOURCES").is_some();
    es.keep_sources(keep_sources);
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let t = Instant::now();
    let lines = write_log(&logs.join("access.log"), bytes);
    // Room for every document up front, as an Elasticsearch index sized for its data would
    // have: a table growing through 5 M ids rehashed and faulted in fresh pages mid-run.
    es.reserve_ids("bench", lines as usize);
    eprintln!(
        "generated {lines} lines ({bytes} bytes) in {:.1?}",
        t.elapsed()
    );
    let config = root.path().join("bench.yaml");
    std::fs::write(
        &config,
        format!(
            r#"name: bench
source: {{ paths: ["{}/*.log"] }}
buffer:
  partitions: ${{E2E_WORKERS:-2}}
  acks: all
cleaner:
  workers: ${{E2E_WORKERS:-2}}
  batch_size: ${{E2E_BATCH:-1000}}
  ecs_compatibility: disabled
  steps:
    - grok: {{ field: message, patterns: ['%{{COMBINEDAPACHELOG}}'] }}
    - date: {{ field: timestamp, formats: ['%d/%b/%Y:%H:%M:%S %z'] }}
    - convert: {{ response: integer, bytes: integer }}
    - remove: [timestamp]
sink:
  type: elasticsearch
  hosts: ["{}"]
  index: bench
  bulk: {{ max_docs: 5000, max_bytes: 10MiB }}
  concurrency: 2
"#,
            logs.display(),
            es.url()
        ),
    )
    .unwrap();
    let start = Instant::now();
    let server_cpu_at_start = cpu_seconds(std::process::id());
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--listen", "off", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(root.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("sluice binary (cargo bench builds it)");
    let pid = child.id();
    let mut peak_rss_kib = 0;
    let mut cpu = 0.0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        peak_rss_kib = proc_field(pid, "status", "VmHWM:").unwrap_or(peak_rss_kib);
        cpu = cpu_seconds(pid).max(cpu);
        if es.total_docs() as u64 >= lines {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sluice run exited early ({status}); see its log above");
        }
        if start.elapsed() > Duration::from_secs(1800) {
            eprintln!("timeout: {} of {lines} documents", es.total_docs());
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(std::process::id()) - server_cpu_at_start;
    // A graceful stop (SIGTERM), so that `MIMALLOC_SHOW_STATS=1` can print the allocator's
    // statistics at exit.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    let mb = bytes as f64 / 1e6;
    println!(
        "e2e: {lines} lines, {mb:.0} MB in {elapsed:.2} s: {:.1} MB/s, {:.0} events/s; sluice CPU {cpu:.1} s ({:.1} CPU-s per GB, {:.0} events per CPU-second); peak RSS {:.1} MiB; test server CPU {server_cpu:.1} s (sources {})",
        mb / elapsed,
        lines as f64 / elapsed,
        cpu / (bytes as f64 / 1e9),
        lines as f64 / cpu.max(0.001),
        peak_rss_kib as f64 / 1024.0,
        if keep_sources { "kept" } else { "not kept" }
    );
}
