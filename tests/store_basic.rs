//! Basic behaviour of the durable log through its public API.

use bytes::Bytes;
use sluice::store::{
    Acks, Compression, Producer, ProducerConfig, Record, Store, StoreError, TopicConfig,
};
use tempfile::TempDir;

fn rec(i: u64) -> Record {
    Record {
        timestamp_ms: 1_000 + i as i64,
        key: None,
        value: Bytes::from(format!("value-{i}")),
        headers: vec![("sid".into(), Bytes::from(format!("s{i}")))],
    }
}

#[test]
fn append_fetch_reopen() {
    let dir = TempDir::new().unwrap();
    let cfg = TopicConfig {
        partitions: 2,
        segment_bytes: 4096,
        index_interval_bytes: 256,
        ..TopicConfig::default()
    };
    {
        let store = Store::open(dir.path()).unwrap();
        let t = store.create_topic("t", cfg.clone()).unwrap();
        for i in 0..200u64 {
            let info = t
                .append((i % 2) as u32, &[rec(i), rec(i + 1000)], Acks::Written)
                .unwrap();
            assert_eq!(info.first_offset, (i / 2) * 2);
        }
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Locked { .. })
        ));
        assert_eq!(t.end_offset(0), 200);
        assert!(t.stats().partitions[0].segments > 1);
    }
    let store = Store::open(dir.path()).unwrap();
    let t = store.topic("t").unwrap().unwrap();
    assert_eq!(t.partition_count(), 2);
    assert_eq!(t.end_offset(1), 200);
    let mut off = 0;
    let mut seen = Vec::new();
    while off < t.end_offset(0) {
        let f = t.fetch(0, off, 1000).unwrap();
        assert!(f.corrupt.is_empty());
        for r in &f.records {
            assert_eq!(r.offset, off + (r.offset - off));
            seen.push(r.value.clone());
        }
        off = f.next_offset;
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(seen[0], Bytes::from("value-0"));
    assert_eq!(seen[1], Bytes::from("value-1000"));
    assert_eq!(seen[2], Bytes::from("value-2"));
    // Middle offset through the index.
    let f = t.fetch(0, 77, 1).unwrap();
    assert_eq!(f.records[0].offset, 77);
    assert_eq!(t.offset_for_time(0, 1_000).unwrap(), 0);
    assert_eq!(t.offset_for_time(0, 1_001).unwrap(), 1);
    assert_eq!(t.offset_for_time(0, 2_100).unwrap(), 101);
    assert_eq!(t.offset_for_time(0, 99_999).unwrap(), 200);
    assert!(t.verify().is_ok(), "{:?}", t.verify().problems);
    let ro = Store::open_read_only(dir.path());
    assert!(ro.is_ok());
}

#[test]
fn gzip_and_producer() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = store
        .create_topic(
            "g",
            TopicConfig {
                partitions: 3,
                compression: Compression::Gzip,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    for acks in [Acks::None, Acks::Written, Acks::Fsync] {
        let p = Producer::new(
            t.clone(),
            ProducerConfig {
                acks,
                ..ProducerConfig::default()
            },
        );
        let got = p.send_blocking((0..10).map(rec).collect()).unwrap();
        assert_eq!(got.len(), 10);
        p.flush().unwrap();
    }
    let total: u64 = (0..3).map(|p| t.end_offset(p)).sum();
    assert_eq!(total, 30);
    let f = t.fetch(0, 0, 1 << 20).unwrap();
    assert_eq!(f.records.len() as u64, t.end_offset(0));
}

/// Concurrent sends that land in one partition's pending batch (a long linger) each get their
/// own offsets, in order, and batches of varying sizes written one after another (the flusher
/// reuses its encoding buffer) all read back intact.
#[test]
fn sends_sharing_a_batch_and_reused_buffers() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = store.create_topic("s", TopicConfig::default()).unwrap();
    let p = Producer::new(
        t.clone(),
        ProducerConfig {
            linger: std::time::Duration::from_millis(300),
            batch_size: 1 << 20,
            ..ProducerConfig::default()
        },
    );
    let sends: Vec<Vec<Record>> = (0..4u64)
        .map(|s| (0..25).map(|i| rec(s * 1000 + i)).collect())
        .collect();
    let acks: Vec<Vec<(u32, u64)>> = std::thread::scope(|scope| {
        let hs: Vec<_> = sends
            .iter()
            .map(|recs| {
                let (p, recs) = (p.clone(), recs.clone());
                scope.spawn(move || p.send_blocking(recs).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all = t.fetch(0, 0, 1 << 20).unwrap().records;
    assert_eq!(all.len(), 100);
    let mut seen: Vec<u64> = acks.iter().flatten().map(|&(_, o)| o).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<u64>>());
    for (recs, got) in sends.iter().zip(&acks) {
        for (r, &(part, off)) in recs.iter().zip(got) {
            assert_eq!(part, 0);
            assert_eq!(all[off as usize].value, r.value);
            assert_eq!(all[off as usize].headers.to_vec(), r.headers);
        }
    }
    // One batch per send from now on (batch_size 1 byte), sizes going up and down.
    let p = Producer::new(
        t.clone(),
        ProducerConfig {
            batch_size: 1,
            ..ProducerConfig::default()
        },
    );
    let mut want = Vec::new();
    for (k, n) in [50u64, 3, 200, 1, 70].into_iter().enumerate() {
        let recs: Vec<Record> = (0..n).map(|i| rec(10_000 * (k as u64 + 1) + i)).collect();
        let got = p.send_blocking(recs.clone()).unwrap();
        assert_eq!(got.len() as u64, n);
        want.extend(recs);
    }
    let mut off = 100;
    let mut back = Vec::new();
    while off < t.end_offset(0) {
        let f = t.fetch(0, off, 1 << 20).unwrap();
        off = f.next_offset;
        back.extend(f.records);
    }
    assert_eq!(back.len(), want.len());
    for (b, w) in back.iter().zip(&want) {
        assert_eq!(
            (b.timestamp_ms, &b.value, &b.headers.to_vec()),
            (w.timestamp_ms, &w.value, &w.headers)
        );
    }
}

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
    check::<sluice::store::Topic>();
    check::<Producer>();
    check::<StoreError>();
}

#[test]
fn lock_error_names_the_holder() {
    let dir = TempDir::new().unwrap();
    let _s = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(StoreError::Locked { path, pid }) => {
            assert!(path.ends_with("LOCK"));
            assert_eq!(pid, Some(std::process::id()));
        }
        other => panic!("{other:?}"),
    }
    // Read-only opens take no lock.
    assert!(Store::open_read_only(dir.path()).unwrap().is_read_only());
}
