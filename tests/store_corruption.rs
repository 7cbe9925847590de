//! Corruption catalogue: one named test per way the files can be damaged. Each damages real
//! files of a closed store, reopens it, and checks what is served and what is reported.

use bytes::Bytes;
use sluice::store::format::{
    BATCH_HEADER_LEN, BatchHeader, INDEX_ENTRY_LEN, INDEX_HEADER_LEN, META_FILE, SEGMENT_HEADER_LEN,
};
use sluice::store::{Acks, Record, Store, Topic, TopicConfig};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;

const PER_BATCH: u64 = 5;

fn cfg(partitions: u32) -> TopicConfig {
    TopicConfig {
        partitions,
        segment_bytes: 8 * 1024,
        index_interval_bytes: 512,
        ..TopicConfig::default()
    }
}

fn value(p: u32, off: u64) -> Bytes {
    Bytes::from(format!("p{p}-o{off}-{}", "x".repeat(40)))
}

/// Writes `batches` batches of 5 records to each partition and closes the store.
fn populate(dir: &Path, partitions: u32, batches: u64) {
    let store = Store::open(dir).unwrap();
    let t = store.create_topic("t", cfg(partitions)).unwrap();
    for p in 0..partitions {
        for b in 0..batches {
            let recs: Vec<Record> = (0..PER_BATCH)
                .map(|i| Record {
                    timestamp_ms: 1000 + (b * PER_BATCH + i) as i64,
                    key: None,
                    value: value(p, b * PER_BATCH + i),
                    headers: vec![],
                })
                .collect();
            t.append(p, &recs, Acks::Written).unwrap();
        }
    }
}

fn part_dir(dir: &Path, p: u32) -> PathBuf {
    dir.join("topics/t").join(p.to_string())
}

/// Segment files of a partition, sorted.
fn segments(dir: &Path, p: u32) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(part_dir(dir, p))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// (position, header) of every batch in a segment file.
fn batches(path: &Path) -> Vec<(u64, BatchHeader)> {
    let data = std::fs::read(path).unwrap();
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let mut out = Vec::new();
    while pos + BATCH_HEADER_LEN <= data.len() {
        let Ok(h) = BatchHeader::parse(&data[pos..]) else {
            break;
        };
        out.push((pos as u64, h));
        pos += h.batch_len as usize;
    }
    out
}

/// Reads the whole partition; returns offsets served and the corrupt reports.
fn read_all(t: &Topic, p: u32) -> (Vec<u64>, Vec<sluice::store::CorruptBatch>) {
    let mut off = t.start_offset(p);
    let (mut offs, mut bad) = (Vec::new(), Vec::new());
    while off < t.end_offset(p) {
        let f = t.fetch(p, off, 700).unwrap();
        for r in &f.records {
            assert_eq!(
                r.value,
                value(p, r.offset),
                "wrong value at offset {}",
                r.offset
            );
            offs.push(r.offset);
        }
        bad.extend(f.corrupt);
        assert!(f.next_offset > off, "fetch made no progress at {off}");
        off = f.next_offset;
    }
    (offs, bad)
}

fn open_topic(dir: &Path) -> (Store, Arc<Topic>) {
    let s = Store::open(dir).unwrap();
    let t = s.topic("t").unwrap().unwrap();
    (s, t)
}

fn flip(path: &Path, pos: u64, mask: u8) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, pos).unwrap();
    b[0] ^= mask;
    f.write_all_at(&b, pos).unwrap();
}

#[test]
fn torn_tail_mid_batch() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 40);
    let active = segments(dir.path(), 0).pop().unwrap();
    let bs = batches(&active);
    let (pos, last) = *bs.last().unwrap();
    let f = OpenOptions::new().write(true).open(&active).unwrap();
    f.set_len(pos + u64::from(last.batch_len) / 2).unwrap();
    drop(f);
    let (_s, t) = open_topic(dir.path());
    assert_eq!(
        t.end_offset(0),
        last.base_offset,
        "torn batch must be dropped"
    );
    assert_eq!(
        std::fs::metadata(&active).unwrap().len(),
        pos,
        "torn tail truncated on disk"
    );
    let (offs, bad) = read_all(&t, 0);
    assert!(bad.is_empty());
    assert_eq!(offs, (0..last.base_offset).collect::<Vec<_>>());
    // Appends go on at the right offset.
    let info = t
        .append(0, &[Record::new(value(0, last.base_offset))], Acks::Written)
        .unwrap();
    assert_eq!(info.first_offset, last.base_offset);
    assert!(t.verify().is_ok());
}

