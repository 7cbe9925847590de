//! The sparse offset (and time) index of a segment, memory-mapped with memmap2.
//!
//! File: a 16-byte header (`SLIX`, version u32, base offset u64) then 16-byte entries
//! (`relative offset u32, position u32, max timestamp before i64`). One entry is added when
//! `index_interval_bytes` of batches were written since the previous one; it points at the batch
//! about to be written. `max timestamp before` is the largest timestamp of all batches of the
//! segment before that position, so it never decreases and `offset_for_time` is a binary search.
//!
//! The active segment's index is preallocated (zeros); the number of valid entries is kept in
//! memory, and at open entries are checked (monotone, inside the log) and the rest ignored.

use memmap2::{Mmap, MmapMut};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// Magic at the start of every index file.
pub const INDEX_MAGIC: [u8; 4] = *b"SLIX";
/// Index format version.
pub const INDEX_VERSION: u32 = 1;
/// Header size.
pub const INDEX_HEADER_LEN: usize = 16;
/// Entry size.
pub const ENTRY_LEN: usize = 16;

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Offset of the batch minus the segment's base offset.
    pub rel_offset: u32,
    /// Byte position of the batch in the segment file.
    pub position: u32,
    /// Largest timestamp among the segment's batches before `position` (`i64::MIN` if none).
    pub max_ts_before: i64,
}

impl Entry {
    fn read(b: &[u8]) -> Entry {
        Entry {
            rel_offset: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            max_ts_before: i64::from_le_bytes([
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15],
            ]),
        }
    }

    fn write(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.rel_offset.to_le_bytes());
        b[4..8].copy_from_slice(&self.position.to_le_bytes());
        b[8..16].copy_from_slice(&self.max_ts_before.to_le_bytes());
    }
}

enum Storage {
    Mut(MmapMut),
    Ro(Mmap),
    Mem(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mut(m) => m,
            Storage::Ro(m) => m,
            Storage::Mem(v) => v,
        }
    }
}

/// A segment's index (see the module doc).
pub struct Index {
    path: PathBuf,
    storage: Storage,
    entries: usize,
    capacity: usize,
}

/// How [`Index::open`] holds the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Mapped read-only (sealed segments).
    Map,
    /// Read into memory (another process may be writing or trimming the file).
    Copy,
    /// Mapped writable and preallocated to this many entries, everything after the valid prefix
    /// zeroed (the active segment of a read-write open).
    Writable(usize),
}

/// Why an index file was not usable as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexCheck {
    /// Header and every entry are fine.
    Valid,
    /// No file.
    Missing,
    /// Bad magic/version/base offset, or entries after the valid prefix.
    Invalid(String),
}

fn header(base: u64) -> [u8; INDEX_HEADER_LEN] {
    let mut h = [0u8; INDEX_HEADER_LEN];
    h[0..4].copy_from_slice(&INDEX_MAGIC);
    h[4..8].copy_from_slice(&INDEX_VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&base.to_le_bytes());
    h
}

/// Counts the valid entries of `data` (entries after the header): strictly increasing offset
/// and position, positions inside `[min_pos, log_len)`, timestamps non-decreasing.
fn valid_prefix(data: &[u8], min_pos: u64, log_len: u64) -> usize {
    let mut prev: Option<Entry> = None;
    let n = data.len() / ENTRY_LEN;
    for i in 0..n {
        let e = Entry::read(&data[i * ENTRY_LEN..]);
        let pos = u64::from(e.position);
        if pos < min_pos || pos >= log_len {
            return i;
        }
        if let Some(p) = prev
            && (e.rel_offset <= p.rel_offset
                || e.position <= p.position
                || e.max_ts_before < p.max_ts_before)
        {
            return i;
        }
        prev = Some(e);
    }
    n
}

