//! The shipper on real files: append, late files, symlinks, many files, long lines, bad UTF-8,
//! multiline, stdin, backpressure and failed sends.

mod source_common;

use sluice::source::{
    MultilineConfig, StdinSourceConfig, TAG_LINE_TRUNCATED, TAG_UTF8_LOSSY, run_reader_source,
};
use sluice::value;
use source_common::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tempfile::TempDir;

#[tokio::test]
async fn appended_lines_arrive_in_order_with_ecs_fields() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("app.log");
    append(&f, &lines("a", 0..50));
    let mut cfg = fast_config(vec![glob(d.path(), "*.log")]);
    cfg.fields.insert("service", value!("web"));
    cfg.tags = vec!["t1".into()];
    let r = start(cfg, &ck_dir(d.path()), Arc::new(MemOutput::default()));
    wait_count(&r.out, 50).await;
    append(&f, &lines("a", 50..100));
    append(&f, "partial without newline");
    wait_count(&r.out, 100).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.out.len(), 100, "a partial line is held");
    append(&f, " completed\n");
    wait_count(&r.out, 101).await;
    let out = r.stop().await;
    let msgs = out.messages();
    let mut want = expected("a", 0..100);
    want.push("partial without newline completed".into());
    assert_eq!(msgs, want);
    let ev = out.events.lock();
    let e = &ev[1];
    assert_eq!(e.get("log.offset"), Some(&value!(9)));
    assert_eq!(e.get_str("log.file.path"), Some(f.to_str().unwrap()));
    assert_eq!(e.get_str("host.name"), Some("test-host"));
    assert_eq!(e.get_str("service"), Some("web"));
    assert_eq!(e.fields["tags"], value!(["t1"]));
    let sid = e.source_id.clone().unwrap();
    assert!(sid.ends_with("-9"), "{sid}");
    let fp = sid.split('-').next().unwrap();
    assert!(
        ev.iter()
            .all(|e| e.source_id.as_ref().unwrap().starts_with(fp))
    );
}

