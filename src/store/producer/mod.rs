//! The producer: partitions records, batches them by `linger`/`batch_size`, appends each batch
//! with one write, and acknowledges per `acks`. With `acks: all` a separate syncer thread
//! fsyncs once for every batch written since its previous fsync (group commit), while the
//! flusher goes on writing.
//!
//! Layout: this file (the API and the pending queues), `batches` (records built in place),
//! `flusher` (the writing threads and recycled memory), `ticket` (acknowledging a send).

mod batches;
mod flusher;
mod ticket;

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};

use super::batch::Record;
use super::config::Acks;
use super::error::StoreError;
use super::partitioner::{Chooser, Partitioner};
use super::topic::Topic;
pub use batches::Batches;
use flusher::{Pending, Spent, Unsynced, flusher, free_spent, syncer};
use ticket::{Reply, Ticket};

/// The offset reported for records sent with [`Acks::None`] (not known when they are accepted).
pub const NO_OFFSET: u64 = u64::MAX;

/// Producer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// How records are spread over partitions. Default: [`Partitioner::RoundRobin`].
    pub partitioner: Partitioner,
    /// When a send is acknowledged. Default: [`Acks::Written`].
    pub acks: Acks,
    /// How long a partition's batch may wait for more records. Default: 5 ms.
    pub linger: Duration,
    /// A partition's batch is written once it holds this many bytes. Default: 1 MiB.
    pub batch_size: usize,
    /// Bytes accepted but not yet written before `send` waits (backpressure). Default: 16 MiB.
    pub max_buffered_bytes: usize,
    /// How much of the end of each partition's active segment this producer's writes keep in
    /// the page cache: older bytes are dropped from it once handed to writeback (in 8 MiB
    /// chunks), so a long write stream reuses the same memory instead of filling the cache
    /// (and, on VMs that give free memory back to the host, paying for fresh pages — 2× the
    /// write throughput there; `docs/PERFORMANCE-shipper.md`). Consumers more than this far
    /// behind the writer read from disk. `None`: the kernel decides. Default: 64 MiB.
    pub cache_window: Option<u64>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            partitioner: Partitioner::RoundRobin,
            acks: Acks::Written,
            linger: Duration::from_millis(5),
            batch_size: 1 << 20,
            max_buffered_bytes: 16 << 20,
            cache_window: Some(64 << 20),
        }
    }
}

#[derive(Default)]
struct State {
    pending: Vec<Option<Pending>>,
    chooser: Chooser,
    closed: bool,
    flush_requested: bool,
    /// Batches taken by the flusher or queued for sync, not yet resolved.
    in_flight: usize,
    last_error: Option<StoreError>,
    unsynced: VecDeque<Unsynced>,
}

struct Shared {
    /// Written records handed back to the senders' threads to free.
    spent: Mutex<Spent>,
    topic: Arc<Topic>,
    config: ProducerConfig,
    state: Mutex<State>,
    work: Condvar,
    sync_work: Condvar,
    idle: Condvar,
    buffer: Arc<Semaphore>,
}

struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        {
            let mut s = self.shared.state.lock();
            s.closed = true;
            self.shared.work.notify_all();
            self.shared.sync_work.notify_all();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

/// Sends records to a topic; `Clone` and shared by many tasks. Dropping the last clone writes
/// what is buffered and stops the background threads.
#[derive(Clone)]
pub struct Producer {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("topic", &self.handle.shared.topic.name())
            .field("config", &self.handle.shared.config)
            .finish()
    }
}

fn permits(bytes: usize, max: usize) -> u32 {
    bytes.clamp(1, max.clamp(1, u32::MAX as usize)) as u32
}

/// Waits for room for `bytes` in the producer's buffer and takes it; returns the permits
/// taken, which the flusher gives back once the data is written.
async fn reserve(sh: &Shared, bytes: usize) -> Result<u32, StoreError> {
    let n = permits(bytes, sh.config.max_buffered_bytes);
    let permit = sh
        .buffer
        .clone()
        .acquire_many_owned(n)
        .await
        .map_err(|_| StoreError::Closed)?;
    permit.forget();
    Ok(n)
}

