//! Shared pieces of the end-to-end tests: an Apache log writer that rotates, a pipeline file
//! pointing at the test Elasticsearch server, and a handle on a real `sluice run` process.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Base time of line 0; line `i` is stamped `BASE + i` seconds.
pub const BASE_EPOCH: i64 = 1_764_000_000; // 2025-11-24T16:00:00Z

/// Apache combined line number `i`: unique (the path carries `i`), with a known timestamp.
pub fn apache_line(i: u64) -> String {
    let t = chrono::DateTime::from_timestamp(BASE_EPOCH + i as i64, 0).expect("valid time");
    let t = t.with_timezone(&chrono::FixedOffset::east_opt(3600).expect("offset"));
    let status = [200, 200, 200, 304, 404, 500][(i % 6) as usize];
    format!(
        "10.{}.{}.{} - - [{}] \"GET /item/{i} HTTP/1.1\" {status} {} \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) sluice-e2e\"",
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        t.format("%d/%b/%Y:%H:%M:%S %z"),
        100 + i % 5000
    )
}

/// The `@timestamp` the pipeline must give line `i`.
pub fn expected_timestamp(i: u64) -> String {
    chrono::DateTime::from_timestamp(BASE_EPOCH + i as i64, 0)
        .expect("valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes `pipelines/app.yaml` under `root` and returns the config directory.
pub fn write_pipeline(root: &Path, logs: &Path, es_url: &str, partitions: u32) -> PathBuf {
    let dir = root.join("pipelines");
    std::fs::create_dir_all(&dir).expect("mkdir pipelines");
    let yaml = format!(
        r#"name: app
source:
  type: file
  paths: ["{logs}/app.log*"]
  scan_interval: 200ms
  fields: {{ service: web }}
buffer:
  partitions: {partitions}
  acks: all
  linger: 2ms
cleaner:
  workers: 2
  session_timeout: 3s
  steps:
    - grok: {{ field: message, patterns: ['%{{COMBINEDAPACHELOG}}'], on_failure: tag }}
    - date: {{ field: timestamp, formats: ['%d/%b/%Y:%H:%M:%S %z'] }}
    - remove: [timestamp]
sink:
  type: elasticsearch
  hosts: ["{es_url}"]
  index: "logs-%{{service}}"
  bulk: {{ max_docs: 2000, flush: 200ms }}
  retry: {{ initial: 20ms, max: 200ms }}
  compression: gzip
"#,
        logs = logs.display()
    );
    std::fs::write(dir.join("app.yaml"), yaml).expect("write pipeline");
    dir
}

/// A `sluice run` child process.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    /// Starts `sluice run` on `config` and `data`, no HTTP, logs to `log`.
    pub fn start(config: &Path, data: &Path, log: &Path) -> Daemon {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", "off", "--shutdown-timeout", "20s"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sluice run");
        Daemon { child }
    }

    /// SIGKILL, and reap.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to `timeout` for the exit status.
    pub fn terminate(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

/// Appends lines `range` to `logs/app.log`, rotating (rename to `app.log.<first line>`, then a
/// fresh `app.log`) every `rotate_every` lines, pausing a little between chunks so the daemon
/// tails a live file. Rotated files are kept (as logrotate's `rotate N` keeps them for a while),
/// so a daemon that was down during a rotation still finds them.
pub fn write_lines(logs: &Path, range: std::ops::Range<u64>, rotate_every: u64, chunk: u64) {
    let path = logs.join("app.log");
    let mut file = open_append(&path);
    let mut buf = String::new();
    for i in range {
        if i > 0 && i % rotate_every == 0 {
            flush(&mut file, &mut buf);
            // Rename-and-create rotation: the old file keeps being read to its end.
            std::fs::rename(&path, logs.join(format!("app.log.{i}"))).expect("rotate");
            file = open_append(&path);
        }
        buf.push_str(&apache_line(i));
        buf.push('\n');
        if (i + 1) % chunk == 0 {
            flush(&mut file, &mut buf);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    flush(&mut file, &mut buf);
}

fn open_append(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log for append")
}

fn flush(file: &mut std::fs::File, buf: &mut String) {
    file.write_all(buf.as_bytes()).expect("append");
    buf.clear();
}

/// Waits until `done()` or `timeout`; returns whether it became true.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}
