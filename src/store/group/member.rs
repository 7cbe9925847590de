//! [`GroupMember`]: one consumer in a group — poll, commit, pause/resume, seek, lag.

use super::coordinator::{GroupState, MemberSlot, resolve};
use super::{GroupConfig, GroupError, PartitionOffsetView, SeekTo};
use crate::store::{StoreError, StoredRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One member of a consumer group, consuming the partitions the coordinator assigns to it.
///
/// Every call heartbeats. Dropping the member leaves the group (its partitions move to the
/// other members, which resume from the committed offsets).
pub struct GroupMember {
    state: Arc<GroupState>,
    id: u64,
    config: GroupConfig,
    /// The generation whose assignment `assigned` reflects.
    generation: u64,
    assigned: Vec<u32>,
    /// Next offset to read, per assigned partition.
    positions: BTreeMap<u32, u64>,
    paused: BTreeSet<u32>,
    /// Set by [`GroupMember::pause_all`]: nothing is delivered, including partitions assigned
    /// by a rebalance while paused, until [`GroupMember::resume_all`].
    paused_all: bool,
    cursor: usize,
    topic_rx: watch::Receiver<u64>,
    group_rx: watch::Receiver<u64>,
    runtime: Option<tokio::runtime::Runtime>,
    /// When the lag gauges were last updated (at most once per [`LAG_METRICS_EVERY`]).
    lag_reported: Option<Instant>,
}

/// How often a polling member refreshes its `sluice_group_lag` gauges.
const LAG_METRICS_EVERY: Duration = Duration::from_secs(1);

impl std::fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMember")
            .field("group", &self.state.group)
            .field("topic", &self.state.topic.name())
            .field("id", &self.id)
            .field("generation", &self.generation)
            .field("assigned", &self.assigned)
            .finish()
    }
}

/// Lag of one assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PartitionLag {
    /// The partition.
    pub partition: u32,
    /// The member's next offset to read.
    pub position: u64,
    /// The group's committed offset, if any.
    pub committed: Option<u64>,
    /// The partition's end offset.
    pub end: u64,
    /// Records not yet committed: `end − committed` (`end − start` without a commit), the
    /// same definition as `sluice groups` and the `sluice_group_lag` gauge.
    pub lag: u64,
}

/// A cheap handle that heartbeats for a member from another task (for example while the
/// member's owner is busy). Heartbeats keep the session alive but do not count as polls.
#[derive(Clone)]
pub struct Heartbeater {
    state: Arc<GroupState>,
    id: u64,
}

impl Heartbeater {
    /// Heartbeats; returns `false` if the member is no longer in the group.
    pub fn beat(&self) -> bool {
        let mut sh = self.state.shared.lock();
        self.state.expire(&mut sh, Instant::now());
        match sh.members.get_mut(&self.id) {
            Some(slot) => {
                slot.last_heartbeat = Instant::now();
                true
            }
            None => false,
        }
    }
}

impl GroupMember {
    pub(super) fn new(state: Arc<GroupState>, id: u64, config: GroupConfig) -> GroupMember {
        let topic_rx = state.topic.subscribe();
        let group_rx = state.changed.subscribe();
        GroupMember {
            state,
            id,
            config,
            generation: 0,
            assigned: Vec::new(),
            positions: BTreeMap::new(),
            paused: BTreeSet::new(),
            paused_all: false,
            cursor: 0,
            topic_rx,
            group_rx,
            runtime: None,
            lag_reported: None,
        }
    }

    /// The member id (unique in this process).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The group name.
    pub fn group(&self) -> &str {
        &self.state.group
    }

    /// The topic consumed.
    pub fn topic(&self) -> &Arc<crate::store::Topic> {
        &self.state.topic
    }

    /// The generation of the assignment this member last synced with.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A handle that heartbeats for this member from elsewhere.
    pub fn heartbeater(&self) -> Heartbeater {
        Heartbeater {
            state: self.state.clone(),
            id: self.id,
        }
    }