impl Producer {
    /// A producer for `topic` with its flusher (and, for `acks: all`, syncer) thread.
    pub fn new(topic: Arc<Topic>, config: ProducerConfig) -> Producer {
        let max = config.max_buffered_bytes.clamp(1, u32::MAX as usize);
        let shared = Arc::new(Shared {
            spent: Mutex::new(Spent::default()),
            topic,
            buffer: Arc::new(Semaphore::new(max)),
            config,
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            sync_work: Condvar::new(),
            idle: Condvar::new(),
        });
        let mut threads = Vec::new();
        let s = shared.clone();
        if let Ok(t) = std::thread::Builder::new()
            .name("sluice-producer".into())
            .spawn(move || flusher(s))
        {
            threads.push(t);
        }
        if shared.config.acks == Acks::Fsync {
            let s = shared.clone();
            if let Ok(t) = std::thread::Builder::new()
                .name("sluice-producer-sync".into())
                .spawn(move || syncer(s))
            {
                threads.push(t);
            }
        }
        Producer {
            handle: Arc::new(Handle {
                shared,
                threads: Mutex::new(threads),
            }),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &Arc<Topic> {
        &self.handle.shared.topic
    }

    /// Resolves once the records are acknowledged per `acks` (for [`Acks::None`]: once
    /// accepted in memory, with offsets [`NO_OFFSET`]); returns (partition, offset) per record,
    /// in the order given. Waits while more than `max_buffered_bytes` are unwritten.
    pub async fn send(&self, records: Vec<Record>) -> Result<Vec<(u32, u64)>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let sh = &self.handle.shared;
        free_spent(sh);
        let bytes: usize = records.iter().map(Record::encoded_size_hint).sum();
        let n = reserve(sh, bytes).await?;
        let rx = self.enqueue(records, n as usize)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Blocking version of [`Producer::send`] (for threads outside a runtime).
    pub fn send_blocking(&self, records: Vec<Record>) -> Result<Vec<(u32, u64)>, StoreError> {
        block_on(self.send(records))
    }

    /// Writes everything buffered now, waits until it is acknowledged per `acks` (fsync'd
    /// for `all`; for `0` and `1` also fsyncs the topic), and returns the first error since the
    /// last flush (records sent with `acks: 0` report their failures only here).
    pub fn flush(&self) -> Result<(), StoreError> {
        let sh = &self.handle.shared;
        let mut s = sh.state.lock();
        s.flush_requested = true;
        sh.work.notify_all();
        while s.in_flight > 0 || s.pending.iter().any(Option::is_some) {
            if s.closed {
                break;
            }
            sh.idle.wait_for(&mut s, Duration::from_millis(50));
        }
        s.flush_requested = false;
        let err = s.last_error.take();
        drop(s);
        free_spent(sh);
        if let Some(e) = err {
            return Err(e);
        }
        if sh.config.acks != Acks::Fsync {
            sh.topic.sync_all()?;
        }
        Ok(())
    }

    fn enqueue(
        &self,
        records: Vec<Record>,
        permits: usize,
    ) -> Result<oneshot::Receiver<Reply>, StoreError> {
        let sh = &self.handle.shared;
        let count = sh.topic.partition_count();
        let mut s = sh.state.lock();
        if s.closed {
            return Err(StoreError::Closed);
        }
        let assign = s
            .chooser
            .assign(sh.config.partitioner, &records, count, sh.config.batch_size);
        let n = records.len();
        let (tx, rx) = oneshot::channel();
        let mut per: Vec<Vec<u32>> = vec![Vec::new(); count as usize];
        for (i, &p) in assign.iter().enumerate() {
            per[p as usize].push(i as u32);
        }
        let parts_left = per.iter().filter(|v| !v.is_empty()).count();
        let ticket = if sh.config.acks == Acks::None {
            let _ = tx.send(Ok(assign.iter().map(|&p| (p, NO_OFFSET)).collect()));
            None
        } else {
            Some(Ticket::new(n, parts_left, tx))
        };
        if s.pending.len() < count as usize {
            s.pending.resize_with(count as usize, || None);
        }
        let mut permits = PermitSplit(permits);
        if parts_left == 1
            && let Some(p) = per.iter().position(|v| !v.is_empty())
        {
            // One partition (the common case): move the records over in one go.
            let bytes = records.iter().map(Record::encoded_size_hint).sum::<usize>();
            let pm = permits.take(bytes, true);
            s.pending[p].get_or_insert_with(Pending::new).push_records(
                records,
                ticket,
                std::mem::take(&mut per[p]),
                bytes,
                pm,
            );
            sh.work.notify_one();
            return Ok(rx);
        }
        let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
        let last = per.iter().rposition(|v| !v.is_empty());
        for (p, idxs) in per.into_iter().enumerate() {
            if idxs.is_empty() {
                continue;
            }
            let rs: Vec<Record> = idxs
                .iter()
                .filter_map(|&i| slots[i as usize].take())
                .collect();
            let bytes = rs.iter().map(Record::encoded_size_hint).sum::<usize>();
            let pm = permits.take(bytes, Some(p) == last);
            s.pending[p].get_or_insert_with(Pending::new).push_records(
                rs,
                ticket.clone(),
                idxs,
                bytes,
                pm,
            );
        }
        // The flusher recomputes its deadline (a new partition batch) or writes (a full one).
        sh.work.notify_one();
        Ok(rx)
    }

    /// An empty set of records to build in place and send with [`Producer::send_batches`]:
    /// each record is encoded straight into the batch of its partition (chosen by the
    /// producer's partitioner, record by record as [`Producer::send`] does), in buffers the
    /// producer recycles. For producers that serialise their values themselves, this saves
    /// the allocations of a [`Record`] per record and a copy of every value.
    pub fn batches(&self) -> Batches {
        let sh = self.handle.shared.clone();
        let count = sh.topic.partition_count();
        let start = sh.state.lock().chooser.start(count);
        Batches::new(sh, count, start)
    }

    /// Sends the records of `batches`; same acknowledgement and backpressure as
    /// [`Producer::send`]. Each batch is written as built (batches are cut at `batch_size`),
    /// without waiting for `linger`. Returns the partition and offsets of each batch, in the
    /// order the records were pushed into each partition.
    pub async fn send_batches(
        &self,
        batches: Batches,
    ) -> Result<Vec<(u32, Range<u64>)>, StoreError> {
        let sh = &self.handle.shared;
        free_spent(sh);
        let (built, usage) = batches.into_parts();
        if built.is_empty() {
            return Ok(Vec::new());
        }
        let bytes: usize = built.iter().map(|(_, b)| b.bytes()).sum();
        let n = reserve(sh, bytes).await?;
        let counts: Vec<u32> = built.iter().map(|(_, b)| b.count()).collect();
        let rx = {
            let count = sh.topic.partition_count();
            let mut s = sh.state.lock();
            if s.closed {
                return Err(StoreError::Closed);
            }
            s.chooser
                .advance(usage, sh.config.partitioner, count, sh.config.batch_size);
            if s.pending.len() < count as usize {
                s.pending.resize_with(count as usize, || None);
            }
            let (tx, rx) = oneshot::channel();
            let ticket = if sh.config.acks == Acks::None {
                let _ = tx.send(Ok(built.iter().map(|(p, _)| (*p, NO_OFFSET)).collect()));
                None
            } else {
                Some(Ticket::new(built.len(), built.len(), tx))
            };
            let mut permits = PermitSplit(n as usize);
            let last = built.len() - 1;
            for (j, (p, b)) in built.into_iter().enumerate() {
                if s.pending.len() <= p as usize {
                    s.pending.resize_with(p as usize + 1, || None);
                }
                let pm = permits.take(b.bytes(), j == last);
                s.pending[p as usize]
                    .get_or_insert_with(Pending::new)
                    .push_built(b, (ticket.clone(), vec![j as u32], 0), pm);
            }
            sh.work.notify_one();
            rx
        };
        let firsts = rx.await.map_err(|_| StoreError::Closed)??;
        Ok(firsts
            .into_iter()
            .zip(counts)
            .map(|((p, first), c)| {
                if first == NO_OFFSET {
                    (p, NO_OFFSET..NO_OFFSET)
                } else {
                    (p, first..first + u64::from(c))
                }
            })
            .collect())
    }
}

/// Splits the permits of one send over the batches its records went to (their sum is what
/// the send acquired, so the flusher returns exactly that).
struct PermitSplit(usize);

impl PermitSplit {
    fn take(&mut self, bytes: usize, last: bool) -> usize {
        let t = if last { self.0 } else { bytes.min(self.0) };
        self.0 -= t;
        t
    }
}

/// Runs a future to completion on this thread (no runtime needed: the producer's futures only
/// wait on `tokio::sync` primitives, which wake any waker).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
