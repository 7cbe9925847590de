//! Crash test with real processes: a child process produces with `acks: all` from several
//! threads and prints every acknowledged record; the parent SIGKILLs it at a random moment,
//! reopens the store, and checks that every acknowledged record is present, at its offset, in
//! order, exactly once, and that nothing but complete, CRC-valid batches is served.
//!
//! The child is this test binary re-executed (`--exact --ignored crash_child`).

use bytes::Bytes;
use sluice::store::{
    Acks, Partitioner, Producer, ProducerConfig, Record, Store, StoreError, TopicConfig,
};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const ENV_DIR: &str = "SLUICE_CRASH_DIR";
const ENV_RUN: &str = "SLUICE_CRASH_RUN";
const KILLS: u32 = 60;

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: 3,
        segment_bytes: 32 * 1024,
        index_interval_bytes: 1024,
        ..TopicConfig::default()
    }
}

/// The child: produce until killed, printing `ack <partition> <offset> <value>` lines.
#[test]
#[ignore = "run by store_crash_sigkill as a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    let run = std::env::var(ENV_RUN).unwrap_or_default();
    let store = loop {
        match Store::open(&dir) {
            Ok(s) => break s,
            Err(StoreError::Locked { .. }) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("{e}"),
        }
    };
    let topic = store.create_topic("crash", topic_config()).unwrap();
    let producer = Producer::new(
        topic,
        ProducerConfig {
            acks: Acks::Fsync,
            partitioner: Partitioner::RoundRobin,
            linger: Duration::from_millis(1),
            batch_size: 16 * 1024,
            ..ProducerConfig::default()
        },
    );
    let threads: Vec<_> = (0..3)
        .map(|th| {
            let producer = producer.clone();
            let run = run.clone();
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    let n = 1 + (seq * 7 + th) % 13;
                    let recs: Vec<Record> = (0..n)
                        .map(|i| {
                            Record::new(Bytes::from(format!(
                                "{run}-{th}-{seq}-{i}-{}",
                                "v".repeat((seq % 50) as usize)
                            )))
                        })
                        .collect();
                    let values: Vec<Bytes> = recs.iter().map(|r| r.value.clone()).collect();
                    let acked = producer.send_blocking(recs).unwrap();
                    let mut out = String::new();
                    for ((p, o), v) in acked.iter().zip(&values) {
                        out.push_str(&format!("ack {p} {o} {}\n", String::from_utf8_lossy(v)));
                    }
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    lock.write_all(out.as_bytes()).unwrap();
                    lock.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Small deterministic PRNG (xorshift) seeded from the clock; the seed is printed on failure.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn store_crash_sigkill() {
    let dir = TempDir::new().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    // (partition, offset) -> value, for every acknowledged record so far.
    let mut acked: HashMap<(u32, u64), String> = HashMap::new();
    let started = Instant::now();
    for run in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_DIR, dir.path())
            .env(ENV_RUN, format!("r{run}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if line.ends_with('\n') {
                    lines.push(line.trim_end().to_string());
                }
                line.clear();
            }
            lines
        });
        std::thread::sleep(Duration::from_millis(20 + rng.next() % 120));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let mut new_acks = 0;
        for l in lines {
            let mut it = l.splitn(4, ' ');
            if it.next() != Some("ack") {
                continue;
            }
            let p: u32 = it.next().unwrap().parse().unwrap();
            let o: u64 = it.next().unwrap().parse().unwrap();
            let v = it.next().unwrap().to_string();
            let prev = acked.insert((p, o), v.clone());
            assert!(
                prev.is_none(),
                "seed {seed}: offset ({p},{o}) acknowledged twice: {prev:?} and {v}"
            );
            new_acks += 1;
        }
        // Reopen (recovery) and check.
        let store = Store::open(dir.path()).unwrap();
        let Some(t) = store.topic("crash").unwrap() else {
            assert!(acked.is_empty());
            continue;
        };
        let mut seen_values = HashSet::new();
        for p in 0..t.partition_count() {
            let mut off = t.start_offset(p);
            assert_eq!(off, 0);
            let end = t.end_offset(p);
            while off < end {
                let f = t.fetch(p, off, 256 * 1024).unwrap();
                assert!(
                    f.corrupt.is_empty(),
                    "seed {seed}: corrupt batch served: {:?}",
                    f.corrupt
                );
                for r in &f.records {
                    assert_eq!(
                        r.offset, off,
                        "seed {seed}: gap or reorder in partition {p}"
                    );
                    off += 1;
                    let v = String::from_utf8(r.value.to_vec()).unwrap();
                    assert!(
                        seen_values.insert(v.clone()),
                        "seed {seed}: duplicate record {v}"
                    );
                    if let Some(want) = acked.get(&(p, r.offset)) {
                        assert_eq!(&v, want, "seed {seed}: wrong record at ({p},{})", r.offset);
                    }
                }
                assert_eq!(f.next_offset, off);
            }
        }
        for ((p, o), v) in &acked {
            assert!(
                *o < t.end_offset(*p),
                "seed {seed}: acknowledged record ({p},{o}) {v} lost after kill {run}"
            );
        }
        let rep = t.verify();
        assert!(rep.is_ok(), "seed {seed}: {:?}", rep.problems);
        drop(store);
        eprintln!("kill {run}: {new_acks} new acks, {} total", acked.len());
    }
    assert!(
        acked.len() > 100,
        "the child acknowledged too little to prove anything"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "crash test too slow: {:?}",
        started.elapsed()
    );
}
