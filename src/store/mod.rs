//! The durable partitioned log (the YAML `buffer:`): topics, partitions, segments, groups.
//!
//! ```text
//! data/topics/<topic>/topic.meta                      configuration (tmp → fsync → rename)
//!                    /<partition>/<base, 20 digits>.log   record batches (source of truth)
//!                                /<base>.index           sparse offset/time index (memmap2)
//! data/LOCK                                           held by the read-write opener (flock)
//! ```
//!
//! Synchronous `std::fs` I/O; async callers wait through [`Producer::send`] and
//! [`Topic::subscribe`]. Byte layouts and crash windows: `docs/storage-format.md`.

mod batch;
mod batch_builder;
mod config;
mod error;
mod fault;
pub mod group;
mod headers;
mod helpers;
mod index;
mod lock;
mod meta;
mod page_cache;
mod partition;
mod partitioner;
mod producer;
mod recovery;
mod retention;
mod segment;
mod topic;
mod verify;

pub use batch::{Record, StoredRecord, now_ms};
pub use config::{Acks, Compression, MAX_SEGMENT_BYTES, Retention, TopicConfig, WhenFull};
pub use error::StoreError;
pub use fault::FaultInjector;
pub use headers::Headers;
pub use partitioner::{Partitioner, key_hash};
pub use producer::{Batches, NO_OFFSET, Producer, ProducerConfig};
pub use retention::{PartitionStats, RetentionOutcome, TopicStats};
pub use topic::Topic;
pub use verify::{Problem, VerifyReport};

/// Format details, public for tests and tools (`docs/storage-format.md` describes them).
pub mod format {
    pub use super::batch::{
        ATTR_GZIP, BATCH_VERSION, BatchHeader, HEADER_LEN as BATCH_HEADER_LEN, MAX_BATCH_BYTES,
    };
    pub use super::index::{
        ENTRY_LEN as INDEX_ENTRY_LEN, INDEX_HEADER_LEN, INDEX_MAGIC, INDEX_VERSION,
    };
    pub use super::lock::{LOCK_FILE, LOCK_MAGIC};
    pub use super::meta::{META_FILE, META_MAGIC, META_VERSION};
    pub use super::segment::{
        SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION, index_name, log_name,
    };
}

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// The partition.
    pub partition: u32,
    /// Offset of the first record.
    pub first_offset: u64,
    /// Offset of the last record.
    pub last_offset: u64,
}

/// A batch that could not be served because it is damaged (reported, then skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptBatch {
    /// The segment file.
    pub path: PathBuf,
    /// Byte position of the batch in it.
    pub position: u64,
    /// First offset skipped.
    pub first_offset: u64,
    /// Offset where reading went on.
    pub next_offset: u64,
    /// What is wrong (CRC mismatch, bad length, ...).
    pub reason: String,
}

/// Result of a fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Records in offset order (possibly empty).
    pub records: Vec<StoredRecord>,
    /// The offset to fetch next.
    pub next_offset: u64,
    /// The partition's end offset when the fetch started.
    pub end_offset: u64,
    /// Damaged batches skipped by this fetch (also logged and counted).
    pub corrupt: Vec<CorruptBatch>,
}

/// Options of [`Store::open_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Fault-injection seam in the segment writer (tests). Default: none.
    pub faults: Option<Arc<FaultInjector>>,
    /// How often the maintenance thread rolls aged segments and applies retention (read-write),
    /// or follows the writer with [`Store::refresh`] (read-only); `None` disables it.
    /// Default: 1 s (but [`Store::open_read_only`] uses none).
    pub maintenance_interval: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            faults: None,
            maintenance_interval: Some(Duration::from_secs(1)),
        }
    }
}

struct Shared {
    dir: PathBuf,
    read_only: bool,
    faults: Option<Arc<FaultInjector>>,
    topics: Mutex<HashMap<String, Arc<Topic>>>,
}

