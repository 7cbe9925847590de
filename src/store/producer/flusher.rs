//! The producer's background side: the pending batches per partition, the flusher thread that
//! writes them, the syncer thread (`acks: all`) and the recycling of written memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;
use super::ticket::Part;
use crate::store::batch::{self, Record};
use crate::store::batch_builder::BatchBuilder;
use crate::store::config::Acks;
use crate::store::error::StoreError;
use crate::store::helpers::Helpers;

/// Something to write to a partition, in the order enqueued.
pub(super) enum Item {
    /// Records of one or more `send`s, encoded into one batch by the flusher.
    Records {
        records: Vec<Record>,
        parts: Vec<Part>,
        bytes: usize,
        permits: usize,
    },
    /// A batch built in place by [`Producer::send_batches`](super::Producer::send_batches).
    Built {
        batch: BatchBuilder,
        part: Part,
        permits: usize,
    },
}

/// What waits to be written to one partition.
pub(super) struct Pending {
    items: Vec<Item>,
    /// Bytes of the records (an estimate for `Records`, exact for `Built`).
    bytes: usize,
    since: Instant,
    /// A built batch is queued: write without waiting for `linger`.
    built: bool,
}

impl Pending {
    pub fn new() -> Pending {
        Pending {
            items: Vec::new(),
            bytes: 0,
            since: Instant::now(),
            built: false,
        }
    }

    /// Queues the records of one send (`idxs` their indexes in it), merged with the records
    /// queued just before them.
    pub fn push_records(
        &mut self,
        records: Vec<Record>,
        ticket: Option<Arc<super::ticket::Ticket>>,
        idxs: Vec<u32>,
        bytes: usize,
        permits: usize,
    ) {
        self.bytes += bytes;
        if let Some(Item::Records {
            records: rs,
            parts,
            bytes: b,
            permits: pm,
        }) = self.items.last_mut()
        {
            parts.push((ticket, idxs, rs.len() as u64));
            rs.extend(records);
            *b += bytes;
            *pm += permits;
            return;
        }
        self.items.push(Item::Records {
            records,
            parts: vec![(ticket, idxs, 0)],
            bytes,
            permits,
        });
    }

    /// Queues a built batch.
    pub fn push_built(&mut self, batch: BatchBuilder, part: Part, permits: usize) {
        self.bytes += batch.bytes();
        self.built = true;
        self.items.push(Item::Built {
            batch,
            part,
            permits,
        });
    }
}

/// Written records and buffers waiting to be freed or reused by the senders' threads.
#[derive(Default)]
pub(super) struct Spent {
    batches: Vec<Vec<Record>>,
    bytes: usize,
    buffers: Vec<Vec<u8>>,
    buffer_bytes: usize,
}