#[tokio::test]
async fn a_file_that_appears_later_is_picked_up_within_a_second() {
    let d = TempDir::new().unwrap();
    let mut cfg = fast_config(vec![glob(d.path(), "*.log")]);
    cfg.scan_interval = Duration::from_secs(30); // only inotify can find it in time
    let r = start(cfg, &ck_dir(d.path()), Arc::new(MemOutput::default()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    append(&d.path().join("late.log"), &lines("late", 0..3));
    wait_count(&r.out, 3).await;
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );
    let out = r.stop().await;
    assert_eq!(out.messages(), expected("late", 0..3));
}

#[tokio::test]
async fn symlinked_log_path_is_followed() {
    let d = TempDir::new().unwrap();
    std::fs::create_dir(d.path().join("real")).unwrap();
    std::fs::create_dir(d.path().join("logs")).unwrap();
    let target = d.path().join("real/x.txt");
    append(&target, &lines("s", 0..5));
    let link = d.path().join("logs/app.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let r = start(
        fast_config(vec![glob(&d.path().join("logs"), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 5).await;
    append(&target, &lines("s", 5..8));
    wait_count(&r.out, 8).await;
    let out = r.stop().await;
    assert_eq!(out.messages(), expected("s", 0..8));
    assert_eq!(
        out.events.lock()[0].get_str("log.file.path"),
        Some(link.to_str().unwrap())
    );
}

#[tokio::test]
async fn five_hundred_files_at_once() {
    let d = TempDir::new().unwrap();
    for i in 0..500 {
        append(
            &d.path().join(format!("f{i:03}.log")),
            &lines(&format!("f{i}"), 0..10),
        );
    }
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_until(&r.out, 30, "5000 events", |e| e.len() >= 5000).await;
    // Idle files are closed after close_inactive (500 ms here): descriptors stay bounded.
    let mut open = usize::MAX;
    for _ in 0..300 {
        open = fds_pointing_at(d.path());
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(open, 0, "descriptors of inactive files released");
    let out = r.stop().await;
    assert_eq!(out.len(), 5000);
    let msgs = out.messages();
    for i in 0..500 {
        let p = format!("f{i} line");
        let of_file: Vec<_> = msgs
            .iter()
            .filter(|m| m.starts_with(&format!("{p} ")))
            .cloned()
            .collect();
        assert_eq!(
            of_file,
            expected(&format!("f{i}"), 0..10),
            "file {i} in order, once"
        );
    }
}

#[tokio::test]
async fn a_10_mib_line_is_cut_and_tagged_and_the_next_line_survives() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("big.log");
    let big = "x".repeat(10 * 1024 * 1024);
    append(&f, &format!("before\n{big}\nafter\n"));
    let cfg = fast_config(vec![glob(d.path(), "*.log")]);
    let max = cfg.max_line_bytes;
    let r = start(cfg, &ck_dir(d.path()), Arc::new(MemOutput::default()));
    wait_count(&r.out, 3).await;
    let out = r.stop().await;
    let ev = out.events.lock();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[1].get_str("message").unwrap().len(), max);
    assert!(ev[1].has_tag(TAG_LINE_TRUNCATED));
    assert_eq!(ev[2].get_str("message"), Some("after"));
    assert_eq!(ev[2].get("log.offset"), Some(&value!(7 + big.len() + 1)));
    assert!(!ev[2].has_tag(TAG_LINE_TRUNCATED));
}

#[tokio::test]
async fn invalid_utf8_is_kept_lossy_and_tagged() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("bad.log");
    std::fs::write(&f, b"ok\nbad \xff\xfe bytes\r\nok2\n").unwrap();
    let r = start(
        fast_config(vec![glob(d.path(), "*.log")]),
        &ck_dir(d.path()),
        Arc::new(MemOutput::default()),
    );
    wait_count(&r.out, 3).await;
    let out = r.stop().await;
    let ev = out.events.lock();
    assert_eq!(ev[1].get_str("message"), Some("bad \u{fffd}\u{fffd} bytes"));
    assert!(ev[1].has_tag(TAG_UTF8_LOSSY));
    assert!(!ev[0].has_tag(TAG_UTF8_LOSSY) && !ev[2].has_tag(TAG_UTF8_LOSSY));
}

const JAVA: &str = "2024-05-01 12:00:00 INFO started\n\
2024-05-01 12:00:01 ERROR request failed\n\
java.lang.IllegalStateException: boom\n\
\tat com.example.Service.handle(Service.java:42)\n\
\tat com.example.Main.main(Main.java:7)\n\
Caused by: java.io.IOException: disk\n\
\tat com.example.Io.read(Io.java:3)\n\
\t... 2 more\n\
2024-05-01 12:00:02 INFO recovered\n";

#[tokio::test]
async fn multiline_java_stack_trace_becomes_one_event() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("java.log");
    append(&f, JAVA);
    let mut cfg = fast_config(vec![glob(d.path(), "*.log")]);
    cfg.multiline = Some(MultilineConfig {
        pattern: r"^\d{4}-\d{2}-\d{2}[ T]".into(),
        negate: true,
        timeout: Duration::from_millis(200),
        ..Default::default()
    });
    let r = start(cfg, &ck_dir(d.path()), Arc::new(MemOutput::default()));
    // The last event is only complete after the flush timeout.
    wait_count(&r.out, 3).await;
    let out = r.stop().await;
    let ev = out.events.lock();
    assert_eq!(ev.len(), 3);
    let trace = ev[1].get_str("message").unwrap();
    assert!(trace.starts_with("2024-05-01 12:00:01 ERROR"));
    assert!(trace.ends_with("\t... 2 more"));
    assert_eq!(trace.lines().count(), 7);
    let off = JAVA.find("2024-05-01 12:00:01").unwrap();
    assert_eq!(ev[1].get("log.offset"), Some(&value!(off)));
    assert_eq!(
        ev[2].get_str("message"),
        Some("2024-05-01 12:00:02 INFO recovered")
    );
}

#[tokio::test]
async fn backpressure_pauses_reading_and_loses_nothing() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("bp.log");
    let out = Arc::new(MemOutput::default());
    out.blocked.store(true, Ordering::SeqCst);
    append(&f, &lines("bp", 0..20_000));
    let mut cfg = fast_config(vec![glob(d.path(), "*.log")]);
    cfg.batch_events = 100;
    let r = start_named("bp", cfg, &ck_dir(d.path()), out.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = sluice::source::files_status("bp");
    // Bounded queue: the reader stopped far before the end of the file.
    assert_eq!(status.len(), 1);
    assert!(
        status[0].read_offset < status[0].size / 2,
        "reader paused: {status:?}"
    );
    assert_eq!(status[0].acked_offset, 0);
    out.blocked.store(false, Ordering::SeqCst);
    wait_count(&out, 20_000).await;
    let out = r.stop().await;
    assert_eq!(out.messages(), expected("bp", 0..20_000));
}

#[tokio::test]
async fn a_failed_send_is_retried_from_the_acked_offset_with_the_same_ids() {
    let d = TempDir::new().unwrap();
    let f = d.path().join("r.log");
    append(&f, &lines("r", 0..1000));
    let out = Arc::new(MemOutput::default());
    out.fail_next.store(2, Ordering::SeqCst);
    let mut cfg = fast_config(vec![glob(d.path(), "*.log")]);
    cfg.batch_events = 64;
    let r = start_named("retry", cfg, &ck_dir(d.path()), out.clone());
    wait_until(&out, 10, "every line", |ev| {
        let mut m: Vec<_> = ev.iter().map(|e| e.source_id.clone()).collect();
        m.sort();
        m.dedup();
        m.len() >= 1000
    })
    .await;
    let out = r.stop().await;
    let ev = out.events.lock();
    let mut by_id = std::collections::HashMap::new();
    for e in ev.iter() {
        let prev = by_id.insert(
            e.source_id.clone().unwrap(),
            e.get_str("message").unwrap().to_string(),
        );
        if let Some(p) = prev {
            assert_eq!(
                Some(p.as_str()),
                e.get_str("message"),
                "duplicate with the same id and message"
            );
        }
    }
    let mut msgs: Vec<_> = by_id.into_values().collect();
    msgs.sort_by_key(|m| m[7..].parse::<usize>().unwrap());
    assert_eq!(msgs, expected("r", 0..1000));
    assert!(ev.len() > 1000, "the partial batches were re-sent");
}

#[tokio::test]
async fn stdin_source_reads_lines_until_eof() {
    let out = Arc::new(MemOutput::default());
    let input = std::io::Cursor::new(b"one\ntwo\r\nthree".to_vec());
    let o: Arc<dyn sluice::source::ShipperOutput> = out.clone();
    run_reader_source(
        "stdin",
        StdinSourceConfig::default(),
        input,
        o,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.messages(), vec!["one", "two", "three"]);
    let ev = out.events.lock();
    assert_eq!(ev[2].get("log.offset"), Some(&value!(9)));
    assert!(ev[0].source_id.is_none() && ev[0].get("log.file.path").is_none());
}
