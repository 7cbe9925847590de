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

/// A batch made ready for [`Sink::send_prepared`] by the sink's [`Preparer`].
#[derive(Debug)]
pub enum Prepared {
    /// The events as they are (sinks that do all their work in `send`).
    Events(Vec<Event>),
    /// Elasticsearch bulk requests.
    Bulk(elasticsearch::batch::EncodedBatch),
}

impl Prepared {
    /// The number of events in the batch.
    pub fn len(&self) -> usize {
        match self {
            Prepared::Events(e) => e.len(),
            Prepared::Bulk(b) => b.len(),
        }
    }

    /// True if the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The CPU half of a sink's delivery (encoding), split off so that a worker can run it on its
/// cleaning thread: the events are then encoded and freed by the thread that built them, each
/// one right after its steps ran, while it is still in the CPU's caches.
///
/// A batch is [`begin`](Preparer::begin), then one [`push`](Preparer::push) per event in
/// order, then [`finish`](Preparer::finish).
pub trait Preparer: Send {
    /// Starts a batch of about `expected` events (a sizing hint, not a promise).
    fn begin(&mut self, expected: usize);

    /// Adds the batch's next event.
    fn push(&mut self, event: Event);

    /// Ends the batch: everything pushed since [`begin`](Preparer::begin), ready for
    /// [`Sink::send_prepared`].
    fn finish(&mut self) -> Prepared;

    /// Makes a whole `batch` ready at once.
    fn prepare(&mut self, batch: Vec<Event>) -> Prepared {
        self.begin(batch.len());
        for event in batch {
            self.push(event);
        }
        self.finish()
    }
}

/// The [`Preparer`] of sinks that have none of their own: it collects the events as they are
/// ([`Prepared::Events`]).
#[derive(Debug, Default)]
pub struct Collect(Vec<Event>);

impl Preparer for Collect {
    fn begin(&mut self, expected: usize) {
        self.0 = Vec::with_capacity(expected);
    }

    fn push(&mut self, event: Event) {
        self.0.push(event);
    }

    fn finish(&mut self) -> Prepared {
        Prepared::Events(std::mem::take(&mut self.0))
    }
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

    /// The sink's [`Preparer`], if it has a CPU half worth running elsewhere; the default has
    /// none (batches are then handed over as [`Prepared::Events`]).
    fn preparer(&self) -> Option<Box<dyn Preparer>> {
        None
    }

    /// Delivers a batch made by this sink's [`Preparer`] (or plain events), like [`Sink::send`].
    fn send_prepared(&mut self, batch: Prepared) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        match batch {
            Prepared::Events(events) => self.send(events),
            Prepared::Bulk(_) => Box::pin(async {
                Err(SinkError::Failed(
                    "this sink cannot deliver Elasticsearch bulk requests".into(),
                ))
            }),
        }
    }
}

pub mod batcher;
pub mod elasticsearch;
pub mod file;
pub mod stdout;

pub use batcher::Batcher;
pub use elasticsearch::{ElasticsearchConfig, ElasticsearchSink};
pub use file::{FileSink, FileSinkConfig};
pub use stdout::{StdoutSink, StdoutSinkConfig};
