//! Retention: block (waits for consumers, then "full"), drop_oldest (counts the loss), max_age,
//! and age-based rolls by the maintenance thread.

use bytes::Bytes;
use sluice::store::{
    Acks, Record, Retention, Store, StoreError, StoreOptions, TopicConfig, WhenFull, now_ms,
};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn batch(ts: i64) -> Vec<Record> {
    (0..10)
        .map(|_| Record {
            timestamp_ms: ts,
            key: None,
            value: Bytes::from(vec![b'r'; 200]),
            headers: vec![],
        })
        .collect()
}

fn cfg(when_full: WhenFull, timeout_ms: u64) -> TopicConfig {
    TopicConfig {
        retention: Retention {
            max_bytes: Some(64 * 1024),
            max_age: None,
            when_full,
            block_timeout: Duration::from_millis(timeout_ms),
        },
        ..TopicConfig::default()
    }
}

fn quiet_store(dir: &TempDir) -> Store {
    Store::open_with(
        dir.path(),
        StoreOptions {
            maintenance_interval: None,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn block_waits_for_the_group_then_fails_full() {
    let dir = TempDir::new().unwrap();
    let store = quiet_store(&dir);
    let t = store.create_topic("b", cfg(WhenFull::Block, 300)).unwrap();
    t.set_retention_floor(0, Some(0)); // a group that has consumed nothing
    let err = loop {
        match t.append(0, &batch(now_ms()), Acks::Written) {
            Ok(_) => assert!(t.end_offset(0) < 100_000),
            Err(e) => break e,
        }
    };
    let StoreError::Full {
        waited, max_bytes, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(*waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(*max_bytes, 64 * 1024);
    assert!(err.is_transient());
    assert!(err.to_string().contains("full"), "{err}");
    assert_eq!(t.start_offset(0), 0, "nothing unconsumed was deleted");
    let end = t.end_offset(0);
    // The group commits everything: a blocked append goes through once retention may delete.
    let t2 = t.clone();
    let committer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        t2.set_retention_floor(0, Some(end));
    });
    let started = Instant::now();
    let t3 = t.clone();
    let info = std::thread::spawn(move || t3.append(0, &batch(now_ms()), Acks::Written));
    committer.join().unwrap();
    // The topic's own block_timeout is 300 ms, enough for the 100 ms commit.
    let info = info.join().unwrap().unwrap();
    assert_eq!(info.first_offset, end);
    assert!(started.elapsed() >= Duration::from_millis(90));
    assert!(t.start_offset(0) > 0 && t.start_offset(0) <= end);
    assert_eq!(t.stats().partitions[0].dropped_records, 0);
}

#[test]
fn drop_oldest_deletes_and_counts() {
    let dir = TempDir::new().unwrap();
    let store = quiet_store(&dir);
    let t = store
        .create_topic("d", cfg(WhenFull::DropOldest, 0))
        .unwrap();
    t.set_retention_floor(0, Some(0));
    for _ in 0..200 {
        t.append(0, &batch(now_ms()), Acks::Written).unwrap();
    }
    let s = t.stats();
    let p = &s.partitions[0];
    assert!(p.start_offset > 0);
    assert_eq!(
        p.dropped_records, p.start_offset,
        "every deleted record was unconsumed"
    );
    assert!(p.bytes <= 64 * 1024 + 16 * 1024 + 4096, "bytes {}", p.bytes);
    let f = t.fetch(0, p.start_offset, 1 << 20).unwrap();
    assert_eq!(f.records[0].offset, p.start_offset);
    assert!(
        matches!(t.fetch(0, 0, 10), Err(StoreError::OffsetOutOfRange { start, .. }) if start == p.start_offset)
    );
}

#[test]
fn max_age_deletes_old_segments_only() {
    let dir = TempDir::new().unwrap();
    let store = quiet_store(&dir);
    let t = store
        .create_topic(
            "a",
            TopicConfig {
                retention: Retention {
                    max_age: Some(Duration::from_secs(60)),
                    ..Retention::default()
                },
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let old = now_ms() - 3_600_000;
    t.append(0, &batch(old), Acks::Written).unwrap();
    t.append(0, &batch(old + 1), Acks::Written).unwrap();
    t.roll(0).unwrap();
    t.append(0, &batch(now_ms()), Acks::Written).unwrap();
    t.roll(0).unwrap();
    t.append(0, &batch(now_ms()), Acks::Written).unwrap();
    let out = t.enforce_retention().unwrap();
    assert_eq!(out.deleted_segments, 1);
    assert_eq!(t.start_offset(0), 20);
    assert_eq!(t.stats().partitions[0].segments, 2);
    assert_eq!(t.offset_for_time(0, old).unwrap(), 20);
}

#[test]
fn maintenance_rolls_aged_segments() {
    let dir = TempDir::new().unwrap();
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            maintenance_interval: Some(Duration::from_millis(20)),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let t = store
        .create_topic(
            "r",
            TopicConfig {
                segment_age: Duration::from_millis(50),
                ..TopicConfig::default()
            },
        )
        .unwrap();
    t.append(0, &batch(now_ms()), Acks::Written).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.stats().partitions[0].segments < 2 {
        assert!(Instant::now() < deadline, "aged segment never rolled");
        std::thread::sleep(Duration::from_millis(10));
    }
    // An empty active segment is not rolled again.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(t.stats().partitions[0].segments, 2);
    assert_eq!(
        t.append(0, &batch(now_ms()), Acks::Written)
            .unwrap()
            .first_offset,
        10
    );
}
