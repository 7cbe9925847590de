//! `Producer::batches` / `send_batches`: records built in place land exactly as `send` would
//! put them (same bytes, offsets, partitions, order), batches are cut at `batch_size`, and
//! every `acks` level resolves.

use bytes::Bytes;
use sluice::store::{
    Acks, Compression, NO_OFFSET, Partitioner, Producer, ProducerConfig, Record, Store,
    StoredRecord, Topic, TopicConfig,
};
use std::sync::Arc;
use tempfile::TempDir;

fn all(t: &Topic, p: u32) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut off = t.start_offset(p);
    while off < t.end_offset(p) {
        let f = t.fetch(p, off, 1 << 20).unwrap();
        assert!(f.corrupt.is_empty());
        off = f.next_offset;
        out.extend(f.records);
    }
    out
}

fn value(i: usize) -> Vec<u8> {
    // Lengths on both sides of the 1- and 2-byte varint boundaries.
    let len = [0, 5, 127, 128, 300, 16_383, 16_384, 20_000][i % 8];
    (0..len).map(|k| (k * 7 + i) as u8).collect()
}

fn topic(dir: &TempDir, partitions: u32, compression: Compression) -> (Store, Arc<Topic>) {
    let store = Store::open(dir.path()).unwrap();
    let t = store
        .create_topic(
            "t",
            TopicConfig {
                partitions,
                compression,
                segment_bytes: 256 << 10,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    (store, t)
}

fn build(p: &Producer, from: usize, n: usize, key: bool) -> sluice::store::Batches {
    let mut b = p.batches();
    for i in from..from + n {
        let sid = format!("s{i}");
        let k = format!("k{}", i % 3);
        let v = value(i);
        b.push(
            1_000 + i as i64,
            key.then_some(k.as_bytes()),
            &[("sid", sid.as_bytes())],
            &mut |out| out.extend_from_slice(&v),
        );
    }
    assert_eq!(b.len(), n);
    b
}

#[tokio::test]
async fn built_records_read_back_in_order_with_offsets() {
    for compression in [Compression::None, Compression::Gzip] {
        let dir = TempDir::new().unwrap();
        let (_store, t) = topic(&dir, 1, compression);
        let p = Producer::new(
            t.clone(),
            ProducerConfig {
                batch_size: 64 << 10,
                ..ProducerConfig::default()
            },
        );
        // Records through `send` and built batches interleave in one partition.
        let first: Vec<Record> = (0..10)
            .map(|i| Record {
                timestamp_ms: 1_000 + i as i64,
                key: None,
                value: Bytes::from(value(i)),
                headers: vec![("sid".into(), Bytes::from(format!("s{i}")))],
            })
            .collect();
        p.send(first).await.unwrap();
        let ranges = p.send_batches(build(&p, 10, 40, false)).await.unwrap();
        assert!(ranges.len() > 1, "cut at batch_size: {ranges:?}");
        assert_eq!(ranges[0], (0, 10..ranges[0].1.end));
        for w in ranges.windows(2) {
            assert_eq!(w[0].1.end, w[1].1.start);
        }
        assert_eq!(ranges.last().unwrap().1.end, 50);
        let more = p.send_batches(build(&p, 50, 3, false)).await.unwrap();
        assert_eq!(more, vec![(0, 50..53)]);
        let got = all(&t, 0);
        assert_eq!(got.len(), 53);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.offset, i as u64);
            assert_eq!(r.timestamp_ms, 1_000 + i as i64);
            assert_eq!(r.key, None);
            assert_eq!(&r.value[..], &value(i)[..], "record {i}");
            assert_eq!(
                r.headers.to_vec(),
                vec![("sid".to_string(), Bytes::from(format!("s{i}")))]
            );
        }
    }
}

#[tokio::test]
async fn partitioners_apply_record_by_record() {
    let dir = TempDir::new().unwrap();
    let (_store, t) = topic(&dir, 3, Compression::None);
    let rr = Producer::new(t.clone(), ProducerConfig::default());
    rr.send_batches(build(&rr, 0, 9, false)).await.unwrap();
    for p in 0..3 {
        assert_eq!(t.end_offset(p), 3, "round robin spreads records");
    }
    drop(rr);
    let keyed = Producer::new(
        t.clone(),
        ProducerConfig {
            partitioner: Partitioner::Key,
            ..ProducerConfig::default()
        },
    );
    keyed
        .send_batches(build(&keyed, 100, 30, true))
        .await
        .unwrap();
    for p in 0..3 {
        for r in all(&t, p).iter().filter(|r| r.key.is_some()) {
            let k = r.key.as_ref().unwrap();
            assert_eq!(
                (sluice::store::key_hash(k) % 3) as u32,
                p,
                "key {k:?} in its partition"
            );
        }
    }
    let total: u64 = (0..3).map(|p| t.end_offset(p)).sum();
    assert_eq!(total, 39);
}

#[tokio::test]
async fn every_acks_level_resolves_and_unsent_batches_write_nothing() {
    for acks in [Acks::None, Acks::Written, Acks::Fsync] {
        let dir = TempDir::new().unwrap();
        let (_store, t) = topic(&dir, 1, Compression::None);
        let p = Producer::new(
            t.clone(),
            ProducerConfig {
                acks,
                ..ProducerConfig::default()
            },
        );
        drop(build(&p, 0, 5, false)); // built, never sent
        let r = p.send_batches(build(&p, 0, 5, false)).await.unwrap();
        if acks == Acks::None {
            assert_eq!(r, vec![(0, NO_OFFSET..NO_OFFSET)]);
        } else {
            assert_eq!(r, vec![(0, 0..5)]);
        }
        assert!(p.send_batches(p.batches()).await.unwrap().is_empty());
        p.flush().unwrap();
        assert_eq!(t.end_offset(0), 5);
    }
}

