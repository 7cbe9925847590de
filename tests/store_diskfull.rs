//! Disk full: the append fails with an error naming the file and the cause, nothing unwritten is
//! acknowledged, the log keeps a gap-free prefix, and appends succeed again once space is back —
//! without a restart. Two ways: the fault-injecting seam in the segment writer (works
//! everywhere) and, when the test may mount, a real tiny tmpfs.

use bytes::Bytes;
use sluice::store::{
    Acks, FaultInjector, Producer, ProducerConfig, Record, Store, StoreError, StoreOptions, Topic,
    TopicConfig,
};
use std::sync::Arc;
use tempfile::TempDir;

fn rec(i: u64) -> Record {
    Record {
        timestamp_ms: i as i64,
        key: None,
        value: Bytes::from(format!("record-{i}-{}", "z".repeat(100))),
        headers: vec![],
    }
}

/// Reads everything and checks offsets are 0..end without gaps and values match `rec`.
fn check_prefix(t: &Topic) -> u64 {
    let end = t.end_offset(0);
    let mut off = 0;
    while off < end {
        let f = t.fetch(0, off, 1 << 16).unwrap();
        assert!(f.corrupt.is_empty());
        for r in f.records {
            assert_eq!(r.offset, off);
            assert_eq!(r.value, rec(off).value);
            off += 1;
        }
    }
    end
}

fn is_enospc(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC))
}

#[test]
fn disk_full_via_fault_injection() {
    let dir = TempDir::new().unwrap();
    let faults = Arc::new(FaultInjector::new());
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            faults: Some(faults.clone()),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let t = store
        .create_topic(
            "full",
            TopicConfig {
                segment_bytes: 8192,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let mut next = 0u64;
    for _ in 0..20 {
        t.append(0, &[rec(next), rec(next + 1)], Acks::Fsync)
            .unwrap();
        next += 2;
    }
    let active = t.stats().partitions[0].clone();
    faults.fail_writes_after(0);
    // A roll that cannot write the new segment fails and leaves no half-made file.
    let err = t.roll(0).unwrap_err();
    assert!(is_enospc(&err), "{err}");
    let logs = std::fs::read_dir(dir.path().join("topics/full/0"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert_eq!(logs as u32, active.segments);
    for _ in 0..100 {
        // Many attempts: some of them would roll a segment; all fail cleanly.
        let err = t
            .append(0, &[rec(next), rec(next + 1)], Acks::Fsync)
            .unwrap_err();
        assert!(is_enospc(&err), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("No space left on device"), "{msg}");
        assert!(msg.contains(".log"), "error names the file: {msg}");
        assert!(err.is_transient());
        assert_eq!(
            t.end_offset(0),
            next,
            "nothing unwritten acknowledged or visible"
        );
    }
    // A producer sees the same error and no offsets.
    let p = Producer::new(
        t.clone(),
        ProducerConfig {
            acks: Acks::Fsync,
            ..ProducerConfig::default()
        },
    );
    let err = p.send_blocking(vec![rec(next)]).unwrap_err();
    assert!(is_enospc(&err), "{err}");
    assert_eq!(check_prefix(&t), next);
    assert!(t.stats().partitions[0].bytes <= active.bytes + 8192);
    // Space is back: appends go on at the next offset, no restart.
    faults.clear();
    for _ in 0..50 {
        let info = t
            .append(0, &[rec(next), rec(next + 1)], Acks::Fsync)
            .unwrap();
        assert_eq!(info.first_offset, next);
        next += 2;
    }
    let got = p.send_blocking(vec![rec(next)]).unwrap();
    assert_eq!(got, vec![(0, next)]);
    next += 1;
    drop(p);
    assert_eq!(check_prefix(&t), next);
    assert!(t.stats().partitions[0].segments > 2, "rolls happened");
    assert!(t.verify().is_ok(), "{:?}", t.verify().problems);
    drop(t);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let t = store.topic("full").unwrap().unwrap();
    assert_eq!(check_prefix(&t), next, "reopen sees the same gap-free log");
    assert!(t.verify().is_ok());
}

#[test]
fn disk_full_on_real_tmpfs() {
    let dir = TempDir::new().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "skipping: cannot mount a tmpfs here (the fault-injection test covers disk full)"
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let data = mnt.join("data");
    let store = Store::open(&data).unwrap();
    let t = store
        .create_topic(
            "full",
            TopicConfig {
                segment_bytes: 256 * 1024,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    // A filler file takes half the space; it is deleted later to "bring space back".
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![1u8; 1 << 20]).unwrap();
    let mut next = 0u64;
    let err = loop {
        let batch: Vec<Record> = (next..next + 20).map(rec).collect();
        match t.append(0, &batch, Acks::Fsync) {
            Ok(info) => {
                assert_eq!(info.first_offset, next);
                next += 20;
            }
            Err(e) => break e,
        }
        assert!(next < 1_000_000, "tmpfs never filled up");
    };
    assert!(is_enospc(&err), "{err}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert_eq!(t.end_offset(0), next);
    assert_eq!(check_prefix(&t), next);
    // Still full: a batch of the same size fails cleanly again.
    let batch: Vec<Record> = (next..next + 20).map(rec).collect();
    assert!(t.append(0, &batch, Acks::Fsync).is_err());
    assert_eq!(t.end_offset(0), next);
    std::fs::remove_file(&filler).unwrap();
    for _ in 0..20 {
        let batch: Vec<Record> = (next..next + 20).map(rec).collect();
        assert_eq!(t.append(0, &batch, Acks::Fsync).unwrap().first_offset, next);
        next += 20;
    }
    assert_eq!(check_prefix(&t), next);
    assert!(t.verify().is_ok(), "{:?}", t.verify().problems);
    drop(t);
    drop(store);
    let store = Store::open(&data).unwrap();
    assert_eq!(check_prefix(&store.topic("full").unwrap().unwrap()), next);
}
