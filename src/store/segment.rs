//! A segment: one `<base offset, 20 digits>.log` file of record batches and its `.index`.
//!
//! Log file: a 16-byte header (`SLSG`, version u32, base offset u64), then batches back to
//! back. Writes are positional (`pwrite`) at the end of the last complete batch, so a failed,
//! partial write is simply overwritten by the next one; readers never read past `len`, the end
//! of the last complete batch, so they never see a partial batch.

use bytes::{Bytes, BytesMut};
use parking_lot::RwLock;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use super::batch::{self, BatchHeader, HEADER_LEN};
use super::error::StoreError;
use super::fault::FaultInjector;
use super::index::Index;

/// Magic at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"SLSG";
/// Segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Segment header size.
pub const SEGMENT_HEADER_LEN: u64 = 16;

/// Reads of at least this many bytes map the file instead of copying it
/// ([`Segment::read_at`]).
pub const MAP_MIN: usize = 64 * 1024;

/// File name of a segment's log for `base`.
pub fn log_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// File name of a segment's index for `base`.
pub fn index_name(base: u64) -> String {
    format!("{base:020}.index")
}

/// One segment (see the module doc).
pub struct Segment {
    /// Offset of its first record.
    pub base: u64,
    /// The `.log` file.
    pub log_path: PathBuf,
    /// The `.index` file.
    pub index_path: PathBuf,
    /// The open log file.
    pub file: File,
    /// Bytes of complete batches (readers stop here).
    pub len: AtomicU64,
    /// The offset after its last record.
    pub end_offset: AtomicU64,
    /// Largest record timestamp (`i64::MIN` when empty).
    pub max_ts: AtomicI64,
    /// Its sparse index.
    pub index: RwLock<Index>,
    /// When it was created or opened (age-based roll).
    pub opened: Instant,
    /// Set when its header is unreadable: no batch is served from it.
    pub unreadable: AtomicBool,
    faults: Option<Arc<FaultInjector>>,
}

fn segment_header(base: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[0..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4..8].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&base.to_le_bytes());
    h
}

/// Checks a segment file's header; `Err` describes the problem.
pub fn check_header(file: &File, base: u64) -> Result<(), String> {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    file.read_exact_at(&mut h, 0)
        .map_err(|e| format!("cannot read the segment header: {e}"))?;
    if h[0..4] != SEGMENT_MAGIC {
        return Err("bad segment magic".into());
    }
    let v = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if v != SEGMENT_VERSION {
        return Err(format!("unknown segment version {v}"));
    }
    let b = u64::from_le_bytes(h[8..16].try_into().unwrap_or([0; 8]));
    if b != base {
        return Err(format!(
            "header base offset {b} does not match the file name ({base})"
        ));
    }
    Ok(())
}

impl Segment {
    /// Creates a new, empty segment with a writable, preallocated index.
    pub fn create(
        dir: &Path,
        base: u64,
        index_capacity: usize,
        faults: Option<Arc<FaultInjector>>,
    ) -> Result<Segment, StoreError> {
        let log_path = dir.join(log_name(base));
        let index_path = dir.join(index_name(base));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)
            .map_err(|e| StoreError::io("create", &log_path, e))?;
        let seg_index = Index::create(&index_path, base, index_capacity)?;
        let seg = Segment::from_parts(base, log_path, index_path, file, seg_index, faults);
        seg.write_at(&segment_header(base), 0)?;
        seg.len.store(SEGMENT_HEADER_LEN, Ordering::Release);
        Ok(seg)
    }

    /// Assembles a segment from an open file and index (recovery fills in the counters).
    pub fn from_parts(
        base: u64,
        log_path: PathBuf,
        index_path: PathBuf,
        file: File,
        index: Index,
        faults: Option<Arc<FaultInjector>>,
    ) -> Segment {
        Segment {
            base,
            log_path,
            index_path,
            file,
            len: AtomicU64::new(SEGMENT_HEADER_LEN),
            end_offset: AtomicU64::new(base),
            max_ts: AtomicI64::new(i64::MIN),
            index: RwLock::new(index),
            opened: Instant::now(),
            unreadable: AtomicBool::new(false),
            faults,
        }
    }

    /// Rewrites the header of an empty active segment (crash during roll left it short).
    pub fn reset_header(&self) -> Result<(), StoreError> {
        self.file
            .set_len(0)
            .map_err(|e| StoreError::io("truncate", &self.log_path, e))?;
        self.write_at(&segment_header(self.base), 0)
    }

    /// Writes all of `buf` at `pos` through the fault seam.
    pub fn write_at(&self, buf: &[u8], pos: u64) -> Result<(), StoreError> {
        if let Some(f) = &self.faults
            && let Err((part, err)) = f.before_write(buf.len())
        {
            let _ = self.file.write_all_at(&buf[..part], pos);
            return Err(StoreError::io("write", &self.log_path, err));
        }
        self.file
            .write_all_at(buf, pos)
            .map_err(|e| StoreError::io("write", &self.log_path, e))
    }

    /// Asks the kernel to start writing `len` bytes at `from` to disk without waiting for them
    /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, like RocksDB's `bytes_per_sync`), so the
    /// fsync when the segment is sealed finds little left to write instead of stalling the
    /// append path on a whole segment. A hint only: durability still comes from `sync`.
    pub fn start_writeback(&self, from: u64, len: u64) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain syscall on a descriptor this segment owns; no memory is passed.
            let r = unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    from as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            if r != 0 {
                tracing::debug!(file = %self.log_path.display(), error = %std::io::Error::last_os_error(), "sync_file_range failed");
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (from, len);
    }

    /// Drops `len` bytes at `from` from the page cache (`posix_fadvise(POSIX_FADV_DONTNEED)`):
    /// pages already written to disk are freed, dirty ones stay. A hint only: nothing about
    /// durability changes, and a later read of the range reads the disk. Freed right away,
    /// the pages are reused by the next appends while still mapped to memory the machine
    /// backs (fresh pages are slow on VMs that return free memory to the host).
    pub fn drop_cached(&self, from: u64, len: u64) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain syscall on a descriptor this segment owns; no memory is passed.
            let r = unsafe {
                libc::posix_fadvise(
                    self.file.as_raw_fd(),
                    from as libc::off_t,
                    len as libc::off_t,
                    libc::POSIX_FADV_DONTNEED,
                )
            };
            if r != 0 {
                tracing::debug!(file = %self.log_path.display(), error = r, "posix_fadvise failed");
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (from, len);
    }

    /// fdatasync through the fault seam.
    pub fn sync(&self) -> Result<(), StoreError> {
        if let Some(f) = &self.faults {
            f.before_sync()
                .map_err(|e| StoreError::io("fsync", &self.log_path, e))?;
        }
        self.file
            .sync_data()
            .map_err(|e| StoreError::io("fsync", &self.log_path, e))
    }

    /// Reads `len` bytes at `pos`, which must lie below [`Segment::len`].
    ///
    /// Chunks of [`MAP_MIN`] bytes or more are memory-mapped rather than copied: the returned
    /// `Bytes` are the page cache's own pages (mapped read-only, prefaulted), unmapped when the
    /// last slice of them is dropped. That saves the copy into a fresh buffer (and zeroing
    /// it), which was the consumer's largest cost; smaller reads use `pread`.
    pub fn read_at(&self, pos: u64, len: usize) -> Result<Bytes, StoreError> {
        if len >= MAP_MIN {
            // SAFETY: the mapping is read-only and covers `pos..pos + len`, below `len` (the
            // end of the complete batches). Those bytes are never written again: the log is
            // append-only, a failed write is redone only past `len`, and an open segment file
            // is never cut below `len` (a failed append truncates back to `len` exactly;
            // recovery runs before any reader; retention unlinks whole files, which leaves
            // existing mappings valid). Only pages entirely past the end of a file fault.
            let map = unsafe {
                memmap2::MmapOptions::new()
                    .offset(pos)
                    .len(len)
                    .populate()
                    .map(&self.file)
            }
            .map_err(|e| StoreError::io("mmap", &self.log_path, e))?;
            return Ok(Bytes::from_owner(map));
        }
        let mut buf = BytesMut::zeroed(len);
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(|e| StoreError::io("read", &self.log_path, e))?;
        Ok(buf.freeze())
    }

    /// True when the segment holds no batch.
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) <= SEGMENT_HEADER_LEN
    }
}

