//! The Elasticsearch/OpenSearch `_bulk` sink.
//!
//! Split as Vector's sink is: [`config`] → [`encoder`] (event → bulk lines, index/id templates
//! from [`template`]) → [`request`] (cutting and assembling bodies) → [`service`] (delivering
//! one request: retries, 413 splitting, metrics) over [`client`] (the only HTTP code, with
//! [`tls`]) → [`response`] (reading answers) and [`retry`] (back-off).

pub mod batch;
pub mod client;
pub mod config;
pub mod encoder;
pub mod request;
pub mod response;
pub mod retry;
pub mod service;
pub mod template;
pub mod tls;

pub use config::{
    Auth, BulkConfig, Compression, DocumentId, ElasticsearchConfig, Healthcheck, OpType,
    RetryConfig, Secret, TlsConfig,
};

use super::{Prepared, Preparer, Rejected, Sink, SinkAck, SinkError};
use crate::event::Event;
use batch::{BulkEncoder, EncodedBatch};
use client::Client;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use service::{Service, SinkMetrics};
use std::sync::Arc;

/// The sink's name in logs, metrics and dead letters.
pub const NAME: &str = "elasticsearch";

/// Sends events to Elasticsearch or OpenSearch with `_bulk`.
#[derive(Debug)]
pub struct ElasticsearchSink {
    service: Arc<Service>,
    encoder: BulkEncoder,
    concurrency: usize,
    healthcheck: Healthcheck,
    pipeline: String,
}

impl ElasticsearchSink {
    /// Builds the sink for `pipeline` (no request is made; see [`Self::healthcheck`]).
    pub fn new(cfg: ElasticsearchConfig, pipeline: &str) -> Result<Self, SinkError> {
        let client = Client::new(&cfg).map_err(|e| SinkError::Config(e.to_string()))?;
        Ok(ElasticsearchSink {
            encoder: BulkEncoder::new(&cfg),
            service: Arc::new(Service {
                client,
                op: cfg.op_type,
                gzip: cfg.compression == Compression::Gzip,
                retry: cfg.retry.clone(),
                metrics: SinkMetrics::new(pipeline, NAME),
            }),
            concurrency: cfg.concurrency.max(1),
            healthcheck: cfg.healthcheck,
            pipeline: pipeline.to_string(),
        })
    }

    /// Builds the sink and runs the healthcheck.
    pub async fn connect(cfg: ElasticsearchConfig, pipeline: &str) -> Result<Self, SinkError> {
        let sink = Self::new(cfg, pipeline)?;
        sink.healthcheck().await?;
        Ok(sink)
    }

    /// `GET /` on the hosts, per `healthcheck`: logs the version found; a failure is a warning
    /// (returns `Ok(None)`) unless the check is `required` (returns `Err`).
    pub async fn healthcheck(&self) -> Result<Option<String>, SinkError> {
        if self.healthcheck == Healthcheck::Off {
            return Ok(None);
        }
        match self.service.client.healthcheck().await {
            Ok((host, version)) => {
                tracing::info!(pipeline = %self.pipeline, %host, %version, "Elasticsearch reachable");
                Ok(Some(version))
            }
            Err(e) if self.healthcheck == Healthcheck::Required => Err(SinkError::Failed(format!(
                "Elasticsearch healthcheck failed: {e}"
            ))),
            Err(e) => {
                tracing::warn!(pipeline = %self.pipeline, error = %e, "Elasticsearch healthcheck failed; starting anyway, documents wait in the buffer");
                Ok(None)
            }
        }
    }

    /// The bulk sizing (the pipeline batches by `max_docs` and `flush`).
    pub fn bulk_config(&self) -> &BulkConfig {
        self.encoder.bulk()
    }

    async fn send_batch(&mut self, batch: Vec<Event>) -> Result<SinkAck, SinkError> {
        let encoded = self.encoder.encode(batch);
        self.send_encoded(encoded).await
    }

    /// Delivers an encoded batch: its requests `concurrency` at a time.
    async fn send_encoded(&mut self, batch: EncodedBatch) -> Result<SinkAck, SinkError> {
        let EncodedBatch {
            requests,
            mut refused,
            mut slots,
        } = batch;
        if !refused.is_empty() {
            self.service
                .metrics
                .dead_lettered
                .increment(refused.len() as u64);
        }
        let service = &self.service;
        let mut results = stream::iter(requests)
            .map(|req| Arc::clone(service).deliver(req))
            .buffer_unordered(self.concurrency);
        while let Some(r) = results.next().await {
            refused.extend(r);
        }
        drop(results);
        if refused.is_empty() {
            return Ok(SinkAck::default());
        }
        refused.sort_by_key(|r| r.pos);
        let rejected = refused
            .into_iter()
            .filter_map(|r| {
                let event = slots.take(r.pos)?;
                tracing::warn!(pipeline = %self.pipeline, status = ?r.status, reason = %r.reason, "document refused; sending it to the dead letters");
                Some(Rejected {
                    event,
                    sink: NAME.to_string(),
                    reason: r.reason,
                    status: r.status,
                    attempts: r.attempts,
                })
            })
            .collect();
        Ok(SinkAck { rejected })
    }
}

impl Sink for ElasticsearchSink {
    fn healthcheck(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move { ElasticsearchSink::healthcheck(self).await.map(|_| ()) })
    }

    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        Box::pin(self.send_batch(batch))
    }

    fn preparer(&self) -> Option<Box<dyn Preparer>> {
        Some(Box::new(self.encoder.clone()))
    }

    fn send_prepared(&mut self, batch: Prepared) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        match batch {
            Prepared::Events(events) => Box::pin(self.send_batch(events)),
            Prepared::Bulk(encoded) => Box::pin(self.send_encoded(encoded)),
        }
    }

    fn name(&self) -> &str {
        NAME
    }
}
