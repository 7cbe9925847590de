//! The `file` sink: NDJSON (one event per line, without `@metadata`), optionally gzip, rolled
//! by size.
//!
//! The active file is `path`; when it reaches `max_bytes` it is renamed `path.1`, `path.2`, …
//! (the next unused number) and a new `path` is started. With gzip, every batch is one complete
//! gzip member appended to the file (`zcat` reads them all), so a crash leaves a readable
//! prefix. A batch counts as delivered once written and, with `sync` (default), fsync'd.

use super::elasticsearch::Compression;
use super::{Sink, SinkAck, SinkError};
use crate::event::Event;
use flate2::write::GzEncoder;
use futures_util::future::BoxFuture;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Configuration of the `file` sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// The file to append to (created with its parent directories). No default: required.
    pub path: PathBuf,
    /// `gzip` writes gzip members. Default: none.
    pub compression: Compression,
    /// Roll the file once it holds this many bytes (on disk); 0 never rolls. Default: 0.
    pub max_bytes: u64,
    /// fsync after every batch, so a delivered batch survives a power loss. Default: true.
    pub sync: bool,
}

impl FileSinkConfig {
    /// A configuration for `path` with the defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSinkConfig {
            path: path.into(),
            compression: Compression::None,
            max_bytes: 0,
            sync: true,
        }
    }
}

/// Writes events to a file.
#[derive(Debug)]
pub struct FileSink {
    cfg: FileSinkConfig,
    file: Option<File>,
    size: u64,
    metrics: super::elasticsearch::service::SinkMetrics,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SinkError {
    let what = what.into();
    move |source| SinkError::Io { what, source }
}

/// Encodes `batch` as NDJSON (without `@metadata`).
pub fn encode_ndjson(batch: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.len() * 256);
    for e in batch {
        e.write_sink_json(&mut out);
        out.push(b'\n');
    }
    out
}

fn open(path: &Path) -> Result<(File, u64), SinkError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    }
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    let size = f
        .metadata()
        .map_err(io_err(format!("reading {}", path.display())))?
        .len();
    Ok((f, size))
}

/// The first `path.N` not yet taken.
fn next_rolled(path: &Path) -> PathBuf {
    let mut n = 1u64;
    loop {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        let p = PathBuf::from(s);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

impl FileSink {
    /// Opens (or creates) the file for `pipeline`.
    pub fn new(cfg: FileSinkConfig, pipeline: &str) -> Result<Self, SinkError> {
        let (file, size) = open(&cfg.path)?;
        Ok(FileSink {
            cfg,
            file: Some(file),
            size,
            metrics: super::elasticsearch::service::SinkMetrics::new(pipeline, "file"),
        })
    }

    fn write_blocking(
        cfg: &FileSinkConfig,
        mut file: File,
        mut size: u64,
        data: Vec<u8>,
    ) -> Result<(File, u64), SinkError> {
        let path = &cfg.path;
        if cfg.max_bytes > 0 && size > 0 && size >= cfg.max_bytes {
            drop(file);
            let to = next_rolled(path);
            std::fs::rename(path, &to).map_err(io_err(format!(
                "rolling {} to {}",
                path.display(),
                to.display()
            )))?;
            (file, size) = open(path)?;
        }
        let bytes = match cfg.compression {
            Compression::Gzip => {
                let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&data)
                    .and_then(|_| enc.finish())
                    .map_err(io_err("compressing"))?
            }
            Compression::None => data,
        };
        file.write_all(&bytes)
            .map_err(io_err(format!("writing {}", path.display())))?;
        if cfg.sync {
            file.sync_data()
                .map_err(io_err(format!("syncing {}", path.display())))?;
        }
        Ok((file, size + bytes.len() as u64))
    }

    async fn send_batch(&mut self, batch: Vec<Event>) -> Result<SinkAck, SinkError> {
        if batch.is_empty() {
            return Ok(SinkAck::default());
        }
        let data = encode_ndjson(&batch);
        let file = match self.file.take() {
            Some(f) => f,
            None => open(&self.cfg.path)?.0,
        };
        let cfg = self.cfg.clone();
        let size = self.size;
        let n = batch.len() as u64;
        let res = tokio::task::spawn_blocking(move || Self::write_blocking(&cfg, file, size, data))
            .await
            .map_err(|e| SinkError::Failed(format!("file sink writer: {e}")))?;
        let (file, new_size) = match res {
            Ok(r) => r,
            Err(e) => {
                // Reopen on the next batch; the caller retries this one.
                if let Ok((_, s)) = open(&self.cfg.path) {
                    self.size = s;
                }
                return Err(e);
            }
        };
        self.metrics.bytes.increment(new_size.saturating_sub(size));
        self.metrics.sent.increment(n);
        self.metrics.acked.increment(n);
        self.file = Some(file);
        self.size = new_size;
        Ok(SinkAck::default())
    }
}

impl Sink for FileSink {
    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        Box::pin(self.send_batch(batch))
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            if let Some(f) = &self.file {
                f.sync_all()
                    .map_err(io_err(format!("syncing {}", self.cfg.path.display())))?;
            }
            Ok(())
        })
    }

    fn name(&self) -> &str {
        "file"
    }
}
