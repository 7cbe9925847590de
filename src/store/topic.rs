//! A topic: named, with N partitions and a persisted configuration.

use parking_lot::{Condvar, Mutex, RwLock};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::batch::{self, Record};
use super::config::{Acks, TopicConfig, WhenFull};
use super::error::StoreError;
use super::fault::FaultInjector;
use super::meta;
use super::partition::{Partition, SegCfg};
use super::recovery::{OpenCtx, open_partition};
use super::{AppendInfo, Fetched};

/// A topic (see the module doc). Shared as `Arc<Topic>`.
pub struct Topic {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) read_only: bool,
    pub(crate) faults: Option<Arc<FaultInjector>>,
    pub(crate) config: RwLock<TopicConfig>,
    pub(crate) partitions: RwLock<Vec<Arc<Partition>>>,
    pub(crate) watch: watch::Sender<u64>,
    pub(crate) space_lock: Mutex<()>,
    pub(crate) space: Condvar,
    pub(crate) retention_lock: Mutex<()>,
}

impl std::fmt::Debug for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topic")
            .field("name", &self.name)
            .field("partitions", &self.partition_count())
            .finish()
    }
}

/// Checks that a topic name is usable as a directory name.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidTopicName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 200 {
        return bad("must be 1 to 200 characters");
    }
    if name == "." || name == ".." {
        return bad("reserved name");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Number of partition directories present (`0..n` contiguous from 0).
fn partitions_on_disk(dir: &Path) -> Result<u32, StoreError> {
    let mut max: Option<u32> = None;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io("list", dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| StoreError::io("list", dir, e))?;
        if ent.file_type().is_ok_and(|t| t.is_dir())
            && let Some(n) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
        {
            max = Some(max.map_or(n, |m| m.max(n)));
        }
    }
    Ok(max.map_or(0, |m| m + 1))
}