/// The flusher thread: takes ready batches (full, lingered, built, flush requested or
/// closing), encodes and appends each, then resolves its tickets (or queues them for the
/// syncer).
pub(super) fn flusher(sh: Arc<Shared>) {
    // The encoding buffer, reused from batch to batch (kept unless a batch made it huge).
    let mut buf: Vec<u8> = Vec::new();
    let keep = sh.config.batch_size.saturating_mul(4).max(1 << 20);
    // Threads that write the other partitions' lists of a round (each with its own buffer).
    let mut helpers = Helpers::new("sluice-producer", {
        let sh = sh.clone();
        move || {
            let sh = sh.clone();
            let mut buf: Vec<u8> = Vec::new();
            Box::new(move |(p, pend): (u32, Pending)| {
                buf = write_pending(&sh, p, pend, std::mem::take(&mut buf));
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
                let mut taken = 0;
                for (p, slot) in s.pending.iter_mut().enumerate() {
                    let Some(pend) = slot else { continue };
                    let deadline = pend.since + sh.config.linger;
                    if urgent || pend.built || pend.bytes >= sh.config.batch_size || deadline <= now
                    {
                        if let Some(pd) = slot.take() {
                            taken += pd.items.len();
                            batches.push((p as u32, pd));
                        }
                    } else {
                        next_deadline =
                            Some(next_deadline.map_or(deadline, |d: Instant| d.min(deadline)));
                    }
                }
                if !batches.is_empty() {
                    s.in_flight += taken;
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
        // One pending list per partition per round, so partitions can be written in parallel
        // without reordering any partition.
        let mut rest = batches.into_iter();
        let first = rest.next();
        let here = || {
            if let Some((p, pend)) = first {
                buf = write_pending(&sh, p, pend, std::mem::take(&mut buf));
                if buf.capacity() > keep {
                    buf = Vec::new();
                }
            }
        };
        if rest.len() == 0 {
            here();
        } else {
            helpers.run_parallel(rest.collect(), here, |(p, pend)| {
                write_pending(&sh, p, pend, Vec::new());
            });
        }
    }
}

/// Writes the items of one partition in order; returns the encoding buffer.
fn write_pending(sh: &Shared, partition: u32, pend: Pending, mut buf: Vec<u8>) -> Vec<u8> {
    for item in pend.items {
        buf = write_item(sh, partition, item, buf);
    }
    buf
}

/// Encodes (records into `buf`) or finishes (a built batch) and appends one batch, resolves or
/// queues its tickets, and returns the buffer for the next batch.
fn write_item(sh: &Shared, partition: u32, item: Item, buf: Vec<u8>) -> Vec<u8> {
    let compression = sh.topic.config().compression;
    let write_acks = if sh.config.acks == Acks::Fsync {
        Acks::Written
    } else {
        sh.config.acks
    };
    let too_large = |bytes| StoreError::BatchTooLarge {
        size: bytes,
        max: batch::MAX_BATCH_BYTES,
    };
    match item {
        Item::Records {
            records,
            parts,
            bytes,
            permits,
        } => {
            let mut spare = Vec::new();
            let res = batch::encode_into(&records, compression, buf)
                .map_err(|_| too_large(bytes))
                .and_then(|mut enc| {
                    let r = sh.topic.append_encoded(
                        partition,
                        &mut enc,
                        write_acks,
                        sh.config.cache_window,
                    );
                    spare = enc.bytes;
                    r
                });
            complete(sh, partition, res, parts, bytes, permits);
            retire(sh, records, bytes);
            spare
        }
        Item::Built {
            batch,
            part,
            permits,
        } => {
            let bytes = batch.bytes();
            let mut spare = None;
            let res = batch
                .finish(compression)
                .map_err(|_| too_large(bytes))
                .and_then(|(mut enc, plain)| {
                    let r = sh.topic.append_encoded(
                        partition,
                        &mut enc,
                        write_acks,
                        sh.config.cache_window,
                    );
                    spare = Some(plain.unwrap_or(enc.bytes));
                    r
                });
            complete(sh, partition, res, vec![part], bytes, permits);
            if let Some(b) = spare {
                recycle_buffer(sh, b);
            }
            buf
        }
    }
}

/// Resolves the parts of a written (or failed) batch, or queues them for the syncer.
fn complete(
    sh: &Shared,
    partition: u32,
    res: Result<crate::store::AppendInfo, StoreError>,
    parts: Vec<Part>,
    bytes: usize,
    permits: usize,
) {
    match res {
        Ok(info) if sh.config.acks == Acks::Fsync => {
            let mut s = sh.state.lock();
            s.unsynced.push_back(Unsynced {
                partition,
                end: info.last_offset + 1,
                first: info.first_offset,
                parts,
                permits,
            });
            sh.sync_work.notify_one();
        }
        Ok(info) => {
            for (t, idxs, at) in parts.iter() {
                if let Some(t) = t {
                    t.finish_part(partition, idxs, Ok(info.first_offset + at));
                }
            }
            sh.buffer.add_permits(permits);
            done(sh, 1, None);
        }
        Err(e) => {
            tracing::warn!(topic = %sh.topic.name(), partition, bytes, error = %e, "producer batch failed");
            for (t, idxs, _) in parts.iter() {
                if let Some(t) = t {
                    t.finish_part(partition, idxs, Err(&e));
                }
            }
            sh.buffer.add_permits(permits);
            done(sh, 1, Some(e));
        }
    }
}

/// A written batch waiting for the group fsync.
pub(super) struct Unsynced {
    partition: u32,
    end: u64,
    first: u64,
    parts: Vec<Part>,
    permits: usize,
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

/// Keeps a written batch's buffer for the next built batch (up to half of
/// `max_buffered_bytes` of buffers; beyond that it is freed).
fn recycle_buffer(sh: &Shared, buf: Vec<u8>) {
    let mut spent = sh.spent.lock();
    if spent.buffer_bytes + buf.capacity() <= sh.config.max_buffered_bytes / 2 {
        spent.buffer_bytes += buf.capacity();
        spent.buffers.push(buf);
    } else {
        drop(spent);
        drop(buf);
    }
}

/// A buffer for a new built batch: a recycled one if any, else a new one of `capacity`.
pub(super) fn take_buffer(sh: &Shared, capacity: usize) -> Vec<u8> {
    let mut spent = sh.spent.lock();
    match spent.buffers.pop() {
        Some(b) => {
            spent.buffer_bytes -= b.capacity();
            b
        }
        None => {
            drop(spent);
            Vec::with_capacity(capacity)
        }
    }
}

/// Gives unused buffers back (a [`Batches`](super::Batches) dropped without being sent).
pub(super) fn return_buffer(sh: &Shared, buf: Vec<u8>) {
    recycle_buffer(sh, buf);
}

/// Frees the records [`retire`] kept (outside the lock).
pub(super) fn free_spent(sh: &Shared) {
    let taken = {
        let mut spent = sh.spent.lock();
        if spent.batches.is_empty() {
            return;
        }
        spent.bytes = 0;
        std::mem::take(&mut spent.batches)
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
pub(super) fn syncer(sh: Arc<Shared>) {
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
            sh.buffer.add_permits(u.permits);
            if first_err.is_none() {
                first_err = err.map(StoreError::duplicate);
            }
        }
        done(&sh, n, first_err);
    }
}
