//! The reader thread: scans, reads every tailed file with large buffers, splits lines, joins
//! multiline events, builds events and hands batches to the sender (bounded channel: when the
//! log blocks, this thread blocks too). Handles rotation, truncation, deletion, inode reuse.

use super::batcher::{Closed, Out, push_line};
use super::checkpoint::Entry;
use super::config::{FileSourceConfig, StartAt};
use super::discovery::Discovery;
use super::identity::{FileKey, fingerprint};
use super::lines::LineSplitter;
use super::multiline::Multiline;
use super::raw::RawBatch;
use super::shipper::{Batch, Shared};
use super::status::{self, FileStatus, Live, Published};
use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

/// Size of the shared read buffer.
const READ_BUFFER: usize = 1024 * 1024;
/// Most bytes read from one file before the next file gets its turn.
const READ_BUDGET: u64 = 8 * 1024 * 1024;
/// A notify event triggers a rescan at most this often.
const MIN_RESCAN: Duration = Duration::from_millis(100);
/// Status (and bytes-behind gauges) are refreshed at most this often.
const STATUS_EVERY: Duration = Duration::from_millis(500);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The start of the line that contains byte `size - 1` (so `start_at: end` never starts
/// inside a line): just past the last `\n` in the final 64 KiB, or `size` if there is none.
fn line_start_before(file: &File, size: u64) -> u64 {
    let from = size.saturating_sub(64 * 1024);
    let mut buf = vec![0u8; (size - from) as usize];
    match file.read_exact_at(&mut buf, from) {
        Ok(()) => match memchr::memrchr(b'\n', &buf) {
            Some(i) => from + i as u64 + 1,
            None => size,
        },
        Err(_) => size,
    }
}

/// One tailed file.
struct Tailed {
    key: FileKey,
    fp: Option<u64>,
    path: PathBuf,
    path_str: String,
    file: Option<File>,
    splitter: LineSplitter,
    multiline: Option<Multiline>,
    /// End offset of the last event handed to the batch.
    emitted: u64,
    size: u64,
    last_data: Instant,
    in_glob: bool,
    deleted: bool,
    finished: bool,
    /// A scan saw a different first line: the file was truncated and rewritten.
    rewritten: bool,
    live: Arc<Live>,
}

/// The reader: owns every tailed file.
pub(crate) struct Reader {
    cfg: FileSourceConfig,
    shared: Arc<Shared>,
    disc: Discovery,
    files: HashMap<FileKey, Tailed>,
    out: Out,
    buf: Vec<u8>,
    first_scan: bool,
    cancel: CancellationToken,
    wake: Receiver<()>,
    last_status: Instant,
}

impl Reader {
    /// A reader sending batches into `tx` (and reusing those that come back through `spare`);
    /// `wake` receives a unit per inotify event.
    pub fn new(
        pipeline: &str,
        cfg: FileSourceConfig,
        shared: Arc<Shared>,
        disc: Discovery,
        (tx, spare): (Sender<Batch>, Receiver<RawBatch>),
        cancel: CancellationToken,
        wake: Receiver<()>,
    ) -> Self {
        let out = Out {
            pipeline: pipeline.to_string(),
            batch: RawBatch::with_capacity(cfg.batch_events, cfg.batch_bytes.min(4 << 20)),
            max_events: cfg.batch_events.max(1),
            max_bytes: cfg.batch_bytes.max(1),
            generation: shared.generation.load(Ordering::SeqCst),
            tx,
            lines: 0,
            spare,
        };
        Reader {
            cfg,
            shared,
            disc,
            files: HashMap::new(),
            out,
            buf: vec![0u8; READ_BUFFER],
            first_scan: true,
            cancel,
            wake,
            last_status: Instant::now() - STATUS_EVERY,
        }
    }

    fn label(&self) -> String {
        self.out.pipeline.clone()
    }

    fn abandon(&self, reason: &'static str, bytes: u64) {
        if bytes > 0 {
            tracing::warn!(pipeline = %self.out.pipeline, reason, bytes, "bytes abandoned");
            metrics::counter!("sluice_source_bytes_abandoned_total", "pipeline" => self.label(), "reason" => reason)
                .increment(bytes);
        }
    }

    fn new_multiline(&self) -> Option<Multiline> {
        // Compiled (and validated) once by run_file_source; cannot fail here.
        self.cfg
            .multiline
            .as_ref()
            .and_then(|m| Multiline::new(m).ok())
    }

    /// Runs until cancelled or the sender is gone.
    pub fn run(mut self) {
        let mut last_scan: Option<Instant> = None;
        let mut rescan = true;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            let generation = self.shared.generation.load(Ordering::SeqCst);
            if generation != self.out.generation {
                self.rewind(generation);
            }
            let now = Instant::now();
            let due = last_scan.is_none_or(|t| now.duration_since(t) >= self.cfg.scan_interval);
            if due || (rescan && last_scan.is_none_or(|t| now.duration_since(t) >= MIN_RESCAN)) {
                self.scan();
                last_scan = Some(Instant::now());
                rescan = false;
            }
            self.publish_status(false);
            let worked = match self.poll_all() {
                Ok(w) => w,
                Err(Closed) => break,
            };
            if self.out.flush().is_err() {
                break;
            }
            self.publish_status(false);
            if !worked {
                match self.wake.recv_timeout(self.cfg.poll_interval) {
                    Ok(()) => {
                        rescan = true;
                        while self.wake.try_recv().is_ok() {}
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(self.cfg.poll_interval);
                    }
                }
            }
        }
        self.publish_status(true);
    }

    /// Forgets everything not acknowledged: the send of a batch failed, so every file restarts
    /// at its acknowledged offset (the lines come again with the same source ids).
    fn rewind(&mut self, generation: u64) {
        self.out.generation = generation;
        self.out.batch.clear();
        let entries = self.shared.checkpoints.lock();
        for t in self.files.values_mut() {
            let acked = match (t.fp, entries.get(&t.key)) {
                (Some(fp), Some(e)) if e.fp == fp => e.offset,
                _ => 0,
            };
            t.splitter.reset(acked);
            t.emitted = acked;
            if let Some(m) = &mut t.multiline {
                m.reset();
            }
        }
        tracing::info!(pipeline = %self.out.pipeline, "rewound files to their acknowledged offsets");
    }

    fn scan(&mut self) {
        let found = self.disc.scan();
        let ms = now_ms();
        for t in self.files.values_mut() {
            t.in_glob = false;
        }
        for f in found {
            if let Some(t) = self.files.get_mut(&f.key) {
                t.in_glob = true;
                // Truncated and rewritten past the old size between two polls: only the
                // first line tells.
                if let (Some(file), Some(fp)) = (&t.file, t.fp)
                    && let Ok(Some(now_fp)) = fingerprint(file)
                    && now_fp != fp
                {
                    t.rewritten = true;
                }
                if t.path != f.path {
                    tracing::debug!(from = %t.path.display(), to = %f.path.display(), "file renamed");
                    t.path_str = f.path.to_string_lossy().into_owned();
                    t.path = f.path;
                }
                if let Some(e) = self.shared.checkpoints.lock().get_mut(&f.key) {
                    e.last_seen_ms = ms;
                    e.path.clone_from(&t.path_str);
                }
                continue;
            }
            self.discover(f.path, f.key, ms);
        }
        let mut gone = Vec::new();
        for t in self.files.values_mut() {
            if !t.in_glob && t.file.is_none() {
                gone.push((
                    t.key,
                    t.size.saturating_sub(t.splitter.pos()),
                    t.path.exists(),
                ));
                t.finished = true;
            } else if !t.in_glob
                && let Some(e) = self.shared.checkpoints.lock().get_mut(&t.key)
            {
                e.last_seen_ms = ms;
            }
        }
        for (_, bytes, exists) in &gone {
            self.abandon(if *exists { "rotated" } else { "deleted" }, *bytes);
        }
        self.files.retain(|_, t| !t.finished);
        self.first_scan = false;
        self.update_open_gauge();
    }

    fn update_open_gauge(&self) {
        let open = self.files.values().filter(|t| t.file.is_some()).count();
        metrics::gauge!("sluice_source_files_open", "pipeline" => self.label()).set(open as f64);
    }

    /// Starts tailing a newly found file (unless it has no fingerprint yet).
    fn discover(&mut self, path: PathBuf, key: FileKey, ms: i64) {
        let Ok(file) = File::open(&path) else { return };
        let Ok(md) = file.metadata() else { return };
        if (md.dev(), md.ino()) != key {
            return; // replaced between the scan and the open; the next scan sees it
        }
        let fp = match fingerprint(&file) {
            Ok(Some(fp)) => fp,
            _ => return, // no complete first line yet
        };
        let size = md.len();
        let path_str = path.to_string_lossy().into_owned();
        let start = {
            let mut entries = self.shared.checkpoints.lock();
            let start = match entries.get(&key) {
                Some(e) if e.fp == fp && e.offset <= size => e.offset,
                Some(e) if e.fp == fp => {
                    // Truncated while we were not looking.
                    let lost = 0;
                    tracing::warn!(path = %path.display(), checkpoint = e.offset, size, "file shorter than its checkpoint: reading from the start");
                    lost
                }
                _ if self.first_scan
                    && self.cfg.start_at == StartAt::End
                    && !self.shared.checkpoint_reset =>
                {
                    line_start_before(&file, size)
                }
                _ => 0,
            };
            entries.insert(
                key,
                Entry {
                    fp,
                    offset: start,
                    path: path_str.clone(),
                    last_seen_ms: ms,
                },
            );
            self.shared.dirty.store(true, Ordering::SeqCst);
            start
        };
        tracing::info!(path = %path.display(), offset = start, "tailing file");
        let t = Tailed {
            key,
            fp: Some(fp),
            path,
            path_str,
            file: Some(file),
            splitter: LineSplitter::new(self.cfg.max_line_bytes, start),
            multiline: self.new_multiline(),
            emitted: start,
            size,
            last_data: Instant::now(),
            in_glob: true,
            deleted: false,
            finished: false,
            rewritten: false,
            live: Arc::new(Live::default()),
        };
        t.live.read.store(start, Ordering::Relaxed);
        t.live.size.store(size, Ordering::Relaxed);
        self.files.insert(key, t);
    }

    fn poll_all(&mut self) -> Result<bool, Closed> {
        let mut worked = false;
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        let mut closed_any = false;
        for key in keys {
            if self.cancel.is_cancelled() {
                break;
            }
            let Some(mut t) = self.files.remove(&key) else {
                continue;
            };
            let was_open = t.file.is_some();
            let r = self.poll_file(&mut t);
            closed_any |= was_open != t.file.is_some();
            if !t.finished {
                self.files.insert(key, t);
            } else {
                closed_any = true;
            }
            worked |= r?;
        }
        if closed_any {
            self.update_open_gauge();
        }
        Ok(worked)
    }

    fn acked(&self, t: &Tailed) -> u64 {
        match (t.fp, self.shared.checkpoints.lock().get(&t.key)) {
            (Some(fp), Some(e)) if e.fp == fp => e.offset,
            _ => 0,
        }
    }

    /// Resets `t` to read `t`'s (new) content from the start.
    fn restart_file(&mut self, t: &mut Tailed) {
        t.splitter.reset(0);
        t.emitted = 0;
        t.fp = None;
        if let Some(m) = &mut t.multiline {
            m.reset();
        }
    }

    /// Makes sure `t.fp` is known (registering the new identity); false if not yet possible.
    fn ensure_fingerprint(&mut self, t: &mut Tailed) -> bool {
        if t.fp.is_some() {
            return true;
        }
        let Some(file) = &t.file else { return false };
        let Ok(Some(fp)) = fingerprint(file) else {
            return false;
        };
        t.fp = Some(fp);
        self.shared.checkpoints.lock().insert(
            t.key,
            Entry {
                fp,
                offset: t.splitter.pos(),
                path: t.path_str.clone(),
                last_seen_ms: now_ms(),
            },
        );
        self.shared.dirty.store(true, Ordering::SeqCst);
        true
    }

    /// Reads what `t` has; returns whether anything was read.
    fn poll_file(&mut self, t: &mut Tailed) -> Result<bool, Closed> {
        let now = Instant::now();
        if t.file.is_none() {
            // Closed for inactivity: reopen when it grew (or shrank) under its path.
            match fs::metadata(&t.path) {
                Ok(md) if (md.dev(), md.ino()) == t.key && md.len() != t.splitter.pos() => {
                    let Ok(f) = File::open(&t.path) else {
                        return Ok(false);
                    };
                    let same = match fingerprint(&f) {
                        Ok(Some(fp)) => Some(fp) == t.fp,
                        _ => false,
                    };
                    if !same {
                        // Inode reused by a new file (or rewritten): it is a new file.
                        self.restart_file(t);
                    }
                    t.file = Some(f);
                    t.last_data = now;
                    tracing::debug!(path = %t.path.display(), "reopened file");
                }
                _ => return Ok(false),
            }
        }
        let Some(file) = &t.file else {
            return Ok(false);
        };
        let Ok(md) = file.metadata() else {
            return Ok(false);
        };
        let size = md.len();
        t.deleted = md.nlink() == 0;
        // New data: make sure it is still the same file content (truncated and rewritten past
        // the old size between two polls otherwise looks like growth).
        if size > t.splitter.pos()
            && let Some(fp) = t.fp
            && let Ok(Some(now_fp)) = fingerprint(file)
            && now_fp != fp
        {
            t.rewritten = true;
        }
        if size < t.splitter.pos() || std::mem::take(&mut t.rewritten) {
            let lost = t.size.saturating_sub(t.splitter.pos());
            tracing::warn!(path = %t.path.display(), size, position = t.splitter.pos(), "file truncated: reading from the start");
            metrics::counter!("sluice_source_truncations_total", "pipeline" => self.label())
                .increment(1);
            self.abandon("truncated", lost);
            self.restart_file(t);
        }
        t.size = size;
        t.live.size.store(size, Ordering::Relaxed);
        t.live.read.store(t.splitter.pos(), Ordering::Relaxed);
        if !self.ensure_fingerprint(t) {
            return Ok(false);
        }
        let fp = t.fp.unwrap_or_default();
        let mut read_total = 0u64;
        let mut eof = false;
        let mut res = Ok(());
        let Some(file) = &t.file else {
            return Ok(false);
        };
        while read_total < READ_BUDGET {
            let pos = t.splitter.pos();
            let n = match file.read_at(&mut self.buf, pos) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(path = %t.path.display(), error = %e, "read failed; closing the file");
                    t.file = None;
                    return Ok(false);
                }
            };
            read_total += n as u64;
            let (key, path, ml, emitted, out) = (
                t.key,
                t.path_str.as_str(),
                &mut t.multiline,
                &mut t.emitted,
                &mut self.out,
            );
            t.splitter.feed(&self.buf[..n], &mut |line| {
                push_line(key, fp, path, ml, emitted, out, now, line, &mut res)
            });
            t.live.read.store(t.splitter.pos(), Ordering::Relaxed);
            res?;
        }
        if read_total > 0 {
            t.last_data = now;
            metrics::counter!("sluice_source_bytes_read_total", "pipeline" => self.label())
                .increment(read_total);
            t.size = t.size.max(t.splitter.pos());
        }
        if !eof {
            return Ok(true);
        }
        let (key, path, ml, emitted, out) = (
            t.key,
            t.path_str.as_str(),
            &mut t.multiline,
            &mut t.emitted,
            &mut self.out,
        );
        if let Some(m) = ml.as_mut() {
            m.flush_if_timed_out(now, &mut |g| {
                if res.is_ok() {
                    *emitted = g.end;
                    res = out.emit(key, fp, path, g);
                }
            });
        }
        res?;
        let idle = now.duration_since(t.last_data);
        if t.deleted || idle >= self.cfg.close_inactive {
            // Emit what is held, then close once the log acknowledged everything.
            t.splitter.flush_partial(&mut |line| {
                push_line(key, fp, path, ml, emitted, out, now, line, &mut res)
            });
            if let Some(m) = ml.as_mut() {
                m.flush(&mut |g| {
                    if res.is_ok() {
                        *emitted = g.end;
                        res = out.emit(key, fp, path, g);
                    }
                });
            }
            res?;
            if self.out.batch.updates.iter().any(|u| u.0 == t.key) {
                self.out.flush()?;
            }
            if self.acked(t) >= t.emitted {
                tracing::info!(path = %t.path.display(), deleted = t.deleted, "closing file");
                t.file = None;
                if t.deleted || !t.in_glob {
                    t.finished = true;
                }
            }
        }
        Ok(read_total > 0)
    }

    fn publish_status(&mut self, last: bool) {
        if last {
            status::unpublish(&self.out.pipeline);
            return;
        }
        if self.last_status.elapsed() < STATUS_EVERY {
            return;
        }
        self.last_status = Instant::now();
        let mut v = Vec::with_capacity(self.files.len());
        for t in self.files.values() {
            v.push(Published {
                base: FileStatus {
                    path: t.path_str.clone(),
                    device: t.key.0,
                    inode: t.key.1,
                    fingerprint: t.fp.map(|f| format!("{f:016x}")),
                    size: 0,
                    read_offset: 0,
                    acked_offset: 0,
                    bytes_behind: 0,
                    open: t.file.is_some(),
                    in_paths: t.in_glob,
                    deleted: t.deleted,
                },
                live: t.live.clone(),
                key: t.key,
                fp: t.fp,
            });
        }
        v.sort_by(|a, b| a.base.path.cmp(&b.base.path));
        status::publish(&self.out.pipeline, self.shared.clone(), v);
        for s in status::files_status(&self.out.pipeline) {
            metrics::gauge!("sluice_source_file_bytes_behind", "pipeline" => self.out.pipeline.clone(), "file" => s.path)
                .set(s.bytes_behind as f64);
        }
    }
}
