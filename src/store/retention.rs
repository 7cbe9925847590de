//! Retention (size and age) and per-partition statistics.
//!
//! Only sealed segments are deleted, oldest first. With `when_full: block`, a segment is deleted
//! only if it lies wholly below the partition's retention floor (what every group has
//! committed); with `drop_oldest`, regardless, counting unconsumed records as dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::batch::now_ms;
use super::config::WhenFull;
use super::error::StoreError;
use super::partition::Partition;
use super::segment::Segment;
use super::topic::Topic;

/// What a retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionOutcome {
    /// Segments deleted.
    pub deleted_segments: u32,
    /// Bytes freed.
    pub freed_bytes: u64,
    /// Records deleted before any group consumed them.
    pub dropped_records: u64,
    /// A segment would have been deleted but a group had not consumed it yet.
    pub blocked_by_floor: bool,
}

/// Statistics of one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionStats {
    /// Partition number.
    pub partition: u32,
    /// First stored offset.
    pub start_offset: u64,
    /// Next offset to be written.
    pub end_offset: u64,
    /// Bytes on disk (segment files).
    pub bytes: u64,
    /// Number of segments.
    pub segments: u32,
    /// Unconsumed records deleted by retention since open.
    pub dropped_records: u64,
    /// The retention floor (minimum committed offset of the groups), if set.
    pub retention_floor: Option<u64>,
    /// Group-commit fsyncs since open (one covers every `acks: all` append waiting then).
    pub fsyncs: u64,
}

/// Statistics of a topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicStats {
    /// Topic name.
    pub name: String,
    /// Per partition.
    pub partitions: Vec<PartitionStats>,
}

impl TopicStats {
    /// Total bytes.
    pub fn bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.bytes).sum()
    }

    /// Total stored records (end − start over partitions).
    pub fn records(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| p.end_offset - p.start_offset)
            .sum()
    }
}

fn oldest_sealed(p: &Partition) -> Option<Arc<Segment>> {
    let segs = p.segments.read();
    (segs.len() > 1).then(|| segs[0].clone())
}

impl Topic {
    /// Statistics per partition.
    pub fn stats(&self) -> TopicStats {
        let parts = self.partitions.read().clone();
        TopicStats {
            name: self.name.clone(),
            partitions: parts
                .iter()
                .map(|p| {
                    let floor = p.floor.load(Ordering::Acquire);
                    PartitionStats {
                        partition: p.id,
                        start_offset: p.start_offset(),
                        end_offset: p.end_offset(),
                        bytes: p.bytes(),
                        segments: p.segments.read().len() as u32,
                        dropped_records: p.dropped.load(Ordering::Acquire),
                        retention_floor: (floor != u64::MAX).then_some(floor),
                        fsyncs: p.fsyncs.load(Ordering::Relaxed),
                    }
                })
                .collect(),
        }
    }

    /// Applies `max_age` and `max_bytes` now (also done on append when over `max_bytes`, and
    /// periodically by the store's maintenance thread).
    pub fn enforce_retention(&self) -> Result<RetentionOutcome, StoreError> {
        let mut out = RetentionOutcome::default();
        if self.read_only {
            return Ok(out);
        }
        let _g = self.retention_lock.lock();
        let cfg = self.config.read().clone();
        let block = cfg.retention.when_full == WhenFull::Block;
        let parts = self.partitions.read().clone();
        if let Some(age) = cfg.retention.max_age {
            let cutoff = now_ms().saturating_sub(age.as_millis() as i64);
            for p in &parts {
                while let Some(seg) = oldest_sealed(p) {
                    if seg.max_ts.load(Ordering::Acquire) >= cutoff {
                        break;
                    }
                    if block && !consumed(p, &seg) {
                        out.blocked_by_floor = true;
                        break;
                    }
                    self.delete_oldest(p, &seg, "max_age", &mut out)?;
                }
            }
        }
        if let Some(max) = cfg.retention.max_bytes {
            let mut total: u64 = parts.iter().map(|p| p.bytes()).sum();
            while total > max {
                // The deletable segment holding the oldest data, across partitions.
                let mut best: Option<(&Arc<Partition>, Arc<Segment>)> = None;
                for p in &parts {
                    let Some(seg) = oldest_sealed(p) else {
                        continue;
                    };
                    if block && !consumed(p, &seg) {
                        out.blocked_by_floor = true;
                        continue;
                    }
                    let ts = seg.max_ts.load(Ordering::Acquire);
                    if best
                        .as_ref()
                        .is_none_or(|(_, b)| ts < b.max_ts.load(Ordering::Acquire))
                    {
                        best = Some((p, seg));
                    }
                }
                let Some((p, seg)) = best else { break };
                let reason = if block { "max_bytes" } else { "drop_oldest" };
                total = total.saturating_sub(seg.len.load(Ordering::Acquire));
                self.delete_oldest(p, &seg, reason, &mut out)?;
            }
        }
        if out.deleted_segments > 0 {
            let _g = self.space_lock.lock();
            self.space.notify_all();
        }
        Ok(out)
    }

    fn delete_oldest(
        &self,
        p: &Partition,
        seg: &Arc<Segment>,
        reason: &'static str,
        out: &mut RetentionOutcome,
    ) -> Result<(), StoreError> {
        {
            let mut segs = p.segments.write();
            if segs.len() <= 1 || !Arc::ptr_eq(&segs[0], seg) {
                return Ok(());
            }
            segs.remove(0);
            p.start.store(segs[0].base, Ordering::Release);
        }
        let end = seg.end_offset.load(Ordering::Acquire);
        let floor = p.floor.load(Ordering::Acquire);
        let unconsumed = if floor == u64::MAX {
            end - seg.base
        } else {
            end.saturating_sub(floor.max(seg.base))
        };
        // Log first, then index: a crash in between leaves an orphan index, removed at open.
        std::fs::remove_file(&seg.log_path)
            .map_err(|e| StoreError::io("remove", &seg.log_path, e))?;
        if let Err(e) = std::fs::remove_file(&seg.index_path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(StoreError::io("remove", &seg.index_path, e));
        }
        super::sync_dir(&p.dir)?;
        let len = seg.len.load(Ordering::Acquire);
        out.deleted_segments += 1;
        out.freed_bytes += len;
        tracing::info!(topic = %self.name, partition = p.id, file = %seg.log_path.display(), reason, records = end - seg.base, unconsumed, "retention deleted a segment");
        if reason == "drop_oldest" || unconsumed > 0 && floor != u64::MAX {
            out.dropped_records += unconsumed;
            p.dropped.fetch_add(unconsumed, Ordering::AcqRel);
            metrics::counter!("sluice_store_records_dropped_total", "topic" => self.name.clone(), "reason" => reason)
                .increment(unconsumed);
        }
        metrics::counter!("sluice_store_segments_deleted_total", "topic" => self.name.clone(), "reason" => reason)
            .increment(1);
        Ok(())
    }
}

/// True when every record of `seg` is below the partition's floor (or there is no floor).
fn consumed(p: &Partition, seg: &Segment) -> bool {
    let floor = p.floor.load(Ordering::Acquire);
    floor == u64::MAX || seg.end_offset.load(Ordering::Acquire) <= floor
}
