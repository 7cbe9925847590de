//! Consumer groups over a real store: assignment, rebalance, liveness, pause, commits.

use bytes::Bytes;
use sluice::store::group::{AutoOffsetReset, GroupConfig, GroupError, GroupMember, SeekTo};
use sluice::store::{Acks, Record, Store, StoredRecord, Topic, TopicConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn record(value: String, ts: i64) -> Record {
    Record {
        timestamp_ms: ts,
        key: None,
        value: Bytes::from(value),
        headers: Vec::new(),
    }
}

/// Appends `n` records to every partition; values are `p<partition>-<index>`, timestamps
/// `1000 * index`.
fn fill(topic: &Topic, n: u64) {
    for p in 0..topic.partition_count() {
        let first = topic.end_offset(p);
        let records: Vec<Record> = (first..first + n)
            .map(|i| record(format!("p{p}-{i}"), 1000 * i as i64))
            .collect();
        topic.append(p, &records, Acks::Written).unwrap();
    }
}

fn setup(partitions: u32) -> (TempDir, Store, Arc<Topic>) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let topic = store
        .create_topic(
            "events",
            TopicConfig {
                partitions,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    (dir, store, topic)
}

fn quick() -> GroupConfig {
    GroupConfig {
        session_timeout: Duration::from_secs(10),
        max_poll_interval: Duration::from_secs(10),
        auto_offset_reset: AutoOffsetReset::Earliest,
    }
}

fn join(store: &Store, topic: &Arc<Topic>, config: GroupConfig) -> GroupMember {
    store.groups().join("g", topic.clone(), config).unwrap()
}

/// Polls (blocking) until nothing more arrives within `idle`.
fn drain(m: &mut GroupMember, idle: Duration) -> Vec<StoredRecord> {
    let mut all = Vec::new();
    loop {
        let got = m.poll_blocking(64 * 1024, idle).unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

#[test]
fn three_members_on_six_partitions_get_two_each() {
    let (_dir, store, topic) = setup(6);
    let mut members: Vec<GroupMember> = (0..3).map(|_| join(&store, &topic, quick())).collect();
    let mut seen = BTreeSet::new();
    for m in &mut members {
        let a = m.assignment();
        assert_eq!(a.len(), 2, "{a:?}");
        for p in a {
            assert!(seen.insert(p), "partition {p} assigned twice");
        }
    }
    assert_eq!(seen, (0..6).collect());
    // Deterministic: the same sequence of joins gives the same assignment.
    let mut again: Vec<GroupMember> = (0..3)
        .map(|_| store.groups().join("g2", topic.clone(), quick()).unwrap())
        .collect();
    for (m, n) in members.iter_mut().zip(again.iter_mut()) {
        assert_eq!(m.assignment(), n.assignment());
    }
}

#[test]
fn leaving_member_partitions_move_and_resume_from_the_committed_offset() {
    let (_dir, store, topic) = setup(6);
    fill(&topic, 50);
    let mut a = join(&store, &topic, quick());
    let mut b = join(&store, &topic, quick());
    let mut c = join(&store, &topic, quick());
    let a_parts = a.assignment();
    let _ = (b.assignment(), c.assignment());

    // A reads some, commits a point in the middle of what it read, then reads more.
    let mut a_read: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for r in a.poll_blocking(1500, Duration::ZERO).unwrap() {
        a_read.entry(r.partition).or_default().push(r.offset);
    }
    assert!(!a_read.is_empty());
    let commits: Vec<(u32, u64)> = a_read
        .iter()
        .map(|(&p, offs)| (p, offs[offs.len() / 2]))
        .collect();
    a.commit_offsets(&commits).unwrap();
    for r in a.poll_blocking(1500, Duration::ZERO).unwrap() {
        a_read.entry(r.partition).or_default().push(r.offset);
    }
    drop(a); // leaves the group

    let committed: BTreeMap<u32, u64> = commits.into_iter().collect();
    let mut got: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for m in [&mut b, &mut c] {
        assert_eq!(m.assignment().len(), 3);
        for r in drain(m, Duration::from_millis(50)) {
            assert_eq!(
                r.value,
                Bytes::from(format!("p{}-{}", r.partition, r.offset))
            );
            got.entry(r.partition).or_default().push(r.offset);
        }
    }
    for p in 0..6u32 {
        let offs = &got[&p];
        let from = if a_parts.contains(&p) {
            committed.get(&p).copied().unwrap_or(0)
        } else {
            0
        };
        // The new owner starts exactly at the committed offset: nothing before it is repeated,
        // nothing after it is skipped.
        assert_eq!(offs, &(from..50).collect::<Vec<_>>(), "partition {p}");
    }
}

#[test]
fn stuck_member_is_evicted_after_max_poll_interval() {
    let (_dir, store, topic) = setup(6);
    fill(&topic, 5);
    let config = GroupConfig {
        max_poll_interval: Duration::from_millis(300),
        ..quick()
    };
    let mut stuck = join(&store, &topic, config.clone());
    let mut live = join(&store, &topic, config);
    assert_eq!(stuck.assignment().len(), 3);
    let before_last_poll = Instant::now();
    let mine = stuck.poll_blocking(1 << 20, Duration::ZERO).unwrap();
    assert!(!mine.is_empty());
    // The stuck member keeps heartbeating (its session is fine) but never polls.
    let heart = stuck.heartbeater();
    let start = Instant::now();
    let mut live_records = Vec::new();
    while live.assignment().len() < 6 {
        assert!(heart.beat() || start.elapsed() > Duration::from_millis(300));
        live_records.extend(
            live.poll_blocking(1 << 20, Duration::from_millis(50))
                .unwrap(),
        );
        assert!(start.elapsed() < Duration::from_secs(5), "never evicted");
    }
    // Not before the max poll interval since its last poll.
    assert!(before_last_poll.elapsed() >= Duration::from_millis(300));
    // The live member now reads the stuck member's partitions from the beginning (no commit).
    live_records.extend(drain(&mut live, Duration::from_millis(20)));
    assert_eq!(live_records.len(), 30);
    // The stuck member's commit is refused with a typed error.
    let err = stuck.commit().unwrap_err();
    assert!(matches!(err, GroupError::Evicted { .. }), "{err}");
    // Its next poll rejoins: 3 partitions each again.
    let _ = stuck.poll_blocking(1, Duration::ZERO).unwrap();
    assert_eq!(stuck.assignment().len(), 3);
    assert_eq!(live.assignment().len(), 3);
}

#[test]
fn silent_member_is_evicted_after_session_timeout() {
    let (_dir, store, topic) = setup(4);
    let config = GroupConfig {
        session_timeout: Duration::from_millis(200),
        ..quick()
    };
    let mut silent = join(&store, &topic, config.clone());
    let mut live = join(&store, &topic, config);
    assert_eq!(silent.assignment().len(), 2);
    assert_eq!(live.assignment().len(), 2);
    let start = Instant::now();
    // One long poll: it wakes by itself to evict the silent member.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let generation = live.generation();
    rt.block_on(async {
        let _ = live.poll(1024, Duration::from_millis(600)).await.unwrap();
    });
    assert_eq!(live.assignment().len(), 4);
    assert!(live.generation() > generation);
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(matches!(
        silent.commit_offsets(&[(0, 0)]),
        Err(GroupError::Evicted { .. })
    ));
}

#[test]
fn pause_stops_delivery_of_that_partition_only_and_keeps_the_member() {
    let (_dir, store, topic) = setup(2);
    let config = GroupConfig {
        max_poll_interval: Duration::from_millis(300),
        session_timeout: Duration::from_millis(300),
        ..quick()
    };
    let mut m = join(&store, &topic, config);
    assert_eq!(m.assignment(), vec![0, 1]);
    fill(&topic, 10);
    m.pause(&[0]);
    let got = drain(&mut m, Duration::from_millis(20));
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|r| r.partition == 1));
    // Everything paused, for longer than the max poll interval and the session timeout:
    // polls return nothing, and the member is not evicted.
    m.pause(&[1]);
    fill(&topic, 3);
    let generation = m.generation();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(600) {
        assert!(
            m.poll_blocking(1 << 20, Duration::from_millis(50))
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(
        m.generation(),
        generation,
        "a paused member must not be evicted"
    );
    m.commit().unwrap();
    m.resume(&[0, 1]);
    let got = drain(&mut m, Duration::from_millis(20));
    assert_eq!(got.len(), 13 + 3);
}

#[test]
fn rebalance_when_partitions_grow() {
    let (_dir, store, topic) = setup(2);
    let mut a = join(&store, &topic, quick());
    let mut b = join(&store, &topic, quick());
    assert_eq!(a.assignment().len() + b.assignment().len(), 2);
    let generation = a.generation();
    store
        .create_topic(
            "events",
            TopicConfig {
                partitions: 6,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    fill(&topic, 1);
    let mut all: Vec<u32> = a.assignment();
    assert!(a.generation() > generation);
    assert_eq!(all.len(), 3);
    all.extend(b.assignment());
    all.sort_unstable();
    assert_eq!(all, (0..6).collect::<Vec<_>>());
    let got = drain(&mut a, Duration::from_millis(10)).len()
        + drain(&mut b, Duration::from_millis(10)).len();
    assert_eq!(got, 6);
}

#[test]
fn commit_for_a_partition_moved_away_is_refused() {
    let (_dir, store, topic) = setup(2);
    fill(&topic, 3);
    let mut a = join(&store, &topic, quick());
    assert_eq!(a.assignment(), vec![0, 1]);
    let _ = drain(&mut a, Duration::ZERO);
    let mut b = join(&store, &topic, quick());
    let moved = b.assignment();
    assert_eq!(moved.len(), 1);
    let err = a.commit_offsets(&[(moved[0], 3)]).unwrap_err();
    assert!(
        matches!(err, GroupError::NotOwner { partition, .. } if partition == moved[0]),
        "{err}"
    );
    // The partition A kept can still be committed.
    let kept = a.assignment();
    a.commit_offsets(&[(kept[0], 3)]).unwrap();
    // Offsets beyond the log are refused.
    assert!(matches!(
        a.commit_offsets(&[(kept[0], 4)]),
        Err(GroupError::OffsetBeyondEnd { .. })
    ));
}

#[test]
fn committed_offsets_survive_reopen() {
    let dir = TempDir::new().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let topic = store
            .create_topic(
                "events",
                TopicConfig {
                    partitions: 3,
                    ..TopicConfig::default()
                },
            )
            .unwrap();
        fill(&topic, 20);
        let mut m = join(&store, &topic, quick());
        let _ = m.assignment();
        m.commit_offsets(&[(0, 7), (1, 20), (2, 0)]).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let topic = store.topic("events").unwrap().unwrap();
    let mut m = join(&store, &topic, quick());
    let _ = m.assignment();
    assert_eq!(m.position(0), Some(7));
    assert_eq!(m.position(1), Some(20));
    assert_eq!(m.position(2), Some(0));
    let got = drain(&mut m, Duration::ZERO);
    assert_eq!(got.len(), 13 + 20);
    assert_eq!(
        got.iter()
            .filter(|r| r.partition == 0)
            .map(|r| r.offset)
            .min(),
        Some(7)
    );
}

#[test]
fn stale_offsets_file_beyond_the_log_is_clamped_and_reported() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let topic = store
        .create_topic(
            "events",
            TopicConfig {
                partitions: 2,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    fill(&topic, 10);
    // An offsets file from another life of the directory: partition 0 far beyond the log,
    // partition 5 does not exist.
    let path = sluice::store::group::offsets::offsets_path(dir.path(), "g", "events");
    let stale: BTreeMap<u32, sluice::store::group::offsets::CommittedOffset> =
        [(0, 1000), (1, 4), (5, 3)]
            .into_iter()
            .map(|(p, o)| {
                (
                    p,
                    sluice::store::group::offsets::CommittedOffset {
                        offset: o,
                        committed_at_ms: 0,
                    },
                )
            })
            .collect();
    sluice::store::group::offsets::write(&path, "events", &stale).unwrap();
    let desc = store.groups().describe("g", &topic).unwrap();
    assert_eq!(desc.problems.len(), 2, "{:?}", desc.problems);
    assert!(
        desc.problems
            .iter()
            .any(|p| p.contains("1000") && p.contains("clamped to 10"))
    );
    let mut m = join(&store, &topic, quick());
    let _ = m.assignment();
    assert_eq!(m.position(0), Some(10));
    assert_eq!(m.position(1), Some(4));
}

#[test]
fn corrupt_offsets_file_restarts_at_the_earliest_offset() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let topic = store
        .create_topic("events", TopicConfig::default())
        .unwrap();
    fill(&topic, 5);
    let path = sluice::store::group::offsets::offsets_path(dir.path(), "g", "events");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"SLCGROFS garbage that is not an offsets file").unwrap();
    let config = GroupConfig {
        auto_offset_reset: AutoOffsetReset::Latest,
        ..quick()
    };
    let mut m = join(&store, &topic, config);
    // Even with `latest`, nothing is skipped when the commit is unreadable.
    assert_eq!(drain(&mut m, Duration::ZERO).len(), 5);
    m.commit().unwrap();
    assert!(!path.with_extension("offsets.tmp").exists());
}

#[test]
fn auto_offset_reset_latest_and_seek() {
    let (_dir, store, topic) = setup(1);
    fill(&topic, 10);
    let config = GroupConfig {
        auto_offset_reset: AutoOffsetReset::Latest,
        ..quick()
    };
    let mut m = join(&store, &topic, config);
    assert!(drain(&mut m, Duration::ZERO).is_empty());
    assert_eq!(m.position(0), Some(10));
    fill(&topic, 2);
    assert_eq!(drain(&mut m, Duration::ZERO).len(), 2);
    assert_eq!(m.seek(0, SeekTo::Earliest).unwrap(), 0);
    assert_eq!(drain(&mut m, Duration::ZERO).len(), 12);
    assert_eq!(m.seek(0, SeekTo::Offset(9)).unwrap(), 9);
    assert_eq!(m.seek(0, SeekTo::Offset(99)).unwrap(), 12);
    // Timestamps are 1000 * index: the first record at or after 4.5 s is offset 5.
    assert_eq!(m.seek(0, SeekTo::Timestamp(4500)).unwrap(), 5);
    assert_eq!(m.seek(0, SeekTo::Latest).unwrap(), 12);
    assert!(matches!(
        m.seek(3, SeekTo::Earliest),
        Err(GroupError::NotOwner { .. })
    ));
}

#[test]
fn lag_per_partition() {
    let (_dir, store, topic) = setup(2);
    fill(&topic, 10);
    let mut m = join(&store, &topic, quick());
    let _ = m.assignment();
    m.commit_offsets(&[(0, 4)]).unwrap();
    let lag = m.lag();
    assert_eq!(lag[0].committed, Some(4));
    assert_eq!(lag[0].lag, 6);
    assert_eq!(lag[1].committed, None);
    assert_eq!(lag[1].lag, 10);
    let desc = store.groups().describe("g", &topic).unwrap();
    assert_eq!(desc.partitions[0].lag, 6);
    assert_eq!(desc.members.len(), 1);
}

#[tokio::test]
async fn async_poll_wakes_when_records_arrive() {
    let (_dir, store, topic) = setup(1);
    let mut m = join(&store, &topic, quick());
    let t = topic.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fill(&t, 3);
    });
    let start = Instant::now();
    let got = m.poll(1 << 20, Duration::from_secs(10)).await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(start.elapsed() < Duration::from_secs(5));
    writer.await.unwrap();
}

#[test]
fn reset_offsets_is_refused_while_members_are_active() {
    let (_dir, store, topic) = setup(2);
    fill(&topic, 10);
    let m = join(&store, &topic, quick());
    assert!(matches!(
        store.groups().reset_offsets("g", &topic, SeekTo::Earliest),
        Err(GroupError::GroupActive { .. })
    ));
    drop(m);
    let offsets = store
        .groups()
        .reset_offsets("g", &topic, SeekTo::Offset(3))
        .unwrap();
    assert_eq!(offsets.values().copied().collect::<Vec<_>>(), vec![3, 3]);
    let mut m = join(&store, &topic, quick());
    assert_eq!(drain(&mut m, Duration::ZERO).len(), 14);
}

/// Regression: a worker pauses everything while its sink is slow and keeps polling; a
/// rebalance during that time assigned it a new partition that was not paused, and the
/// heartbeat poll (whose result the worker ignores) consumed — and so skipped — its records.
#[test]
fn pause_all_also_covers_partitions_assigned_while_paused() {
    let (_dir, store, topic) = setup(2);
    fill(&topic, 5);
    let mut a = join(&store, &topic, quick());
    let b = join(&store, &topic, quick());
    assert_eq!(a.assignment().len(), 1);
    a.pause_all();
    drop(b); // a gets the other partition while paused
    assert!(a.poll_blocking(1 << 20, Duration::ZERO).unwrap().is_empty());
    assert_eq!(a.assignment(), vec![0, 1]);
    assert_eq!(a.paused(), vec![0, 1]);
    a.resume_all();
    assert_eq!(drain(&mut a, Duration::ZERO).len(), 10, "nothing skipped");
}
