//! `run_file_source`: wires the reader thread, the sender (which awaits the output and advances
//! the acknowledged offsets) and the checkpoint writer; shuts down cleanly on cancel.

use super::checkpoint::{self, Entries};
use super::config::FileSourceConfig;
use super::discovery::Discovery;
use super::encode::FastEncoder;
use super::event_builder::EventBuilder;
use super::identity::FileKey;
use super::multiline::Multiline;
use super::raw::RawBatch;
use super::reader::Reader;
use super::{OutputError, ShipperOutput, SourceError};
use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Batches queued between the reader and the sender (memory bound: this many full batches).
const QUEUED_BATCHES: usize = 2;

/// A batch of lines and, per file, the offset the checkpoint may move to once it is acked.
pub(crate) struct Batch {
    /// The rewind generation the batch was read in; stale batches are dropped.
    pub generation: u64,
    /// The lines.
    pub raw: RawBatch,
}

/// State shared by the reader, the sender and the checkpoint writer.
pub(crate) struct Shared {
    /// What the checkpoint file holds (acknowledged offsets).
    pub checkpoints: Mutex<Entries>,
    /// Set when `checkpoints` changed since the last write.
    pub dirty: AtomicBool,
    /// Bumped when a send failed: the reader rewinds to the acknowledged offsets.
    pub generation: AtomicU64,
    /// The checkpoint file was corrupt and set aside: `start_at: end` is not applied.
    pub checkpoint_reset: bool,
}

