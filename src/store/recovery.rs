//! Opening a partition: the segments are the source of truth; indexes are validated or rebuilt;
//! the active segment's torn tail is truncated (read-write) or ignored (read-only).

use parking_lot::{Mutex, RwLock};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::batch::{BatchHeader, HEADER_LEN};
use super::error::StoreError;
use super::fault::FaultInjector;
use super::index::{Entry, Index, IndexCheck, OpenMode};
use super::partition::{Partition, SegCfg, Writer};
use super::segment::{self, SEGMENT_HEADER_LEN, Segment};

/// What `open_partition` needs to know.
pub(crate) struct OpenCtx<'a> {
    pub topic: &'a str,
    pub id: u32,
    pub dir: &'a Path,
    pub cfg: SegCfg,
    pub read_only: bool,
    pub faults: Option<Arc<FaultInjector>>,
}

/// Lists the segment base offsets in `dir`; removes leftovers (temp files, orphan indexes)
/// unless read-only.
fn list_segments(dir: &Path, read_only: bool) -> Result<Vec<u64>, StoreError> {
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| StoreError::io("list", dir, e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        let parse = |stem: &str| {
            (stem.len() == 20)
                .then(|| stem.parse::<u64>().ok())
                .flatten()
        };
        if let Some(stem) = name.strip_suffix(".log") {
            match parse(stem) {
                Some(b) => bases.push(b),
                None => tracing::warn!(file = %ent.path().display(), "ignoring unexpected file"),
            }
        } else if let Some(stem) = name.strip_suffix(".index") {
            if let Some(b) = parse(stem) {
                indexes.push(b);
            }
        } else if name.ends_with(".tmp") {
            if !read_only {
                tracing::warn!(file = %ent.path().display(), "removing leftover temporary file");
                std::fs::remove_file(ent.path())
                    .map_err(|e| StoreError::io("remove", ent.path(), e))?;
            }
        } else {
            tracing::warn!(file = %ent.path().display(), "ignoring unexpected file");
        }
    }
    bases.sort_unstable();
    if !read_only {
        for b in indexes {
            if bases.binary_search(&b).is_err() {
                let p = dir.join(segment::index_name(b));
                tracing::warn!(file = %p.display(), "removing index without a segment");
                std::fs::remove_file(&p).map_err(|e| StoreError::io("remove", &p, e))?;
            }
        }
    }
    Ok(bases)
}

/// Opens (recovers) a partition directory.
pub(crate) fn open_partition(ctx: OpenCtx<'_>) -> Result<Partition, StoreError> {
    let dir = ctx.dir;
    if !dir.exists() {
        if ctx.read_only {
            return Ok(assemble(&ctx, Vec::new(), None, 0, 0));
        }
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("mkdir", dir, e))?;
        if let Some(parent) = dir.parent() {
            super::sync_dir(parent)?;
        }
    }
    let bases = list_segments(dir, ctx.read_only)?;
    let mut segs = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        match bases.get(i + 1) {
            Some(&next) => segs.push(Arc::new(open_sealed(&ctx, base, next)?)),
            None => {
                let (seg, since) = open_active(&ctx, base)?;
                let seg = Arc::new(seg);
                segs.push(seg.clone());
                let next = seg.end_offset.load(Ordering::Acquire);
                let start = segs[0].base;
                let active = (!ctx.read_only).then_some(seg);
                return Ok(assemble(&ctx, segs, active, next, since).with_start(start));
            }
        }
    }
    // No segment at all.
    if ctx.read_only {
        return Ok(assemble(&ctx, Vec::new(), None, 0, 0));
    }
    let seg = Arc::new(Segment::create(
        dir,
        0,
        ctx.cfg.index_capacity(),
        ctx.faults.clone(),
    )?);
    seg.sync()?;
    super::sync_dir(dir)?;
    Ok(assemble(&ctx, vec![seg.clone()], Some(seg), 0, 0))
}

