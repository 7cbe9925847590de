//! Reading every group's committed offsets from disk, without a running coordinator (for
//! `sluice groups` and read-only opens while `sluice run` holds the lock).

use super::GroupError;
use super::offsets;
use crate::store::Store;

/// Committed offset, log bounds and lag of one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionOffsetView {
    /// The partition.
    pub partition: u32,
    /// The committed offset (the next offset the group reads), if the group committed one.
    pub committed: Option<u64>,
    /// The first stored offset.
    pub start: u64,
    /// The end offset (next to be written).
    pub end: u64,
    /// Records the group has not committed yet: `end - max(committed, start)` (`end - start`
    /// without a commit).
    pub lag: u64,
}

impl PartitionOffsetView {
    /// Builds the view; the lag counts from the committed offset clamped to the log.
    pub fn new(partition: u32, committed: Option<u64>, start: u64, end: u64) -> Self {
        let from = committed.unwrap_or(start).clamp(start, end);
        PartitionOffsetView {
            partition,
            committed,
            start,
            end,
            lag: end - from,
        }
    }
}

/// One group's offsets on one topic, as stored on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupOffsetsView {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// Per partition of the topic (empty if the topic does not exist).
    pub partitions: Vec<PartitionOffsetView>,
    /// Problems: corrupt file, offsets outside the log, missing topic.
    pub problems: Vec<String>,
}

/// Reads every group's offsets file under `store.dir()/groups` and compares it with the log.
/// Writes nothing; works on a read-only store.
pub fn read_group_offsets(store: &Store) -> Result<Vec<GroupOffsetsView>, GroupError> {
    let mut out = Vec::new();
    for (group, topic_name, path) in offsets::list(store.dir())? {
        let mut problems = Vec::new();
        let committed = match offsets::read(&path) {
            Ok(v) => v.unwrap_or_default(),
            Err(e) if e.is_corruption() || matches!(e, GroupError::UnsupportedVersion { .. }) => {
                problems.push(e.to_string());
                Default::default()
            }
            Err(e) => return Err(e),
        };
        let partitions = match store.topic(&topic_name)? {
            None => {
                problems.push(format!("topic {topic_name} does not exist"));
                committed
                    .iter()
                    .map(|(&p, c)| PartitionOffsetView {
                        partition: p,
                        committed: Some(c.offset),
                        start: 0,
                        end: 0,
                        lag: 0,
                    })
                    .collect()
            }
            Some(topic) => {
                let (_, mut found) = super::coordinator::validate(&topic, committed.clone());
                problems.append(&mut found);
                (0..topic.partition_count())
                    .map(|p| {
                        PartitionOffsetView::new(
                            p,
                            committed.get(&p).map(|c| c.offset),
                            topic.start_offset(p),
                            topic.end_offset(p),
                        )
                    })
                    .collect()
            }
        };
        out.push(GroupOffsetsView {
            group,
            topic: topic_name,
            partitions,
            problems,
        });
    }
    Ok(out)
}