    /// Heartbeats and syncs with the current assignment; returns the assigned partitions.
    pub fn assignment(&mut self) -> Vec<u32> {
        self.sync(false);
        self.assigned.clone()
    }

    /// Heartbeats (keeps the session alive) and picks up a rebalance. Does not count as a poll.
    pub fn heartbeat(&mut self) {
        self.sync(false);
    }

    /// Heartbeats, evicts expired members, rejoins if this member was evicted (only on a poll:
    /// a commit from an evicted member must fail), and applies a new assignment. Returns the
    /// instant by which the next liveness check is due.
    fn sync(&mut self, is_poll: bool) -> Instant {
        let state = self.state.clone();
        let mut sh = state.shared.lock();
        let now = Instant::now();
        state.expire(&mut sh, now);
        if !sh.members.contains_key(&self.id) && is_poll {
            tracing::info!(group = %state.group, topic = state.topic.name(), member = self.id, "evicted member rejoins on poll; uncommitted progress is discarded");
            sh.members.insert(
                self.id,
                MemberSlot {
                    last_heartbeat: now,
                    last_poll: now,
                    config: self.config.clone(),
                },
            );
            // Forget everything: positions restart from the committed offsets.
            self.positions.clear();
            self.assigned.clear();
            state.rebalance(&mut sh);
        }
        if let Some(slot) = sh.members.get_mut(&self.id) {
            slot.last_heartbeat = now;
            if is_poll {
                slot.last_poll = now;
            }
        }
        if sh.generation != self.generation {
            let mine = sh.assignment.get(&self.id).cloned().unwrap_or_default();
            // Partitions that another member owned in between lose their position.
            let kept: Vec<u32> = mine
                .iter()
                .copied()
                .filter(|p| {
                    self.assigned.contains(p)
                        && sh
                            .owner
                            .get(p)
                            .is_some_and(|&(_, since)| since <= self.generation)
                })
                .collect();
            self.positions.retain(|p, _| kept.contains(p));
            self.paused.retain(|p| mine.contains(p));
            for &p in &mine {
                if !self.positions.contains_key(&p) {
                    let pos = state.initial_position(&mut sh, p, self.config.auto_offset_reset);
                    self.positions.insert(p, pos);
                }
            }
            self.assigned = mine;
            self.generation = sh.generation;
            self.cursor = 0;
        }
        let next = GroupState::next_expiry(&sh).unwrap_or(now + self.config.session_timeout);
        drop(sh);
        let own = now
            + (self
                .config
                .session_timeout
                .min(self.config.max_poll_interval)
                / 3);
        next.min(own)
    }

    /// Waits up to `timeout` for records of the assigned, unpaused partitions and returns them
    /// (about `max_bytes` of keys and values, at least one record when any is available).
    /// Returns an empty vector on timeout. Polling with every partition paused still counts as
    /// a poll, so a member that pauses for a slow sink is never evicted.
    ///
    /// Cancel-safe (fine in `tokio::select!`): positions move only in the same synchronous
    /// step that returns the records, so dropping the future never loses any.
    pub async fn poll(
        &mut self,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Vec<StoredRecord>, GroupError> {
        let deadline = Instant::now() + timeout;
        loop {
            let next_check = self.sync(true);
            self.topic_rx.borrow_and_update();
            self.group_rx.borrow_and_update();
            let records = self.fetch_available(max_bytes)?;
            self.report_lag();
            if !records.is_empty() {
                return Ok(records);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(records);
            }
            let wake = deadline.min(next_check.max(now + Duration::from_millis(1)));
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(wake));
            tokio::select! {
                _ = self.topic_rx.changed() => {}
                _ = self.group_rx.changed() => {}
                _ = sleep => {}
            }
        }
    }

