//! [`StoreError`]: every way the durable log can fail, with the file, position and cause.

use std::path::PathBuf;
use std::time::Duration;

/// An error from the durable log.
///
/// Variants carry the file (and position) concerned and the underlying cause; classify them
/// with [`StoreError::is_corruption`] and [`StoreError::is_transient`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation on a file failed (disk full, permission, ...).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("write", "fsync", "open", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the data directory's lock.
    #[error(
        "data directory is locked by another process ({path}{}); use a read-only open for admin commands",
        pid.map(|p| format!(", pid {p}")).unwrap_or_default()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The process id written in the lock file, when readable.
        pid: Option<u32>,
    },
    /// Stored bytes are not what they should be (bad CRC, bad length, broken sequence).
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte position in the file.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file has an unknown magic number or format version.
    #[error("{path}: {reason}")]
    BadFormat {
        /// The file.
        path: PathBuf,
        /// What was found instead of what was expected.
        reason: String,
    },
    /// A fetch asked for an offset outside `[start, end]`.
    #[error("offset {offset} out of range for partition {partition} (start {start}, end {end})")]
    OffsetOutOfRange {
        /// The partition.
        partition: u32,
        /// The requested offset.
        offset: u64,
        /// The first stored offset.
        start: u64,
        /// The next offset to be written.
        end: u64,
    },
    /// The partition does not exist.
    #[error("topic {topic} has no partition {partition} (it has {count})")]
    NoSuchPartition {
        /// The topic.
        topic: String,
        /// The requested partition.
        partition: u32,
        /// How many partitions the topic has.
        count: u32,
    },
    /// The topic does not exist.
    #[error("no such topic: {0}")]
    NoSuchTopic(String),
    /// The topic name cannot be used as a directory name.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A configuration value is out of range.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// The topic is over `retention.max_bytes` and nothing could be freed within the timeout
    /// (`when_full: block`).
    #[error(
        "topic {topic} is full ({bytes} bytes stored, max_bytes {max_bytes}); waited {waited:?} for consumers to free space"
    )]
    Full {
        /// The topic.
        topic: String,
        /// Bytes currently stored.
        bytes: u64,
        /// The configured limit.
        max_bytes: u64,
        /// How long the append waited.
        waited: Duration,
    },
    /// The store was opened read-only.
    #[error("the store at {0} is open read-only")]
    ReadOnly(PathBuf),
    /// An append with no records.
    #[error("cannot append an empty batch")]
    EmptyBatch,
    /// A batch is larger than the format allows.
    #[error("batch of {size} bytes exceeds the limit of {max} bytes")]
    BatchTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The producer was closed (its flusher stopped).
    #[error("producer closed")]
    Closed,
}

impl StoreError {
    /// Shorthand for [`StoreError::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True when stored data is damaged (CRC mismatch, bad length, unknown format).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::BadFormat { .. }
        )
    }

    /// True when retrying later may succeed (disk full, topic full, lock held, I/O errors).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. } | StoreError::Full { .. } | StoreError::Locked { .. }
        )
    }
}

impl StoreError {
    /// A copy of this error (I/O causes are rebuilt from their OS code or kind and message), for
    /// reporting one failure to every producer whose records were in the failed batch.
    pub fn duplicate(&self) -> StoreError {
        use StoreError::*;
        match self {
            Io { op, path, source } => Io {
                op,
                path: path.clone(),
                source: source
                    .raw_os_error()
                    .map(std::io::Error::from_raw_os_error)
                    .unwrap_or_else(|| std::io::Error::new(source.kind(), source.to_string())),
            },
            Locked { path, pid } => Locked {
                path: path.clone(),
                pid: *pid,
            },
            Corrupt {
                path,
                position,
                reason,
            } => Corrupt {
                path: path.clone(),
                position: *position,
                reason: reason.clone(),
            },
            BadFormat { path, reason } => BadFormat {
                path: path.clone(),
                reason: reason.clone(),
            },
            OffsetOutOfRange {
                partition,
                offset,
                start,
                end,
            } => OffsetOutOfRange {
                partition: *partition,
                offset: *offset,
                start: *start,
                end: *end,
            },
            NoSuchPartition {
                topic,
                partition,
                count,
            } => NoSuchPartition {
                topic: topic.clone(),
                partition: *partition,
                count: *count,
            },
            NoSuchTopic(t) => NoSuchTopic(t.clone()),
            InvalidTopicName { name, reason } => InvalidTopicName {
                name: name.clone(),
                reason,
            },
            InvalidConfig(s) => InvalidConfig(s.clone()),
            Full {
                topic,
                bytes,
                max_bytes,
                waited,
            } => Full {
                topic: topic.clone(),
                bytes: *bytes,
                max_bytes: *max_bytes,
                waited: *waited,
            },
            ReadOnly(p) => ReadOnly(p.clone()),
            EmptyBatch => EmptyBatch,
            BatchTooLarge { size, max } => BatchTooLarge {
                size: *size,
                max: *max,
            },
            Closed => Closed,
        }
    }
}
