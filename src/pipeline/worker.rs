//! Cleaner workers: members of the pipeline's consumer group that poll records, run the steps,
//! hand the survivors to the sink and commit — the commit rule lives here.
//!
//! The commit rule: a partition's committed offset moves to `last + 1` only after every record
//! up to `last` was delivered by the sink, dead-lettered (durably, acks all) or dropped on
//! purpose. A crash anywhere before the commit means redelivery of that batch, which the
//! deterministic document ids turn into overwrites, not duplicates.
//!
//! A slow sink never gets a worker evicted from its group: while a delivery is pending the
//! worker pauses its partitions and keeps polling (which heartbeats and delivers nothing).

use super::dead_letter::{DeadLetter, Position, Stage};
use super::{DeadLetterWriter, PipelineError};
use crate::cleaner::Cleaner;
use crate::cleaner::Processed;
use crate::event::{Event, SOURCE_ID_HEADER};
use crate::sink::{Collect, Prepared, Preparer, Sink, SinkAck};
use crate::store::StoredRecord;
use crate::store::group::GroupMember;
use chrono::Utc;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often a worker with a pending delivery polls (heartbeats) its paused partitions.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// How long one poll waits for records before checking for shutdown.
const POLL_WAIT: Duration = Duration::from_millis(250);

/// Everything a worker needs; shared by the workers of one pipeline.
pub(crate) struct WorkerShared {
    pub pipeline: String,
    pub topic: String,
    pub cleaner: Arc<Cleaner>,
    pub dead: DeadLetterWriter,
    pub poll_bytes: usize,
    /// How often delivered offsets are committed while batches keep coming (see
    /// [`run_worker`]).
    pub commit_interval: Duration,
}

/// Decodes a stored record into the event it carries.
pub(crate) fn record_to_event(rec: &StoredRecord) -> Event {
    let sid = rec
        .headers
        .get(SOURCE_ID_HEADER)
        .map(|v| String::from_utf8_lossy(v).into_owned());
    Event::decode(&rec.value, sid)
}

/// The outcome of cleaning one polled batch (its kept events went to the [`Preparer`]).
pub(crate) struct Cleaned {
    pub dead: Vec<DeadLetter>,
    pub dropped: u64,
    /// Per partition, the offset to commit once the batch is settled.
    pub next_offsets: BTreeMap<u32, u64>,
}

/// Runs the steps over one event (counting nothing).
pub(crate) fn clean_one(shared: &WorkerShared, event: &mut Event) -> Processed {
    shared.cleaner.process(event)
}

/// Runs the steps over `records` and hands each kept event to `kept` at once (then the sink's
/// encoder finds it still in the caches); each record is freed once decoded.
pub(crate) fn clean_batch(
    shared: &WorkerShared,
    records: Vec<StoredRecord>,
    kept: &mut dyn Preparer,
) -> Cleaned {
    let mut out = Cleaned {
        dead: Vec::new(),
        dropped: 0,
        next_offsets: BTreeMap::new(),
    };
    kept.begin(records.len());
    for rec in records {
        let mut event = record_to_event(&rec);
        match shared.cleaner.process(&mut event) {
            Processed::Keep => kept.push(event),
            Processed::Dropped { .. } => out.dropped += 1,
            Processed::DeadLetter { step, reason } => out.dead.push(DeadLetter {
                pipeline: shared.pipeline.clone(),
                // The original as read from the log (decoded again: rare, and cheaper than
                // cloning every event up front).
                event: record_to_event(&rec),
                stage: Stage::Cleaner,
                step,
                reason,
                status: None,
                attempts: 1,
                time: Utc::now(),
                position: Some(Position {
                    topic: shared.topic.clone(),
                    partition: rec.partition,
                    offset: rec.offset,
                }),
            }),
        }
        out.next_offsets.insert(rec.partition, rec.offset + 1);
    }
    out
}

/// Delivers `batch` to `sink`, pausing the member's partitions and polling it (heartbeat)
/// while the sink takes its time.
async fn deliver(
    member: &mut GroupMember,
    sink: &mut dyn Sink,
    batch: Prepared,
) -> Result<SinkAck, PipelineError> {
    if batch.is_empty() {
        return Ok(SinkAck::default());
    }
    let send = sink.send_prepared(batch);
    tokio::pin!(send);
    let mut paused = false;
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.tick().await;
    let result = loop {
        tokio::select! {
            r = &mut send => break r,
            _ = tick.tick() => {
                if !paused {
                    member.pause_all();
                    paused = true;
                }
                // Nothing is delivered for paused partitions; the poll keeps us in the group.
                member.poll(0, Duration::ZERO).await?;
            }
        }
    };
    if paused {
        member.resume_all();
    }
    Ok(result?)
}

