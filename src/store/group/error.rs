//! Errors of consumer groups.

use crate::store::StoreError;
use std::path::PathBuf;

/// What can go wrong in a consumer group.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The log itself failed (fetch, offset lookup, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing a group file failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we were doing.
        op: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// An offsets file is damaged (bad magic, CRC mismatch, truncated).
    #[error("corrupt offsets file {path}: {reason}")]
    CorruptOffsets {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An offsets file written by a newer sluice.
    #[error("offsets file {path} has unsupported format version {version}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u16,
    },
    /// A commit or seek for a partition this member does not own in the current generation
    /// (it was reassigned by a rebalance, or the member was evicted).
    #[error(
        "group {group}: member {member} does not own partition {partition} in generation {generation}"
    )]
    NotOwner {
        /// The group.
        group: String,
        /// The member.
        member: u64,
        /// The partition.
        partition: u32,
        /// The group's current generation.
        generation: u64,
    },
    /// The member was evicted (session timeout or max poll interval) or left; its uncommitted
    /// progress is discarded. Its next poll rejoins the group.
    #[error("group {group}: member {member} is no longer in the group (generation {generation})")]
    Evicted {
        /// The group.
        group: String,
        /// The member.
        member: u64,
        /// The group's current generation.
        generation: u64,
    },
    /// A commit of an offset beyond the end of the partition.
    #[error("partition {partition}: offset {offset} is beyond the end of the log ({end})")]
    OffsetBeyondEnd {
        /// The partition.
        partition: u32,
        /// The offset committed.
        offset: u64,
        /// The partition's end offset.
        end: u64,
    },
    /// The group has active members; offsets can only be reset on an idle group.
    #[error("group {group} has {members} active member(s) on topic {topic}; stop them first")]
    GroupActive {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
        /// How many members.
        members: usize,
    },
    /// The store was opened read-only: groups cannot be joined or offsets written.
    #[error("the store at {path} is open read-only; consumer groups need the read-write open")]
    ReadOnly {
        /// The data directory.
        path: PathBuf,
    },
    /// A group name that is not a safe file name.
    #[error("invalid group name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
}

impl GroupError {
    /// Whether the error means data on disk is damaged.
    pub fn is_corruption(&self) -> bool {
        match self {
            GroupError::Store(e) => e.is_corruption(),
            GroupError::CorruptOffsets { .. } => true,
            _ => false,
        }
    }

    /// Whether retrying later may succeed (a rebalance moved the partition, the disk was full).
    pub fn is_transient(&self) -> bool {
        match self {
            GroupError::Store(e) => e.is_transient(),
            GroupError::Io { .. } | GroupError::NotOwner { .. } | GroupError::Evicted { .. } => {
                true
            }
            _ => false,
        }
    }
}