impl Topic {
    /// Opens (recovering) or creates a topic directory. `wanted` is the configuration asked for
    /// by `create_topic` (None when opening what exists).
    pub(crate) fn open(
        dir: PathBuf,
        name: &str,
        wanted: Option<&TopicConfig>,
        read_only: bool,
        faults: Option<Arc<FaultInjector>>,
    ) -> Result<Topic, StoreError> {
        let tmp = dir.join(format!("{}.tmp", meta::META_FILE));
        if !read_only && tmp.exists() {
            tracing::warn!(file = %tmp.display(), "removing leftover temporary file");
            std::fs::remove_file(&tmp).map_err(|e| StoreError::io("remove", &tmp, e))?;
        }
        let stored = meta::read(&dir)?;
        let (mut cfg, mut rewrite) = match stored {
            Some(Ok((stored_name, c))) => {
                if stored_name != name {
                    tracing::warn!(dir = %dir.display(), %stored_name, "topic meta names another topic; keeping the directory name");
                }
                (c, stored_name != name)
            }
            Some(Err(reason)) => {
                tracing::warn!(file = %dir.join(meta::META_FILE).display(), %reason, "unreadable topic meta; rebuilding it from the partitions on disk");
                (wanted.cloned().unwrap_or_default(), true)
            }
            None => (wanted.cloned().unwrap_or_default(), true),
        };
        if let Some(w) = wanted {
            let parts = cfg.partitions.max(w.partitions);
            if *w != cfg {
                rewrite = true;
            }
            cfg = TopicConfig {
                partitions: parts,
                ..w.clone()
            };
        }
        let on_disk = partitions_on_disk(&dir)?;
        if on_disk > cfg.partitions {
            tracing::warn!(dir = %dir.display(), meta = cfg.partitions, on_disk, "topic meta is stale: more partitions on disk");
            cfg.partitions = on_disk;
            rewrite = true;
        }
        if rewrite && !read_only {
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("mkdir", &dir, e))?;
            meta::write(&dir, name, &cfg)?;
        }
        let seg = SegCfg::from_topic(&cfg);
        let mut parts = Vec::with_capacity(cfg.partitions as usize);
        for id in 0..cfg.partitions {
            parts.push(Arc::new(open_partition(OpenCtx {
                topic: name,
                id,
                dir: &dir.join(id.to_string()),
                cfg: seg,
                read_only,
                faults: faults.clone(),
            })?));
        }
        let (watch, _) = watch::channel(0u64);
        Ok(Topic {
            name: name.to_string(),
            dir,
            read_only,
            faults,
            config: RwLock::new(cfg),
            partitions: RwLock::new(parts),
            watch,
            space_lock: Mutex::new(()),
            space: Condvar::new(),
            retention_lock: Mutex::new(()),
        })
    }

    /// Applies a new configuration (partitions only grow) and persists it.
    pub(crate) fn reconfigure(&self, wanted: &TopicConfig) -> Result<(), StoreError> {
        let mut cfg = self.config.write();
        let new = TopicConfig {
            partitions: cfg.partitions.max(wanted.partitions),
            ..wanted.clone()
        };
        if new == *cfg {
            return Ok(());
        }
        meta::write(&self.dir, &self.name, &new)?;
        let seg = SegCfg::from_topic(&new);
        let mut parts = self.partitions.write();
        for p in parts.iter() {
            *p.cfg.write() = seg;
        }
        for id in parts.len() as u32..new.partitions {
            parts.push(Arc::new(open_partition(OpenCtx {
                topic: &self.name,
                id,
                dir: &self.dir.join(id.to_string()),
                cfg: seg,
                read_only: self.read_only,
                faults: self.faults.clone(),
            })?));
        }
        *cfg = new;
        drop(parts);
        self.watch.send_modify(|v| *v += 1);
        Ok(())
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> u32 {
        self.partitions.read().len() as u32
    }

    /// The current configuration.
    pub fn config(&self) -> TopicConfig {
        self.config.read().clone()
    }

    pub(crate) fn partition(&self, partition: u32) -> Result<Arc<Partition>, StoreError> {
        let parts = self.partitions.read();
        parts
            .get(partition as usize)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchPartition {
                topic: self.name.clone(),
                partition,
                count: parts.len() as u32,
            })
    }

    /// Appends `records` as one batch to `partition`; blocking; returns the first and last
    /// offsets. With `WhenFull::Block` and the topic over `max_bytes`, waits up to
    /// `block_timeout` for retention to free space, else [`StoreError::Full`]. A failed write
    /// ([`StoreError::Io`], naming the file and cause) acknowledges nothing and leaves the
    /// partition a gap-free prefix, so a later append succeeds once the cause is gone.
    pub fn append(
        &self,
        partition: u32,
        records: &[Record],
        acks: Acks,
    ) -> Result<AppendInfo, StoreError> {
        if records.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        let compression = self.config.read().compression;
        let enc = batch::encode(records, compression).map_err(|_| StoreError::BatchTooLarge {
            size: records.iter().map(Record::encoded_size_hint).sum(),
            max: batch::MAX_BATCH_BYTES,
        })?;
        self.append_encoded(partition, &mut { enc }, acks, None)
    }

    /// Appends an encoded batch. `cache_window`: see [`Partition::append`].
    pub(crate) fn append_encoded(
        &self,
        partition: u32,
        enc: &mut batch::EncodedBatch,
        acks: Acks,
        cache_window: Option<u64>,
    ) -> Result<AppendInfo, StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(self.dir.clone()));
        }
        let p = self.partition(partition)?;
        self.wait_for_space(enc.bytes.len() as u64)?;
        let bytes = enc.bytes.len() as u64;
        let (first, next) = p.append(enc, acks == Acks::Fsync, cache_window)?;
        metrics::counter!("sluice_store_records_appended_total", "topic" => self.name.clone())
            .increment(u64::from(enc.count));
        metrics::counter!("sluice_store_bytes_appended_total", "topic" => self.name.clone())
            .increment(bytes);
        metrics::gauge!("sluice_store_end_offset", "topic" => self.name.clone(), "partition" => partition.to_string())
            .set(next as f64);
        self.watch.send_modify(|v| *v = v.wrapping_add(1));
        Ok(AppendInfo {
            partition,
            first_offset: first,
            last_offset: next - 1,
        })
    }

    /// Total bytes of all partitions.
    pub fn bytes(&self) -> u64 {
        self.partitions.read().iter().map(|p| p.bytes()).sum()
    }

    fn wait_for_space(&self, incoming: u64) -> Result<(), StoreError> {
        let (max, when_full, timeout) = {
            let c = self.config.read();
            match c.retention.max_bytes {
                Some(m) => (m, c.retention.when_full, c.retention.block_timeout),
                None => return Ok(()),
            }
        };
        if self.bytes() + incoming <= max {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let outcome = self.enforce_retention()?;
            let bytes = self.bytes();
            if bytes + incoming <= max
                || when_full == WhenFull::DropOldest
                || !outcome.blocked_by_floor
            {
                // Nothing a consumer protects stands in the way (only active segments are
                // left): accept; the active segments roll soon and become deletable.
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= timeout {
                metrics::counter!("sluice_store_full_total", "topic" => self.name.clone())
                    .increment(1);
                return Err(StoreError::Full {
                    topic: self.name.clone(),
                    bytes,
                    max_bytes: max,
                    waited,
                });
            }
            let mut g = self.space_lock.lock();
            let step = (timeout - waited).min(Duration::from_millis(100));
            self.space.wait_for(&mut g, step);
        }
    }

    /// Reads records of `partition` from `offset`, about `max_bytes` of batches (at least one
    /// batch if any is available). Offsets outside `[start, end]` give
    /// [`StoreError::OffsetOutOfRange`]. Corrupt batches are skipped and listed in
    /// [`Fetched::corrupt`].
    pub fn fetch(
        &self,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<Fetched, StoreError> {
        self.partition(partition)?.fetch(offset, max_bytes)
    }

    /// First stored offset of `partition` (0 for an unknown partition).
    pub fn start_offset(&self, partition: u32) -> u64 {
        self.partition(partition).map_or(0, |p| p.start_offset())
    }

    /// Next offset to be written in `partition` (0 for an unknown partition).
    pub fn end_offset(&self, partition: u32) -> u64 {
        self.partition(partition).map_or(0, |p| p.end_offset())
    }

    /// First offset whose timestamp is ≥ `ts_ms` (the end offset if none): a binary search in
    /// each candidate segment's index, then a scan of at most one index interval.
    pub fn offset_for_time(&self, partition: u32, ts_ms: i64) -> Result<u64, StoreError> {
        self.partition(partition)?.offset_for_time(ts_ms)
    }

    /// A watch whose value changes whenever any partition's end offset moves.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.watch.subscribe()
    }

    /// Sets the offset below which block-mode retention may delete in `partition` (the minimum
    /// committed offset of the groups reading it); `None` removes the constraint.
    pub fn set_retention_floor(&self, partition: u32, floor: Option<u64>) {
        if let Ok(p) = self.partition(partition) {
            p.floor.store(floor.unwrap_or(u64::MAX), Ordering::Release);
            let _g = self.space_lock.lock();
            self.space.notify_all();
        }
    }

    /// The retention floor of `partition`.
    pub fn retention_floor(&self, partition: u32) -> Option<u64> {
        self.partition(partition)
            .ok()
            .map(|p| p.floor.load(Ordering::Acquire))
            .filter(|&f| f != u64::MAX)
    }

    /// Fsyncs every partition (used by producers' `flush` and at shutdown).
    pub fn sync_all(&self) -> Result<(), StoreError> {
        let parts = self.partitions.read().clone();
        for p in parts {
            p.sync_to(p.end_offset())?;
        }
        Ok(())
    }

    /// Rolls active segments older than `segment_age` (maintenance).
    pub fn roll_aged(&self) -> Result<(), StoreError> {
        let age = self.config.read().segment_age;
        let parts = self.partitions.read().clone();
        for p in parts {
            p.roll_if(Some(age))?;
        }
        Ok(())
    }

    /// Read-only topics: picks up what the writing process appended, rolled, deleted or grew
    /// since the last look (the store's follow thread calls this; see
    /// [`Store::open_read_only_with`](super::Store::open_read_only_with)). Subscribers are woken
    /// when something moved. Returns true in that case. No-op for read-write topics.
    pub fn refresh(&self) -> Result<bool, StoreError> {
        if !self.read_only {
            return Ok(false);
        }
        let mut moved = false;
        let on_disk = partitions_on_disk(&self.dir)?;
        {
            let mut parts = self.partitions.write();
            let seg = SegCfg::from_topic(&self.config.read());
            for id in parts.len() as u32..on_disk {
                parts.push(Arc::new(open_partition(OpenCtx {
                    topic: &self.name,
                    id,
                    dir: &self.dir.join(id.to_string()),
                    cfg: seg,
                    read_only: true,
                    faults: None,
                })?));
                moved = true;
            }
            if moved {
                self.config.write().partitions = parts.len() as u32;
            }
        }
        let parts = self.partitions.read().clone();
        for p in parts {
            moved |= p.refresh()?;
        }
        if moved {
            self.watch.send_modify(|v| *v = v.wrapping_add(1));
        }
        Ok(moved)
    }

    /// Rolls every non-empty active segment now (tests, admin).
    pub fn roll(&self, partition: u32) -> Result<bool, StoreError> {
        self.partition(partition)?.roll_if(None)
    }
}