fn assemble(
    ctx: &OpenCtx<'_>,
    segs: Vec<Arc<Segment>>,
    active: Option<Arc<Segment>>,
    next: u64,
    since: u64,
) -> Partition {
    let start = segs.first().map_or(next, |s| s.base);
    Partition {
        id: ctx.id,
        topic: ctx.topic.to_string(),
        dir: ctx.dir.to_path_buf(),
        read_only: ctx.read_only,
        faults: ctx.faults.clone(),
        cfg: RwLock::new(ctx.cfg),
        segments: RwLock::new(segs),
        writer: Mutex::new(Writer {
            active,
            next_offset: next,
            bytes_since_index: since,
        }),
        end: AtomicU64::new(next),
        start: AtomicU64::new(start),
        // Whatever survived a restart is what the disk holds.
        synced: AtomicU64::new(next),
        sync_lock: Mutex::new(()),
        floor: AtomicU64::new(u64::MAX),
        dropped: AtomicU64::new(0),
        fsyncs: AtomicU64::new(0),
        cache_window: AtomicU64::new(0),
    }
}

impl Partition {
    fn with_start(self, start: u64) -> Partition {
        self.start.store(start, Ordering::Release);
        self
    }
}

/// A segment served without an index on disk (an in-memory, empty one): an unreadable sealed
/// segment, or an active segment with no complete header in a read-only open.
fn without_index(base: u64, log_path: PathBuf, index_path: PathBuf, file: File) -> Segment {
    let index = Index::in_memory(index_path.clone(), &[]);
    Segment::from_parts(base, log_path, index_path, file, index, None)
}

fn open_file(path: &Path, writable: bool) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .map_err(|e| StoreError::io("open", path, e))
}

fn file_len(f: &File, path: &Path) -> Result<u64, StoreError> {
    Ok(f.metadata()
        .map_err(|e| StoreError::io("stat", path, e))?
        .len())
}

/// True when the index's last entry points at a batch header with the right base offset.
fn last_entry_matches(file: &File, base: u64, idx: &Index) -> bool {
    let Some(e) = idx.last() else { return true };
    let mut hb = [0u8; HEADER_LEN];
    use std::os::unix::fs::FileExt;
    file.read_exact_at(&mut hb, u64::from(e.position)).is_ok()
        && BatchHeader::parse(&hb).is_ok_and(|h| h.base_offset == base + u64::from(e.rel_offset))
}

/// Scans a whole segment to rebuild its index entries.
fn rebuild_entries(
    file: &File,
    path: &Path,
    base: u64,
    len: u64,
    interval: u64,
    check_crc: bool,
) -> Result<(Vec<Entry>, segment::Scan, u64), StoreError> {
    let mut b = SparseIndexBuilder::new(base, interval, SEGMENT_HEADER_LEN, i64::MIN);
    let scan = segment::scan(
        file,
        path,
        SEGMENT_HEADER_LEN,
        len,
        base,
        check_crc,
        |pos, h| b.observe(pos, h),
    )?;
    Ok((b.entries, scan, b.since))
}

/// Builds sparse index entries while a scan walks the batches of a segment: one entry every
/// `interval` bytes, each carrying the largest timestamp of the batches before it.
struct SparseIndexBuilder {
    base: u64,
    interval: u64,
    /// Position of the first batch scanned (no entry there: it is the scan's start).
    from: u64,
    /// Bytes since the last entry.
    since: u64,
    /// Largest timestamp seen so far.
    max_before: i64,
    entries: Vec<Entry>,
}

impl SparseIndexBuilder {
    fn new(base: u64, interval: u64, from: u64, max_before: i64) -> Self {
        SparseIndexBuilder {
            base,
            interval,
            from,
            since: 0,
            max_before,
            entries: Vec::new(),
        }
    }

    fn observe(&mut self, pos: u64, h: &BatchHeader) {
        if self.since >= self.interval && pos > self.from {
            self.entries.push(Entry {
                rel_offset: (h.base_offset - self.base) as u32,
                position: pos as u32,
                max_ts_before: self.max_before,
            });
            self.since = 0;
        }
        self.since += u64::from(h.batch_len);
        self.max_before = self.max_before.max(h.max_timestamp);
    }
}