struct Maintenance {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The data directory's log: topics by name. `Send + Sync`; share it in an `Arc`.
pub struct Store {
    shared: Arc<Shared>,
    maintenance: Option<Maintenance>,
    /// The consumer-group coordinator ([`Store::groups`], in `group/`).
    groups: group::GroupCoordinator,
    _lock: Option<lock::DirLock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.shared.dir)
            .field("read_only", &self.shared.read_only)
            .finish()
    }
}

/// fsyncs a directory (after creating, renaming or deleting entries in it).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}

impl Store {
    /// Read-write open: takes an exclusive lock on `<dir>/LOCK` ([`StoreError::Locked`] if
    /// another process holds it), creates the directory if needed, and recovers every topic.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// Read-only open for admin commands while `sluice run` writes: takes no lock, never
    /// writes, truncates or rebuilds on disk (indexes are rebuilt in memory if needed); reads
    /// stop at the first incomplete batch; corruption is reported, not repaired. A snapshot:
    /// call [`Store::refresh`] (or use [`Store::open_read_only_with`]) to see later writes.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let options = StoreOptions {
            maintenance_interval: None,
            ..StoreOptions::default()
        };
        Self::open_inner(dir.as_ref(), true, options)
    }

    /// Read-only open that follows the writer: with `options.maintenance_interval` set, a
    /// thread calls [`Store::refresh`] at that interval, so [`Topic::subscribe`] wakes readers
    /// when the writing process appends (`sluice consume --follow`).
    pub fn open_read_only_with(
        dir: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        Self::open_inner(dir.as_ref(), true, options)
    }

    /// Read-only stores: picks up topics, partitions, batches and segments the writing process
    /// added (and segments it deleted) since the last look. No-op for read-write stores.
    pub fn refresh(&self) -> Result<(), StoreError> {
        refresh(&self.shared)
    }

    /// Read-write open with options (fault injection, maintenance interval).
    pub fn open_with(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store, StoreError> {
        Self::open_inner(dir.as_ref(), false, options)
    }

    fn open_inner(dir: &Path, read_only: bool, options: StoreOptions) -> Result<Store, StoreError> {
        let topics_dir = dir.join("topics");
        let lock = if read_only {
            None
        } else {
            std::fs::create_dir_all(&topics_dir)
                .map_err(|e| StoreError::io("mkdir", &topics_dir, e))?;
            Some(lock::DirLock::acquire(dir)?)
        };
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            read_only,
            faults: options.faults.clone(),
            topics: Mutex::new(HashMap::new()),
        });
        let store = Store {
            shared,
            maintenance: None,
            groups: group::GroupCoordinator::new(dir, read_only),
            _lock: lock,
        };
        // Recover every topic now (logs say what was repaired). A topic that cannot be opened
        // does not stop the others: its error is logged here and returned by `topic()`.
        for name in store.topic_names()? {
            if let Err(e) = store.topic(&name) {
                tracing::error!(topic = %name, error = %e, "cannot open topic");
            }
        }
        let mut store = store;
        if let Some(every) = options.maintenance_interval {
            store.maintenance = Some(spawn_maintenance(Arc::downgrade(&store.shared), every));
        }
        Ok(store)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// True for [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    fn topic_dir(&self, name: &str) -> PathBuf {
        self.shared.dir.join("topics").join(name)
    }

    /// Creates the topic or opens it if it exists; grows the partition count if
    /// `config.partitions` is larger; applies and persists the rest of `config` in
    /// `topics/<t>/topic.meta`.
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Arc<Topic>, StoreError> {
        if self.shared.read_only {
            return Err(StoreError::ReadOnly(self.shared.dir.clone()));
        }
        topic::validate_name(name)?;
        config.validate().map_err(StoreError::InvalidConfig)?;
        let mut topics = self.shared.topics.lock();
        if let Some(t) = topics.get(name) {
            t.reconfigure(&config)?;
            return Ok(t.clone());
        }
        let dir = self.topic_dir(name);
        let fresh = !dir.exists();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("mkdir", &dir, e))?;
        if fresh {
            sync_dir(&self.shared.dir.join("topics"))?;
        }
        let t = Arc::new(Topic::open(
            dir,
            name,
            Some(&config),
            false,
            self.shared.faults.clone(),
        )?);
        topics.insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// The topic, if it exists (opened from disk on first use).
    pub fn topic(&self, name: &str) -> Result<Option<Arc<Topic>>, StoreError> {
        if topic::validate_name(name).is_err() {
            return Ok(None);
        }
        let mut topics = self.shared.topics.lock();
        if let Some(t) = topics.get(name) {
            return Ok(Some(t.clone()));
        }
        let dir = self.topic_dir(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        let t = Arc::new(Topic::open(
            dir,
            name,
            None,
            self.shared.read_only,
            self.shared.faults.clone(),
        )?);
        topics.insert(name.to_string(), t.clone());
        Ok(Some(t))
    }

    /// Names of all topics, sorted.
    pub fn topic_names(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.shared.dir.join("topics");
        let mut names: Vec<String> = self.shared.topics.lock().keys().cloned().collect();
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                for ent in rd {
                    let ent = ent.map_err(|e| StoreError::io("list", &dir, e))?;
                    if ent.file_type().is_ok_and(|t| t.is_dir())
                        && let Some(n) = ent.file_name().to_str()
                        && topic::validate_name(n).is_ok()
                    {
                        names.push(n.to_string());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("list", &dir, e)),
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Runs one maintenance pass now (age rolls and retention on every topic).
    pub fn maintain(&self) -> Result<(), StoreError> {
        maintain(&self.shared)
    }
}

fn refresh(shared: &Shared) -> Result<(), StoreError> {
    if !shared.read_only {
        return Ok(());
    }
    let dir = shared.dir.join("topics");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if topic::validate_name(&name).is_err() || shared.topics.lock().contains_key(&name) {
                continue;
            }
            let t = Topic::open(ent.path(), &name, None, true, None)?;
            shared.topics.lock().insert(name, Arc::new(t));
        }
    }
    let topics: Vec<Arc<Topic>> = shared.topics.lock().values().cloned().collect();
    for t in topics {
        t.refresh()?;
    }
    Ok(())
}