    /// Refreshes `sluice_group_lag{group,topic,partition}` (end − committed) for the assigned
    /// partitions, at most once per second, so the gauge moves even while nothing is committed.
    fn report_lag(&mut self) {
        if self
            .lag_reported
            .is_some_and(|t| t.elapsed() < LAG_METRICS_EVERY)
        {
            return;
        }
        self.lag_reported = Some(Instant::now());
        let topic = &self.state.topic;
        let sh = self.state.shared.lock();
        for &p in &self.assigned {
            let committed = sh.committed.get(&p).map(|c| c.offset);
            let lag =
                PartitionOffsetView::new(p, committed, topic.start_offset(p), topic.end_offset(p))
                    .lag;
            metrics::gauge!("sluice_group_lag", "group" => self.state.group.clone(), "topic" => topic.name().to_string(), "partition" => p.to_string())
                .set(lag as f64);
        }
    }

    /// [`poll`](Self::poll) for threads without an async runtime (uses a private
    /// current-thread runtime; do not call it from inside an async task).
    pub fn poll_blocking(
        &mut self,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Vec<StoredRecord>, GroupError> {
        let rt = match self.runtime.take() {
            Some(rt) => rt,
            None => tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|source| GroupError::Io {
                    path: self.state.topic.name().into(),
                    op: "start a timer runtime for",
                    source,
                })?,
        };
        let result = rt.block_on(self.poll(max_bytes, timeout));
        self.runtime = Some(rt);
        result
    }

    /// Reads what is available now from the assigned, unpaused partitions, round-robin.
    fn fetch_available(&mut self, max_bytes: usize) -> Result<Vec<StoredRecord>, GroupError> {
        let topic = self.state.topic.clone();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let n = self.assigned.len();
        for i in 0..n {
            if bytes >= max_bytes && !out.is_empty() {
                break;
            }
            let idx = (self.cursor + i) % n;
            let p = self.assigned[idx];
            if self.paused_all || self.paused.contains(&p) {
                continue;
            }
            let Some(&pos) = self.positions.get(&p) else {
                continue;
            };
            if pos >= topic.end_offset(p) {
                continue;
            }
            let fetched = match topic.fetch(p, pos, max_bytes.saturating_sub(bytes).max(1)) {
                Ok(f) => f,
                Err(StoreError::OffsetOutOfRange { start, end, .. }) => {
                    let to = if pos < start { start } else { end };
                    tracing::warn!(group = %self.state.group, topic = topic.name(), partition = p, position = pos, start, end, moved_to = to, "position out of range (records deleted by retention?); moving");
                    self.positions.insert(p, to);
                    continue;
                }
                // Records already taken from other partitions are returned (their positions
                // moved); the error comes back on the next poll.
                Err(_) if !out.is_empty() => break,
                Err(e) => return Err(e.into()),
            };
            let mut next = pos;
            for r in fetched.records {
                if r.offset < pos {
                    continue;
                }
                bytes += r.value.len() + r.key.as_ref().map_or(0, |k| k.len());
                next = r.offset + 1;
                out.push(r);
            }
            next = next.max(fetched.next_offset.min(topic.end_offset(p)));
            self.positions.insert(p, next);
            self.cursor = (idx + 1) % n;
        }
        Ok(out)
    }

    /// Commits the member's positions (everything returned by `poll` so far) for all assigned
    /// partitions, durably.
    pub fn commit(&mut self) -> Result<(), GroupError> {
        // The positions as they are: if a rebalance took a partition away, its commit is refused.
        let offsets: Vec<(u32, u64)> = self.positions.iter().map(|(&p, &o)| (p, o)).collect();
        let generation = self.generation;
        self.sync(false);
        self.state.commit(self.id, generation, &offsets)
    }