#[test]
fn flipped_crc_bit() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 40);
    let sealed = segments(dir.path(), 0)[0].clone();
    let bs = batches(&sealed);
    let (pos, h) = bs[2];
    flip(&sealed, pos + 12, 0x01); // the CRC field itself
    let (_s, t) = open_topic(dir.path());
    let (offs, bad) = read_all(&t, 0);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].path, sealed);
    assert_eq!(bad[0].position, pos);
    assert!(bad[0].reason.contains("CRC"), "{}", bad[0].reason);
    let expected: Vec<u64> = (0..t.end_offset(0))
        .filter(|o| !(h.base_offset..h.next_offset()).contains(o))
        .collect();
    assert_eq!(offs, expected, "everything but the damaged batch is served");
    let rep = t.verify();
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
    assert_eq!(
        (rep.problems[0].path.clone(), rep.problems[0].position),
        (sealed, pos)
    );
}

#[test]
fn flipped_byte_in_sealed_segment_is_reported_and_skipped() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 2, 100);
    let segs = segments(dir.path(), 0);
    assert!(segs.len() >= 3, "need sealed segments");
    let sealed = segs[1].clone();
    let bs = batches(&sealed);
    let (pos, h) = bs[bs.len() / 2];
    flip(&sealed, pos + BATCH_HEADER_LEN as u64 + 7, 0x40); // a byte inside a record value
    let (_s, t) = open_topic(dir.path());
    let (offs, bad) = read_all(&t, 0);
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].path.clone(), bad[0].position),
        (sealed.clone(), pos)
    );
    let lost: Vec<u64> = (h.base_offset..h.next_offset()).collect();
    let expected: Vec<u64> = (0..t.end_offset(0)).filter(|o| !lost.contains(o)).collect();
    assert_eq!(offs, expected, "earlier and later batches still read");
    // Reading from inside the damaged range jumps past it.
    let f = t.fetch(0, h.base_offset + 1, 1 << 20).unwrap();
    assert_eq!(f.records.first().map(|r| r.offset), Some(h.next_offset()));
    // The other partition is untouched.
    let (offs1, bad1) = read_all(&t, 1);
    assert!(bad1.is_empty());
    assert_eq!(offs1.len() as u64, t.end_offset(1));
    let rep = t.verify();
    assert_eq!(rep.problems.len(), 1);
    assert_eq!(rep.problems[0].position, pos);
    assert_eq!(rep.problems[0].path, sealed);
    // Read-only open reports it the same way.
    let ro = Store::open_read_only(dir.path()).unwrap();
    let rt = ro.topic("t").unwrap().unwrap();
    assert_eq!(read_all(&rt, 0).1.len(), 1);
}

#[test]
fn zero_filled_index_tail() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 40);
    let sealed = segments(dir.path(), 0)[0].with_extension("index");
    let len = std::fs::metadata(&sealed).unwrap().len();
    let entries = (len as usize - INDEX_HEADER_LEN) / INDEX_ENTRY_LEN;
    assert!(entries >= 4);
    let f = OpenOptions::new().write(true).open(&sealed).unwrap();
    // Zero the last two entries and preallocate more zeros after them.
    let at = (INDEX_HEADER_LEN + (entries - 2) * INDEX_ENTRY_LEN) as u64;
    f.write_all_at(&[0u8; 2 * INDEX_ENTRY_LEN], at).unwrap();
    f.set_len(len + 64 * INDEX_ENTRY_LEN as u64).unwrap();
    drop(f);
    let (_s, t) = open_topic(dir.path());
    let (offs, bad) = read_all(&t, 0);
    assert!(bad.is_empty());
    assert_eq!(offs, (0..t.end_offset(0)).collect::<Vec<_>>());
    for o in 0..t.end_offset(0) {
        assert_eq!(t.fetch(0, o, 1).unwrap().records[0].offset, o);
    }
    assert!(t.verify().is_ok(), "{:?}", t.verify().problems);
}

