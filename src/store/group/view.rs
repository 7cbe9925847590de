//! Views of groups: from disk without a running coordinator (for `sluice groups` and read-only
//! opens while `sluice run` holds the lock), the live [`GroupCoordinator::describe`], and the
//! validation of loaded offsets against the log.

use super::GroupError;
use super::coordinator::GroupCoordinator;
use super::offsets::{self, CommittedOffset};
use crate::store::{Store, Topic};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

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
                let (_, mut found) = validate(&topic, committed.clone());
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

/// A member of a group, as [`GroupCoordinator::describe`] shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberDescription {
    /// The member id (unique in this process).
    pub id: u64,
    /// Partitions assigned to it.
    pub partitions: Vec<u32>,
    /// Milliseconds since its last heartbeat.
    pub since_heartbeat_ms: u64,
    /// Milliseconds since its last poll.
    pub since_poll_ms: u64,
}

/// A live view of a group on a topic.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupDescription {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The assignment generation (grows by one per rebalance).
    pub generation: u64,
    /// The active members.
    pub members: Vec<MemberDescription>,
    /// Per partition: committed offset, log start/end and lag.
    pub partitions: Vec<PartitionOffsetView>,
    /// Problems found when the offsets were loaded.
    pub problems: Vec<String>,
}

impl GroupCoordinator {
    /// The live state of `group` on `topic`, loading its offsets from disk if needed.
    pub fn describe(
        &self,
        group: &str,
        topic: &Arc<Topic>,
    ) -> Result<GroupDescription, GroupError> {
        let state = self.state(group, topic)?;
        let mut sh = state.shared.lock();
        state.expire(&mut sh, Instant::now());
        let now = Instant::now();
        let members = sh
            .members
            .iter()
            .map(|(&id, slot)| MemberDescription {
                id,
                partitions: sh.assignment.get(&id).cloned().unwrap_or_default(),
                since_heartbeat_ms: now.duration_since(slot.last_heartbeat).as_millis() as u64,
                since_poll_ms: now.duration_since(slot.last_poll).as_millis() as u64,
            })
            .collect();
        let partitions = (0..topic.partition_count())
            .map(|p| {
                let committed = sh.committed.get(&p).map(|c| c.offset);
                PartitionOffsetView::new(p, committed, topic.start_offset(p), topic.end_offset(p))
            })
            .collect();
        Ok(GroupDescription {
            group: group.to_string(),
            topic: topic.name().to_string(),
            generation: sh.generation,
            members,
            partitions,
            problems: sh.problems.clone(),
        })
    }
}

/// Clamps loaded offsets to the log; returns the valid offsets and a description of each fix.
pub(super) fn validate(
    topic: &Topic,
    raw: BTreeMap<u32, CommittedOffset>,
) -> (BTreeMap<u32, CommittedOffset>, Vec<String>) {
    let count = topic.partition_count();
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (p, mut c) in raw {
        if p >= count {
            problems.push(format!(
                "committed offset for partition {p} ignored: topic {} has {count} partitions",
                topic.name()
            ));
            continue;
        }
        let (start, end) = (topic.start_offset(p), topic.end_offset(p));
        if c.offset > end {
            problems.push(format!(
                "partition {p}: committed offset {} is beyond the end of the log ({end}); clamped to {end}",
                c.offset
            ));
            c.offset = end;
        } else if c.offset < start {
            problems.push(format!(
                "partition {p}: committed offset {} is below the start of the log ({start}, deleted by retention); clamped to {start}",
                c.offset
            ));
            c.offset = start;
        }
        out.insert(p, c);
    }
    (out, problems)
}
