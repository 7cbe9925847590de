//! What the shipper knows about its files, for the HTTP API (`files_status`) and metrics.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::LazyLock;

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

static REGISTRY: LazyLock<Mutex<HashMap<String, Vec<FileStatus>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The files of the running file source of `pipeline` (empty if none runs).
pub fn files_status(pipeline: &str) -> Vec<FileStatus> {
    REGISTRY.lock().get(pipeline).cloned().unwrap_or_default()
}

/// Pipelines whose file source currently publishes a status.
pub fn pipelines_with_file_sources() -> Vec<String> {
    let mut v: Vec<String> = REGISTRY.lock().keys().cloned().collect();
    v.sort();
    v
}

pub(crate) fn publish(pipeline: &str, files: Vec<FileStatus>) {
    REGISTRY.lock().insert(pipeline.to_string(), files);
}

pub(crate) fn unpublish(pipeline: &str) {
    REGISTRY.lock().remove(pipeline);
}
