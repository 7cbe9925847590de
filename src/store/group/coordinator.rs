//! [`GroupCoordinator`]: membership, assignment, liveness, committed offsets, retention floors.

use super::assign::assign;
use super::member::GroupMember;
use super::offsets::{self, CommittedOffset};
use super::{AutoOffsetReset, GroupConfig, GroupError, SeekTo, validate_group_name};
use crate::store::Topic;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;
use tokio::sync::watch;

/// The consumer-group coordinator of one [`Store`](crate::store::Store): in-process, one per
/// data directory. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct GroupCoordinator {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("dir", &self.inner.dir)
            .field("read_only", &self.inner.read_only)
            .finish()
    }
}

pub(super) struct Inner {
    dir: PathBuf,
    read_only: bool,
    groups: Mutex<HashMap<(String, String), Arc<GroupState>>>,
    next_member: AtomicU64,
}

/// One group on one topic.
pub(super) struct GroupState {
    pub(super) group: String,
    pub(super) topic: Arc<Topic>,
    path: PathBuf,
    pub(super) shared: Mutex<Shared>,
    /// Carries the generation; members waiting in `poll` wake when it changes.
    pub(super) changed: watch::Sender<u64>,
    /// Serialises file writes; holds the sequence number of the last snapshot written.
    file: Mutex<u64>,
    coordinator: Weak<Inner>,
}

pub(super) struct MemberSlot {
    pub(super) last_heartbeat: Instant,
    pub(super) last_poll: Instant,
    pub(super) config: GroupConfig,
}

