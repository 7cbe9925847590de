//! Durable-log benchmark (`cargo bench --bench store`; `harness = false`).
//!
//! 200-byte records. Append throughput with acks 0/1/all from 1 and 16 concurrent producers,
//! through the batch API (`Topic::append`, 1000 records per call) and through `Producer`
//! (tokio tasks, 1000-record sends, 16 in flight per task); consume throughput; reopen time of
//! a 1 GiB partition after SIGKILL of the writer; peak RSS; and `dd … conv=fdatasync` as the
//! ceiling. Figures go to docs/PERFORMANCE-store.md.
//!
//! `STORE_BENCH_RECORDS` (default 2,000,000) sets records per append run;
//! `STORE_BENCH_REOPEN_MIB` (default 1024) the size of the reopen test; `STORE_BENCH_DIR` where
//! data goes (default: a temp dir on the same disk as /tmp).

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use sluice::store::{
    Acks, Partitioner, Producer, ProducerConfig, Record, Store, StoreOptions, Topic, TopicConfig,
};
use std::sync::Arc;
use std::time::Instant;

const RECORD_BYTES: usize = 200;
const CHUNK: usize = 1000;
/// Sends a producer task keeps in flight (like Kafka clients, it does not wait for each ack).
const IN_FLIGHT: usize = 16;
const PARTITIONS: u32 = 4;
const CHILD_ENV: &str = "STORE_BENCH_CHILD_DIR";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn records(n: usize) -> Vec<Record> {
    let value = Bytes::from(vec![b'x'; RECORD_BYTES]);
    (0..n)
        .map(|_| Record {
            timestamp_ms: sluice::store::now_ms(),
            key: None,
            value: value.clone(),
            headers: Vec::new(),
        })
        .collect()
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open(dir: &std::path::Path) -> (Store, Arc<Topic>) {
    let store = Store::open_with(
        dir,
        StoreOptions {
            maintenance_interval: None,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let t = store
        .create_topic(
            "bench",
            TopicConfig {
                partitions: PARTITIONS,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    (store, t)
}

/// Batch API: `producers` threads, each appending CHUNK-record batches round robin.
fn bench_append(base: &std::path::Path, acks: Acks, producers: usize, total: usize) -> f64 {
    let dir = tempfile::tempdir_in(base).unwrap();
    let (_store, t) = open(dir.path());
    let per = total / producers / CHUNK;
    let start = Instant::now();
    let threads: Vec<_> = (0..producers)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                let recs = records(CHUNK);
                for j in 0..per {
                    t.append(((i + j) % PARTITIONS as usize) as u32, &recs, acks)
                        .unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    (per * producers * CHUNK) as f64 / start.elapsed().as_secs_f64()
}

/// Producer API: `producers` tokio tasks sharing one Producer, IN_FLIGHT sends in flight each.
fn bench_producer(
    base: &std::path::Path,
    acks: Acks,
    producers: usize,
    total: usize,
    partitioner: Partitioner,
) -> f64 {
    let dir = tempfile::tempdir_in(base).unwrap();
    let (_store, t) = open(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let p = Producer::new(
        t,
        ProducerConfig {
            acks,
            partitioner,
            ..ProducerConfig::default()
        },
    );
    let per = total / producers / CHUNK;
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..producers)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move {
                    let recs = records(CHUNK);
                    let mut inflight = FuturesUnordered::<
                        std::pin::Pin<
                            Box<
                                dyn std::future::Future<
                                        Output = Result<Vec<(u32, u64)>, sluice::store::StoreError>,
                                    > + Send,
                            >,
                        >,
                    >::new();
                    for _ in 0..per {
                        if inflight.len() >= IN_FLIGHT {
                            inflight.next().await.unwrap().unwrap();
                        }
                        let p = p.clone();
                        let r = recs.clone();
                        inflight.push(Box::pin(async move { p.send(r).await }));
                    }
                    while let Some(r) = inflight.next().await {
                        r.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    p.flush().unwrap();
    (per * producers * CHUNK) as f64 / start.elapsed().as_secs_f64()
}

fn bench_consume(base: &std::path::Path, total: usize) -> (f64, u64) {
    let dir = tempfile::tempdir_in(base).unwrap();
    {
        let (_s, t) = open(dir.path());
        let recs = records(CHUNK);
        for _ in 0..total / CHUNK {
            t.append(0, &recs, Acks::Written).unwrap();
        }
    }
    let (_s, t) = open(dir.path());
    let rss_before = status_kib("VmRSS:");
    let start = Instant::now();
    let (mut off, mut n) = (0u64, 0u64);
    let end = t.end_offset(0);
    while off < end {
        let f = t.fetch(0, off, 1 << 20).unwrap();
        n += f.records.len() as u64;
        off = f.next_offset;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    (rate, status_kib("VmRSS:").saturating_sub(rss_before))
}

/// Child: writes `mib` MiB to partition 0 with acks=1, prints its peak RSS, then SIGKILLs itself.
fn reopen_child(dir: &str) {
    let mib = env_u64("STORE_BENCH_REOPEN_MIB", 1024);
    let (_s, t) = open(std::path::Path::new(dir));
    let recs = records(CHUNK);
    let batches = mib * 1024 * 1024 / (CHUNK as u64 * (RECORD_BYTES as u64 + 5));
    for _ in 0..batches {
        t.append(0, &recs, Acks::Written).unwrap();
    }
    println!("child_peak_rss_kib {}", status_kib("VmHWM:"));
    println!("child_records {}", t.end_offset(0));
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    // SAFETY: signalling ourselves.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
}

fn bench_reopen(base: &std::path::Path) {
    let dir = tempfile::tempdir_in(base).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!(
        "child killed by signal: {:?}",
        std::os::unix::process::ExitStatusExt::signal(&out.status)
    );
    let bytes: u64 = walk_size(dir.path());
    // Drop the page cache's advantage as far as we can without root tricks: none; report as is.
    let rss_before = status_kib("VmRSS:");
    let start = Instant::now();
    let (_s, t) = open(dir.path());
    let took = start.elapsed();
    println!(
        "reopen after SIGKILL: {:.1} MiB on disk, {} records, opened in {:.1} ms (RSS +{} KiB)",
        bytes as f64 / 1048576.0,
        t.end_offset(0),
        took.as_secs_f64() * 1e3,
        status_kib("VmRSS:").saturating_sub(rss_before)
    );
}

fn walk_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        walk_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn dd(base: &std::path::Path) {
    let f = base.join("dd.bin");
    let out = std::process::Command::new("dd")
        .args([
            "if=/dev/zero",
            &format!("of={}", f.display()),
            "bs=1M",
            "count=1024",
            "conv=fdatasync",
        ])
        .output();
    if let Ok(o) = out {
        let s = String::from_utf8_lossy(&o.stderr);
        println!(
            "dd bs=1M count=1024 conv=fdatasync: {}",
            s.lines().last().unwrap_or("")
        );
    }
    let _ = std::fs::remove_file(f);
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        reopen_child(&dir);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let base_dir = std::env::var("STORE_BENCH_DIR").ok();
    let tmp = tempfile::tempdir().unwrap();
    let base = base_dir
        .as_deref()
        .map(std::path::Path::new)
        .unwrap_or(tmp.path());
    let total = env_u64("STORE_BENCH_RECORDS", 2_000_000) as usize;
    println!(
        "records of {RECORD_BYTES} bytes, {total} per run, {PARTITIONS} partitions, {CHUNK} records per append/send"
    );
    // STORE_BENCH_ONLY=append|produce|consume|reopen|dd runs one part (for profiling).
    let only = std::env::var("STORE_BENCH_ONLY").unwrap_or_default();
    let run = |part: &str| only.is_empty() || only == part;
    if run("dd") {
        dd(base);
    }
    for (name, acks) in [
        ("0", Acks::None),
        ("1", Acks::Written),
        ("all", Acks::Fsync),
    ] {
        for producers in [1usize, 16] {
            if run("append") {
                let a = bench_append(base, acks, producers, total);
                println!(
                    "append  acks={name:<3} producers={producers:<2}: {:>10.0} rec/s  ({:.0} MB/s)",
                    a,
                    a * RECORD_BYTES as f64 / 1e6
                );
            }
            if !run("produce") {
                continue;
            }
            for (pname, part) in [
                ("sticky", Partitioner::Sticky),
                ("round_robin", Partitioner::RoundRobin),
            ] {
                let p = bench_producer(base, acks, producers, total, part);
                println!(
                    "produce acks={name:<3} producers={producers:<2} {pname:<11}: {:>10.0} rec/s  ({:.0} MB/s)",
                    p,
                    p * RECORD_BYTES as f64 / 1e6
                );
            }
        }
    }
    if run("consume") {
        let (c, rss) = bench_consume(base, total);
        println!(
            "consume 1 partition, 1 MiB fetches: {c:.0} rec/s (RSS +{rss} KiB while reading {} MB)",
            total * RECORD_BYTES / 1_000_000
        );
    }
    if run("reopen") {
        bench_reopen(base);
    }
    println!(
        "peak RSS of the benchmark process: {} MiB",
        status_kib("VmHWM:") / 1024
    );
}
