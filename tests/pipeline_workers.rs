//! The cleaner workers' contract, through the public pipeline API with a real store and a real
//! file source: a slow sink never gets a worker evicted (so nothing is redelivered), and a
//! worker whose sink panics is replaced and resumes from the committed offset.

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use sluice::cleaner::Cleaner;
use sluice::event::Event;
use sluice::pipeline::{PipelineSpec, RunOptions, Runtime, SinkFactory, SourceSpec};
use sluice::sink::{Sink, SinkAck, SinkError};
use sluice::source::FileSourceConfig;
use sluice::store::group::GroupConfig;
use sluice::store::{Acks, ProducerConfig, Store, TopicConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Notes the `message` of each event of a batch a test sink received.
fn record_messages(seen: &Mutex<Vec<String>>, batch: &[Event]) {
    let mut seen = seen.lock();
    for e in batch {
        seen.push(e.get_str("message").unwrap_or_default().to_string());
    }
}

/// Records every message it is sent; sleeps `delay` per batch; panics on the first
/// `panics` calls.
struct Recording {
    seen: Arc<Mutex<Vec<String>>>,
    delay: Duration,
    panics: Arc<AtomicU32>,
}

impl Sink for Recording {
    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        Box::pin(async move {
            if self
                .panics
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                panic!("sink blew up (test)");
            }
            tokio::time::sleep(self.delay).await;
            record_messages(&self.seen, &batch);
            Ok(SinkAck::default())
        })
    }

    fn name(&self) -> &str {
        "recording"
    }
}

fn spec(logs: &std::path::Path, sink: SinkFactory, max_poll: Duration) -> PipelineSpec {
    PipelineSpec {
        name: "t".into(),
        source: SourceSpec::File(FileSourceConfig {
            paths: vec![format!("{}/*.log", logs.display())],
            scan_interval: Duration::from_millis(100),
            ..FileSourceConfig::default()
        }),
        topic: "t".into(),
        topic_config: TopicConfig {
            partitions: 4,
            ..TopicConfig::default()
        },
        producer: ProducerConfig {
            acks: Acks::Fsync,
            ..ProducerConfig::default()
        },
        key: None,
        group: "t-cleaners".into(),
        workers: 2,
        member: GroupConfig {
            session_timeout: Duration::from_millis(600),
            max_poll_interval: max_poll,
            ..GroupConfig::default()
        },
        // Small polls: many batches, many chances to be evicted.
        poll_bytes: 4 * 1024,
        commit_interval: Duration::ZERO,
        cleaner: Arc::new(Cleaner::new()),
        sink,
        sink_description: "recording".into(),
    }
}

async fn run_until(
    store: Arc<Store>,
    spec: PipelineSpec,
    seen: &Arc<Mutex<Vec<String>>>,
    n: usize,
) -> bool {
    let shutdown = CancellationToken::new();
    let rt = Runtime::new(store, vec![spec], RunOptions::default());
    let task = tokio::spawn(rt.run(shutdown.clone(), CancellationToken::new(), None));
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything redelivered after a (wrong) eviction would arrive now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    seen.lock().len() >= n
}

fn assert_committed_to_the_end(store: &Store) {
    let topic = store.topic("t").unwrap().unwrap();
    let desc = store.groups().describe("t-cleaners", &topic).unwrap();
    for p in &desc.partitions {
        assert_eq!(
            p.committed,
            Some(p.end),
            "partition {} not committed to its end",
            p.partition
        );
    }
}

fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("line {i:05} {}", "x".repeat(100)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_slower_than_max_poll_interval_never_gets_a_worker_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let input = lines(600);
    std::fs::write(logs.join("a.log"), input.join("\n") + "\n").unwrap();
    let store = Arc::new(Store::open(dir.path().join("data")).unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let factory: SinkFactory = {
        let seen = seen.clone();
        Arc::new(move || {
            Ok(Box::new(Recording {
                seen: seen.clone(),
                // Each delivery takes 2.5× the max poll interval and 2× the session timeout.
                delay: Duration::from_millis(1_500),
                panics: Arc::new(AtomicU32::new(0)),
            }) as Box<dyn Sink>)
        })
    };
    let spec = spec(&logs, factory, Duration::from_millis(600));
    assert!(run_until(store.clone(), spec, &seen, input.len()).await);
    let seen = seen.lock().clone();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for s in &seen {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let redelivered: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        redelivered.is_empty(),
        "evicted and redelivered: {} lines, e.g. {:?}",
        redelivered.len(),
        &redelivered[..redelivered.len().min(3)]
    );
    assert_eq!(counts.len(), input.len());
    assert_committed_to_the_end(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_sink_panics_is_replaced_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let input = lines(2_000);
    std::fs::write(logs.join("a.log"), input.join("\n") + "\n").unwrap();
    let store = Arc::new(Store::open(dir.path().join("data")).unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let panics = Arc::new(AtomicU32::new(3));
    let factory: SinkFactory = {
        let (seen, panics) = (seen.clone(), panics.clone());
        Arc::new(move || {
            Ok(Box::new(Recording {
                seen: seen.clone(),
                delay: Duration::from_millis(1),
                panics: panics.clone(),
            }) as Box<dyn Sink>)
        })
    };
    let spec = spec(&logs, factory, Duration::from_secs(30));
    assert!(
        run_until(store.clone(), spec, &seen, input.len()).await,
        "only {} of {} delivered after worker panics",
        seen.lock().len(),
        input.len()
    );
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "the sink panicked 3 times"
    );
    let mut got = seen.lock().clone();
    got.sort();
    got.dedup();
    assert_eq!(got, input, "every line delivered after the restarts");
    // Everything delivered is committed: a restart would not resend it.
    assert_committed_to_the_end(&store);
}

/// Records every message; holds the `hold_at`-th batch until `release` is notified.
struct Gated {
    seen: Arc<Mutex<Vec<String>>>,
    batches: Arc<AtomicU32>,
    hold_at: u32,
    release: Arc<tokio::sync::Notify>,
}

impl Sink for Gated {
    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        Box::pin(async move {
            if self.batches.fetch_add(1, Ordering::SeqCst) + 1 == self.hold_at {
                self.release.notified().await;
            }
            record_messages(&self.seen, &batch);
            Ok(SinkAck::default())
        })
    }

    fn name(&self) -> &str {
        "gated"
    }
}

/// The committed offset of partition 0 of topic `t`.
fn committed(store: &Store) -> Option<u64> {
    let topic = store.topic("t").unwrap().unwrap();
    let desc = store.groups().describe("t-cleaners", &topic).unwrap();
    desc.partitions[0].committed
}

/// While a backlog is drained, delivered offsets are committed at most every
/// `commit_interval` (each commit is two fsyncs); once the worker catches up, at once, without
/// waiting for the interval or a shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_coalesced_while_a_backlog_drains_and_made_once_caught_up() {
    for (interval, commits_while_draining) in
        [(Duration::ZERO, true), (Duration::from_secs(3600), false)]
    {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let store = Arc::new(Store::open(dir.path().join("data")).unwrap());
        // The backlog is in the log before the worker starts: 2,000 records.
        let topic = store
            .create_topic(
                "t",
                TopicConfig {
                    partitions: 1,
                    ..TopicConfig::default()
                },
            )
            .unwrap();
        let input = lines(2_000);
        let producer = sluice::store::Producer::new(topic, ProducerConfig::default());
        // 40 sends of 50: 40 batches in the log, one per poll.
        for chunk in input.chunks(50) {
            let records = chunk
                .iter()
                .map(|l| sluice::store::Record::new(Event::from_message(l.as_str()).encode()))
                .collect();
            producer.send(records).await.unwrap();
        }
        producer.flush().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let batches = Arc::new(AtomicU32::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let factory: SinkFactory = {
            let (seen, batches, release) = (seen.clone(), batches.clone(), release.clone());
            Arc::new(move || {
                Ok(Box::new(Gated {
                    seen: seen.clone(),
                    batches: batches.clone(),
                    hold_at: 5,
                    release: release.clone(),
                }) as Box<dyn Sink>)
            })
        };
        let mut spec = spec(&logs, factory, Duration::from_secs(30));
        spec.topic_config.partitions = 1;
        spec.workers = 1;
        spec.commit_interval = interval;
        let shutdown = CancellationToken::new();
        let rt = Runtime::new(store.clone(), vec![spec], RunOptions::default());
        let task = tokio::spawn(rt.run(shutdown.clone(), CancellationToken::new(), None));
        let deadline = Instant::now() + Duration::from_secs(30);
        while batches.load(Ordering::SeqCst) < 5 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Four batches delivered, the fifth held, 35 more in the log.
        let delivered = seen.lock().len() as u64;
        assert!(delivered > 0 && delivered < 1_000, "{delivered} delivered");
        let during = committed(&store);
        if commits_while_draining {
            assert_eq!(
                during,
                Some(delivered),
                "commit_interval 0: after every batch"
            );
        } else {
            assert_eq!(during, None, "commit_interval 1h: nothing committed yet");
        }
        release.notify_one();
        // Caught up: everything is committed without a shutdown.
        let deadline = Instant::now() + Duration::from_secs(30);
        while committed(&store) != Some(input.len() as u64) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            committed(&store),
            Some(input.len() as u64),
            "interval {interval:?}"
        );
        assert_eq!(seen.lock().len(), input.len());
        shutdown.cancel();
        task.await.unwrap().unwrap();
    }
}
