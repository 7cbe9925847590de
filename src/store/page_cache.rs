//! What a partition keeps in the page cache (see `docs/store.md`, "Why `cache_window`").
//!
//! - **The writer** drops what is more than its `cache_window` behind the end of the partition,
//!   once written back ([`Partition::drop_behind`]): a log written once and read soon after
//!   should not fill the machine's memory.
//! - **A reader further behind than that** reads the disk, and drops what it has read once it
//!   is [`READ_MARGIN`] past it ([`Partition::drop_read`]). Without that, every page read back
//!   from disk stays cached, so draining a backlog allocates fresh memory for all of it; on a
//!   VM that returns free memory to its host, touching a fresh page costs a fault in the host,
//!   which made reading a backlog several times slower than reading pages the kernel recycles.
//!   Readers near the end (within the window) drop nothing: the pages there serve every reader
//!   that keeps up.

use std::sync::atomic::Ordering;

use super::partition::{Partition, WRITEBACK_CHUNK};
use super::segment::Segment;
use std::sync::Arc;

/// How far behind a reader's position its reads are dropped: the records of its last fetches
/// may still be in use (mapped pages are not dropped anyway), and other readers close behind
/// it still find them.
pub(crate) const READ_MARGIN: u64 = 2 * WRITEBACK_CHUNK;

/// The bytes a writer's `window` keeps behind its writeback: whole chunks, at least one.
/// Readers use the same figure to tell whether they are behind it.
fn window_bytes(window: u64) -> u64 {
    window.div_ceil(WRITEBACK_CHUNK).max(1) * WRITEBACK_CHUNK
}

impl Partition {
    /// Records the writer's page-cache window (`None`: the kernel decides, and readers drop
    /// nothing either).
    pub(crate) fn set_cache_window(&self, window: Option<u64>) {
        let w = window.unwrap_or(0);
        if self.cache_window.load(Ordering::Relaxed) != w {
            self.cache_window.store(w, Ordering::Relaxed);
        }
    }

    /// Drops from the page cache the chunk `window` (rounded up to whole chunks) behind the
    /// chunk at `from` of `seg` just handed to writeback, which is long written (or, in the
    /// previous segment, fsync'd when it was sealed).
    pub(crate) fn drop_behind(&self, seg: &Arc<Segment>, from: u64, window: u64) {
        let behind = window_bytes(window);
        if from >= behind {
            seg.drop_cached(from - behind, WRITEBACK_CHUNK);
            return;
        }
        if let Some(prev) = self.segment_before(seg) {
            // The chunk as far behind in the previous segment; at the first chunk of this
            // segment, everything before it as well (what the previous segment's own appends
            // had not dropped yet when it was sealed).
            let end = prev.len.load(Ordering::Acquire);
            let upto = (end + from + WRITEBACK_CHUNK).saturating_sub(behind);
            let start = if from == 0 {
                0
            } else {
                upto.saturating_sub(WRITEBACK_CHUNK)
            };
            if upto > start {
                prev.drop_cached(start, upto - start);
            }
        }
    }

    /// Called after a reader read `seg` from `start` to `end` (file positions). When the
    /// reader is more than the writer's window behind the end of the partition, the whole
    /// chunks its position minus [`READ_MARGIN`] has just passed are dropped; on passing the
    /// first chunk of a segment, so is the tail of the segment before. One `posix_fadvise`
    /// per chunk read (8 MiB), none for readers near the end.
    pub(crate) fn drop_read(&self, seg: &Segment, start: u64, end: u64) {
        let window = self.cache_window.load(Ordering::Relaxed);
        if window == 0 {
            return;
        }
        let from = start.saturating_sub(READ_MARGIN) / WRITEBACK_CHUNK;
        let to = end.saturating_sub(READ_MARGIN) / WRITEBACK_CHUNK;
        if to == from {
            return;
        }
        let (behind_end, prev) = {
            let segs = self.segments.read();
            let Some(i) = segs.iter().position(|s| std::ptr::eq(&**s, seg)) else {
                return; // deleted by retention meanwhile
            };
            let later: u64 = segs[i + 1..]
                .iter()
                .map(|s| s.len.load(Ordering::Acquire))
                .sum();
            let behind = seg.len.load(Ordering::Acquire).saturating_sub(end) + later;
            (behind, i.checked_sub(1).map(|p| segs[p].clone()))
        };
        if behind_end < window_bytes(window) + WRITEBACK_CHUNK {
            return;
        }
        seg.drop_cached(from * WRITEBACK_CHUNK, (to - from) * WRITEBACK_CHUNK);
        if from == 0
            && let Some(prev) = prev
        {
            // The last, partial chunk of the previous segment (and what the margin kept of
            // it), which no read of that segment passed by a whole margin.
            let len = prev.len.load(Ordering::Acquire);
            let keep = len.saturating_sub(READ_MARGIN + WRITEBACK_CHUNK);
            prev.drop_cached(keep, len - keep);
        }
    }

    /// The segment before `seg`, if any.
    fn segment_before(&self, seg: &Arc<Segment>) -> Option<Arc<Segment>> {
        let segs = self.segments.read();
        segs.iter()
            .position(|s| Arc::ptr_eq(s, seg))
            .and_then(|i| i.checked_sub(1))
            .map(|i| segs[i].clone())
    }
}
