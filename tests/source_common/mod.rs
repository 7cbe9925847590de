//! Shared helpers for the shipper's integration tests: an in-memory output and a running
//! shipper handle.
#![allow(dead_code)]

pub mod store_output;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use sluice::event::Event;
use sluice::source::{FileSourceConfig, OutputError, ShipperOutput, SourceError, run_file_source};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Collects every acknowledged event; can be told to block or to fail.
#[derive(Default)]
pub struct MemOutput {
    pub events: Mutex<Vec<Event>>,
    pub blocked: AtomicBool,
    pub fail_next: AtomicUsize,
    pub sends: AtomicUsize,
}

impl ShipperOutput for MemOutput {
    fn send(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async move {
            while self.blocked.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.sends.fetch_add(1, Ordering::SeqCst);
            if self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                // Half the batch made it before the failure, as a partial write would.
                let half = events.len() / 2;
                self.events.lock().extend(events.into_iter().take(half));
                return Err(OutputError::Transient("injected".into()));
            }
            self.events.lock().extend(events);
            Ok(())
        })
    }
}

impl MemOutput {
    pub fn messages(&self) -> Vec<String> {
        self.events
            .lock()
            .iter()
            .map(|e| e.get_str("message").unwrap_or_default().to_string())
            .collect()
    }
    pub fn len(&self) -> usize {
        self.events.lock().len()
    }
}

/// Test config: fast scans and polls.
pub fn fast_config(paths: Vec<String>) -> FileSourceConfig {
    FileSourceConfig {
        paths,
        scan_interval: Duration::from_millis(100),
        poll_interval: Duration::from_millis(20),
        close_inactive: Duration::from_millis(500),
        checkpoint_interval: Duration::from_millis(50),
        host_name: Some("test-host".into()),
        ..Default::default()
    }
}

/// A shipper running in the background.
pub struct Running {
    pub out: Arc<MemOutput>,
    pub cancel: CancellationToken,
    pub task: JoinHandle<Result<(), SourceError>>,
}

/// Starts a shipper under a pipeline name unique in this process (status is per pipeline).
pub fn start(cfg: FileSourceConfig, ck: &Path, out: Arc<MemOutput>) -> Running {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("test-{}", N.fetch_add(1, Ordering::SeqCst));
    start_named(&name, cfg, ck, out)
}

pub fn start_named(name: &str, cfg: FileSourceConfig, ck: &Path, out: Arc<MemOutput>) -> Running {
    let cancel = CancellationToken::new();
    let o: Arc<dyn ShipperOutput> = out.clone();
    let (c, dir, name) = (cancel.clone(), ck.to_path_buf(), name.to_string());
    let task = tokio::spawn(async move { run_file_source(&name, cfg, dir, o, c).await });
    Running { out, cancel, task }
}

impl Running {
    pub async fn stop(self) -> Arc<MemOutput> {
        self.cancel.cancel();
        self.task.await.unwrap().unwrap();
        self.out
    }
}

/// Waits until `cond` holds on the output (panics after `secs`).
pub async fn wait_until(out: &MemOutput, secs: u64, what: &str, cond: impl Fn(&[Event]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond(&out.events.lock()) {
            return;
        }
        if Instant::now() > deadline {
            let n = out.len();
            panic!("timed out waiting for {what} ({n} events)");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn wait_count(out: &MemOutput, n: usize) {
    wait_until(out, 10, &format!("{n} events"), |e| e.len() >= n).await;
}

pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

pub fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} line {i}\n")).collect()
}

pub fn expected(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} line {i}")).collect()
}

pub fn glob(dir: &Path, pat: &str) -> String {
    format!("{}/{pat}", dir.display())
}

pub fn ck_dir(root: &Path) -> PathBuf {
    root.join("ck")
}

/// Open descriptors of this process that point at `path` (deleted or not).
pub fn fds_pointing_at(path: &Path) -> usize {
    let want = path.to_string_lossy().to_string();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.to_string_lossy().starts_with(&want))
        .count()
}