impl Shared {
    /// Moves the acknowledged offsets forward after a successful send.
    fn apply(&self, updates: &[(FileKey, u64, u64)]) {
        let mut entries = self.checkpoints.lock();
        for (key, fp, end) in updates {
            if let Some(e) = entries.get_mut(key)
                && e.fp == *fp
                && *end > e.offset
            {
                e.offset = *end;
            }
        }
        drop(entries);
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// The entries to persist: without those not seen for `clean_removed`.
    fn snapshot(&self, clean_removed: Duration) -> Entries {
        let limit = chrono::Utc::now().timestamp_millis() - clean_removed.as_millis() as i64;
        let mut entries = self.checkpoints.lock();
        entries.retain(|_, e| e.last_seen_ms >= limit);
        entries.clone()
    }
}

/// Loads the checkpoint; a corrupt one is moved aside (`checkpoints.corrupt`) and every file
/// is then read from its start (duplicates carry the same source ids, so nothing doubles).
fn load_checkpoint(dir: &Path) -> Result<(Entries, bool), SourceError> {
    match checkpoint::load(dir) {
        Ok(e) => Ok((e, false)),
        Err(e) if e.is_corruption() => {
            tracing::error!(error = %e, "checkpoint unreadable: set aside, files are read from their start");
            let from = dir.join(checkpoint::CHECKPOINT_FILE);
            let to = dir.join(format!("{}.corrupt", checkpoint::CHECKPOINT_FILE));
            std::fs::rename(&from, &to).map_err(|source| SourceError::Io {
                what: "setting aside corrupt checkpoint",
                path: from,
                source,
            })?;
            Ok((Entries::new(), true))
        }
        Err(e) => Err(e),
    }
}

async fn write_checkpoint(
    shared: &Arc<Shared>,
    dir: &Path,
    clean_removed: Duration,
) -> Result<(), SourceError> {
    if !shared.dirty.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let snap = shared.snapshot(clean_removed);
    let dir = dir.to_path_buf();
    let r = tokio::task::spawn_blocking(move || checkpoint::write(&dir, &snap))
        .await
        .map_err(|e| SourceError::Internal(format!("checkpoint writer: {e}")))?;
    if r.is_err() {
        shared.dirty.store(true, Ordering::SeqCst);
    }
    r
}

/// Tails the files of `cfg` into `output` until `cancel` fires (or the output fails for good).
///
/// Checkpoints live in `checkpoint_dir` (normally `data/sources/<pipeline>/`). A file's
/// checkpoint only moves to offsets whose events `output` acknowledged. While a send is pending
/// the reader pauses (bounded queue). A transient output error rewinds every file to its
/// acknowledged offset and retries with backoff, so nothing is dropped. On cancel: reading
/// stops, the in-flight send is awaited, the final checkpoint is written, and it returns.
pub async fn run_file_source(
    pipeline: &str,
    cfg: FileSourceConfig,
    checkpoint_dir: PathBuf,
    output: Arc<dyn ShipperOutput>,
    cancel: CancellationToken,
) -> Result<(), SourceError> {
    let disc = Discovery::new(&cfg.paths, &cfg.exclude)?;
    if let Some(m) = &cfg.multiline {
        Multiline::new(m).map_err(|e| SourceError::Config(format!("multiline.pattern: {e}")))?;
    }
    let (entries, reset) = load_checkpoint(&checkpoint_dir)?;
    let shared = Arc::new(Shared {
        checkpoints: Mutex::new(entries),
        dirty: AtomicBool::new(false),
        generation: AtomicU64::new(0),
        checkpoint_reset: reset,
    });
    let (tx, mut rx) = mpsc::channel::<Batch>(QUEUED_BATCHES);
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<()>();
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<RawBatch>();
    let _watcher = if cfg.use_notify {
        watch(&disc, wake_tx.clone())
    } else {
        None
    };
    let reader_cancel = cancel.child_token();
    let reader = Reader::new(
        pipeline,
        cfg.clone(),
        shared.clone(),
        disc,
        (tx, spare_rx),
        reader_cancel.clone(),
        wake_rx,
    );
    let reader = std::thread::Builder::new()
        .name(format!("sluice-shipper-{pipeline}"))
        .spawn(move || reader.run())
        .map_err(|e| SourceError::Internal(format!("spawning reader thread: {e}")))?;

    let ck_stop = CancellationToken::new();
    let ck_task = {
        let (shared, dir, stop) = (shared.clone(), checkpoint_dir.clone(), ck_stop.clone());
        let (every, clean) = (cfg.checkpoint_interval, cfg.clean_removed);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = write_checkpoint(&shared, &dir, clean).await {
                            tracing::warn!(error = %e, "checkpoint write failed; retrying");
                        }
                    }
                }
            }
        })
    };

    let label = pipeline.to_string();
    let builder = EventBuilder::new(cfg.host_name.clone(), &cfg.fields, &cfg.tags);
    let encoder = FastEncoder::new(&builder);
    let encoded = output.prefers_encoded();
    let start = |raw: &RawBatch| -> BoxFuture<'_, Result<(), OutputError>> {
        if encoded {
            output.send_written(&mut |w| raw.write_to(&builder, &encoder, w))
        } else {
            output.send(raw.build(&builder))
        }
    };
    let mut result = Ok(());
    let mut backoff = Duration::from_millis(100);
    // One send in flight while the next batch is serialised: the output's writer thread and
    // this task work at the same time. Sends are started (and acknowledged) strictly in order;
    // the next one starts only once the previous one is acknowledged.
    let mut in_flight: Option<(BoxFuture<'_, Result<(), OutputError>>, Batch)> = None;
    let settle = async |sent: Result<(), OutputError>, batch: Batch, backoff: &mut Duration| {
        match sent {
            Ok(()) => {
                shared.apply(&batch.raw.updates);
                metrics::counter!("sluice_source_events_acked_total", "pipeline" => label.clone())
                    .increment(batch.raw.len() as u64);
                *backoff = Duration::from_millis(100);
                let _ = spare_tx.send(batch.raw); // its buffers are reused for a later batch
                Ok(())
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(pipeline = %label, error = %e, backoff = ?*backoff, "output refused a batch; rewinding and retrying");
                metrics::counter!("sluice_source_send_retries_total", "pipeline" => label.clone())
                    .increment(1);
                shared.generation.fetch_add(1, Ordering::SeqCst);
                let _ = spare_tx.send(batch.raw);
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = tokio::time::sleep(*backoff) => {}
                }
                *backoff = (*backoff * 2).min(Duration::from_secs(5));
                Ok(())
            }
            Err(e) => {
                tracing::error!(pipeline = %label, error = %e, "output failed; stopping the file source");
                Err(SourceError::Output(e))
            }
        }
    };
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => Next::Stop,
            r = wait_in_flight(&mut in_flight), if in_flight.is_some() => Next::Acked(r),
            b = rx.recv() => b.map_or(Next::Stop, Next::Batch),
        };
        let batch = match next {
            Next::Stop => break,
            Next::Acked(r) => {
                if let Some((_, b)) = in_flight.take()
                    && let Err(e) = settle(r, b, &mut backoff).await
                {
                    result = Err(e);
                    break;
                }
                continue;
            }
            Next::Batch(b) => b,
        };
        if batch.generation != shared.generation.load(Ordering::SeqCst) {
            let _ = spare_tx.send(batch.raw);
            continue; // read before a rewind: those lines come again
        }
        let fut = start(&batch.raw); // serialises the batch now, sends once polled
        if let Some((prev, b)) = in_flight.take()
            && let Err(e) = settle(prev.await, b, &mut backoff).await
        {
            result = Err(e);
            break;
        }
        if batch.generation != shared.generation.load(Ordering::SeqCst) {
            drop(fut); // the previous send failed: never started, these lines come again
            let _ = spare_tx.send(batch.raw);
            continue;
        }
        in_flight = Some((fut, batch));
    }
    if let Some((prev, b)) = in_flight.take()
        && result.is_ok()
        && let Err(e) = settle(prev.await, b, &mut backoff).await
    {
        result = Err(e);
    }
    reader_cancel.cancel();
    let _ = wake_tx.send(());
    drop(rx); // unblocks a reader waiting to queue a batch
    let joined = tokio::task::spawn_blocking(move || reader.join()).await;
    if !matches!(joined, Ok(Ok(()))) {
        tracing::error!(pipeline = %label, "reader thread panicked");
        result = result.and(Err(SourceError::Internal("reader thread panicked".into())));
    }
    ck_stop.cancel();
    let _ = ck_task.await;
    shared.dirty.store(true, Ordering::SeqCst);
    let written = write_checkpoint(&shared, &checkpoint_dir, cfg.clean_removed).await;
    result.and(written)
}

/// What the sender loop does next.
enum Next {
    /// The send in flight finished.
    Acked(Result<(), OutputError>),
    /// A batch from the reader.
    Batch(Batch),
    /// Cancelled, or the reader is gone.
    Stop,
}

/// Waits for the send in flight (never resolves if there is none).
async fn wait_in_flight(
    f: &mut Option<(BoxFuture<'_, Result<(), OutputError>>, Batch)>,
) -> Result<(), OutputError> {
    match f {
        Some((fut, _)) => fut.await,
        None => std::future::pending().await,
    }
}

/// Starts an inotify watcher on the directories of the patterns (None if unavailable: the
/// periodic rescan and polling still work).
fn watch(
    disc: &Discovery,
    wake: std::sync::mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut w = match notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        let _ = wake.send(());
    }) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "inotify unavailable; relying on rescans");
            return None;
        }
    };
    for d in disc.watch_dirs() {
        if let Err(e) = w.watch(&d, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %d.display(), error = %e, "cannot watch directory");
        }
    }
    Some(w)
}
