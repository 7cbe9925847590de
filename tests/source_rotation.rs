//! The shipper through rotation, truncation, deletion, inode reuse and restarts.

mod source_common;

use source_common::*;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Every source id maps to one message, and the set of messages is `want`.
fn assert_exactly(out: &MemOutput, want: &[String]) {
    let ev = out.events.lock();
    let mut by_id: HashMap<String, String> = HashMap::new();
    for e in ev.iter() {
        let id = e.source_id.clone().unwrap();
        let m = e.get_str("message").unwrap().to_string();
        if let Some(prev) = by_id.insert(id.clone(), m.clone()) {
            assert_eq!(prev, m, "id {id} reused for another line");
        }
    }
    let mut got: Vec<_> = ev
        .iter()
        .map(|e| e.get_str("message").unwrap().to_string())
        .collect();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn rename_rotation_reads_late_lines_of_the_old_file() {
    use std::io::Write;
    let d = TempDir::new().unwrap();
    let f = d.path().join("app.log");
    let mut w = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&f)
        .unwrap();
    w.write_all(lines("old", 0..10).as_bytes()).unwrap();
    let r = start(
        fast_config(vec![glob(d.path(), "app.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 10).await;
    // Rotate: rename away (out of `paths`), the writer still holds the old descriptor.
    fs::rename(&f, d.path().join("app.log.1")).unwrap();
    w.write_all(lines("old", 10..15).as_bytes()).unwrap();
    append(&f, &lines("new", 0..10));
    wait_count(&r.out, 25).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = r.stop().await;
    let mut want = expected("old", 0..15);
    want.extend(expected("new", 0..10));
    assert_exactly(&out, &want);
}

#[tokio::test]
async fn rename_rotation_within_the_glob_keeps_the_position() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("app.log");
    append(&f, &lines("a", 0..10));
    let r = start(
        fast_config(vec![glob(d.path(), "app.log*")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 10).await;
    fs::rename(&f, d.path().join("app.log.1")).unwrap();
    append(&d.path().join("app.log.1"), &lines("a", 10..12));
    append(&f, &lines("b", 0..3));
    wait_count(&r.out, 15).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = r.stop().await;
    let mut want = expected("a", 0..12);
    want.extend(expected("b", 0..3));
    assert_exactly(&out, &want);
}

#[tokio::test]
async fn copytruncate_ships_before_and_after() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("app.log");
    append(&f, &lines("before", 0..20));
    let r = start(
        fast_config(vec![glob(d.path(), "app.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 20).await;
    fs::copy(&f, d.path().join("app.log.1")).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(0)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&f, &lines("after", 0..5));
    wait_count(&r.out, 25).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = r.stop().await;
    let mut want = expected("before", 0..20);
    want.extend(expected("after", 0..5));
    assert_exactly(&out, &want);
    let ev = out.events.lock();
    assert_eq!(ev[20].get("log.offset"), Some(&sluice::value!(0)));
    assert_ne!(
        ev[0].source_id.as_ref().unwrap().split('-').next(),
        ev[20].source_id.as_ref().unwrap().split('-').next(),
        "new content, new fingerprint"
    );
}

#[tokio::test]
async fn truncation_rewritten_longer_than_before_is_noticed_by_the_fingerprint() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("app.log");
    append(&f, &lines("x", 0..3));
    let r = start(
        fast_config(vec![glob(d.path(), "app.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 3).await;
    // Truncate and immediately write more than there was: the size never looks smaller.
    fs::write(&f, lines("y", 0..50)).unwrap();
    wait_count(&r.out, 53).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = r.stop().await;
    let mut want = expected("x", 0..3);
    want.extend(expected("y", 0..50));
    assert_exactly(&out, &want);
}

#[tokio::test]
async fn deleted_file_is_drained_and_its_descriptor_released() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("del.log");
    append(&f, &lines("d", 0..1));
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 1).await;
    assert_eq!(fds_pointing_at(&f), 1, "the shipper holds the file open");
    append(&f, &lines("d", 1..5000));
    fs::remove_file(&f).unwrap();
    wait_count(&r.out, 5000).await;
    let mut released = false;
    for _ in 0..200 {
        if fds_pointing_at(&f) == 0 {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(released, "descriptor of the deleted file still open");
    let out = r.stop().await;
    assert_exactly(&out, &expected("d", 0..5000));
}

#[tokio::test]
async fn inactive_files_are_closed_and_reopened_when_they_grow() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("idle.log");
    append(&f, &lines("i", 0..2));
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 2).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(fds_pointing_at(&f), 0, "closed after close_inactive");
    append(&f, &lines("i", 2..4));
    wait_count(&r.out, 4).await;
    let out = r.stop().await;
    assert_exactly(&out, &expected("i", 0..4));
}

#[tokio::test]
async fn a_held_last_line_is_emitted_when_the_file_goes_inactive() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("p.log");
    append(&f, "complete\nno newline yet");
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 1).await;
    assert_eq!(r.out.len(), 1, "held while the file is active");
    // close_inactive is 500 ms in tests.
    wait_count(&r.out, 2).await;
    let out = r.stop().await;
    assert_eq!(out.messages(), vec!["complete", "no newline yet"]);
    assert_eq!(
        out.events.lock()[1].get("log.offset"),
        Some(&sluice::value!(9))
    );
}

#[tokio::test]
async fn a_new_file_reusing_an_inode_is_read_from_the_start() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("re.log");
    let ck = ck_dir(d.path());
    append(&f, &lines("first", 0..30));
    let ino = fs::metadata(&f).unwrap().ino();
    let out = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck,
        Arc::new(MemOutput::default()),
    );
    wait_count(&out.out, 30).await;
    let out1 = out.stop().await;
    // While the shipper is down the file is replaced by a new one on the same inode (what a
    // delete + create that reuses the inode looks like): longer than the checkpoint offset.
    fs::write(&f, lines("second", 0..40)).unwrap();
    assert_eq!(fs::metadata(&f).unwrap().ino(), ino);
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck,
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 40).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out2 = r.stop().await;
    assert_exactly(&out1, &expected("first", 0..30));
    assert_exactly(&out2, &expected("second", 0..40));
}

#[tokio::test]
async fn delete_and_recreate_under_the_same_name_reads_the_new_file() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("re.log");
    append(&f, &lines("one", 0..10));
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 10).await;
    fs::remove_file(&f).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    append(&f, &lines("two", 0..10));
    wait_count(&r.out, 20).await;
    let out = r.stop().await;
    let mut want = expected("one", 0..10);
    want.extend(expected("two", 0..10));
    assert_exactly(&out, &want);
}

#[tokio::test]
async fn restart_from_checkpoint_loses_and_repeats_nothing() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("ck.log");
    let ck = ck_dir(d.path());
    append(&f, &lines("c", 0..100));
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck,
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 100).await;
    let out1 = r.stop().await;
    assert!(ck.join(sluice::source::CHECKPOINT_FILE).exists());
    append(&f, &lines("c", 100..250));
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck,
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 150).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out2 = r.stop().await;
    assert_eq!(out1.messages(), expected("c", 0..100));
    assert_eq!(out2.messages(), expected("c", 100..250));
}