/// Outcome of [`scan`].
#[derive(Debug, Clone)]
pub struct Scan {
    /// End of the last good batch.
    pub end_pos: u64,
    /// Offset after the last good batch.
    pub next_offset: u64,
    /// Largest timestamp seen.
    pub max_ts: i64,
    /// The first problem, if the scan stopped before `file_len`: position and reason.
    pub problem: Option<(u64, String)>,
}

/// Reads batches from `pos` (expected to start at offset `expect`) up to `file_len`, calling
/// `each(position, header)` for every good batch; stops at the first batch that is torn (runs
/// past the file), out of sequence, malformed, or (with `check_crc`) fails its CRC.
pub fn scan(
    file: &File,
    path: &Path,
    mut pos: u64,
    file_len: u64,
    mut expect: u64,
    check_crc: bool,
    mut each: impl FnMut(u64, &BatchHeader),
) -> Result<Scan, StoreError> {
    let mut r = BufReader::with_capacity(1 << 20, file);
    r.seek(SeekFrom::Start(pos))
        .map_err(|e| StoreError::io("seek", path, e))?;
    let mut max_ts = i64::MIN;
    let mut body = Vec::new();
    let problem = loop {
        if pos == file_len {
            break None;
        }
        if pos + HEADER_LEN as u64 > file_len {
            break Some((pos, format!("torn batch header ({} bytes)", file_len - pos)));
        }
        let mut hb = [0u8; HEADER_LEN];
        r.read_exact(&mut hb)
            .map_err(|e| StoreError::io("read", path, e))?;
        let h = match BatchHeader::parse(&hb) {
            Ok(h) => h,
            Err(reason) => break Some((pos, reason)),
        };
        if h.base_offset != expect {
            break Some((
                pos,
                format!(
                    "batch base offset {} where {expect} was expected",
                    h.base_offset
                ),
            ));
        }
        let blen = u64::from(h.batch_len);
        if pos + blen > file_len {
            break Some((
                pos,
                format!(
                    "torn batch: {blen} bytes announced, {} present",
                    file_len - pos
                ),
            ));
        }
        let rest = (blen - HEADER_LEN as u64) as usize;
        if check_crc {
            body.clear();
            body.extend_from_slice(&hb);
            body.resize(blen as usize, 0);
            r.read_exact(&mut body[HEADER_LEN..])
                .map_err(|e| StoreError::io("read", path, e))?;
            if let Err(reason) = batch::check_crc(&h, &body) {
                break Some((pos, reason));
            }
        } else {
            r.seek_relative(rest as i64)
                .map_err(|e| StoreError::io("seek", path, e))?;
        }
        each(pos, &h);
        max_ts = max_ts.max(h.max_timestamp);
        expect = h.next_offset();
        pos += blen;
    };
    Ok(Scan {
        end_pos: pos,
        next_offset: expect,
        max_ts,
        problem,
    })
}
