//! Records built in place for one [`Producer::send_batches`](super::Producer::send_batches).

use std::sync::Arc;

use super::Shared;
use super::flusher::{return_buffer, take_buffer};
use crate::store::batch_builder::BatchBuilder;
use crate::store::partitioner::{Start, Usage};

/// Records of one send, encoded as they are pushed into the batch of their partition (from
/// [`Producer::batches`](super::Producer::batches)). A batch is closed once it reaches the
/// producer's `batch_size`; buffers come from (and, if dropped unsent, go back to) the
/// producer's pool of written batches.
pub struct Batches {
    shared: Arc<Shared>,
    partitions: u32,
    start: Start,
    usage: Usage,
    /// The open batch of each partition.
    open: Vec<Option<BatchBuilder>>,
    /// Closed batches, in the order they were closed.
    closed: Vec<(u32, BatchBuilder)>,
    records: usize,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("records", &self.records)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl Batches {
    pub(super) fn new(shared: Arc<Shared>, partitions: u32, start: Start) -> Batches {
        Batches {
            shared,
            partitions: partitions.max(1),
            start,
            usage: Usage::default(),
            open: Vec::new(),
            closed: Vec::new(),
            records: 0,
        }
    }

    /// Appends one record: `value` appends the record's value to the buffer it is given (and
    /// leaves what is already there alone). `headers` are (name, value) pairs.
    pub fn push(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        value: &mut dyn FnMut(&mut Vec<u8>),
    ) {
        let how = self.shared.config.partitioner;
        let p = if self.partitions == 1 {
            0
        } else {
            self.start
                .choose(how, key, self.partitions, &mut self.usage)
        };
        if self.open.len() <= p as usize {
            self.open.resize_with(p as usize + 1, || None);
        }
        let cut = self.shared.config.batch_size.max(1);
        let slot = &mut self.open[p as usize];
        let b = slot.get_or_insert_with(|| {
            // Room for a full batch and the record that crosses `batch_size` (a huge
            // `batch_size` grows the buffer as it fills instead).
            let capacity = (cut + cut / 8 + 4096).min(2 << 20);
            BatchBuilder::new(take_buffer(&self.shared, capacity))
        });
        let before = b.bytes();
        b.push(timestamp_ms, key, headers, value);
        self.usage.bytes += b.bytes() - before;
        self.records += 1;
        if b.bytes() >= cut
            && let Some(full) = slot.take()
        {
            self.closed.push((p, full));
        }
    }

    /// Records pushed.
    pub fn len(&self) -> usize {
        self.records
    }

    /// True if no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Bytes of the batches built so far.
    pub fn bytes(&self) -> usize {
        self.usage.bytes
    }

    /// The batches in write order (closed ones first, then the open ones by partition) and
    /// what the partitioner used.
    pub(super) fn into_parts(mut self) -> (Vec<(u32, BatchBuilder)>, Usage) {
        let mut all = std::mem::take(&mut self.closed);
        for (p, slot) in self.open.iter_mut().enumerate() {
            if let Some(b) = slot.take() {
                all.push((p as u32, b));
            }
        }
        (all, self.usage)
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        let closed = std::mem::take(&mut self.closed);
        for (_, b) in closed {
            return_buffer(&self.shared, b.into_buffer());
        }
        for b in self.open.iter_mut().filter_map(Option::take) {
            return_buffer(&self.shared, b.into_buffer());
        }
    }
}
