//! The producer: partitions records, batches them by `linger`/`batch_size`, appends each batch
//! with one write, and acknowledges per `acks`. With `acks: all` a separate syncer thread
//! fsyncs once for every batch written since its previous fsync (group commit), while the
//! flusher goes on writing.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};

use super::batch::{self, Record};
use super::config::Acks;
use super::error::StoreError;
use super::helpers::Helpers;
use super::partitioner::{Chooser, Partitioner};
use super::topic::Topic;

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
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            partitioner: Partitioner::RoundRobin,
            acks: Acks::Written,
            linger: Duration::from_millis(5),
            batch_size: 1 << 20,
            max_buffered_bytes: 16 << 20,
        }
    }
}

type Reply = Result<Vec<(u32, u64)>, StoreError>;

/// One `send` call waiting for its records (possibly spread over several batches).
struct Ticket {
    inner: Mutex<TicketInner>,
}

struct TicketInner {
    results: Vec<(u32, u64)>,
    parts_left: usize,
    err: Option<StoreError>,
    tx: Option<oneshot::Sender<Reply>>,
}

impl Ticket {
    fn finish_part(&self, partition: u32, idxs: &[u32], first: Result<u64, &StoreError>) {
        let mut t = self.inner.lock();
        match first {
            Ok(first) => {
                for (k, &i) in idxs.iter().enumerate() {
                    t.results[i as usize] = (partition, first + k as u64);
                }
            }
            Err(e) => {
                if t.err.is_none() {
                    t.err = Some(e.duplicate());
                }
            }
        }
        t.parts_left -= 1;
        if t.parts_left == 0
            && let Some(tx) = t.tx.take()
        {
            let r = match t.err.take() {
                Some(e) => Err(e),
                None => Ok(std::mem::take(&mut t.results)),
            };
            let _ = tx.send(r);
        }
    }
}

/// The records of one `send` inside a batch: its ticket, their indexes in the send, and the
/// position of the first of them in the batch.
type Part = (Option<Arc<Ticket>>, Vec<u32>, u64);

/// Records headed for one partition, not yet written.
struct Pending {
    records: Vec<Record>,
    bytes: usize,
    since: Instant,
    parts: Vec<Part>,
}

/// A written batch waiting for the group fsync.
struct Unsynced {
    partition: u32,
    end: u64,
    first: u64,
    parts: Vec<Part>,
    bytes: usize,
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

/// Written records waiting to be freed by the next `send` (see [`retire`]).
#[derive(Default)]
struct Spent {
    batches: Vec<Vec<Record>>,
    bytes: usize,
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
        let n = permits(bytes, sh.config.max_buffered_bytes);
        let permit = sh
            .buffer
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| StoreError::Closed)?;
        permit.forget(); // returned by the flusher once the batch is written
        let rx = self.enqueue(records)?;
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

    fn enqueue(&self, records: Vec<Record>) -> Result<oneshot::Receiver<Reply>, StoreError> {
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
            let _ = tx.send(Ok(vec![(0, NO_OFFSET); n]).map(|mut v: Vec<(u32, u64)>| {
                for (i, &p) in assign.iter().enumerate() {
                    v[i].0 = p;
                }
                v
            }));
            None
        } else {
            Some(Arc::new(Ticket {
                inner: Mutex::new(TicketInner {
                    results: vec![(0, 0); n],
                    parts_left,
                    err: None,
                    tx: Some(tx),
                }),
            }))
        };
        if s.pending.len() < count as usize {
            s.pending.resize_with(count as usize, || None);
        }
        if parts_left == 1
            && let Some(p) = per.iter().position(|v| !v.is_empty())
        {
            // One partition (the common case): move the records over in one go.
            let pend = s.pending[p].get_or_insert_with(|| Pending {
                records: Vec::new(),
                bytes: 0,
                since: Instant::now(),
                parts: Vec::new(),
            });
            let at = pend.records.len() as u64;
            pend.bytes += records.iter().map(Record::encoded_size_hint).sum::<usize>();
            if pend.records.is_empty() {
                pend.records = records;
            } else {
                pend.records.extend(records);
            }
            pend.parts.push((ticket, std::mem::take(&mut per[p]), at));
            sh.work.notify_one();
            return Ok(rx);
        }
        let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
        for (p, idxs) in per.into_iter().enumerate() {
            if idxs.is_empty() {
                continue;
            }
            let pend = s.pending[p].get_or_insert_with(|| Pending {
                records: Vec::new(),
                bytes: 0,
                since: Instant::now(),
                parts: Vec::new(),
            });
            let at = pend.records.len() as u64;
            for &i in &idxs {
                if let Some(r) = slots[i as usize].take() {
                    pend.bytes += r.encoded_size_hint();
                    pend.records.push(r);
                }
            }
            pend.parts.push((ticket.clone(), idxs, at));
        }
        // The flusher recomputes its deadline (a new partition batch) or writes (a full one).
        sh.work.notify_one();
        Ok(rx)
    }
}