    /// Commits explicit offsets: for each `(partition, next offset to read)`. Refused with
    /// [`GroupError::NotOwner`] for a partition this member does not own (any more).
    pub fn commit_offsets(&mut self, offsets: &[(u32, u64)]) -> Result<(), GroupError> {
        let generation = self.generation;
        self.sync(false);
        self.state.commit(self.id, generation, offsets)
    }

    /// Stops delivery from `partitions` (assigned ones; others are ignored) until resumed.
    pub fn pause(&mut self, partitions: &[u32]) {
        self.sync(false);
        for p in partitions {
            if self.assigned.contains(p) {
                self.paused.insert(*p);
            }
        }
    }

    /// Resumes delivery from `partitions` (after [`pause_all`](Self::pause_all), use
    /// [`resume_all`](Self::resume_all)).
    pub fn resume(&mut self, partitions: &[u32]) {
        for p in partitions {
            self.paused.remove(p);
        }
        self.sync(false);
    }

    /// Stops delivery from every partition, including partitions a rebalance assigns while
    /// paused, until [`resume_all`](Self::resume_all). Keep polling meanwhile (a poll that
    /// delivers nothing still counts as a poll), so the member stays in the group.
    pub fn pause_all(&mut self) {
        self.sync(false);
        self.paused_all = true;
    }

    /// Resumes every partition (undoes [`pause`](Self::pause) and
    /// [`pause_all`](Self::pause_all)).
    pub fn resume_all(&mut self) {
        self.paused.clear();
        self.paused_all = false;
        self.sync(false);
    }

    /// The paused partitions (every assigned one after [`pause_all`](Self::pause_all)).
    pub fn paused(&self) -> Vec<u32> {
        if self.paused_all {
            return self.assigned.clone();
        }
        self.paused.iter().copied().collect()
    }

    /// Moves the read position of an assigned partition; returns the new position.
    pub fn seek(&mut self, partition: u32, to: SeekTo) -> Result<u64, GroupError> {
        self.sync(false);
        if !self.assigned.contains(&partition) {
            return Err(GroupError::NotOwner {
                group: self.state.group.clone(),
                member: self.id,
                partition,
                generation: self.generation,
            });
        }
        let pos = resolve(&self.state.topic, partition, to)?;
        self.positions.insert(partition, pos);
        Ok(pos)
    }

    /// Moves the read position of every assigned partition.
    pub fn seek_all(&mut self, to: SeekTo) -> Result<(), GroupError> {
        for p in self.assignment() {
            self.seek(p, to)?;
        }
        Ok(())
    }

    /// The next offset this member reads in `partition`, if assigned.
    pub fn position(&self, partition: u32) -> Option<u64> {
        self.positions.get(&partition).copied()
    }

    /// The group's committed offset for `partition`, if any.
    pub fn committed(&self, partition: u32) -> Option<u64> {
        self.state
            .shared
            .lock()
            .committed
            .get(&partition)
            .map(|c| c.offset)
    }

    /// Lag of every assigned partition.
    pub fn lag(&mut self) -> Vec<PartitionLag> {
        self.sync(false);
        let topic = &self.state.topic;
        let sh = self.state.shared.lock();
        self.assigned
            .iter()
            .map(|&p| {
                let end = topic.end_offset(p);
                let position = self.positions.get(&p).copied().unwrap_or(end);
                let committed = sh.committed.get(&p).map(|c| c.offset);
                PartitionLag {
                    partition: p,
                    position,
                    committed,
                    end,
                    lag: PartitionOffsetView::new(p, committed, topic.start_offset(p), end).lag,
                }
            })
            .collect()
    }

    /// Whether the member caught up: every assigned partition's position is at its end.
    pub fn caught_up(&self) -> bool {
        let topic = &self.state.topic;
        self.assigned.iter().all(|p| {
            self.positions
                .get(p)
                .is_some_and(|&pos| pos >= topic.end_offset(*p))
        })
    }

    /// Leaves the group now (also done on drop).
    pub fn leave(self) {}
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.state.leave(self.id);
    }
}