/// A cleaned batch: the outcome, the kept events made ready for the sink, and when the batch
/// was handed to the cleaning thread.
type Ready = (Cleaned, Prepared, Instant);

/// A cleaning job: records in, the cleaned batch (or the step's panic) out.
type Job = (
    Vec<StoredRecord>,
    Instant,
    tokio::sync::oneshot::Sender<std::thread::Result<Ready>>,
);

/// A worker's own thread for the steps and the sink's [`Preparer`] (encoding): CPU work that
/// must not stall the runtime's threads, where deliveries and heartbeats run. One long-lived
/// thread per worker builds, encodes and frees each batch's events in one allocator heap. It
/// ends when the worker drops it.
struct CleanThread {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl CleanThread {
    fn start(
        shared: &Arc<WorkerShared>,
        preparer: Option<Box<dyn Preparer>>,
    ) -> std::io::Result<Self> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let shared = Arc::clone(shared);
        let mut preparer = preparer.unwrap_or_else(|| Box::new(Collect::default()));
        std::thread::Builder::new()
            .name("sluice-clean".into())
            .spawn(move || {
                for (records, started, reply) in rx {
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let cleaned = clean_batch(&shared, records, preparer.as_mut());
                        (cleaned, preparer.finish(), started)
                    }));
                    let _ = reply.send(out);
                }
            })?;
        Ok(CleanThread { jobs })
    }

    /// Starts cleaning `records`; [`cleaned`] waits for the result.
    fn clean(&self, shared: &WorkerShared, records: Vec<StoredRecord>) -> Pending {
        metrics::counter!("sluice_events_in_total", "pipeline" => shared.pipeline.clone(), "stage" => "cleaner")
            .increment(records.len() as u64);
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The thread only stops when `self` is dropped; a send error means it died, which
        // `cleaned` reports.
        let _ = self.jobs.send((records, Instant::now(), tx));
        rx
    }
}

/// A batch being cleaned.
type Pending = tokio::sync::oneshot::Receiver<std::thread::Result<Ready>>;

/// The result of [`CleanThread::clean`]; a panic in a step is re-raised here, in the worker's
/// task, so the supervisor replaces the worker as for any other panic.
async fn cleaned(pending: Pending) -> Ready {
    match pending.await {
        Ok(Ok(c)) => c,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the cleaning thread stopped"),
    }
}

/// Batches a worker has polled and handed to its cleaning thread beyond the one being
/// delivered: while batch N is delivered and committed (waiting on the server and on the
/// commit's fsyncs, not on the CPU), N+1 and N+2 are cleaned, so the cleaning thread is not
/// left idle by one slow round trip.
const CLEANING_AHEAD: usize = 2;

