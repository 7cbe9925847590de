//! `sluice redrive`: sends a pipeline's dead letters back through it after a fix.
//!
//! Dead letters refused by a cleaner step are re-cleaned from the original event (a fixed
//! pattern now applies); those refused by the sink (a fixed mapping) go straight to the sink.
//! The redrive reads `<topic>.dead` as the consumer group `<group>.redrive` up to the end it
//! saw when it started, and commits as it goes, so an interrupted redrive resumes where it
//! stopped. Whatever is refused again becomes a new dead letter with `attempts + 1`.

use super::dead_letter::{DeadLetter, Stage, dead_topic_name};
use super::worker::{WorkerShared, clean_one};
use super::{DeadLetterWriter, PipelineError, PipelineSpec};
use crate::cleaner::Processed;
use crate::store::Store;
use crate::store::group::{AutoOffsetReset, GroupConfig};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What a redrive did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RedriveReport {
    /// Dead letters read.
    pub read: u64,
    /// Delivered by the sink this time.
    pub delivered: u64,
    /// Refused again (written back to the dead-letter topic with attempts + 1).
    pub dead_again: u64,
    /// Dropped on purpose by a step.
    pub dropped: u64,
    /// Records of the dead-letter topic that could not be read as dead letters (left in place,
    /// logged with their offset).
    pub unreadable: u64,
}

/// Redrives the dead letters of `spec`'s pipeline in `store`.
pub async fn redrive(store: &Store, spec: &PipelineSpec) -> Result<RedriveReport, PipelineError> {
    let mut report = RedriveReport::default();
    let Some(dead_topic) = store.topic(&dead_topic_name(&spec.topic))? else {
        return Ok(report);
    };
    let ends: BTreeMap<u32, u64> = (0..dead_topic.partition_count())
        .map(|p| (p, dead_topic.end_offset(p)))
        .collect();
    let group = format!("{}.redrive", spec.group);
    let mut member = store.groups().join(
        &group,
        dead_topic.clone(),
        GroupConfig {
            auto_offset_reset: AutoOffsetReset::Earliest,
            ..spec.member.clone()
        },
    )?;
    let writer = DeadLetterWriter::open(store, &spec.topic)?;
    let shared = Arc::new(WorkerShared {
        pipeline: spec.name.clone(),
        topic: spec.topic.clone(),
        cleaner: spec.cleaner.clone(),
        dead: writer.clone(),
        poll_bytes: spec.poll_bytes,
        commit_interval: spec.commit_interval,
    });
    let mut sink = (spec.sink)()?;
    loop {
        member.heartbeat();
        // Everything below the starting end was read (and what was read is committed below).
        let done = ends.iter().all(|(p, end)| {
            *end <= dead_topic.start_offset(*p)
                || member.position(*p).is_some_and(|pos| pos >= *end)
        });
        if done {
            break;
        }
        let records = member
            .poll(spec.poll_bytes, Duration::from_millis(200))
            .await?;
        let mut next: BTreeMap<u32, u64> = BTreeMap::new();
        let mut to_sink = Vec::new();
        let mut attempts_of = std::collections::HashMap::new();
        let mut again = Vec::new();
        for rec in records {
            let end = ends.get(&rec.partition).copied().unwrap_or(0);
            if rec.offset >= end {
                continue; // written after the redrive started (possibly by itself)
            }
            next.insert(rec.partition, rec.offset + 1);
            report.read += 1;
            let dl = match DeadLetter::from_record(&rec) {
                Ok(dl) => dl,
                Err(e) => {
                    tracing::warn!(topic = dead_topic.name(), partition = rec.partition, error = %e, "unreadable dead letter left in place");
                    report.unreadable += 1;
                    continue;
                }
            };
            let mut event = dl.event.clone();
            if dl.stage == Stage::Cleaner {
                match clean_one(&shared, &mut event) {
                    Processed::Keep => {}
                    Processed::Dropped { .. } => {
                        report.dropped += 1;
                        continue;
                    }
                    Processed::DeadLetter { step, reason } => {
                        again.push(DeadLetter {
                            step,
                            reason,
                            attempts: dl.attempts + 1,
                            time: Utc::now(),
                            ..dl
                        });
                        continue;
                    }
                }
            }
            if let Some(sid) = &event.source_id {
                attempts_of.insert(sid.clone(), dl.attempts);
            }
            to_sink.push(event);
        }
        let sent = to_sink.len() as u64;
        let ack = if to_sink.is_empty() {
            Default::default()
        } else {
            sink.send(to_sink).await?
        };
        report.delivered += sent - ack.rejected.len() as u64;
        for r in ack.rejected {
            let before = r
                .event
                .source_id
                .as_ref()
                .and_then(|sid| attempts_of.get(sid))
                .copied()
                .unwrap_or(1);
            again.push(DeadLetter {
                pipeline: spec.name.clone(),
                event: r.event,
                stage: Stage::Sink,
                step: r.sink,
                reason: r.reason,
                status: r.status,
                attempts: before + 1,
                time: Utc::now(),
                position: None,
            });
        }
        report.dead_again += again.len() as u64;
        writer.write(again).await?;
        let offsets: Vec<(u32, u64)> = next.into_iter().collect();
        if !offsets.is_empty() {
            member.commit_offsets(&offsets)?;
        }
    }
    sink.flush().await?;
    Ok(report)
}