#[test]
fn missing_index() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 40);
    let segs = segments(dir.path(), 0);
    for s in &segs {
        std::fs::remove_file(s.with_extension("index")).unwrap();
    }
    {
        let ro = Store::open_read_only(dir.path()).unwrap();
        let t = ro.topic("t").unwrap().unwrap();
        assert_eq!(read_all(&t, 0).0.len() as u64, t.end_offset(0));
        assert!(
            !segs[0].with_extension("index").exists(),
            "read-only open writes nothing"
        );
    }
    let (_s, t) = open_topic(dir.path());
    for s in &segs {
        assert!(
            s.with_extension("index").exists(),
            "index rebuilt: {}",
            s.display()
        );
    }
    for o in 0..t.end_offset(0) {
        assert_eq!(t.fetch(0, o, 1).unwrap().records[0].offset, o);
    }
    assert!(t.verify().is_ok(), "{:?}", t.verify().problems);
}

#[test]
fn index_longer_than_log() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 40);
    // The active segment loses its second half (as after a crash that lost written pages),
    // while its index still describes the longer log.
    let active = segments(dir.path(), 0).pop().unwrap();
    let bs = batches(&active);
    let (cut, h) = bs[bs.len() / 2];
    OpenOptions::new()
        .write(true)
        .open(&active)
        .unwrap()
        .set_len(cut)
        .unwrap();
    // A sealed index gets entries pointing past its log.
    let sealed_idx = segments(dir.path(), 0)[0].with_extension("index");
    let mut extra = Vec::new();
    for i in 0..3u32 {
        extra.extend_from_slice(&(10_000 + i).to_le_bytes());
        extra.extend_from_slice(&(1_000_000 + i).to_le_bytes());
        extra.extend_from_slice(&i64::MAX.to_le_bytes());
    }
    let f = OpenOptions::new().append(true).open(&sealed_idx).unwrap();
    std::io::Write::write_all(&mut &f, &extra).unwrap();
    drop(f);
    let (_s, t) = open_topic(dir.path());
    assert_eq!(t.end_offset(0), h.base_offset);
    let (offs, bad) = read_all(&t, 0);
    assert!(bad.is_empty());
    assert_eq!(offs, (0..h.base_offset).collect::<Vec<_>>());
    // New appends land where the log ends and are found through the index.
    for i in 0..30 {
        let o = h.base_offset + i;
        assert_eq!(
            t.append(0, &[Record::new(value(0, o))], Acks::Written)
                .unwrap()
                .first_offset,
            o
        );
    }
    for o in 0..t.end_offset(0) {
        assert_eq!(t.fetch(0, o, 1).unwrap().records[0].offset, o);
    }
    assert!(t.verify().is_ok(), "{:?}", t.verify().problems);
}

#[test]
fn stale_topic_meta() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 3, 4);
    // A meta file from before the topic grew to 3 partitions.
    let meta = dir.path().join("topics/t").join(META_FILE);
    let s2 = TempDir::new().unwrap();
    {
        let s = Store::open(s2.path()).unwrap();
        s.create_topic("t", cfg(1)).unwrap();
    }
    std::fs::copy(s2.path().join("topics/t").join(META_FILE), &meta).unwrap();
    let (_s, t) = open_topic(dir.path());
    assert_eq!(
        t.partition_count(),
        3,
        "partitions on disk win over a stale meta"
    );
    for p in 0..3 {
        assert_eq!(read_all(&t, p).0.len(), 20);
    }
}

#[test]
fn garbled_topic_meta() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 3, 4);
    let meta = dir.path().join("topics/t").join(META_FILE);
    // Still opens from what is on disk, and the meta is rewritten.
    std::fs::write(&meta, b"SLTM garbage garbage garbage").unwrap();
    {
        let ro = Store::open_read_only(dir.path()).unwrap();
        assert_eq!(ro.topic("t").unwrap().unwrap().partition_count(), 3);
        assert_eq!(
            std::fs::read(&meta).unwrap(),
            b"SLTM garbage garbage garbage",
            "read-only writes nothing"
        );
    }
    let (_s, t) = open_topic(dir.path());
    assert_eq!(t.partition_count(), 3);
    assert_eq!(read_all(&t, 2).0.len(), 20);
    let rewritten = String::from_utf8_lossy(&std::fs::read(&meta).unwrap()).into_owned();
    assert!(rewritten.starts_with("SLTM"), "{rewritten}");
    assert!(
        rewritten.contains("\"partitions\": 3"),
        "meta rewritten from disk: {rewritten}"
    );
}