#[test]
fn send_batches_blocks_under_backpressure_but_completes() {
    let dir = TempDir::new().unwrap();
    let (_store, t) = topic(&dir, 1, Compression::None);
    let p = Producer::new(
        t.clone(),
        ProducerConfig {
            max_buffered_bytes: 64 << 10,
            batch_size: 16 << 10,
            ..ProducerConfig::default()
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for k in 0..8 {
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                for j in 0..10 {
                    p.send_batches(build(&p, (k * 10 + j) * 20, 20, false))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(t.end_offset(0), 8 * 10 * 20);
}

/// A topic in `dir` with `segment_bytes` segments, and a producer whose page-cache window is
/// one chunk (8 MiB).
fn windowed(dir: &TempDir, segment_bytes: u64) -> (Store, Arc<Topic>, Producer) {
    let store = Store::open(dir.path()).unwrap();
    let t = store
        .create_topic(
            "t",
            TopicConfig {
                segment_bytes,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let p = Producer::new(
        t.clone(),
        ProducerConfig {
            cache_window: Some(1),
            ..ProducerConfig::default()
        },
    );
    (store, t, p)
}

#[tokio::test]
async fn bytes_dropped_from_the_page_cache_read_back_intact() {
    // A window of one chunk (8 MiB) over 60 MiB in 24 MiB segments: chunks are dropped from
    // the cache in the active and in the previous segment; every record still reads back.
    let dir = TempDir::new().unwrap();
    let (_store, t, p) = windowed(&dir, 24 << 20);
    let n = 60 * 1024;
    let v = |i: usize| -> Vec<u8> { (0..1000).map(|k| (k ^ i) as u8).collect() };
    for chunk in 0..60 {
        let mut b = p.batches();
        for i in chunk * 1024..(chunk + 1) * 1024 {
            let val = v(i);
            b.push(i as i64, None, &[], &mut |out| out.extend_from_slice(&val));
        }
        p.send_batches(b).await.unwrap();
    }
    p.flush().unwrap();
    assert!(t.stats().partitions[0].segments >= 3);
    let got = all(&t, 0);
    assert_eq!(got.len(), n);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(&r.value[..], &v(i)[..], "record {i}");
    }
}

/// Pages of `path` resident in the page cache, per 4 KiB page (`mincore`).
fn resident_pages(path: &std::path::Path) -> Vec<bool> {
    let f = std::fs::File::open(path).unwrap();
    // SAFETY: read-only mapping of a file nothing truncates while the test looks at it.
    let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
    let pages = map.len().div_ceil(4096);
    let mut vec = vec![0u8; pages];
    // SAFETY: `vec` has one byte per page of the mapping.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut _, map.len(), vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().map(|b| b & 1 == 1).collect()
}

/// Whether this filesystem drops clean pages on `POSIX_FADV_DONTNEED` (tmpfs does not).
fn drops_clean_pages(dir: &std::path::Path) -> bool {
    use std::os::fd::AsRawFd;
    let path = dir.join("probe");
    std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: a plain syscall on an open descriptor.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    let dropped = !resident_pages(&path).iter().any(|r| *r);
    std::fs::remove_file(&path).unwrap();
    dropped
}

#[tokio::test]
async fn a_reader_far_behind_drops_what_it_has_read_and_one_near_the_end_does_not() {
    // 96 MiB in 32 MiB segments, written with a window of one chunk (8 MiB), so the writer
    // drops all but the end. A reader from the start reads the disk; what it has passed by
    // more than its margin (16 MiB) must leave the page cache again, or draining a backlog
    // fills memory with it. Near the end (within the window) nothing is dropped.
    let dir = TempDir::new().unwrap();
    if !drops_clean_pages(dir.path()) {
        eprintln!("skipped: this filesystem keeps pages on POSIX_FADV_DONTNEED");
        return;
    }
    let (_store, t, p) = windowed(&dir, 32 << 20);
    let val = vec![b'x'; 1000];
    for chunk in 0..96 {
        let mut b = p.batches();
        for i in chunk * 1024..(chunk + 1) * 1024 {
            b.push(i as i64, None, &[], &mut |out| out.extend_from_slice(&val));
        }
        p.send_batches(b).await.unwrap();
    }
    p.flush().unwrap();
    t.sync_all().unwrap();
    let mut off = 0;
    let mut n = 0usize;
    while off < t.end_offset(0) {
        // Records are dropped at once: a page still mapped cannot leave the cache.
        let f = t.fetch(0, off, 1 << 20).unwrap();
        assert!(f.corrupt.is_empty());
        n += f.records.len();
        off = f.next_offset;
    }
    assert_eq!(n, 96 * 1024);
    let seg_dir = dir.path().join("topics").join("t").join("0");
    let mut logs: Vec<_> = std::fs::read_dir(&seg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 3, "{logs:?}");
    // Sealed segments, long passed: nothing of them stays (the previous segment's tail is
    // dropped once the reader is a margin into the next one).
    for log in &logs[..logs.len() - 2] {
        let resident = resident_pages(log).iter().filter(|r| **r).count();
        assert_eq!(
            resident,
            0,
            "{} pages of {} still cached",
            resident,
            log.display()
        );
    }
    // The end of the partition (the window) is still cached for readers that keep up.
    let last = resident_pages(logs.last().unwrap());
    let tail = &last[last.len().saturating_sub(1024)..];
    assert!(
        tail.iter().filter(|r| **r).count() > tail.len() / 2,
        "the last 4 MiB were dropped"
    );
}