/// One worker's loop, until `cancel` fires (then the batch being delivered is finished and
/// committed before returning).
///
/// Batches overlap: while batch N is delivered and committed, up to [`CLEANING_AHEAD`] later
/// batches (polled right after N was cleaned) are cleaned on the worker's cleaning thread,
/// one after the other. Batches are delivered and committed in the order they were polled.
/// A batch polled but not yet committed when the worker stops is simply redelivered after
/// the restart (its offsets were never committed), and the document ids make that an
/// overwrite.
///
/// Commits are coalesced: each one fsyncs the group's offsets file and its directory, which
/// after every 1,000-record batch of a backlog was about 5 % of the daemon's CPU and kept the
/// worker waiting on the disk. Delivered offsets are committed when `commit_interval` has
/// passed since the last commit, whenever the worker has nothing cleaned ahead (it has caught
/// up: then every batch is committed at once, as before), and when it stops. A crash loses
/// at most `commit_interval` of commits, which means redelivery, and the ids make that an
/// overwrite; a partition moved to another member meanwhile is redelivered there the same way.
pub(crate) async fn run_worker(
    shared: Arc<WorkerShared>,
    mut member: GroupMember,
    mut sink: Box<dyn Sink>,
    cancel: CancellationToken,
) -> Result<(), PipelineError> {
    let clean = CleanThread::start(&shared, sink.preparer()).map_err(|e| PipelineError::Build {
        pipeline: shared.pipeline.clone(),
        reason: format!("cannot start a cleaning thread: {e}"),
    })?;
    let mut ahead: VecDeque<Pending> = VecDeque::with_capacity(CLEANING_AHEAD);
    let mut delivered = BTreeMap::new();
    let mut last_commit = Instant::now();
    loop {
        let handle = match ahead.pop_front() {
            Some(h) => h,
            None => {
                // Caught up: commit what was delivered before waiting for more.
                commit(&shared, &mut member, &mut delivered);
                last_commit = Instant::now();
                let records = tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = member.poll(shared.poll_bytes, POLL_WAIT) => r?,
                };
                if records.is_empty() {
                    continue;
                }
                clean.clean(&shared, records)
            }
        };
        let (outcome, batch, started) = cleaned(handle).await;
        while !cancel.is_cancelled() && ahead.len() < CLEANING_AHEAD {
            let records = member.poll(shared.poll_bytes, Duration::ZERO).await?;
            if records.is_empty() {
                break;
            }
            ahead.push_back(clean.clean(&shared, records));
        }
        let next_offsets = settle(&shared, &mut member, sink.as_mut(), outcome, batch).await?;
        // Batches settle in poll order, so a later offset replaces an earlier one.
        delivered.extend(next_offsets);
        if last_commit.elapsed() >= shared.commit_interval {
            commit(&shared, &mut member, &mut delivered);
            last_commit = Instant::now();
        }
        metrics::histogram!("sluice_stage_batch_seconds", "pipeline" => shared.pipeline.clone())
            .record(started.elapsed().as_secs_f64());
    }
    commit(&shared, &mut member, &mut delivered);
    sink.flush().await?;
    Ok(())
}

/// Delivers a cleaned batch and writes its dead letters; returns the offsets that may now be
/// committed (the commit rule), per partition.
async fn settle(
    shared: &WorkerShared,
    member: &mut GroupMember,
    sink: &mut dyn Sink,
    cleaned: Cleaned,
    batch: Prepared,
) -> Result<BTreeMap<u32, u64>, PipelineError> {
    let kept = batch.len() as u64;
    let mut dead = cleaned.dead;
    let ack = deliver(member, sink, batch).await?;
    let rejected = ack.rejected.len() as u64;
    dead.extend(ack.rejected.into_iter().map(|r| DeadLetter {
        pipeline: shared.pipeline.clone(),
        event: r.event,
        stage: Stage::Sink,
        step: r.sink,
        reason: r.reason,
        status: r.status,
        attempts: r.attempts,
        time: Utc::now(),
        position: None,
    }));
    let dead_count = dead.len() as u64;
    shared.dead.write(dead).await?;
    metrics::counter!("sluice_events_out_total", "pipeline" => shared.pipeline.clone(), "stage" => "sink")
        .increment(kept - rejected);
    metrics::counter!("sluice_events_failed_total", "pipeline" => shared.pipeline.clone(), "stage" => "cleaner", "reason" => "dropped")
        .increment(cleaned.dropped);
    metrics::counter!("sluice_events_failed_total", "pipeline" => shared.pipeline.clone(), "stage" => "any", "reason" => "dead_letter")
        .increment(dead_count);
    Ok(cleaned.next_offsets)
}

/// Commits `delivered` (and empties it).
fn commit(shared: &WorkerShared, member: &mut GroupMember, delivered: &mut BTreeMap<u32, u64>) {
    if delivered.is_empty() {
        return;
    }
    let offsets: Vec<(u32, u64)> = std::mem::take(delivered).into_iter().collect();
    // The commit fsyncs (file and directory): keep it off the other tasks' way.
    let committed = if tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread
    {
        tokio::task::block_in_place(|| member.commit_offsets(&offsets))
    } else {
        member.commit_offsets(&offsets)
    };
    if let Err(e) = committed {
        // A partition moved to another member during the delivery: commit the ones still
        // ours; the moved one resumes from its last commit elsewhere, and the ids make
        // that redelivery idempotent.
        tracing::debug!(pipeline = %shared.pipeline, error = %e, "commit refused after rebalance");
        let owned = member.assignment();
        let still_ours: Vec<(u32, u64)> = offsets
            .into_iter()
            .filter(|(p, _)| owned.contains(p))
            .collect();
        if let Err(e) = member.commit_offsets(&still_ours) {
            tracing::debug!(pipeline = %shared.pipeline, error = %e, "commit refused");
        }
    }
}