#[test]
fn leftover_temp_file() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 10);
    let tdir = dir.path().join("topics/t");
    let meta_tmp = tdir.join(format!("{META_FILE}.tmp"));
    std::fs::write(&meta_tmp, b"half-written").unwrap();
    let idx_tmp = part_dir(dir.path(), 0).join("00000000000000000000.index.tmp");
    std::fs::write(&idx_tmp, b"half").unwrap();
    {
        let ro = Store::open_read_only(dir.path()).unwrap();
        let t = ro.topic("t").unwrap().unwrap();
        assert_eq!(t.end_offset(0), 50);
        assert!(
            meta_tmp.exists() && idx_tmp.exists(),
            "read-only open leaves files alone"
        );
    }
    let (_s, t) = open_topic(dir.path());
    assert_eq!(t.end_offset(0), 50);
    assert_eq!(
        t.config(),
        cfg(1),
        "the real meta was used, not the temp file"
    );
    assert!(!idx_tmp.exists(), "leftover index temp file removed");
    assert!(!meta_tmp.exists(), "leftover meta temp file removed");
}

#[test]
fn one_broken_topic_does_not_stop_the_others() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 10);
    {
        let s = Store::open(dir.path()).unwrap();
        s.create_topic("other", TopicConfig::default()).unwrap();
        s.topic("other")
            .unwrap()
            .unwrap()
            .append(0, &[Record::new(Bytes::from("ok"))], Acks::Written)
            .unwrap();
    }
    // Overwrite the active segment header of topic "t" with garbage (data after it remains).
    let active = segments(dir.path(), 0).pop().unwrap();
    OpenOptions::new()
        .write(true)
        .open(&active)
        .unwrap()
        .write_all_at(b"JUNKJUNK", 0)
        .unwrap();
    let s = Store::open(dir.path()).unwrap();
    let err = s.topic("t").unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(
        err.to_string().contains(&active.display().to_string()),
        "{err}"
    );
    assert_eq!(s.topic("other").unwrap().unwrap().end_offset(0), 1);
}

#[test]
fn missing_middle_segment() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 100);
    let segs = segments(dir.path(), 0);
    assert!(segs.len() >= 3);
    let gone = batches(&segs[1]);
    let (first, next) = (gone[0].1.base_offset, gone.last().unwrap().1.next_offset());
    std::fs::remove_file(&segs[1]).unwrap();
    let (_s, t) = open_topic(dir.path());
    assert!(
        !segs[1].with_extension("index").exists(),
        "orphan index removed"
    );
    // Everything that is still there is served, around the hole.
    let (offs, bad) = read_all(&t, 0);
    let expected: Vec<u64> = (0..t.end_offset(0))
        .filter(|o| !(first..next).contains(o))
        .collect();
    assert_eq!(offs, expected);
    assert_eq!(bad.len(), 1, "the hole is reported to the reader: {bad:?}");
    assert_eq!((bad[0].first_offset, bad[0].next_offset), (first, next));
    // fsck reports the hole with the file before it.
    let rep = t.verify();
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
    assert_eq!(rep.problems[0].path, segs[0]);
    assert!(
        rep.problems[0]
            .reason
            .contains(&format!("ends at offset {first}")),
        "{}",
        rep.problems[0]
    );
}

#[test]
fn garbled_sealed_segment_header() {
    let dir = TempDir::new().unwrap();
    populate(dir.path(), 1, 100);
    let segs = segments(dir.path(), 0);
    let bs = batches(&segs[1]);
    let (first, next) = (bs[0].1.base_offset, bs.last().unwrap().1.next_offset());
    flip(&segs[1], 0, 0xff); // the magic
    let (_s, t) = open_topic(dir.path());
    let (offs, bad) = read_all(&t, 0);
    let expected: Vec<u64> = (0..t.end_offset(0))
        .filter(|o| !(first..next).contains(o))
        .collect();
    assert_eq!(offs, expected, "segments before and after are served");
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].path.clone(), bad[0].first_offset, bad[0].next_offset),
        (segs[1].clone(), first, next)
    );
    let rep = t.verify();
    assert!(
        rep.problems
            .iter()
            .any(|p| p.path == segs[1] && p.position == 0 && p.reason.contains("magic")),
        "{:?}",
        rep.problems
    );
}