fn open_sealed(ctx: &OpenCtx<'_>, base: u64, next_base: u64) -> Result<Segment, StoreError> {
    let log_path = ctx.dir.join(segment::log_name(base));
    let index_path = ctx.dir.join(segment::index_name(base));
    let file = open_file(&log_path, false)?;
    let len = file_len(&file, &log_path)?;
    if let Err(reason) = segment::check_header(&file, base) {
        tracing::error!(file = %log_path.display(), position = 0, %reason, "unreadable segment; its records are skipped");
        let seg = without_index(base, log_path, index_path, file);
        seg.unreadable.store(true, Ordering::Release);
        seg.end_offset.store(next_base, Ordering::Release);
        return Ok(seg);
    }
    let (mut idx, check) = Index::open(&index_path, base, SEGMENT_HEADER_LEN, len, OpenMode::Map)?;
    if check != IndexCheck::Valid || !last_entry_matches(&file, base, &idx) {
        tracing::warn!(file = %index_path.display(), ?check, "rebuilding the index of a sealed segment");
        let (entries, _, _) =
            rebuild_entries(&file, &log_path, base, len, ctx.cfg.index_interval, false)?;
        idx = if ctx.read_only {
            Index::in_memory(index_path.clone(), &entries)
        } else {
            let i = Index::write_sealed(&index_path, base, &entries)?;
            super::sync_dir(ctx.dir)?;
            i
        };
    }
    let (from, expect, max_before) = match idx.last() {
        Some(e) => (
            u64::from(e.position),
            base + u64::from(e.rel_offset),
            e.max_ts_before,
        ),
        None => (SEGMENT_HEADER_LEN, base, i64::MIN),
    };
    let scan = segment::scan(&file, &log_path, from, len, expect, false, |_, _| {})?;
    if let Some((pos, reason)) = &scan.problem {
        tracing::error!(file = %log_path.display(), position = pos, %reason, "corrupt batch in a sealed segment");
    } else if scan.next_offset != next_base {
        tracing::error!(file = %log_path.display(), position = scan.end_pos, ends_at = scan.next_offset, next_segment = next_base, "sealed segment does not end where the next begins");
    }
    let seg = Segment::from_parts(base, log_path, index_path, file, idx, None);
    seg.len.store(len, Ordering::Release);
    seg.end_offset.store(next_base, Ordering::Release);
    seg.max_ts
        .store(max_before.max(scan.max_ts), Ordering::Release);
    Ok(seg)
}