/// The flusher thread: takes ready batches (full, lingered, flush requested or closing),
/// encodes and appends each, then resolves its tickets (or queues them for the syncer).
fn flusher(sh: Arc<Shared>) {
    // The encoding buffer, reused from batch to batch (kept unless a batch made it huge).
    let mut buf: Vec<u8> = Vec::new();
    let keep = sh.config.batch_size.saturating_mul(4).max(1 << 20);
    // Threads that write the other partitions' batches of a round (each with its own buffer).
    let mut helpers = Helpers::new("sluice-producer", {
        let sh = sh.clone();
        move || {
            let sh = sh.clone();
            let mut buf: Vec<u8> = Vec::new();
            Box::new(move |(p, pend): (u32, Pending)| {
                buf = write_batch(&sh, p, pend, std::mem::take(&mut buf));
                if buf.capacity() > keep {
                    buf = Vec::new();
                }
            })
        }
    });
    loop {
        let mut batches = Vec::new();
        {
            let mut s = sh.state.lock();
            loop {
                let now = Instant::now();
                let urgent = s.closed || s.flush_requested;
                let mut next_deadline: Option<Instant> = None;
                for (p, slot) in s.pending.iter_mut().enumerate() {
                    let Some(pend) = slot else { continue };
                    let deadline = pend.since + sh.config.linger;
                    if urgent || pend.bytes >= sh.config.batch_size || deadline <= now {
                        if let Some(pd) = slot.take() {
                            batches.push((p as u32, pd));
                        }
                    } else {
                        next_deadline =
                            Some(next_deadline.map_or(deadline, |d: Instant| d.min(deadline)));
                    }
                }
                if !batches.is_empty() {
                    s.in_flight += batches.len();
                    break;
                }
                if s.closed {
                    return;
                }
                match next_deadline {
                    Some(d) => {
                        sh.work.wait_until(&mut s, d);
                    }
                    None => {
                        sh.idle.notify_all();
                        sh.work.wait(&mut s);
                    }
                }
            }
        }
        // At most one batch per partition per round, so batches of different partitions can be
        // encoded and written in parallel without reordering any partition.
        let mut rest = batches.into_iter();
        let first = rest.next();
        let here = || {
            if let Some((p, pend)) = first {
                buf = write_batch(&sh, p, pend, std::mem::take(&mut buf));
                if buf.capacity() > keep {
                    buf = Vec::new();
                }
            }
        };
        if rest.len() == 0 {
            here();
        } else {
            helpers.run_parallel(rest.collect(), here, |(p, pend)| {
                write_batch(&sh, p, pend, Vec::new());
            });
        }
    }
}

