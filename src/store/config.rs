//! Topic, retention and acknowledgement settings (plain Rust; `config/` converts YAML into them).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Per-batch compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Records stored as they are. Default.
    #[default]
    None,
    /// Each batch's records gzip-compressed (flate2).
    Gzip,
}

/// What an append does when the topic is over `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Default. Delete only segments every group has consumed (below the retention floor);
    /// if that frees nothing, the append waits up to `block_timeout`, then fails with
    /// [`StoreError::Full`](super::StoreError::Full). Backpressure reaches the shippers.
    #[default]
    Block,
    /// Delete the oldest whole segments even if unconsumed; the loss is counted in
    /// `sluice_store_records_dropped_total`.
    DropOldest,
}

/// Retention of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// Maximum bytes of the whole topic (all partitions). Default: `None` (unbounded).
    pub max_bytes: Option<u64>,
    /// Segments whose newest record is older than this are deleted. Default: `None` (forever).
    pub max_age: Option<Duration>,
    /// What to do when full. Default: [`WhenFull::Block`].
    pub when_full: WhenFull,
    /// How long a blocked append waits for space. Default: 30 s.
    pub block_timeout: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_bytes: None,
            max_age: None,
            when_full: WhenFull::Block,
            block_timeout: Duration::from_secs(30),
        }
    }
}

/// Configuration of a topic, persisted in `topics/<topic>/topic.meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// Number of partitions (can only grow). Default: 1.
    pub partitions: u32,
    /// A segment is rolled when the next batch would take it over this size. Default: 128 MiB;
    /// at most 2 GiB. With `retention.max_bytes` set, the effective size is at most a quarter of
    /// one partition's share (and at least 4 KiB), so that retention can always delete.
    pub segment_bytes: u64,
    /// A non-empty segment older than this is rolled (so age retention can delete it).
    /// Default: 1 hour.
    pub segment_age: Duration,
    /// One sparse index entry per this many bytes of batches. Default: 4 KiB.
    pub index_interval_bytes: u32,
    /// Batch compression. Default: [`Compression::None`].
    pub compression: Compression,
    /// Retention. Default: [`Retention::default`] (keep everything).
    pub retention: Retention,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 1,
            segment_bytes: 128 << 20,
            segment_age: Duration::from_secs(3600),
            index_interval_bytes: 4096,
            compression: Compression::None,
            retention: Retention::default(),
        }
    }
}

/// Largest accepted `segment_bytes`.
pub const MAX_SEGMENT_BYTES: u64 = 2 << 30;

impl TopicConfig {
    /// Checks ranges; returns a description of the first problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.partitions == 0 || self.partitions > 10_000 {
            return Err(format!(
                "partitions must be 1..=10000, got {}",
                self.partitions
            ));
        }
        if self.segment_bytes < 4096 || self.segment_bytes > MAX_SEGMENT_BYTES {
            return Err(format!(
                "segment_bytes must be between 4 KiB and 2 GiB, got {}",
                self.segment_bytes
            ));
        }
        if self.index_interval_bytes == 0 {
            return Err("index_interval_bytes must be > 0".into());
        }
        if self.segment_age.is_zero() {
            return Err("segment_age must be > 0".into());
        }
        Ok(())
    }

    /// The roll size actually used (see [`TopicConfig::segment_bytes`]).
    pub fn effective_segment_bytes(&self) -> u64 {
        match self.retention.max_bytes {
            Some(max) => {
                let share = max / u64::from(self.partitions.max(1)) / 4;
                self.segment_bytes.min(share.max(4096))
            }
            None => self.segment_bytes,
        }
    }
}

/// When an append counts as acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `0`: accepted in memory (the producer's buffer); may be lost on a crash.
    None,
    /// `1`: written to the segment file (the page cache); survives a process crash, not a
    /// power loss.
    #[default]
    Written,
    /// `all`: fsync'd. Concurrent appenders share one fsync (group commit).
    Fsync,
}

impl FromStr for Acks {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "0" | "none" => Ok(Acks::None),
            "1" | "written" => Ok(Acks::Written),
            "all" | "-1" | "fsync" => Ok(Acks::Fsync),
            other => Err(format!("acks must be 0, 1 or all, got {other:?}")),
        }
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Written => "1",
            Acks::Fsync => "all",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_round_trip() {
        for a in [Acks::None, Acks::Written, Acks::Fsync] {
            assert_eq!(a.to_string().parse::<Acks>().unwrap(), a);
        }
        assert!("2".parse::<Acks>().is_err());
    }

    #[test]
    fn effective_segment_bytes_respects_retention() {
        assert_eq!(TopicConfig::default().effective_segment_bytes(), 128 << 20);
        let c = TopicConfig {
            partitions: 2,
            retention: Retention {
                max_bytes: Some(1 << 20),
                ..Retention::default()
            },
            ..TopicConfig::default()
        };
        assert_eq!(c.effective_segment_bytes(), 128 << 10);
    }
}
