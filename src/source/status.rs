//! What the shipper knows about its files, for the HTTP API (`files_status`) and metrics.

use super::identity::FileKey;
use super::shipper::Shared;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

/// The state of one tailed file, as of the last status update (at most ~0.5 s old).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileStatus {
    /// Path the file was last seen under.
    pub path: String,
    /// Device number.
    pub device: u64,
    /// Inode number.
    pub inode: u64,
    /// Fingerprint (hex) of the first line; the first part of the events' source ids.
    pub fingerprint: Option<String>,
    /// Size at the last look.
    pub size: u64,
    /// Bytes read so far (offset of the next byte to read).
    pub read_offset: u64,
    /// Offset up to which the log acknowledged the lines (what the checkpoint holds).
    pub acked_offset: u64,
    /// `size - acked_offset`: what a restart would still have to ship.
    pub bytes_behind: u64,
    /// Whether a descriptor is open (closed after `close_inactive`).
    pub open: bool,
    /// Whether the file still matches `paths` (false once rotated away, still being drained).
    pub in_paths: bool,
    /// Whether the file was deleted (drained, then closed).
    pub deleted: bool,
}

/// Read position and size of a tailed file, updated by the reader as it goes (so the status is
/// live even while the reader is blocked by backpressure).
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub read: AtomicU64,
    pub size: AtomicU64,
}

/// A published file: its description, live counters and identity.
pub(crate) struct Published {
    pub base: FileStatus,
    pub live: Arc<Live>,
    pub key: FileKey,
    pub fp: Option<u64>,
}

struct Source {
    files: Vec<Published>,
    shared: Arc<Shared>,
}

static REGISTRY: LazyLock<Mutex<HashMap<String, Source>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The files of the running file source of `pipeline` (empty if none runs), sorted by path.
/// Offsets are current; the list of files is at most ~0.5 s old.
pub fn files_status(pipeline: &str) -> Vec<FileStatus> {
    let reg = REGISTRY.lock();
    let Some(src) = reg.get(pipeline) else {
        return Vec::new();
    };
    let entries = src.shared.checkpoints.lock();
    src.files
        .iter()
        .map(|p| {
            let mut s = p.base.clone();
            s.read_offset = p.live.read.load(Ordering::Relaxed);
            s.size = p.live.size.load(Ordering::Relaxed).max(s.read_offset);
            s.acked_offset = match (p.fp, entries.get(&p.key)) {
                (Some(fp), Some(e)) if e.fp == fp => e.offset,
                _ => 0,
            };
            s.bytes_behind = s.size.saturating_sub(s.acked_offset);
            s
        })
        .collect()
}

/// Pipelines whose file source currently publishes a status.
pub fn pipelines_with_file_sources() -> Vec<String> {
    let mut v: Vec<String> = REGISTRY.lock().keys().cloned().collect();
    v.sort();
    v
}

pub(crate) fn publish(pipeline: &str, shared: Arc<Shared>, files: Vec<Published>) {
    REGISTRY
        .lock()
        .insert(pipeline.to_string(), Source { files, shared });
}

pub(crate) fn unpublish(pipeline: &str) {
    REGISTRY.lock().remove(pipeline);
}
