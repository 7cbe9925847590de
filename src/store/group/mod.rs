//! Consumer groups: an in-process coordinator that shares a topic's partitions among the
//! members of a group, and stores the group's committed offsets durably.
//!
//! - **Assignment** is even (no member has two partitions more than another), sticky and
//!   deterministic ([`assign`]). It is recomputed — a new *generation* — when a member joins,
//!   leaves (explicitly or by `Drop`), is evicted, or when the topic's partition count grows.
//! - **Liveness**: every call a member makes heartbeats. A member whose last heartbeat is older
//!   than `session_timeout`, or whose last poll is older than `max_poll_interval`, is evicted and
//!   its partitions are reassigned. Eviction is evaluated whenever any member of the group acts,
//!   and a waiting [`GroupMember::poll`] wakes up in time to do it. A member that falls behind
//!   because its sink is slow [`pauses`](GroupMember::pause) its partitions and keeps polling:
//!   a poll with everything paused returns nothing and counts as a poll.
//! - **Commits** store the next offset to read per partition in
//!   `groups/<group>/<topic>.offsets` ([`offsets`]), atomically and durably. A commit for a
//!   partition the member does not own (any more) is refused with [`GroupError::NotOwner`].
//!   Offsets read at load are validated against the log (the segments are the truth): an offset
//!   below the start or beyond the end is clamped and reported.
//! - **Retention**: the minimum committed offset of every group loaded for a topic is pushed to
//!   [`Topic::set_retention_floor`](crate::store::Topic::set_retention_floor), so `block`
//!   retention never deletes what a group has not consumed.

pub mod assign;
mod coordinator;
mod error;
mod member;
pub mod offsets;
mod view;

pub use coordinator::GroupCoordinator;
pub use error::GroupError;
pub use member::{GroupMember, Heartbeater, PartitionLag};
pub use view::{
    GroupDescription, GroupOffsetsView, MemberDescription, PartitionOffsetView, read_group_offsets,
};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Where a group starts reading a partition for which it has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// From the first stored record. Default (nothing already buffered is skipped).
    #[default]
    Earliest,
    /// From the end: only records appended after the member got the partition.
    Latest,
}

impl FromStr for AutoOffsetReset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "earliest" => Ok(AutoOffsetReset::Earliest),
            "latest" => Ok(AutoOffsetReset::Latest),
            other => Err(format!("expected earliest or latest, got {other:?}")),
        }
    }
}

impl fmt::Display for AutoOffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
        })
    }
}

/// Settings of one group member.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// A member that makes no call (poll, commit, heartbeat, ...) for this long is evicted.
    /// Default: 10 s.
    pub session_timeout: Duration,
    /// A member that does not poll for this long (stuck in processing) is evicted and its
    /// partitions reassigned. Default: 5 minutes (as Kafka's `max.poll.interval.ms`).
    pub max_poll_interval: Duration,
    /// Where to start in partitions without a committed offset. Default: `earliest`.
    pub auto_offset_reset: AutoOffsetReset,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            session_timeout: Duration::from_secs(10),
            max_poll_interval: Duration::from_secs(300),
            auto_offset_reset: AutoOffsetReset::Earliest,
        }
    }
}

/// Where to move a read position (or a group's committed offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekTo {
    /// The first stored offset.
    Earliest,
    /// The end of the partition (the next offset to be written).
    Latest,
    /// This offset, clamped to what is stored.
    Offset(u64),
    /// The first record whose timestamp is at or after this time (ms since the Unix epoch).
    Timestamp(i64),
}

/// Checks that `name` can be used as a group (directory) name.
pub fn validate_group_name(name: &str) -> Result<(), GroupError> {
    let bad = |reason| {
        Err(GroupError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 200 {
        return bad("longer than 200 bytes");
    }
    if name == "." || name == ".." {
        return bad("reserved");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert!(validate_group_name("nginx-cleaners.v2_x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(validate_group_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reset_parses() {
        assert_eq!("latest".parse(), Ok(AutoOffsetReset::Latest));
        assert!("middle".parse::<AutoOffsetReset>().is_err());
        assert_eq!(AutoOffsetReset::Earliest.to_string(), "earliest");
    }
}
