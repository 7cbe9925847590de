//! Raw batches: what the reader thread hands to the sender. Lines are kept as bytes in one
//! buffer; events are built on the sender's side, right before the send, so that each event is
//! allocated and freed on the same thread (cross-thread frees contend on the allocator) and a
//! queued batch costs its bytes, not a map per line.

use super::EventWriter;
use super::encode::{FastEncoder, source_id_into};
use super::event_builder::EventBuilder;
use super::identity::FileKey;
use crate::event::Event;

/// One line (or multiline group) in a raw batch.
#[derive(Debug, Clone, Copy)]
struct RawLine {
    file: u32,
    offset: u64,
    start: u32,
    len: u32,
    flags: u8,
}

/// Lines of one or more files, with what the checkpoint may move to once they are acked.
#[derive(Debug, Default)]
pub(crate) struct RawBatch {
    data: Vec<u8>,
    lines: Vec<RawLine>,
    /// (path, fingerprint) of the files in the batch.
    files: Vec<(String, u64)>,
    /// `@timestamp` of the events (read time).
    pub ts: String,
    /// (file, fingerprint, end offset of its last line in the batch), in order.
    pub updates: Vec<(FileKey, u64, u64)>,
}

impl RawBatch {
    /// An empty batch with room for `lines` lines and `bytes` bytes.
    pub fn with_capacity(lines: usize, bytes: usize) -> Self {
        RawBatch {
            data: Vec::with_capacity(bytes),
            lines: Vec::with_capacity(lines),
            ..Default::default()
        }
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True if no line is held.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bytes of line data held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Forgets every line.
    pub fn clear(&mut self) {
        self.data.clear();
        self.lines.clear();
        self.files.clear();
        self.updates.clear();
    }

    /// Adds a line of file `key` (`path`, fingerprint `fp`) that ends at `end`.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        key: FileKey,
        path: &str,
        fp: u64,
        offset: u64,
        end: u64,
        bytes: &[u8],
        flags: u8,
    ) {
        let same = matches!(self.files.last(), Some((p, f)) if *f == fp && p == path);
        if !same {
            self.files.push((path.to_string(), fp));
        }
        self.lines.push(RawLine {
            file: (self.files.len() - 1) as u32,
            offset,
            start: self.data.len() as u32,
            len: bytes.len() as u32,
            flags,
        });
        self.data.extend_from_slice(bytes);
        match self.updates.last_mut() {
            Some(u) if u.0 == key && u.1 == fp => u.2 = end,
            _ => self.updates.push((key, fp, end)),
        }
    }

    /// Builds the events.
    pub fn build(&self, builder: &EventBuilder) -> Vec<Event> {
        self.lines
            .iter()
            .map(|l| {
                let (path, fp) = &self.files[l.file as usize];
                let bytes = &self.data[l.start as usize..(l.start + l.len) as usize];
                builder.build_at(&self.ts, Some(path), Some(*fp), l.offset, bytes, l.flags)
            })
            .collect()
    }

    /// Serialises the lines straight into the output's buffers through `w` (building an event
    /// only for lines the fast path does not cover).
    pub fn write_to(&self, builder: &EventBuilder, enc: &FastEncoder, w: &mut dyn EventWriter) {
        let mut sid = [0u8; 40];
        for l in &self.lines {
            let (path, fp) = &self.files[l.file as usize];
            let bytes = &self.data[l.start as usize..(l.start + l.len) as usize];
            let n = source_id_into(*fp, l.offset, &mut sid);
            w.write_event(Some(&sid[..n]), &mut |out: &mut Vec<u8>| {
                let start = out.len();
                if !enc.encode_into(out, &self.ts, path, l.offset, bytes, l.flags) {
                    out.truncate(start);
                    let e =
                        builder.build_at(&self.ts, Some(path), Some(*fp), l.offset, bytes, l.flags);
                    out.extend_from_slice(&e.encode());
                }
            });
        }
    }
}
