//! The file shipper (Filebeat's job): discovery, identity, reading, multiline, checkpoints.
//!
//! [`run_file_source`] tails the files of a [`FileSourceConfig`] into a [`ShipperOutput`]
//! (the pipeline implements it over the store's producer); [`run_stdin_source`] does the same
//! for standard input. User documentation: `docs/shipper.md`; checkpoint layout:
//! `docs/checkpoint-format.md`.
//!
//! Layout: `config` (runtime config), `discovery` (globs, scans), `identity` (device + inode +
//! fingerprint, source ids), `lines` (splitting), `multiline`, `event_builder` (ECS events),
//! `reader` (the reader thread: rotation, truncation, deletion), `batcher` and `raw` (the line
//! batches it hands over), `encode` (serialising lines straight into record values),
//! `shipper` (sender, acks, checkpoint writer, shutdown), `checkpoint` (file format), `stdin`,
//! `status` (`files_status` for the HTTP API).

use crate::event::Event;
use futures_util::future::BoxFuture;
use std::path::PathBuf;

mod batcher;
mod checkpoint;
mod config;
mod discovery;
mod encode;
mod event_builder;
mod identity;
mod lines;
mod multiline;
mod raw;
mod reader;
mod shipper;
mod status;
mod stdin;

pub use checkpoint::CHECKPOINT_FILE;
pub use config::{FileSourceConfig, MultilineConfig, MultilineMatch, StartAt, StdinSourceConfig};
pub use encode::EncodedEvent;
pub use event_builder::{TAG_LINE_TRUNCATED, TAG_MULTILINE_TRUNCATED, TAG_UTF8_LOSSY, host_name};
pub use identity::{FINGERPRINT_BYTES, source_id};
pub use shipper::run_file_source;
pub use status::{FileStatus, files_status, pipelines_with_file_sources};
pub use stdin::{run_reader_source, run_stdin_source};

/// Where the shipper sends events; resolves once the durable log accepted them (per acks).
///
/// The file source prepares the next batch (calls `send`, `send_encoded` or `send_written`)
/// while the previous send's future is still pending, polls the new future only once the
/// previous one resolved, and drops it unpolled if the previous one failed. An output should
/// therefore start sending when its future is first polled (as an `async` block does), so that
/// batches reach the log in order and a dropped batch writes nothing.
pub trait ShipperOutput: Send + Sync + 'static {
    /// Sends one batch. `Ok` means every event of the batch is durably accepted; an error means
    /// none may be counted as accepted (some may have been written: they come again, with the
    /// same source ids).
    fn send(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), OutputError>>;

    /// True if the output takes events already serialised ([`ShipperOutput::send_written`],
    /// or through its default [`ShipperOutput::send_encoded`]):
    /// the file source then skips building a `serde_json` map per line (the fast path for
    /// outputs that store `Event::encode()` bytes, like the durable log). Default: `false`.
    fn prefers_encoded(&self) -> bool {
        false
    }

    /// Sends one batch of serialised events (value = the JSON object of the fields, as
    /// `Event::encode()`; header `sid` = `source_id`). Same contract as `send`. The default
    /// decodes them and calls `send`.
    fn send_encoded(&self, events: Vec<EncodedEvent>) -> BoxFuture<'_, Result<(), OutputError>> {
        let events = events.iter().map(EncodedEvent::to_event).collect();
        self.send(events)
    }

    /// Sends one batch of serialised events written straight into the output's own buffers
    /// (no `Vec` per event): the output calls `write` once, before it returns the future, with
    /// an [`EventWriter`]; `write` writes every event of the batch. Same contract as `send`;
    /// used instead of `send_encoded` when [`ShipperOutput::prefers_encoded`] is true. The
    /// future does nothing before it is first polled. The default collects the events and
    /// calls `send_encoded`.
    fn send_written(
        &self,
        write: &mut dyn FnMut(&mut dyn EventWriter),
    ) -> BoxFuture<'_, Result<(), OutputError>> {
        let mut all = CollectEvents(Vec::new());
        write(&mut all);
        self.send_encoded(all.0)
    }
}

/// Receives the serialised events of one batch ([`ShipperOutput::send_written`]).
pub trait EventWriter {
    /// Appends one event: `value` appends the JSON object of its fields (what
    /// `Event::encode()` gives, key order aside) to the buffer it is given, leaving what is
    /// already there alone; `source_id` is the event's source id (header `sid`).
    fn write_event(&mut self, source_id: Option<&[u8]>, value: &mut dyn FnMut(&mut Vec<u8>));
}

/// The default [`EventWriter`]: one [`EncodedEvent`] per event.
struct CollectEvents(Vec<EncodedEvent>);

impl EventWriter for CollectEvents {
    fn write_event(&mut self, source_id: Option<&[u8]>, value: &mut dyn FnMut(&mut Vec<u8>)) {
        let mut v = Vec::new();
        value(&mut v);
        self.0.push(EncodedEvent {
            value: v,
            source_id: source_id.map(|s| String::from_utf8_lossy(s).into_owned()),
        });
    }
}

/// Why an output did not accept a batch.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Try again later (topic full past its block timeout, disk full, …): the shipper rewinds
    /// to the acknowledged offsets and retries with backoff; nothing is dropped.
    #[error("output temporarily unavailable: {0}")]
    Transient(String),
    /// The output cannot go on; the source stops with [`SourceError::Output`].
    #[error("output failed: {0}")]
    Fatal(String),
}

impl OutputError {
    /// True if a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, OutputError::Transient(_))
    }
}

/// Why a source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An I/O error on a file or directory of the shipper's own state.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file is not a valid checkpoint (bad magic, version, CRC, length).
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong, with the byte position where known.
        reason: String,
    },
    /// Invalid source configuration (bad glob, bad multiline pattern).
    #[error("source configuration: {0}")]
    Config(String),
    /// The output failed for good.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// An internal task failed (a panic).
    #[error("internal: {0}")]
    Internal(String),
}

impl SourceError {
    /// True if the error is about damaged on-disk state.
    pub fn is_corruption(&self) -> bool {
        matches!(self, SourceError::Checkpoint { .. })
    }

    /// True if retrying the operation later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SourceError::Io { .. } => true,
            SourceError::Output(e) => e.is_transient(),
            _ => false,
        }
    }
}
