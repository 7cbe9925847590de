//! Recovery: a log cut at any byte reopens to exactly the batches wholly before the cut; a
//! read-only open next to a live writer sees complete batches only and writes nothing.

use bytes::Bytes;
use proptest::prelude::*;
use sluice::store::format::SEGMENT_HEADER_LEN;
use sluice::store::{Acks, Record, Store, TopicConfig};
use std::fs::OpenOptions;
use tempfile::TempDir;

fn cfg() -> TopicConfig {
    TopicConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 300,
        ..TopicConfig::default()
    }
}

fn batch(b: u64, n: u64) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            timestamp_ms: (b * 100 + i) as i64,
            key: None,
            value: Bytes::from(format!("b{b}r{i}{}", "q".repeat((b * 13 % 90) as usize))),
            headers: vec![],
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn cut_anywhere_recovers_whole_batches(sizes in proptest::collection::vec(1u64..8, 1..30), cut in 0.0f64..1.0) {
        let dir = TempDir::new().unwrap();
        let mut ends = Vec::new(); // (end position, end offset) per batch
        {
            let s = Store::open(dir.path()).unwrap();
            let t = s.create_topic("r", cfg()).unwrap();
            let mut pos = SEGMENT_HEADER_LEN;
            for (b, &n) in sizes.iter().enumerate() {
                let info = t.append(0, &batch(b as u64, n), Acks::Written).unwrap();
                pos = t.stats().partitions[0].bytes;
                ends.push((pos, info.last_offset + 1));
            }
            prop_assert_eq!(pos, ends.last().unwrap().0);
        }
        let log = dir.path().join("topics/r/0/00000000000000000000.log");
        let total = std::fs::metadata(&log).unwrap().len();
        let cut_at = SEGMENT_HEADER_LEN + ((total - SEGMENT_HEADER_LEN) as f64 * cut) as u64;
        OpenOptions::new().write(true).open(&log).unwrap().set_len(cut_at).unwrap();
        let want = ends.iter().rev().find(|(p, _)| *p <= cut_at).map_or(0, |e| e.1);
        // Read-only first: sees the same, changes nothing.
        {
            let ro = Store::open_read_only(dir.path()).unwrap();
            prop_assert_eq!(ro.topic("r").unwrap().unwrap().end_offset(0), want);
            prop_assert_eq!(std::fs::metadata(&log).unwrap().len(), cut_at);
        }
        let s = Store::open(dir.path()).unwrap();
        let t = s.topic("r").unwrap().unwrap();
        prop_assert_eq!(t.end_offset(0), want);
        let mut off = 0;
        while off < want {
            let f = t.fetch(0, off, 500).unwrap();
            for r in &f.records {
                prop_assert_eq!(r.offset, off);
                off += 1;
            }
        }
        prop_assert!(t.verify().is_ok());
        let info = t.append(0, &batch(99, 2), Acks::Written).unwrap();
        prop_assert_eq!(info.first_offset, want);
    }
}

#[test]
fn read_only_open_beside_a_live_writer() {
    let dir = TempDir::new().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let t = s
        .create_topic(
            "live",
            TopicConfig {
                partitions: 2,
                segment_bytes: 16 * 1024,
                ..cfg()
            },
        )
        .unwrap();
    let writer = {
        let t = t.clone();
        std::thread::spawn(move || {
            for b in 0..400u64 {
                t.append((b % 2) as u32, &batch(b, 5), Acks::Written)
                    .unwrap();
            }
        })
    };
    for _ in 0..20 {
        let ro = Store::open_read_only(dir.path()).unwrap();
        assert!(ro.is_read_only());
        let Some(rt) = ro.topic("live").unwrap() else {
            continue;
        };
        for p in 0..rt.partition_count() {
            let end = rt.end_offset(p);
            let mut off = 0;
            while off < end {
                let f = rt.fetch(p, off, 4096).unwrap();
                assert!(f.corrupt.is_empty(), "{:?}", f.corrupt);
                assert!(!f.records.is_empty());
                for r in &f.records {
                    assert_eq!(r.offset, off);
                    off += 1;
                }
            }
            assert!(
                rt.append(p, &batch(0, 1), Acks::Written).is_err(),
                "read-only refuses appends"
            );
        }
        let rep = rt.verify();
        assert!(
            rep.problems.iter().all(|p| !p.reason.contains("CRC")),
            "{:?}",
            rep.problems
        );
    }
    writer.join().unwrap();
    assert!(
        Store::open(dir.path()).is_err(),
        "the writer holds the lock"
    );
}

#[test]
fn read_only_store_follows_the_writer() {
    use sluice::store::StoreOptions;
    use std::time::{Duration, Instant};
    let dir = TempDir::new().unwrap();
    let w = Store::open(dir.path()).unwrap();
    let t = w
        .create_topic(
            "f",
            TopicConfig {
                segment_bytes: 4096,
                ..cfg()
            },
        )
        .unwrap();
    t.append(0, &batch(0, 3), Acks::Written).unwrap();
    let ro = Store::open_read_only_with(
        dir.path(),
        StoreOptions {
            maintenance_interval: Some(Duration::from_millis(10)),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let rt = ro.topic("f").unwrap().unwrap();
    assert_eq!(rt.end_offset(0), 3);
    let mut watch = rt.subscribe();
    // The writer appends across several segment rolls and grows the topic.
    for b in 1..60 {
        t.append(0, &batch(b, 3), Acks::Written).unwrap();
    }
    w.create_topic(
        "f",
        TopicConfig {
            partitions: 2,
            segment_bytes: 4096,
            ..cfg()
        },
    )
    .unwrap();
    t.append(1, &batch(0, 2), Acks::Written).unwrap();
    w.create_topic("g", cfg()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.end_offset(0) < 180 || rt.partition_count() < 2 || rt.end_offset(1) < 2 {
        assert!(
            Instant::now() < deadline,
            "read-only store did not follow: {:?}",
            rt.stats()
        );
        let _ = futures_util::FutureExt::now_or_never(watch.changed());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(watch.has_changed().is_ok());
    let mut off = 0;
    while off < 180 {
        let f = rt.fetch(0, off, 1 << 16).unwrap();
        assert!(f.corrupt.is_empty());
        for r in &f.records {
            assert_eq!(r.offset, off);
            off += 1;
        }
    }
    assert!(rt.stats().partitions[0].segments > 2);
    while ro.topic("g").unwrap().is_none() {
        assert!(Instant::now() < deadline, "new topic not seen");
        std::thread::sleep(Duration::from_millis(5));
    }
}
