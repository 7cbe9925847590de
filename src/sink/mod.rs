//! Sinks: where cleaned events go (Elasticsearch/OpenSearch `_bulk`, NDJSON files, stdout).
//!
//! Every sink implements [`Sink`]. The pipeline hands a sink a batch of events and awaits its
//! [`SinkAck`]: every event of the batch is then either *delivered* (durably accepted by the
//! destination) or *rejected* for good (with the reason), and the pipeline sends the rejected
//! ones to the dead-letter topic. Transient failures (connection errors, 429, 5xx) are retried
//! inside the sink and never surface as rejections; a sink returns `Err` only when it cannot
//! go on at all (then nothing of the batch counts as delivered and the pipeline retries it).

use crate::event::Event;
use futures_util::future::BoxFuture;

/// Why a sink could not take a batch at all.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// An I/O error writing a file sink or stdout.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (names the file).
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The sink was configured in a way it cannot work with.
    #[error("sink configuration: {0}")]
    Config(String),
    /// The sink gave up (retries exhausted, shutdown requested, …).
    #[error("{0}")]
    Failed(String),
}

/// An event the destination refused for good, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The event as it was handed to the sink.
    pub event: Event,
    /// Which sink refused it (`elasticsearch`, `file`, …).
    pub sink: String,
    /// The destination's reason (for Elasticsearch: the error type and reason of the item).
    pub reason: String,
    /// The destination's status code, if it has one (HTTP status of the bulk item).
    pub status: Option<u16>,
    /// How many times delivery was attempted.
    pub attempts: u32,
}

/// The answer to one [`Sink::send`]: all events not listed in `rejected` were delivered.
#[derive(Debug, Default)]
pub struct SinkAck {
    /// Events refused for good; they go to the dead-letter topic.
    pub rejected: Vec<Rejected>,
}

/// A destination for cleaned events.
pub trait Sink: Send {
    /// Delivers `batch`. Resolves once every event is delivered or rejected for good.
    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>>;

    /// Flushes anything the sink buffers; called on shutdown. The default does nothing.
    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }

    /// Checks the destination once at start (Elasticsearch: `GET /`, version logged). Fails
    /// only when the sink is configured to require it; the default does nothing.
    fn healthcheck(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }

    /// A short name for logs and metrics (`elasticsearch`, `file`, `stdout`).
    fn name(&self) -> &str;
}

pub mod batcher;
pub mod elasticsearch;
pub mod file;
pub mod stdout;

pub use batcher::Batcher;
pub use elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
pub use file::{FileSink, FileSinkConfig};
pub use stdout::{StdoutSink, StdoutSinkConfig};