/// Encodes (into `buf`) and appends one batch, resolves or queues its tickets, and returns the
/// buffer for the next batch.
fn write_batch(sh: &Shared, partition: u32, pend: Pending, buf: Vec<u8>) -> Vec<u8> {
    let compression = sh.topic.config().compression;
    let write_acks = if sh.config.acks == Acks::Fsync {
        Acks::Written
    } else {
        sh.config.acks
    };
    let mut spare = Vec::new();
    let res = batch::encode_into(&pend.records, compression, buf)
        .map_err(|_| StoreError::BatchTooLarge {
            size: pend.bytes,
            max: batch::MAX_BATCH_BYTES,
        })
        .and_then(|mut enc| {
            let r = sh.topic.append_encoded(partition, &mut enc, write_acks);
            spare = enc.bytes;
            r
        });
    let release = |sh: &Shared| {
        sh.buffer
            .add_permits(permits(pend.bytes, sh.config.max_buffered_bytes) as usize);
    };
    match res {
        Ok(info) if sh.config.acks == Acks::Fsync => {
            let mut s = sh.state.lock();
            s.unsynced.push_back(Unsynced {
                partition,
                end: info.last_offset + 1,
                first: info.first_offset,
                parts: pend.parts,
                bytes: pend.bytes,
            });
            sh.sync_work.notify_one();
        }
        Ok(info) => {
            for (t, idxs, at) in pend.parts.iter() {
                if let Some(t) = t {
                    t.finish_part(partition, idxs, Ok(info.first_offset + at));
                }
            }
            release(sh);
            done(sh, 1, None);
        }
        Err(e) => {
            tracing::warn!(topic = %sh.topic.name(), partition, error = %e, "producer batch failed");
            for (t, idxs, _) in pend.parts.iter() {
                if let Some(t) = t {
                    t.finish_part(partition, idxs, Err(&e));
                }
            }
            release(sh);
            done(sh, 1, Some(e));
        }
    }
    retire(sh, pend.records, pend.bytes);
    spare
}

/// Disposes of written records after their senders were woken: up to a quarter of
/// `max_buffered_bytes` of them wait for the next `send` to free them on its own thread, where
/// they were most likely allocated (the allocator then reuses that memory at once instead of
/// queueing cross-thread frees and growing the heap); the rest are freed here.
fn retire(sh: &Shared, records: Vec<Record>, bytes: usize) {
    let mut spent = sh.spent.lock();
    if spent.bytes + bytes <= sh.config.max_buffered_bytes / 4 {
        spent.bytes += bytes;
        spent.batches.push(records);
    } else {
        drop(spent);
        drop(records);
    }
}

/// Frees the records [`retire`] kept (outside the lock).
fn free_spent(sh: &Shared) {
    let taken = {
        let mut spent = sh.spent.lock();
        if spent.batches.is_empty() {
            return;
        }
        std::mem::take(&mut *spent)
    };
    drop(taken);
}

fn done(sh: &Shared, n: usize, err: Option<StoreError>) {
    let mut s = sh.state.lock();
    s.in_flight -= n;
    if let Some(e) = err
        && s.last_error.is_none()
    {
        s.last_error = Some(e);
    }
    sh.idle.notify_all();
}

/// The syncer thread (acks=all): one fsync per partition covers every batch written so far.
fn syncer(sh: Arc<Shared>) {
    loop {
        let batch: Vec<Unsynced> = {
            let mut s = sh.state.lock();
            while s.unsynced.is_empty() {
                if s.closed && s.in_flight == 0 {
                    return;
                }
                sh.sync_work.wait_for(&mut s, Duration::from_millis(100));
            }
            s.unsynced.drain(..).collect()
        };
        let mut ends: Vec<(u32, u64)> = Vec::new();
        for u in &batch {
            match ends.iter_mut().find(|(p, _)| *p == u.partition) {
                Some(e) => e.1 = e.1.max(u.end),
                None => ends.push((u.partition, u.end)),
            }
        }
        let mut failed: Vec<(u32, StoreError)> = Vec::new();
        for (p, end) in ends {
            let r = sh.topic.partition(p).and_then(|part| part.sync_to(end));
            if let Err(e) = r {
                failed.push((p, e));
            }
        }
        let n = batch.len();
        let mut first_err = None;
        for u in batch {
            let err = failed
                .iter()
                .find(|(p, _)| *p == u.partition)
                .map(|(_, e)| e);
            for (t, idxs, at) in u.parts.iter() {
                if let Some(t) = t {
                    t.finish_part(u.partition, idxs, err.map_or(Ok(u.first + at), Err));
                }
            }
            sh.buffer
                .add_permits(permits(u.bytes, sh.config.max_buffered_bytes) as usize);
            if first_err.is_none() {
                first_err = err.map(StoreError::duplicate);
            }
        }
        done(&sh, n, first_err);
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