fn maintain(shared: &Shared) -> Result<(), StoreError> {
    if shared.read_only {
        return refresh(shared);
    }
    let topics: Vec<Arc<Topic>> = shared.topics.lock().values().cloned().collect();
    for t in topics {
        t.roll_aged()?;
        t.enforce_retention()?;
    }
    Ok(())
}

fn spawn_maintenance(shared: Weak<Shared>, every: Duration) -> Maintenance {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("sluice-store-maint".into())
        .spawn(move || {
            while !stop2.load(Ordering::Acquire) {
                std::thread::park_timeout(every);
                if stop2.load(Ordering::Acquire) {
                    break;
                }
                let Some(s) = shared.upgrade() else { break };
                if let Err(e) = maintain(&s) {
                    tracing::warn!(error = %e, "store maintenance failed");
                }
            }
        })
        .ok();
    Maintenance { stop, thread }
}

impl Drop for Store {
    /// Stops the maintenance thread and fsyncs every partition (a clean shutdown leaves even
    /// `acks: 1` data durable), then releases the lock.
    fn drop(&mut self) {
        if let Some(m) = &mut self.maintenance {
            m.stop.store(true, Ordering::Release);
            if let Some(t) = m.thread.take() {
                t.thread().unpark();
                let _ = t.join();
            }
        }
        if !self.shared.read_only {
            let topics: Vec<Arc<Topic>> = self.shared.topics.lock().values().cloned().collect();
            for t in topics {
                if let Err(e) = t.sync_all() {
                    tracing::warn!(topic = %t.name(), error = %e, "fsync at close failed");
                }
            }
        }
    }
}
