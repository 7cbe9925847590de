//! The `file` sink (NDJSON, gzip members, rolling by size) and the `stdout` sink.

use flate2::read::MultiGzDecoder;
use sluice::event::Event;
use sluice::sink::elasticsearch::Compression;
use sluice::sink::{FileSink, FileSinkConfig, Sink, StdoutSink, StdoutSinkConfig};
use sluice::value;
use sluice::value::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn events(from: usize, n: usize) -> Vec<Event> {
    (from..from + n)
        .map(|i| {
            let mut e = Event::from_message(format!("line {i} \"quoted\" ü"));
            e.insert("n", value!(i));
            e.insert("@metadata.hidden", value!(true));
            e.source_id = Some(format!("s:{i}"));
            e
        })
        .collect()
}

fn read_lines(path: &Path, gzip: bool) -> Vec<Value> {
    let raw = std::fs::read(path).unwrap();
    let text = if gzip {
        let mut s = String::new();
        MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(raw).unwrap()
    };
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn file_sink_writes_ndjson_without_metadata_and_appends_across_reopen() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("out/sub/events.ndjson");
    let mut s = FileSink::new(FileSinkConfig::new(&path), "p").unwrap();
    let evs = events(0, 10);
    assert!(s.send(evs.clone()).await.unwrap().rejected.is_empty());
    s.flush().await.unwrap();
    drop(s);
    let mut s = FileSink::new(FileSinkConfig::new(&path), "p").unwrap();
    s.send(events(10, 5)).await.unwrap();
    let lines = read_lines(&path, false);
    assert_eq!(lines.len(), 15);
    assert_eq!(lines[3], Value::Object(evs[3].to_sink_value()));
    assert!(lines.iter().all(|l| l.get("@metadata").is_none()));
    assert_eq!(lines[14]["n"], value!(14));
    assert_eq!(s.name(), "file");
}

#[tokio::test]
async fn file_sink_gzip_members_read_back_in_order() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("events.ndjson.gz");
    let mut cfg = FileSinkConfig::new(&path);
    cfg.compression = Compression::Gzip;
    let mut s = FileSink::new(cfg, "p").unwrap();
    for b in 0..5 {
        s.send(events(b * 100, 100)).await.unwrap();
    }
    let raw = std::fs::read(&path).unwrap();
    assert_eq!(&raw[..2], &[0x1f, 0x8b], "gzip magic");
    let lines = read_lines(&path, true);
    assert_eq!(lines.len(), 500);
    assert!(lines.iter().enumerate().all(|(i, l)| l["n"] == value!(i)));
}

#[tokio::test]
async fn file_sink_rolls_by_size_without_losing_or_reordering_lines() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("events.log");
    // A stray earlier roll must not be overwritten.
    std::fs::write(dir.path().join("events.log.1"), "").unwrap();
    let mut cfg = FileSinkConfig::new(&path);
    cfg.max_bytes = 2_000;
    cfg.sync = false;
    let mut s = FileSink::new(cfg, "p").unwrap();
    for b in 0..20 {
        s.send(events(b * 10, 10)).await.unwrap();
    }
    let mut rolled: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("events.log."))
        .collect();
    rolled.sort_by_key(|n| n.rsplit('.').next().unwrap().parse::<u32>().unwrap());
    assert!(rolled.len() >= 3, "{rolled:?}");
    assert_eq!(
        std::fs::metadata(dir.path().join("events.log.1"))
            .unwrap()
            .len(),
        0
    );
    let mut all = Vec::new();
    for name in &rolled {
        let p = dir.path().join(name);
        let size = std::fs::metadata(&p).unwrap().len();
        // A file is rolled at the first batch boundary past max_bytes.
        assert!(size < 2_000 + 1_500, "{name}: {size}");
        all.extend(read_lines(&p, false));
    }
    all.extend(read_lines(&path, false));
    assert_eq!(all.len(), 200);
    assert!(all.iter().enumerate().all(|(i, l)| l["n"] == value!(i)));
}

#[tokio::test]
async fn file_sink_reports_an_unwritable_path() {
    let dir = tempfile::TempDir::new().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = FileSink::new(FileSinkConfig::new(blocker.join("events")), "p").unwrap_err();
    assert!(err.to_string().contains("file"), "{err}");
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn stdout_sink_prints_one_json_per_line_or_pretty() {
    let buf = Buf::default();
    let mut s = StdoutSink::with_writer(StdoutSinkConfig::default(), "p", Box::new(buf.clone()));
    let evs = events(0, 3);
    assert!(s.send(evs.clone()).await.unwrap().rejected.is_empty());
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], Value::Object(evs[2].to_sink_value()));
    assert_eq!(s.name(), "stdout");

    let buf = Buf::default();
    let mut s = StdoutSink::with_writer(
        StdoutSinkConfig { pretty: true },
        "p",
        Box::new(buf.clone()),
    );
    s.send(events(0, 1)).await.unwrap();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(text.lines().count() > 3 && text.contains("  \"message\""));
}

#[tokio::test]
async fn stdout_sink_surfaces_write_errors() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "closed",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut s = StdoutSink::with_writer(StdoutSinkConfig::default(), "p", Box::new(Broken));
    let err = s.send(events(0, 1)).await.unwrap_err();
    assert!(err.to_string().contains("stdout"));
}
