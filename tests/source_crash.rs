//! Crash test with real processes: the shipper (this test binary re-executed as a child) ships
//! into the real store with acks=all while a writer appends and rotates; the child is SIGKILLed
//! at random moments and restarted. In the end the set of lines in the log equals the set
//! written, and every duplicate carries the same source id as its first copy.

mod source_common;

use sluice::source::{ShipperOutput, run_file_source};
use sluice::store::{Acks, Producer, ProducerConfig, Store, TopicConfig};
use source_common::store_output::{StoreOutput, message_and_sid, read_all};
use source_common::*;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

const ENV_DIR: &str = "SLUICE_SHIPPER_CRASH_DIR";
const KILLS: usize = 20;

/// The child: ships `<dir>/logs/app.log*` into `<dir>/data` until killed.
#[test]
#[ignore = "run by shipper_survives_sigkill_while_a_writer_appends_and_rotates"]
fn crash_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(dir.join("data")).unwrap();
        let topic = store.create_topic("logs", TopicConfig::default()).unwrap();
        let producer = Producer::new(
            topic,
            ProducerConfig {
                acks: Acks::Fsync,
                ..Default::default()
            },
        );
        let out: Arc<dyn ShipperOutput> = Arc::new(StoreOutput {
            producer,
            encoded: true,
        });
        let mut cfg = fast_config(vec![glob(&dir.join("logs"), "app.log*")]);
        cfg.batch_events = 50;
        cfg.checkpoint_interval = Duration::from_millis(20);
        run_file_source("crash", cfg, dir.join("ck"), out, CancellationToken::new())
            .await
            .unwrap();
    });
}

fn spawn_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env(ENV_DIR, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Appends numbered lines, rotating by rename every 300 lines (and writing a few more lines
/// into the renamed file through the old descriptor, as a slow logger does).
fn writer(logs: PathBuf, stop: Arc<AtomicBool>, written: Arc<AtomicUsize>) {
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    let cur = logs.join("app.log");
    let mut f = open(&cur);
    let mut n = 0usize;
    let mut rotation = 0;
    while !stop.load(Ordering::SeqCst) {
        for _ in 0..10 {
            writeln!(f, "line {n:08} {}", "x".repeat(n % 97)).unwrap();
            n += 1;
        }
        written.store(n, Ordering::SeqCst);
        if n.is_multiple_of(300) {
            rotation += 1;
            std::fs::rename(&cur, logs.join(format!("app.log.{rotation}"))).unwrap();
            for _ in 0..3 {
                writeln!(f, "line {n:08} late").unwrap();
                n += 1;
            }
            written.store(n, Ordering::SeqCst);
            f = open(&cur);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn all_lines_written(logs: &Path) -> HashSet<String> {
    let mut set = HashSet::new();
    for e in std::fs::read_dir(logs).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        set.extend(text.lines().map(str::to_string));
    }
    set
}

#[test]
fn shipper_survives_sigkill_while_a_writer_appends_and_rotates() {
    let d = TempDir::new().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let w = {
        let (l, s, n) = (logs.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || writer(l, s, n))
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ std::process::id() as u64;
    for _ in 0..KILLS {
        let mut child = spawn_child(d.path());
        let ms = 50 + xorshift(&mut seed) % 400;
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let want = all_lines_written(&logs);
    assert_eq!(want.len(), written.load(Ordering::SeqCst));

    // A last run until every line is in the log (read-only view while the child writes).
    let mut child = spawn_child(d.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = Store::open_read_only(d.path().join("data"))
            .ok()
            .and_then(|s| s.topic("logs").ok().flatten())
            .map(|t| {
                let got: HashSet<String> =
                    read_all(&t).iter().map(|r| message_and_sid(r).0).collect();
                got.len() >= want.len()
            })
            .unwrap_or(false);
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let store = Store::open(d.path().join("data")).unwrap();
    let topic = store.topic("logs").unwrap().unwrap();
    let recs = read_all(&topic);
    let mut sid_of: HashMap<String, String> = HashMap::new();
    let mut dups = 0;
    for r in &recs {
        let (m, sid) = message_and_sid(r);
        assert!(!sid.is_empty());
        if let Some(first) = sid_of.insert(m.clone(), sid.clone()) {
            dups += 1;
            assert_eq!(first, sid, "duplicate of {m:?} with another source id");
        }
    }
    let got: HashSet<String> = sid_of.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    eprintln!(
        "{} lines, {} records, {dups} duplicates after {KILLS} kills",
        want.len(),
        recs.len()
    );
}
