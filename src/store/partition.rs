//! A partition: an ordered list of segments, the last one active. Appends, rolls, group
//! commit, fetches and time lookups. Opening (recovery) is in `recovery.rs`.

use parking_lot::{Mutex, RwLock};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::batch::{self, BatchHeader, EncodedBatch, HEADER_LEN};
use super::config::TopicConfig;
use super::error::StoreError;
use super::fault::FaultInjector;
use super::index::Entry;
use super::segment::{SEGMENT_HEADER_LEN, Segment};
use super::{CorruptBatch, Fetched};

/// Largest single read of a fetch (a huge `max_bytes` is served in several reads).
const MAX_CHUNK: usize = 8 << 20;

/// The settings a partition needs from its topic's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegCfg {
    pub segment_bytes: u64,
    pub segment_age: Duration,
    pub index_interval: u64,
}

impl SegCfg {
    pub fn from_topic(c: &TopicConfig) -> SegCfg {
        SegCfg {
            segment_bytes: c.effective_segment_bytes(),
            segment_age: c.segment_age,
            index_interval: u64::from(c.index_interval_bytes),
        }
    }

    /// Index entries a segment may need (plus slack), capped at 1 Mi entries (16 MiB).
    pub fn index_capacity(&self) -> usize {
        ((self.segment_bytes / self.index_interval.max(1)) as usize + 8).min(1 << 20)
    }
}

/// Every time a segment's length crosses a multiple of this, the chunk before it is handed to
/// the kernel's writeback ([`Segment::start_writeback`]); the page cache is also dropped in
/// chunks of this size (`page_cache.rs`).
pub(crate) const WRITEBACK_CHUNK: u64 = 8 << 20;

pub(crate) struct Writer {
    pub active: Option<Arc<Segment>>,
    pub next_offset: u64,
    pub bytes_since_index: u64,
}

/// One partition (see the module doc).
pub(crate) struct Partition {
    pub id: u32,
    pub topic: String,
    pub dir: PathBuf,
    pub read_only: bool,
    pub faults: Option<Arc<FaultInjector>>,
    pub cfg: RwLock<SegCfg>,
    pub segments: RwLock<Vec<Arc<Segment>>>,
    pub writer: Mutex<Writer>,
    pub end: AtomicU64,
    pub start: AtomicU64,
    pub synced: AtomicU64,
    pub sync_lock: Mutex<()>,
    /// Retention floor; `u64::MAX` = none.
    pub floor: AtomicU64,
    pub dropped: AtomicU64,
    /// fsyncs done by group commit (stats).
    pub fsyncs: AtomicU64,
    /// The writer's page-cache window in bytes (0: none), as last passed to
    /// [`Partition::append`]; readers further behind drop what they have read.
    pub cache_window: AtomicU64,
}

impl Partition {
    pub fn start_offset(&self) -> u64 {
        self.start.load(Ordering::Acquire)
    }

