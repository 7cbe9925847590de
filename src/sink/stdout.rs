//! The `stdout` sink: one JSON document per line (without `@metadata`), for trying pipelines
//! and piping into other tools.

use super::file::encode_ndjson;
use super::{Sink, SinkAck, SinkError};
use crate::event::Event;
use futures_util::future::BoxFuture;
use std::io::Write;

/// Configuration of the `stdout` sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdoutSinkConfig {
    /// Pretty-print each event over several lines instead of NDJSON. Default: false.
    pub pretty: bool,
}

/// Writes events to standard output (or any writer, for tests).
pub struct StdoutSink {
    cfg: StdoutSinkConfig,
    out: Box<dyn Write + Send>,
    metrics: super::elasticsearch::service::SinkMetrics,
}

impl std::fmt::Debug for StdoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutSink")
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl StdoutSink {
    /// A sink writing to the process's standard output.
    pub fn new(cfg: StdoutSinkConfig, pipeline: &str) -> Self {
        Self::with_writer(cfg, pipeline, Box::new(std::io::stdout()))
    }

    /// A sink writing to `out`.
    pub fn with_writer(cfg: StdoutSinkConfig, pipeline: &str, out: Box<dyn Write + Send>) -> Self {
        StdoutSink {
            cfg,
            out,
            metrics: super::elasticsearch::service::SinkMetrics::new(pipeline, "stdout"),
        }
    }

    fn write(&mut self, batch: &[Event]) -> Result<(), SinkError> {
        let data = if self.cfg.pretty {
            let mut v = Vec::new();
            for e in batch {
                let _ = serde_json::to_writer_pretty(&mut v, &e.sink_fields());
                v.push(b'\n');
            }
            v
        } else {
            encode_ndjson(batch)
        };
        let io = |source| SinkError::Io {
            what: "writing to stdout".to_string(),
            source,
        };
        self.out.write_all(&data).map_err(io)?;
        self.out.flush().map_err(io)?;
        self.metrics.bytes.increment(data.len() as u64);
        self.metrics.sent.increment(batch.len() as u64);
        self.metrics.acked.increment(batch.len() as u64);
        Ok(())
    }
}

impl Sink for StdoutSink {
    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        let r = self.write(&batch);
        Box::pin(async move { r.map(|()| SinkAck::default()) })
    }

    fn name(&self) -> &str {
        "stdout"
    }
}