/// Opens the last segment; returns it and the bytes written since its last index entry.
fn open_active(ctx: &OpenCtx<'_>, base: u64) -> Result<(Segment, u64), StoreError> {
    let log_path = ctx.dir.join(segment::log_name(base));
    let index_path = ctx.dir.join(segment::index_name(base));
    let file = open_file(&log_path, !ctx.read_only)?;
    let mut len = file_len(&file, &log_path)?;
    if let Err(reason) = segment::check_header(&file, base) {
        if len > SEGMENT_HEADER_LEN {
            return Err(StoreError::BadFormat {
                path: log_path,
                reason,
            });
        }
        // A roll interrupted before the header was complete: an empty segment.
        tracing::warn!(file = %log_path.display(), %reason, "active segment has no complete header; treating it as empty");
        if ctx.read_only {
            let seg = without_index(base, log_path, index_path, file);
            return Ok((seg, 0));
        }
        let idx = Index::create(&index_path, base, ctx.cfg.index_capacity())?;
        let seg = Segment::from_parts(base, log_path, index_path, file, idx, ctx.faults.clone());
        seg.reset_header()?;
        seg.sync()?;
        return Ok((seg, 0));
    }
    let mode = if ctx.read_only {
        OpenMode::Copy
    } else {
        OpenMode::Writable(ctx.cfg.index_capacity())
    };
    let (mut idx, check) = Index::open(&index_path, base, SEGMENT_HEADER_LEN, len, mode)?;
    if check == IndexCheck::Missing && !ctx.read_only {
        idx = Index::create(&index_path, base, ctx.cfg.index_capacity())?;
    }
    if check != IndexCheck::Valid || !last_entry_matches(&file, base, &idx) {
        tracing::warn!(file = %index_path.display(), ?check, "active segment index not usable as is; rebuilding");
        let (entries, _, _) =
            rebuild_entries(&file, &log_path, base, len, ctx.cfg.index_interval, true)?;
        idx = if ctx.read_only {
            Index::in_memory(index_path.clone(), &entries)
        } else {
            let mut i = Index::create(
                &index_path,
                base,
                ctx.cfg.index_capacity().max(entries.len()),
            )?;
            for e in &entries {
                i.push(*e);
            }
            i
        };
    }
    let (from, expect, max_before) = match idx.last() {
        Some(e) => (
            u64::from(e.position),
            base + u64::from(e.rel_offset),
            e.max_ts_before,
        ),
        None => (SEGMENT_HEADER_LEN, base, i64::MIN),
    };
    let mut b = SparseIndexBuilder::new(base, ctx.cfg.index_interval, from, max_before);
    let scan = segment::scan(&file, &log_path, from, len, expect, true, |pos, h| {
        b.observe(pos, h)
    })?;
    let SparseIndexBuilder {
        since,
        max_before: running_max,
        entries: new_entries,
        ..
    } = b;
    if let Some((pos, reason)) = &scan.problem {
        if ctx.read_only {
            tracing::info!(file = %log_path.display(), position = pos, %reason, "reading up to the last complete batch");
        } else {
            tracing::warn!(file = %log_path.display(), position = pos, %reason, dropped_bytes = len - pos, "truncating torn tail");
            file.set_len(*pos)
                .map_err(|e| StoreError::io("truncate", &log_path, e))?;
            file.sync_all()
                .map_err(|e| StoreError::io("fsync", &log_path, e))?;
            idx.truncate_to_position(*pos);
            metrics::counter!("sluice_store_torn_tails_total", "topic" => ctx.topic.to_string())
                .increment(1);
        }
        len = *pos;
    }
    if !ctx.read_only {
        for e in new_entries {
            idx.push(e);
        }
    }
    let seg = Segment::from_parts(base, log_path, index_path, file, idx, ctx.faults.clone());
    seg.len.store(len, Ordering::Release);
    seg.end_offset.store(scan.next_offset, Ordering::Release);
    seg.max_ts
        .store(running_max.max(scan.max_ts), Ordering::Release);
    Ok((seg, since))
}

impl Partition {
    /// Read-only partitions: picks up what the writing process did since the last look (new
    /// batches, new segments, segments deleted by retention). Returns true when the end or start
    /// offset moved. Read-write partitions return false (they see their own writes).
    pub(crate) fn refresh(&self) -> Result<bool, StoreError> {
        if !self.read_only || !self.dir.is_dir() {
            return Ok(false);
        }
        let ctx = OpenCtx {
            topic: &self.topic,
            id: self.id,
            dir: &self.dir,
            cfg: *self.cfg.read(),
            read_only: true,
            faults: None,
        };
        let bases = list_segments(&self.dir, true)?;
        let Some(&first) = bases.first() else {
            return Ok(false);
        };
        let mut segs = self.segments.read().clone();
        if let Some(last) = segs.last()
            && segs[0].base == first
            && bases.last() == Some(&last.base)
            && std::fs::metadata(&last.log_path)
                .is_ok_and(|m| m.len() == last.len.load(Ordering::Acquire))
        {
            return Ok(false); // nothing new
        }
        segs.retain(|s| s.base >= first); // older ones were deleted by retention
        // The last known segment may have grown or been sealed: reopen it and everything newer.
        let keep = segs.len().saturating_sub(1);
        let from = segs.get(keep).map_or(first, |s| s.base);
        segs.truncate(keep);
        let newer: Vec<u64> = bases.into_iter().filter(|&b| b >= from).collect();
        for (i, &b) in newer.iter().enumerate() {
            let seg = match newer.get(i + 1) {
                Some(&next) => open_sealed(&ctx, b, next)?,
                None => open_active(&ctx, b)?.0,
            };
            segs.push(Arc::new(seg));
        }
        let end = segs
            .last()
            .map_or(0, |s| s.end_offset.load(Ordering::Acquire));
        let start = segs.first().map_or(end, |s| s.base);
        *self.segments.write() = segs;
        let moved_end = self.end.swap(end, Ordering::AcqRel) != end;
        let moved_start = self.start.swap(start, Ordering::AcqRel) != start;
        self.synced.store(end, Ordering::Release);
        Ok(moved_end || moved_start)
    }
}