/// Reserves the blocks of a file that will be written through a memory map: a write to a hole
/// on a full filesystem would kill the process with SIGBUS, while a failed `posix_fallocate`
/// is a clean error (ENOSPC) before anything is mapped.
fn preallocate(file: &File, path: &Path, len: u64) -> Result<(), StoreError> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall on an open descriptor.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate: fall back to extending the file.
        libc::EOPNOTSUPP | libc::EINVAL => file
            .set_len(len)
            .map_err(|e| StoreError::io("resize", path, e)),
        e => Err(StoreError::io(
            "preallocate",
            path,
            std::io::Error::from_raw_os_error(e),
        )),
    }
}

impl Index {
    /// An in-memory index built from entries (read-only rebuilds).
    pub fn in_memory(path: PathBuf, entries: &[Entry]) -> Index {
        let mut v = vec![0u8; entries.len() * ENTRY_LEN];
        for (i, e) in entries.iter().enumerate() {
            e.write(&mut v[i * ENTRY_LEN..]);
        }
        Index {
            path,
            storage: Storage::Mem(v),
            entries: entries.len(),
            capacity: entries.len(),
        }
    }

    /// Opens an existing index and checks it against its segment (`log_len` bytes, batches from
    /// `min_pos`). Returns the index (valid prefix only) and the verdict. See [`OpenMode`].
    pub fn open(
        path: &Path,
        base: u64,
        min_pos: u64,
        log_len: u64,
        mode: OpenMode,
    ) -> Result<(Index, IndexCheck), StoreError> {
        let writable = matches!(mode, OpenMode::Writable(_));
        let mut file = match OpenOptions::new().read(true).write(writable).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((
                    Index::in_memory(path.to_path_buf(), &[]),
                    IndexCheck::Missing,
                ));
            }
            Err(e) => return Err(StoreError::io("open", path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| StoreError::io("stat", path, e))?
            .len();
        let empty = || Index::in_memory(path.to_path_buf(), &[]);
        if len < INDEX_HEADER_LEN as u64 {
            let why = format!("{len} bytes, shorter than the header");
            return Ok((empty(), IndexCheck::Invalid(why)));
        }
        let storage = match mode {
            OpenMode::Copy => {
                // A private copy: another process may trim this file at any time (a sealing
                // writer), which would make reads through a map fault.
                let mut v = Vec::with_capacity(len as usize);
                file.read_to_end(&mut v)
                    .map_err(|e| StoreError::io("read", path, e))?;
                Storage::Mem(v)
            }
            // SAFETY: only this process writes index files (the data-directory lock), and
            // sealed index files are never truncated or rewritten in place.
            _ => Storage::Ro(
                unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io("mmap", path, e))?,
            ),
        };
        let bytes = storage.bytes();
        if bytes.len() < INDEX_HEADER_LEN || bytes[0..4] != INDEX_MAGIC {
            return Ok((empty(), IndexCheck::Invalid("bad magic".into())));
        }
        let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if version != INDEX_VERSION {
            return Ok((
                empty(),
                IndexCheck::Invalid(format!("unknown version {version}")),
            ));
        }
        let hb = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or([0; 8]));
        if hb != base {
            return Ok((
                empty(),
                IndexCheck::Invalid(format!("base offset {hb}, expected {base}")),
            ));
        }
        let data = &bytes[INDEX_HEADER_LEN..];
        let n_all = data.len() / ENTRY_LEN;
        let valid = valid_prefix(data, min_pos, log_len);
        // Everything after the valid prefix must be zeros (preallocation); anything else means
        // the index does not describe this log.
        let tail_clean = data[valid * ENTRY_LEN..].iter().all(|&b| b == 0);
        let check = if tail_clean {
            IndexCheck::Valid
        } else {
            IndexCheck::Invalid(format!(
                "only {valid} of {n_all} entries are monotone and inside the log"
            ))
        };
        let index = match mode {
            OpenMode::Map => Index {
                path: path.to_path_buf(),
                storage,
                entries: valid,
                capacity: valid,
            },
            OpenMode::Copy => {
                let entries: Vec<Entry> = (0..valid)
                    .map(|i| Entry::read(&data[i * ENTRY_LEN..]))
                    .collect();
                Index::in_memory(path.to_path_buf(), &entries)
            }
            OpenMode::Writable(cap) => {
                drop(storage);
                let cap = cap.max(valid);
                let want = (INDEX_HEADER_LEN + cap * ENTRY_LEN) as u64;
                if len > want {
                    file.set_len(want)
                        .map_err(|e| StoreError::io("resize", path, e))?;
                }
                preallocate(&file, path, want)?;
                // SAFETY: as above; this process is the only writer.
                let mut m = unsafe { MmapMut::map_mut(&file) }
                    .map_err(|e| StoreError::io("mmap", path, e))?;
                m[INDEX_HEADER_LEN + valid * ENTRY_LEN..].fill(0);
                Index {
                    path: path.to_path_buf(),
                    storage: Storage::Mut(m),
                    entries: valid,
                    capacity: cap,
                }
            }
        };
        Ok((index, check))
    }

    /// Creates a fresh, preallocated, writable index (for a new active segment).
    pub fn create(path: &Path, base: u64, capacity: usize) -> Result<Index, StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| StoreError::io("create", path, e))?;
        file.write_all(&header(base))
            .map_err(|e| StoreError::io("write", path, e))?;
        preallocate(
            &file,
            path,
            (INDEX_HEADER_LEN + capacity * ENTRY_LEN) as u64,
        )?;
        // SAFETY: a file we just created; this process is the only writer.
        let m = unsafe { MmapMut::map_mut(&file) }.map_err(|e| StoreError::io("mmap", path, e))?;
        Ok(Index {
            path: path.to_path_buf(),
            storage: Storage::Mut(m),
            entries: 0,
            capacity,
        })
    }

    /// Writes `entries` as a complete index file (tmp → fsync → rename) and maps it read-only.
    pub fn write_sealed(path: &Path, base: u64, entries: &[Entry]) -> Result<Index, StoreError> {
        let tmp = path.with_extension("index.tmp");
        let mut buf = Vec::with_capacity(INDEX_HEADER_LEN + entries.len() * ENTRY_LEN);
        buf.extend_from_slice(&header(base));
        for e in entries {
            let mut b = [0u8; ENTRY_LEN];
            e.write(&mut b);
            buf.extend_from_slice(&b);
        }
        {
            let mut f = File::create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
            f.write_all(&buf)
                .map_err(|e| StoreError::io("write", &tmp, e))?;
            f.sync_all().map_err(|e| StoreError::io("fsync", &tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| StoreError::io("rename", &tmp, e))?;
        Ok(Index::in_memory(path.to_path_buf(), entries))
    }

    /// Number of valid entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when a writable index has no room for another entry.
    pub fn is_full(&self) -> bool {
        matches!(self.storage, Storage::Mut(_)) && self.entries >= self.capacity
    }

    /// The `i`th entry.
    pub fn get(&self, i: usize) -> Entry {
        let b = self.data();
        Entry::read(&b[i * ENTRY_LEN..])
    }

    fn data(&self) -> &[u8] {
        match &self.storage {
            Storage::Mem(v) => v,
            s => &s.bytes()[INDEX_HEADER_LEN..],
        }
    }

    /// All valid entries.
    pub fn entries(&self) -> Vec<Entry> {
        (0..self.entries).map(|i| self.get(i)).collect()
    }

    /// The last valid entry.
    pub fn last(&self) -> Option<Entry> {
        self.entries.checked_sub(1).map(|i| self.get(i))
    }

    /// The last entry with `rel_offset <= rel` (binary search).
    pub fn lookup(&self, rel: u32) -> Option<Entry> {
        let n = self.partition_point(|e| e.rel_offset <= rel);
        n.checked_sub(1).map(|i| self.get(i))
    }

    /// The last entry whose `max_ts_before < ts`: every batch before it is older than `ts`.
    pub fn lookup_time(&self, ts: i64) -> Option<Entry> {
        let n = self.partition_point(|e| e.max_ts_before < ts);
        n.checked_sub(1).map(|i| self.get(i))
    }

    fn partition_point(&self, pred: impl Fn(&Entry) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(&self.get(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Appends an entry to a writable index; false when full or not writable.
    pub fn push(&mut self, e: Entry) -> bool {
        let i = self.entries;
        if i >= self.capacity {
            return false;
        }
        match &mut self.storage {
            Storage::Mut(m) => {
                e.write(&mut m[INDEX_HEADER_LEN + i * ENTRY_LEN..]);
                self.entries += 1;
                true
            }
            _ => false,
        }
    }

    /// Drops entries at or after byte `position` of the log (after a truncation).
    pub fn truncate_to_position(&mut self, position: u64) {
        while let Some(e) = self.last() {
            if u64::from(e.position) < position {
                break;
            }
            self.entries -= 1;
            if let Storage::Mut(m) = &mut self.storage {
                let at = INDEX_HEADER_LEN + self.entries * ENTRY_LEN;
                m[at..at + ENTRY_LEN].fill(0);
            }
        }
    }

    /// Seals a writable index: flushes it, trims the preallocation, and maps it read-only. On
    /// error the entries stay usable (in memory).
    pub fn seal(&mut self) -> Result<(), StoreError> {
        let Storage::Mut(m) = &self.storage else {
            return Ok(());
        };
        let flushed = m.flush();
        let entries = self.entries();
        *self = Index::in_memory(self.path.clone(), &entries);
        flushed.map_err(|e| StoreError::io("msync", &self.path, e))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| StoreError::io("open", &self.path, e))?;
        file.set_len((INDEX_HEADER_LEN + entries.len() * ENTRY_LEN) as u64)
            .map_err(|e| StoreError::io("resize", &self.path, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", &self.path, e))?;
        if !entries.is_empty() {
            // SAFETY: sealed index files are never written again while mapped.
            let m =
                unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io("mmap", &self.path, e))?;
            self.storage = Storage::Ro(m);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lookup_matches_linear_scan(steps in proptest::collection::vec((1u32..50, 1u32..5000, 0i64..100), 0..200),
                                      probe in 0u32..20000, ts in -10i64..10000) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("0.index");
            let mut idx = Index::create(&path, 7, 1000).unwrap();
            let (mut rel, mut pos, mut t) = (0u32, 16u32, i64::MIN);
            let mut all = Vec::new();
            for (dr, dp, dt) in steps {
                rel += dr; pos += dp; t = if t == i64::MIN { dt } else { t + dt };
                let e = Entry { rel_offset: rel, position: pos, max_ts_before: t };
                prop_assert!(idx.push(e));
                all.push(e);
            }
            let want = all.iter().rev().find(|e| e.rel_offset <= probe).copied();
            prop_assert_eq!(idx.lookup(probe), want);
            let want_t = all.iter().rev().find(|e| e.max_ts_before < ts).copied();
            prop_assert_eq!(idx.lookup_time(ts), want_t);
            // Reopen (read-only) and find the same entries.
            idx.seal().unwrap();
            let (ro, check) = Index::open(&path, 7, 16, u64::from(pos) + 1, OpenMode::Map).unwrap();
            prop_assert_eq!(check, IndexCheck::Valid);
            prop_assert_eq!(ro.entries(), all);
        }
    }

    #[test]
    fn zero_tail_and_out_of_log_entries_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = Index::create(&path, 0, 10).unwrap();
        for i in 1..=3u32 {
            idx.push(Entry {
                rel_offset: i,
                position: i * 100,
                max_ts_before: 0,
            });
        }
        drop(idx);
        // Preallocated zeros after 3 entries: valid.
        let (i, c) = Index::open(&path, 0, 16, 1000, OpenMode::Copy).unwrap();
        assert_eq!((i.len(), c), (3, IndexCheck::Valid));
        // Log shorter than the index: the entry at 300 is outside.
        let (i, c) = Index::open(&path, 0, 16, 250, OpenMode::Map).unwrap();
        assert_eq!(i.len(), 2);
        assert!(matches!(c, IndexCheck::Invalid(_)));
        // Wrong base offset.
        let (_, c) = Index::open(&path, 5, 16, 1000, OpenMode::Map).unwrap();
        assert!(matches!(c, IndexCheck::Invalid(_)));
    }
}