#[tokio::test]
async fn start_at_end_skips_existing_content_but_not_new_files() {
    let d = TempDir::new().unwrap();
    append(&d.path().join("old.log"), &lines("old", 0..10));
    append(&d.path().join("old.log"), "a line being wri");
    let mut cfg = fast_config(vec![glob(d.path(), "*.log")]);
    cfg.start_at = sluice::source::StartAt::End;
    cfg.close_inactive = Duration::from_secs(60);
    let r = start(cfg, &ck_dir(d.path()), Arc::new(MemOutput::default()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(&d.path().join("old.log"), "tten\n");
    append(&d.path().join("old.log"), &lines("old", 10..12));
    append(&d.path().join("new.log"), &lines("new", 0..2));
    wait_count(&r.out, 5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = r.stop().await;
    let mut want = vec!["a line being written".to_string()];
    want.extend(expected("old", 10..12));
    want.extend(expected("new", 0..2));
    assert_exactly(&out, &want);
}

#[tokio::test]
async fn a_corrupt_checkpoint_is_set_aside_and_files_read_again() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("x.log");
    let ck = ck_dir(d.path());
    append(&f, &lines("x", 0..5));
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck,
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 5).await;
    let first = r.stop().await;
    let p = ck.join(sluice::source::CHECKPOINT_FILE);
    let mut b = fs::read(&p).unwrap();
    let n = b.len();
    b[n / 2] ^= 0xff;
    fs::write(&p, b).unwrap();
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck,
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 5).await;
    let again = r.stop().await;
    assert!(ck.join("checkpoints.corrupt").exists());
    let ids = |o: &MemOutput| {
        o.events
            .lock()
            .iter()
            .map(|e| e.source_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&first),
        ids(&again),
        "re-read lines carry the same source ids"
    );
}
