//! The batch under construction in the reader thread, and how lines get into it.

use super::event_builder::EventBuilder;
use super::identity::FileKey;
use super::lines::Line;
use super::multiline::Multiline;
use super::raw::RawBatch;
use super::shipper::Batch;
use std::time::Instant;
use tokio::sync::mpsc::Sender;

/// The receiver of the batches is gone (shutdown).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed;

/// Where events go: the batch under construction.
pub(crate) struct Out {
    pub pipeline: String,
    pub batch: RawBatch,
    pub max_events: usize,
    pub max_bytes: usize,
    pub generation: u64,
    pub tx: Sender<Batch>,
    pub lines: u64,
    /// Batches the sender is done with, to reuse their buffers.
    pub spare: std::sync::mpsc::Receiver<RawBatch>,
}

impl Out {
    pub fn emit(
        &mut self,
        key: FileKey,
        fp: u64,
        path: &str,
        line: Line<'_>,
    ) -> Result<(), Closed> {
        if self.batch.is_empty() {
            self.batch.ts = EventBuilder::now_text();
        }
        self.batch
            .push(key, path, fp, line.offset, line.end, line.bytes, line.flags);
        self.lines += 1;
        if self.batch.len() >= self.max_events || self.batch.bytes() >= self.max_bytes {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), Closed> {
        if self.batch.is_empty() {
            return Ok(());
        }
        metrics::counter!("sluice_source_events_read_total", "pipeline" => self.pipeline.clone())
            .increment(self.lines);
        self.lines = 0;
        let next = match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => RawBatch::with_capacity(self.max_events, self.max_bytes.min(4 << 20)),
        };
        let raw = std::mem::replace(&mut self.batch, next);
        let batch = Batch {
            generation: self.generation,
            raw,
        };
        self.tx.blocking_send(batch).map_err(|_| Closed)
    }
}

/// Emits a line of `t` (through its multiline joiner, if any). Takes the file's fields one by
/// one because it runs inside the splitter's callback, which borrows the splitter.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_line(
    t_key: FileKey,
    fp: u64,
    path: &str,
    ml: &mut Option<Multiline>,
    emitted: &mut u64,
    out: &mut Out,
    now: Instant,
    line: Line<'_>,
    res: &mut Result<(), Closed>,
) {
    if res.is_err() {
        return;
    }
    match ml {
        None => {
            *emitted = line.end;
            *res = out.emit(t_key, fp, path, line);
        }
        Some(m) => m.push(line, now, &mut |g| {
            if res.is_ok() {
                *emitted = g.end;
                *res = out.emit(t_key, fp, path, g);
            }
        }),
    }
}
