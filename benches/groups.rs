//! Consume throughput through consumer-group members, and commit latency.
//!
//! `cargo bench --bench groups` (env `GROUPS_BENCH_RECORDS`, default 2,000,000 records of
//! 200 bytes). Prints one line per measurement.

use bytes::Bytes;
use sluice::store::group::{GroupConfig, GroupMember};
use sluice::store::{Acks, Record, Store, TopicConfig};
use std::time::{Duration, Instant};

const RECORD_BYTES: usize = 200;

fn main() {
    let total: u64 = std::env::var("GROUPS_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let partitions = 4u32;
    let dir = tempfile::TempDir::new().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let topic = store
        .create_topic(
            "bench",
            TopicConfig {
                partitions,
                ..TopicConfig::default()
            },
        )
        .expect("topic");
    let value = Bytes::from(vec![b'x'; RECORD_BYTES]);
    let per_batch = 1000u64;
    let start = Instant::now();
    let mut written = 0;
    while written < total {
        let records: Vec<Record> = (0..per_batch)
            .map(|i| Record {
                timestamp_ms: i as i64,
                key: None,
                value: value.clone(),
                headers: Vec::new(),
            })
            .collect();
        topic
            .append(
                ((written / per_batch) % u64::from(partitions)) as u32,
                &records,
                Acks::Written,
            )
            .expect("append");
        written += per_batch;
    }
    eprintln!(
        "setup: appended {written} records in {:.2?}",
        start.elapsed()
    );

    // Baseline: Topic::fetch directly, no group (the store's own read path).
    {
        let start = Instant::now();
        let mut n = 0u64;
        for p in 0..partitions {
            let mut pos = topic.start_offset(p);
            while pos < topic.end_offset(p) {
                let f = topic.fetch(p, pos, 1 << 20).expect("fetch");
                n += f.records.len() as u64;
                pos = f.next_offset;
            }
        }
        let took = start.elapsed();
        println!(
            "baseline Topic::fetch (no group), 1 MiB fetches: {n} records in {:.3} s = {:.0} records/s",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }

    // One member, all partitions.
    for max_bytes in [256 << 10, 1 << 20] {
        let mut m = store
            .groups()
            .join(
                &format!("one-{max_bytes}"),
                topic.clone(),
                GroupConfig::default(),
            )
            .expect("join");
        let (n, took) = consume_all(&mut m, written, max_bytes);
        println!(
            "consume 1 member, {partitions} partitions, poll max_bytes {} KiB: {n} records in {:.3} s = {:.0} records/s ({:.0} MiB/s)",
            max_bytes >> 10,
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            (n as f64 * RECORD_BYTES as f64) / took.as_secs_f64() / (1 << 20) as f64
        );
        m.commit().expect("commit");
    }

    // Two members in two threads (one per core), same group.
    {
        let members: Vec<GroupMember> = (0..2)
            .map(|_| {
                store
                    .groups()
                    .join("two", topic.clone(), GroupConfig::default())
                    .expect("join")
            })
            .collect();
        let start = Instant::now();
        let handles: Vec<_> = members
            .into_iter()
            .map(|mut m| {
                std::thread::spawn(move || {
                    let _ = m.assignment();
                    let mut n = 0u64;
                    loop {
                        let got = m.poll_blocking(1 << 20, Duration::ZERO).expect("poll");
                        if got.is_empty() && m.caught_up() {
                            break;
                        }
                        n += got.len() as u64;
                    }
                    m.commit().expect("commit");
                    // Returned, not dropped: leaving now would hand this member's partitions
                    // to the other one while it is still running.
                    (n, m)
                })
            })
            .collect();
        let done: Vec<(u64, GroupMember)> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let took = start.elapsed();
        let n: u64 = done.iter().map(|(n, _)| n).sum();
        assert_eq!(n, written, "every record exactly once");
        println!(
            "consume 2 members (threads), {partitions} partitions: {n} records in {:.3} s = {:.0} records/s",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }

    // Commit latency: durable commits (tmp + fsync + rename + dir fsync).
    {
        let mut m = store
            .groups()
            .join("committer", topic.clone(), GroupConfig::default())
            .expect("join");
        let _ = m.assignment();
        let rounds = 200;
        let start = Instant::now();
        for i in 0..rounds {
            let offsets: Vec<(u32, u64)> = (0..partitions).map(|p| (p, i)).collect();
            m.commit_offsets(&offsets).expect("commit");
        }
        let took = start.elapsed();
        println!(
            "commit ({partitions} partitions, durable): {rounds} commits in {:.3} s = {:.2} ms/commit",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / rounds as f64
        );
    }
}

fn consume_all(m: &mut GroupMember, expected: u64, max_bytes: usize) -> (u64, Duration) {
    let start = Instant::now();
    let mut n = 0u64;
    while n < expected {
        let got = m
            .poll_blocking(max_bytes, Duration::from_secs(1))
            .expect("poll");
        if got.is_empty() {
            break;
        }
        n += got.len() as u64;
    }
    (n, start.elapsed())
}