pub(super) struct Shared {
    pub(super) generation: u64,
    pub(super) partitions: u32,
    pub(super) members: BTreeMap<u64, MemberSlot>,
    pub(super) assignment: BTreeMap<u64, Vec<u32>>,
    /// Partition → (owner, generation since which it owns it).
    pub(super) owner: HashMap<u32, (u64, u64)>,
    /// Committed offsets as known in memory (validated against the log at load).
    pub(super) committed: BTreeMap<u32, CommittedOffset>,
    /// Committed offsets known to be on disk (retention floors come from these).
    durable: BTreeMap<u32, u64>,
    /// Where members started in partitions without a commit (holds retention there).
    pub(super) start_hint: BTreeMap<u32, u64>,
    seq: u64,
    /// The offsets file was unreadable: start every uncommitted partition at the earliest
    /// offset whatever `auto_offset_reset` says, so nothing is skipped.
    pub(super) force_earliest: bool,
    /// Problems found when the offsets were loaded (clamped offsets, corrupt file).
    pub(super) problems: Vec<String>,
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl GroupCoordinator {
    /// A coordinator for the data directory `dir`. A read-only coordinator refuses joins and
    /// offset resets, and never writes.
    pub fn new(dir: impl Into<PathBuf>, read_only: bool) -> GroupCoordinator {
        GroupCoordinator {
            inner: Arc::new(Inner {
                dir: dir.into(),
                read_only,
                groups: Mutex::new(HashMap::new()),
                next_member: AtomicU64::new(1),
            }),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Joins `group` as a new member consuming `topic`. Triggers a rebalance; the member's
    /// partitions are known after its first call (`poll`, `assignment`, ...).
    pub fn join(
        &self,
        group: &str,
        topic: Arc<Topic>,
        config: GroupConfig,
    ) -> Result<GroupMember, GroupError> {
        if self.inner.read_only {
            return Err(GroupError::ReadOnly {
                path: self.inner.dir.clone(),
            });
        }
        let state = self.state(group, &topic)?;
        let id = self.inner.next_member.fetch_add(1, Ordering::Relaxed);
        {
            let mut sh = state.shared.lock();
            let now = Instant::now();
            sh.members.insert(
                id,
                MemberSlot {
                    last_heartbeat: now,
                    last_poll: now,
                    config: config.clone(),
                },
            );
            tracing::debug!(group, topic = topic.name(), member = id, "member joined");
            state.rebalance(&mut sh);
        }
        Ok(GroupMember::new(state, id, config))
    }

    /// The groups loaded in this process, as `(group, topic)`, sorted.
    pub fn loaded_groups(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.inner.groups.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// Moves the committed offsets of an idle `group` on `topic` (every partition) and writes
    /// them durably; returns the new offsets. Refused with [`GroupError::GroupActive`] while
    /// the group has members.
    pub fn reset_offsets(
        &self,
        group: &str,
        topic: &Arc<Topic>,
        to: SeekTo,
    ) -> Result<BTreeMap<u32, u64>, GroupError> {
        if self.inner.read_only {
            return Err(GroupError::ReadOnly {
                path: self.inner.dir.clone(),
            });
        }
        let state = self.state(group, topic)?;
        let mut result = BTreeMap::new();
        {
            let mut sh = state.shared.lock();
            state.expire(&mut sh, Instant::now());
            if !sh.members.is_empty() {
                return Err(GroupError::GroupActive {
                    group: group.to_string(),
                    topic: topic.name().to_string(),
                    members: sh.members.len(),
                });
            }
            let at = now_ms();
            for p in 0..topic.partition_count() {
                let offset = resolve(topic, p, to)?;
                sh.committed.insert(
                    p,
                    CommittedOffset {
                        offset,
                        committed_at_ms: at,
                    },
                );
                result.insert(p, offset);
            }
            sh.seq += 1;
        }
        state.persist()?;
        tracing::info!(group, topic = topic.name(), ?to, "group offsets reset");
        Ok(result)
    }

    /// The state of (group, topic), loaded on first use.
    pub(super) fn state(
        &self,
        group: &str,
        topic: &Arc<Topic>,
    ) -> Result<Arc<GroupState>, GroupError> {
        validate_group_name(group)?;
        let key = (group.to_string(), topic.name().to_string());
        if let Some(s) = self.inner.groups.lock().get(&key) {
            return Ok(s.clone());
        }
        // Load outside the map lock (file I/O); a racing loader's result is discarded.
        let loaded = GroupState::load(self, group, topic)?;
        let state = {
            let mut map = self.inner.groups.lock();
            map.entry(key).or_insert_with(|| Arc::new(loaded)).clone()
        };
        self.inner.update_floors(topic);
        Ok(state)
    }
}

impl crate::store::Store {
    /// The consumer-group coordinator of this store (one per data directory). On a read-only
    /// store it can describe groups but refuses joins and offset resets.
    pub fn groups(&self) -> &GroupCoordinator {
        &self.groups
    }
}

/// Resolves a [`SeekTo`] to an offset of `partition`, clamped to what is stored.
pub(super) fn resolve(topic: &Topic, partition: u32, to: SeekTo) -> Result<u64, GroupError> {
    let start = topic.start_offset(partition);
    let end = topic.end_offset(partition);
    Ok(match to {
        SeekTo::Earliest => start,
        SeekTo::Latest => end,
        SeekTo::Offset(o) => o.clamp(start, end),
        SeekTo::Timestamp(ts) => topic.offset_for_time(partition, ts)?.clamp(start, end),
    })
}

impl Inner {
    /// Pushes the minimum durable position of every loaded group on `topic` into the topic's
    /// retention floors.
    pub(super) fn update_floors(&self, topic: &Arc<Topic>) {
        let states: Vec<Arc<GroupState>> = self
            .groups
            .lock()
            .iter()
            .filter(|((_, t), _)| t == topic.name())
            .map(|(_, s)| s.clone())
            .collect();
        for p in 0..topic.partition_count() {
            let mut floor: Option<u64> = None;
            for s in &states {
                let sh = s.shared.lock();
                let f = sh
                    .durable
                    .get(&p)
                    .copied()
                    .or_else(|| sh.start_hint.get(&p).copied())
                    .unwrap_or_else(|| topic.start_offset(p));
                floor = Some(floor.map_or(f, |x: u64| x.min(f)));
            }
            topic.set_retention_floor(p, floor);
        }
    }
}

impl GroupState {
    fn load(
        coord: &GroupCoordinator,
        group: &str,
        topic: &Arc<Topic>,
    ) -> Result<GroupState, GroupError> {
        let dir = &coord.inner.dir;
        let read_only = coord.inner.read_only;
        let path = offsets::offsets_path(dir, group, topic.name());
        let tmp = offsets::tmp_path(&path);
        if !read_only && tmp.exists() {
            tracing::warn!(file = %tmp.display(), "removing leftover temporary offsets file");
            let _ = std::fs::remove_file(&tmp);
        }
        let mut problems = Vec::new();
        let mut force_earliest = false;
        let raw = match offsets::read(&path) {
            Ok(v) => v.unwrap_or_default(),
            Err(e) if e.is_corruption() || matches!(e, GroupError::UnsupportedVersion { .. }) => {
                let msg = format!("{e}; starting uncommitted partitions at the earliest offset");
                tracing::error!(group, topic = topic.name(), "{msg}");
                problems.push(msg);
                force_earliest = true;
                if !read_only {
                    let mut aside = path.as_os_str().to_owned();
                    aside.push(format!(".corrupt-{}", now_ms()));
                    let _ = std::fs::rename(&path, PathBuf::from(aside));
                }
                BTreeMap::new()
            }
            Err(e) => return Err(e),
        };
        let (committed, mut found) = super::view::validate(topic, raw);
        for msg in &found {
            tracing::warn!(group, topic = topic.name(), file = %path.display(), "{msg}");
        }
        problems.append(&mut found);
        let durable = committed.iter().map(|(&p, c)| (p, c.offset)).collect();
        let (tx, _) = watch::channel(0);
        Ok(GroupState {
            group: group.to_string(),
            topic: topic.clone(),
            path,
            shared: Mutex::new(Shared {
                generation: 0,
                partitions: topic.partition_count(),
                members: BTreeMap::new(),
                assignment: BTreeMap::new(),
                owner: HashMap::new(),
                committed,
                durable,
                start_hint: BTreeMap::new(),
                seq: 0,
                force_earliest,
                problems,
            }),
            changed: tx,
            file: Mutex::new(0),
            coordinator: Arc::downgrade(&coord.inner),
        })
    }

    /// Recomputes the assignment (a new generation) and wakes waiting members.
    pub(super) fn rebalance(&self, sh: &mut Shared) {
        sh.partitions = self.topic.partition_count();
        let ids: Vec<u64> = sh.members.keys().copied().collect();
        let next = assign(sh.partitions, &ids, &sh.assignment);
        sh.generation += 1;
        let generation = sh.generation;
        let mut owner = HashMap::new();
        for (&m, ps) in &next {
            for &p in ps {
                let since = match sh.owner.get(&p) {
                    Some(&(prev, since)) if prev == m => since,
                    _ => generation,
                };
                owner.insert(p, (m, since));
            }
        }
        sh.owner = owner;
        sh.assignment = next;
        tracing::debug!(
            group = %self.group,
            topic = self.topic.name(),
            generation,
            members = sh.members.len(),
            partitions = sh.partitions,
            "group rebalanced"
        );
        metrics::counter!("sluice_group_rebalances_total", "group" => self.group.clone(), "topic" => self.topic.name().to_string()).increment(1);
        self.changed.send_replace(generation);
    }

    /// Evicts members past their session timeout or max poll interval; rebalances if any was,
    /// or if the partition count changed. Returns whether a rebalance happened.
    pub(super) fn expire(&self, sh: &mut Shared, now: Instant) -> bool {
        let mut evicted = Vec::new();
        for (&id, slot) in &sh.members {
            let reason = if now.duration_since(slot.last_heartbeat) > slot.config.session_timeout {
                Some("session_timeout")
            } else if now.duration_since(slot.last_poll) > slot.config.max_poll_interval {
                Some("max_poll_interval")
            } else {
                None
            };
            if let Some(reason) = reason {
                evicted.push((id, reason));
            }
        }
        for &(id, reason) in &evicted {
            sh.members.remove(&id);
            tracing::warn!(group = %self.group, topic = self.topic.name(), member = id, reason, "member evicted; its partitions are reassigned");
            metrics::counter!("sluice_group_evictions_total", "group" => self.group.clone(), "topic" => self.topic.name().to_string(), "reason" => reason).increment(1);
        }
        if !evicted.is_empty() || sh.partitions != self.topic.partition_count() {
            self.rebalance(sh);
            true
        } else {
            false
        }
    }

    /// The earliest instant at which some member could expire (for waiting pollers).
    pub(super) fn next_expiry(sh: &Shared) -> Option<Instant> {
        sh.members
            .values()
            .map(|s| {
                (s.last_heartbeat + s.config.session_timeout)
                    .min(s.last_poll + s.config.max_poll_interval)
            })
            .min()
    }

    /// Removes a member (leave or drop) and rebalances.
    pub(super) fn leave(&self, id: u64) {
        let mut sh = self.shared.lock();
        if sh.members.remove(&id).is_some() {
            tracing::debug!(group = %self.group, topic = self.topic.name(), member = id, "member left");
            self.rebalance(&mut sh);
        }
    }

    /// The start position of `partition` for a member that just got it: the committed offset
    /// (clamped to the log), else per `reset`. Records the start as a retention hint.
    pub(super) fn initial_position(
        &self,
        sh: &mut Shared,
        partition: u32,
        reset: AutoOffsetReset,
    ) -> u64 {
        let start = self.topic.start_offset(partition);
        let end = self.topic.end_offset(partition);
        if let Some(c) = sh.committed.get(&partition) {
            return c.offset.clamp(start, end);
        }
        let pos = match (reset, sh.force_earliest) {
            (AutoOffsetReset::Latest, false) => end,
            _ => start,
        };
        sh.start_hint.entry(partition).or_insert(pos);
        pos
    }

    /// Records `offsets` as committed by member `id` and writes them durably.
    pub(super) fn commit(
        &self,
        id: u64,
        member_generation: u64,
        offsets: &[(u32, u64)],
    ) -> Result<(), GroupError> {
        {
            let mut sh = self.shared.lock();
            let now = Instant::now();
            self.expire(&mut sh, now);
            let generation = sh.generation;
            if !sh.members.contains_key(&id) {
                return Err(GroupError::Evicted {
                    group: self.group.clone(),
                    member: id,
                    generation,
                });
            }
            for &(p, off) in offsets {
                match sh.owner.get(&p) {
                    Some(&(owner, since)) if owner == id && since <= member_generation => {}
                    _ => {
                        return Err(GroupError::NotOwner {
                            group: self.group.clone(),
                            member: id,
                            partition: p,
                            generation,
                        });
                    }
                }
                let end = self.topic.end_offset(p);
                if off > end {
                    return Err(GroupError::OffsetBeyondEnd {
                        partition: p,
                        offset: off,
                        end,
                    });
                }
            }
            if let Some(slot) = sh.members.get_mut(&id) {
                slot.last_heartbeat = now;
            }
            // Nothing new (already committed and on disk): no write, no fsync.
            if offsets.iter().all(|(p, off)| {
                sh.committed.get(p).map(|c| c.offset) == Some(*off)
                    && sh.durable.get(p) == Some(off)
            }) {
                return Ok(());
            }
            let at = now_ms();
            for &(p, off) in offsets {
                sh.committed.insert(
                    p,
                    CommittedOffset {
                        offset: off,
                        committed_at_ms: at,
                    },
                );
            }
            sh.seq += 1;
        }
        self.persist()
    }

    /// Writes the current in-memory offsets unless a newer snapshot was already written, then
    /// updates the retention floors and lag gauges.
    pub(super) fn persist(&self) -> Result<(), GroupError> {
        let mut written = self.file.lock();
        let (seq, snapshot) = {
            let sh = self.shared.lock();
            (sh.seq, sh.committed.clone())
        };
        if seq > *written {
            offsets::write(&self.path, self.topic.name(), &snapshot)?;
            *written = seq;
            let mut sh = self.shared.lock();
            sh.durable = snapshot.iter().map(|(&p, c)| (p, c.offset)).collect();
        }
        drop(written);
        metrics::counter!("sluice_group_commits_total", "group" => self.group.clone(), "topic" => self.topic.name().to_string()).increment(1);
        for (p, c) in &snapshot {
            let lag = self.topic.end_offset(*p).saturating_sub(c.offset);
            metrics::gauge!("sluice_group_lag", "group" => self.group.clone(), "topic" => self.topic.name().to_string(), "partition" => p.to_string()).set(lag as f64);
        }
        if let Some(coord) = self.coordinator.upgrade() {
            coord.update_floors(&self.topic);
        }
        Ok(())
    }
}
