//! Committed offsets under crashes and retention: SIGKILL during commits, retention floors,
//! offsets below the log start.

use bytes::Bytes;
use sluice::store::group::GroupConfig;
use sluice::store::group::offsets;
use sluice::store::{Acks, Record, Retention, Store, StoreError, TopicConfig, WhenFull};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn record(len: usize) -> Record {
    Record {
        timestamp_ms: 0,
        key: None,
        value: Bytes::from(vec![b'v'; len]),
        headers: Vec::new(),
    }
}

const CHILD_ENV: &str = "SLUICE_GROUPS_COMMIT_CHILD_DIR";

/// The child of `commits_survive_sigkill`: commits increasing offsets forever, printing each
/// offset once `commit_offsets` returned (= acknowledged durable).
#[test]
#[ignore = "child process of commits_survive_sigkill"]
fn commit_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&dir).unwrap();
    let topic = store.topic("t").unwrap().unwrap();
    let mut m = store
        .groups()
        .join("g", topic, GroupConfig::default())
        .unwrap();
    let _ = m.assignment();
    let mut next = m.committed(0).unwrap_or(0) + 1;
    let end = m.topic().end_offset(0);
    let stdout = std::io::stdout();
    while next <= end {
        m.commit_offsets(&[(0, next), (1, next)]).unwrap();
        use std::io::Write;
        let mut out = stdout.lock();
        writeln!(out, "{next}").unwrap();
        out.flush().unwrap();
        next += 1;
    }
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn commits_survive_sigkill() {
    let dir = TempDir::new().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let topic = store
            .create_topic(
                "t",
                TopicConfig {
                    partitions: 2,
                    ..TopicConfig::default()
                },
            )
            .unwrap();
        for p in 0..2 {
            let records: Vec<Record> = (0..100_000).map(|_| record(1)).collect();
            topic.append(p, &records, Acks::Written).unwrap();
        }
    }
    let path = offsets::offsets_path(dir.path(), "g", "t");
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut last_acked = 0u64;
    for round in 0..25 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "commit_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let lines_before_kill = 1 + seed % 40;
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut seen = 0;
        while seen < lines_before_kill {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Ok(v) = line.trim().parse::<u64>() {
                last_acked = v;
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL, possibly in the middle of a commit
        // Lines printed after we stopped reading were acknowledged too.
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut rest);
        for l in rest.lines() {
            if let Ok(v) = l.trim().parse::<u64>() {
                last_acked = v;
            }
        }
        child.wait().unwrap();
        let on_disk = offsets::read(&path)
            .unwrap_or_else(|e| panic!("round {round}: offsets file unreadable after SIGKILL: {e}"))
            .expect("offsets file exists");
        for p in 0..2 {
            let c = on_disk[&p].offset;
            // Every acknowledged commit is durable; at most the one in flight is extra.
            assert!(
                c == last_acked || c == last_acked + 1,
                "round {round}: partition {p} committed {c}, last acknowledged {last_acked}"
            );
        }
        last_acked = on_disk[&0].offset;
    }
    assert!(last_acked > 25);
}

#[test]
fn block_retention_never_deletes_what_the_group_has_not_committed() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let topic = store
        .create_topic(
            "t",
            TopicConfig {
                partitions: 1,
                segment_bytes: 4096,
                retention: Retention {
                    max_bytes: Some(32 * 1024),
                    when_full: WhenFull::Block,
                    block_timeout: Duration::from_millis(100),
                    ..Retention::default()
                },
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let mut m = store
        .groups()
        .join("g", topic.clone(), GroupConfig::default())
        .unwrap();
    let _ = m.assignment();
    assert_eq!(
        topic.retention_floor(0),
        Some(0),
        "no commit yet: hold from the start"
    );
    // Fill until the topic is full: appends block and fail instead of deleting.
    let mut appended = 0u64;
    let err = loop {
        match topic.append(0, &[record(1000)], Acks::Written) {
            Ok(_) => appended += 1,
            Err(e) => break e,
        }
        assert!(appended < 1000, "retention never pushed back");
    };
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert_eq!(topic.start_offset(0), 0, "nothing unconsumed was deleted");

    // The group consumes and commits half: retention may delete below that, not above.
    let mut got = 0u64;
    while got < appended / 2 {
        got += m.poll_blocking(1000, Duration::ZERO).unwrap().len() as u64;
    }
    let half = appended / 2;
    m.commit_offsets(&[(0, half)]).unwrap();
    assert_eq!(topic.retention_floor(0), Some(half));
    let started = Instant::now();
    topic.append(0, &[record(1000)], Acks::Written).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let start = topic.start_offset(0);
    assert!(
        start > 0 && start <= half,
        "start {start}, committed {half}"
    );
}

#[test]
fn committed_offset_below_the_log_start_is_clamped_and_reported() {
    let dir = TempDir::new().unwrap();
    let config = TopicConfig {
        partitions: 1,
        segment_bytes: 4096,
        retention: Retention {
            max_bytes: Some(16 * 1024),
            when_full: WhenFull::DropOldest,
            ..Retention::default()
        },
        ..TopicConfig::default()
    };
    {
        let store = Store::open(dir.path()).unwrap();
        let topic = store.create_topic("t", config.clone()).unwrap();
        topic.append(0, &[record(100)], Acks::Written).unwrap();
        let mut m = store
            .groups()
            .join("g", topic.clone(), GroupConfig::default())
            .unwrap();
        let _ = m.assignment();
        m.commit_offsets(&[(0, 1)]).unwrap();
    }
    {
        // Without the group loaded, drop_oldest deletes past its commit.
        let store = Store::open(dir.path()).unwrap();
        let topic = store.topic("t").unwrap().unwrap();
        for _ in 0..200 {
            topic.append(0, &[record(1000)], Acks::Written).unwrap();
        }
        store.maintain().unwrap();
        assert!(topic.start_offset(0) > 1);
    }
    let store = Store::open(dir.path()).unwrap();
    let topic = store.topic("t").unwrap().unwrap();
    let start = topic.start_offset(0);
    let desc = store.groups().describe("g", &topic).unwrap();
    assert!(
        desc.problems.iter().any(|p| p.contains("below the start")),
        "{:?}",
        desc.problems
    );
    let mut m = store
        .groups()
        .join("g", topic.clone(), GroupConfig::default())
        .unwrap();
    let _ = m.assignment();
    assert_eq!(m.position(0), Some(start));
    let first = m.poll_blocking(1 << 20, Duration::ZERO).unwrap();
    assert_eq!(first[0].offset, start);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_send_and_poll_in_spawned_tasks() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let topic = store
        .create_topic(
            "t",
            TopicConfig {
                partitions: 4,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let mut m = store
            .groups()
            .join("g", topic.clone(), GroupConfig::default())
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            let deadline = Instant::now() + Duration::from_secs(10);
            while n < 200 && Instant::now() < deadline {
                let got = m.poll(1 << 20, Duration::from_millis(200)).await.unwrap();
                n += got.len();
                if !got.is_empty() {
                    m.commit().unwrap();
                }
            }
            n
        }));
    }
    for p in 0..4 {
        let records: Vec<Record> = (0..100).map(|_| record(10)).collect();
        topic.append(p, &records, Acks::Written).unwrap();
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 400);
}