    pub fn end_offset(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Bytes on disk (segment lengths).
    pub fn bytes(&self) -> u64 {
        self.segments
            .read()
            .iter()
            .map(|s| s.len.load(Ordering::Acquire))
            .sum()
    }

    /// Appends one encoded batch; returns (first offset, next offset). With `cache_window`,
    /// the active segment's bytes more than that far behind its end are dropped from the page
    /// cache once handed to writeback (see [`Segment::drop_cached`]).
    pub fn append(
        &self,
        batch: &mut EncodedBatch,
        sync: bool,
        cache_window: Option<u64>,
    ) -> Result<(u64, u64), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(self.dir.clone()));
        }
        let cfg = *self.cfg.read();
        self.set_cache_window(cache_window);
        let blen = batch.bytes.len() as u64;
        let mut kick = None;
        let (first, next) = {
            let mut w = self.writer.lock();
            let mut active = w
                .active
                .clone()
                .ok_or_else(|| StoreError::ReadOnly(self.dir.clone()))?;
            let mut pos = active.len.load(Ordering::Acquire);
            let rel_room = u64::from(u32::MAX).saturating_sub(w.next_offset - active.base);
            let needs_roll = pos > SEGMENT_HEADER_LEN
                && (pos + blen > cfg.segment_bytes
                    || active.index.read().is_full()
                    || active.opened.elapsed() >= cfg.segment_age
                    || rel_room < u64::from(batch.count) + 1);
            if needs_roll {
                self.roll_locked(&mut w, &cfg)?;
                active = w
                    .active
                    .clone()
                    .ok_or_else(|| StoreError::ReadOnly(self.dir.clone()))?;
                pos = active.len.load(Ordering::Acquire);
            }
            let base = w.next_offset;
            batch::set_base_offset(&mut batch.bytes, base);
            if let Err(e) = active.write_at(&batch.bytes, pos) {
                // Keep a gap-free prefix: drop whatever part of the batch reached the file.
                // (If this fails too, the next write at `pos` overwrites the partial bytes and
                // recovery would truncate them as a torn tail.)
                let _ = active.file.set_len(pos);
                tracing::error!(file = %active.log_path.display(), position = pos, error = %e, "append failed; nothing acknowledged");
                return Err(e);
            }
            if w.bytes_since_index >= cfg.index_interval && pos > SEGMENT_HEADER_LEN {
                let e = Entry {
                    rel_offset: (base - active.base) as u32,
                    position: pos as u32,
                    max_ts_before: active.max_ts.load(Ordering::Acquire),
                };
                if active.index.write().push(e) {
                    w.bytes_since_index = 0;
                }
            }
            w.bytes_since_index += blen;
            let boundary = (pos + blen) / WRITEBACK_CHUNK * WRITEBACK_CHUNK;
            if boundary > pos && boundary >= WRITEBACK_CHUNK {
                kick = Some((active.clone(), boundary - WRITEBACK_CHUNK));
            }
            let next = base + u64::from(batch.count);
            active
                .max_ts
                .fetch_max(batch.max_timestamp, Ordering::AcqRel);
            active.end_offset.store(next, Ordering::Release);
            active.len.store(pos + blen, Ordering::Release);
            w.next_offset = next;
            self.end.store(next, Ordering::Release);
            (base, next)
        };
        if sync {
            self.sync_to(next)?;
        } else if let Some((seg, from)) = kick {
            seg.start_writeback(from, WRITEBACK_CHUNK);
            if let Some(window) = cache_window {
                self.drop_behind(&seg, from, window);
            }
        }
        Ok((first, next))
    }

    /// Seals the active segment (fsync, trims the index) and starts a new one at the next
    /// offset. Called with the writer lock held.
    pub fn roll_locked(&self, w: &mut Writer, cfg: &SegCfg) -> Result<(), StoreError> {
        let Some(old) = w.active.clone() else {
            return Ok(());
        };
        old.sync()?;
        let len = old.len.load(Ordering::Acquire);
        old.file
            .set_len(len)
            .map_err(|e| StoreError::io("truncate", &old.log_path, e))?;
        old.index.write().seal()?;
        self.synced.fetch_max(w.next_offset, Ordering::AcqRel);
        let created = Segment::create(
            &self.dir,
            w.next_offset,
            cfg.index_capacity(),
            self.faults.clone(),
        )
        .and_then(|seg| {
            seg.sync()?;
            super::sync_dir(&self.dir)?;
            Ok(seg)
        });
        let seg = match created {
            Ok(seg) => seg,
            Err(e) => {
                // Leave no half-made segment behind: later appends may still go to the old one,
                // and a stray next segment would claim offsets the old one goes on to hold.
                let _ =
                    std::fs::remove_file(self.dir.join(super::segment::log_name(w.next_offset)));
                let _ =
                    std::fs::remove_file(self.dir.join(super::segment::index_name(w.next_offset)));
                return Err(e);
            }
        };
        let seg = Arc::new(seg);
        self.segments.write().push(seg.clone());
        w.active = Some(seg);
        w.bytes_since_index = 0;
        tracing::debug!(topic = %self.topic, partition = self.id, base = w.next_offset, "rolled segment");
        Ok(())
    }

    /// Rolls the active segment if it is non-empty (and, with `only_if_older`, old enough).
    pub fn roll_if(&self, only_if_older: Option<Duration>) -> Result<bool, StoreError> {
        if self.read_only {
            return Ok(false);
        }
        let cfg = *self.cfg.read();
        let mut w = self.writer.lock();
        let Some(active) = w.active.clone() else {
            return Ok(false);
        };
        if active.is_empty() || only_if_older.is_some_and(|age| active.opened.elapsed() < age) {
            return Ok(false);
        }
        self.roll_locked(&mut w, &cfg)?;
        Ok(true)
    }

    /// Group commit: returns once every batch before `end` is fsync'd. Whoever gets the sync
    /// lock fsyncs everything written so far, so waiting appenders share that one fsync.
    pub fn sync_to(&self, end: u64) -> Result<(), StoreError> {
        if self.synced.load(Ordering::Acquire) >= end {
            return Ok(());
        }
        let _g = self.sync_lock.lock();
        if self.synced.load(Ordering::Acquire) >= end {
            return Ok(());
        }
        let (seg, upto) = {
            let w = self.writer.lock();
            (w.active.clone(), w.next_offset)
        };
        if let Some(seg) = seg {
            seg.sync()?;
        }
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sluice_store_fsyncs_total", "topic" => self.topic.clone()).increment(1);
        self.synced.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// The segment holding `offset` (the last one whose base is ≤ offset), and its index in the
    /// list.
    fn segment_for(&self, offset: u64) -> Option<(usize, Arc<Segment>)> {
        let segs = self.segments.read();
        let i = segs.partition_point(|s| s.base <= offset).checked_sub(1)?;
        Some((i, segs[i].clone()))
    }

    fn segment_at(&self, i: usize) -> Option<(Arc<Segment>, bool)> {
        let segs = self.segments.read();
        segs.get(i).map(|s| (s.clone(), i + 1 == segs.len()))
    }

    /// Reads records from `offset`, about `max_bytes` of batches (at least one batch).
    pub fn fetch(&self, offset: u64, max_bytes: usize) -> Result<Fetched, StoreError> {
        let (start, end) = (self.start_offset(), self.end_offset());
        if offset < start || offset > end {
            return Err(StoreError::OffsetOutOfRange {
                partition: self.id,
                offset,
                start,
                end,
            });
        }
        let mut out = Fetched {
            records: Vec::new(),
            next_offset: offset,
            end_offset: end,
            corrupt: Vec::new(),
        };
        let Some((mut si, _)) = self.segment_for(offset) else {
            return Ok(out);
        };
        let mut taken = 0usize;
        while out.next_offset < end && (taken < max_bytes || taken == 0) {
            let Some((seg, is_last)) = self.segment_at(si) else {
                break;
            };
            let exhausted = self.fetch_segment(&seg, is_last, &mut out, &mut taken, max_bytes)?;
            let seg_end = seg.end_offset.load(Ordering::Acquire);
            if exhausted && !is_last && out.next_offset < seg_end {
                // The segment holds fewer records than the offsets it spans (unreadable header,
                // a lost segment before the next one): report the hole and step over it.
                let reason = format!(
                    "records {}..{seg_end} missing: the segment ends before the next one begins",
                    out.next_offset
                );
                tracing::error!(topic = %self.topic, partition = self.id, file = %seg.log_path.display(), %reason, "gap in the log skipped");
                metrics::counter!("sluice_store_corrupt_batches_total", "topic" => self.topic.clone()).increment(1);
                out.corrupt.push(CorruptBatch {
                    path: seg.log_path.clone(),
                    position: seg.len.load(Ordering::Acquire),
                    first_offset: out.next_offset,
                    next_offset: seg_end,
                    reason,
                });
                out.next_offset = seg_end;
            }
            if out.next_offset < seg_end {
                break; // budget exhausted inside this segment
            }
            match self.segment_at(si + 1) {
                Some((next, _)) => {
                    out.next_offset = out.next_offset.max(next.base);
                    si += 1;
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// Where to start reading `seg` for `offset`: (position, offset of the batch there).
    fn seek(seg: &Segment, offset: u64) -> (u64, u64) {
        let rel = u32::try_from(offset.saturating_sub(seg.base)).unwrap_or(u32::MAX);
        match seg.index.read().lookup(rel) {
            Some(e) => (u64::from(e.position), seg.base + u64::from(e.rel_offset)),
            None => (SEGMENT_HEADER_LEN, seg.base),
        }
    }

    fn fetch_segment(
        &self,
        seg: &Segment,
        is_last: bool,
        out: &mut Fetched,
        taken: &mut usize,
        max_bytes: usize,
    ) -> Result<bool, StoreError> {
        if seg.unreadable.load(Ordering::Acquire) {
            return Ok(true);
        }
        let seg_len = seg.len.load(Ordering::Acquire);
        let (mut pos, mut expect) = Self::seek(seg, out.next_offset);
        let mut min_chunk = 64 * 1024usize;
        'outer: while pos < seg_len {
            let want =
                (max_bytes.saturating_sub(*taken)).clamp(min_chunk, MAX_CHUNK.max(min_chunk));
            let chunk = seg.read_at(pos, want.min((seg_len - pos) as usize))?;
            self.drop_read(seg, pos, pos + chunk.len() as u64);
            let mut i = 0usize;
            while i < chunk.len() {
                let here = pos + i as u64;
                let parsed = if chunk.len() - i >= HEADER_LEN {
                    BatchHeader::parse(&chunk[i..])
                } else if seg_len - here >= HEADER_LEN as u64 {
                    min_chunk = HEADER_LEN;
                    break; // header straddles the chunk: read again from here
                } else {
                    Err("torn batch header".into())
                };
                let h = match parsed {
                    Ok(h)
                        if h.base_offset == expect && here + u64::from(h.batch_len) <= seg_len =>
                    {
                        h
                    }
                    Ok(h) => {
                        let reason = format!(
                            "batch at offset {} ({} bytes) where offset {expect} was expected within {seg_len} bytes",
                            h.base_offset, h.batch_len
                        );
                        (pos, expect) =
                            self.skip_corrupt(seg, is_last, here, expect, None, reason, out);
                        continue 'outer;
                    }
                    Err(reason) => {
                        (pos, expect) =
                            self.skip_corrupt(seg, is_last, here, expect, None, reason, out);
                        continue 'outer;
                    }
                };
                let blen = h.batch_len as usize;
                if h.next_offset() <= out.next_offset {
                    // Before the requested offset: skip without reading it.
                    expect = h.next_offset();
                    if i + blen > chunk.len() {
                        pos = here + blen as u64;
                        continue 'outer;
                    }
                    i += blen;
                    continue;
                }
                if *taken > 0 && *taken + blen > max_bytes {
                    return Ok(false);
                }
                if i + blen > chunk.len() {
                    min_chunk = blen;
                    break;
                }
                let b = chunk.slice(i..i + blen);
                let res = batch::check_crc(&h, &b).and_then(|_| {
                    batch::decode(&h, &b, self.id, out.next_offset, &mut out.records)
                });
                if let Err(reason) = res {
                    (pos, expect) =
                        self.skip_corrupt(seg, is_last, here, expect, Some(h), reason, out);
                    continue 'outer;
                }
                *taken += blen;
                out.next_offset = h.next_offset();
                expect = h.next_offset();
                i += blen;
                if *taken >= max_bytes {
                    return Ok(false);
                }
            }
            pos += i as u64;
        }
        Ok(true)
    }

    /// Reports a corrupt batch at `pos` and finds where reading can go on: after the batch if
    /// its header is trustworthy and the next batch follows on, else the next index entry,
    /// else the end of the segment. Returns (position, expected offset there).
    #[allow(clippy::too_many_arguments)]
    fn skip_corrupt(
        &self,
        seg: &Segment,
        is_last: bool,
        pos: u64,
        expect: u64,
        header: Option<BatchHeader>,
        reason: String,
        out: &mut Fetched,
    ) -> (u64, u64) {
        let seg_len = seg.len.load(Ordering::Acquire);
        let seg_end = seg.end_offset.load(Ordering::Acquire);
        let mut target = None;
        if let Some(h) = header.filter(|h| h.base_offset == expect) {
            let after = pos + u64::from(h.batch_len);
            let follows = if after == seg_len {
                h.next_offset() == seg_end
            } else {
                seg.read_at(after, HEADER_LEN.min((seg_len - after) as usize))
                    .ok()
                    .and_then(|b| BatchHeader::parse(&b).ok())
                    .is_some_and(|n| n.base_offset == h.next_offset())
            };
            if follows {
                target = Some((after, h.next_offset()));
            }
        }
        if target.is_none() {
            let idx = seg.index.read();
            target = (0..idx.len())
                .map(|i| idx.get(i))
                .find(|e| u64::from(e.position) > pos)
                .map(|e| (u64::from(e.position), seg.base + u64::from(e.rel_offset)));
        }
        let (np, nexp) = target.unwrap_or((seg_len, seg_end));
        let _ = is_last;
        tracing::error!(
            topic = %self.topic, partition = self.id, file = %seg.log_path.display(), position = pos,
            %reason, skipped_from = expect, skipped_to = nexp,
            "corrupt batch skipped; other batches are still served"
        );
        metrics::counter!("sluice_store_corrupt_batches_total", "topic" => self.topic.clone())
            .increment(1);
        out.corrupt.push(CorruptBatch {
            path: seg.log_path.clone(),
            position: pos,
            first_offset: expect,
            next_offset: nexp,
            reason,
        });
        out.next_offset = out.next_offset.max(nexp);
        (np, nexp)
    }

    /// First offset whose timestamp is ≥ `ts` (the end offset if none).
    pub fn offset_for_time(&self, ts: i64) -> Result<u64, StoreError> {
        let segs: Vec<Arc<Segment>> = self.segments.read().clone();
        for seg in segs {
            if seg.max_ts.load(Ordering::Acquire) < ts || seg.unreadable.load(Ordering::Acquire) {
                continue;
            }
            let (mut pos, mut expect) = match seg.index.read().lookup_time(ts) {
                Some(e) => (u64::from(e.position), seg.base + u64::from(e.rel_offset)),
                None => (SEGMENT_HEADER_LEN, seg.base),
            };
            let seg_len = seg.len.load(Ordering::Acquire);
            while pos + HEADER_LEN as u64 <= seg_len {
                let hb = seg.read_at(pos, HEADER_LEN)?;
                let Ok(h) = BatchHeader::parse(&hb) else {
                    break;
                };
                if h.base_offset != expect || pos + u64::from(h.batch_len) > seg_len {
                    break;
                }
                if h.max_timestamp >= ts {
                    let b = seg.read_at(pos, h.batch_len as usize)?;
                    let mut recs = Vec::new();
                    if batch::check_crc(&h, &b).is_ok()
                        && batch::decode(&h, &b, self.id, 0, &mut recs).is_ok()
                        && let Some(r) = recs.iter().find(|r| r.timestamp_ms >= ts)
                    {
                        return Ok(r.offset);
                    }
                }
                pos += u64::from(h.batch_len);
                expect = h.next_offset();
            }
        }
        Ok(self.end_offset())
    }
}
