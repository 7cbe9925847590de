//! The Elasticsearch/OpenSearch `_bulk` sink.
//!
//! Split as Vector's sink is: [`config`] → [`encoder`] (event → bulk lines, index/id templates
//! from [`template`]) → [`request`] (cutting and assembling bodies) → [`service`] (delivering
//! one request: retries, 413 splitting, metrics) over [`client`] (the only HTTP code, with
//! [`tls`]) → [`response`] (reading answers) and [`retry`] (back-off).

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

use super::{Rejected, Sink, SinkAck, SinkError};
use crate::event::Event;
use bytes::Bytes;
use client::Client;
use encoder::Encoder;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use request::{Doc, Request};
use service::{Refused, Service, SinkMetrics};
use std::ops::Range;
use std::sync::Arc;

/// The sink's name in logs, metrics and dead letters.
pub const NAME: &str = "elasticsearch";

/// Sends events to Elasticsearch or OpenSearch with `_bulk`.
#[derive(Debug)]
pub struct ElasticsearchSink {
    service: Arc<Service>,
    encoder: Encoder,
    bulk: BulkConfig,
    concurrency: usize,
    healthcheck: Healthcheck,
    pipeline: String,
}

impl ElasticsearchSink {
    /// Builds the sink for `pipeline` (no request is made; see [`Self::healthcheck`]).
    pub fn new(cfg: ElasticsearchConfig, pipeline: &str) -> Result<Self, SinkError> {
        let client = Client::new(&cfg).map_err(|e| SinkError::Config(e.to_string()))?;
        Ok(ElasticsearchSink {
            encoder: Encoder::new(&cfg),
            service: Arc::new(Service {
                client,
                op: cfg.op_type,
                gzip: cfg.compression == Compression::Gzip,
                retry: cfg.retry.clone(),
                metrics: SinkMetrics::new(pipeline, NAME),
            }),
            bulk: cfg.bulk.clone(),
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
        &self.bulk
    }

    /// Encodes `batch` straight into request-sized buffers (at most `bulk.max_docs` documents
    /// and `bulk.max_bytes` bytes each; a larger document goes alone). Events that cannot be
    /// encoded are added to `refused`.
    fn encode_requests(&mut self, batch: &[Event], refused: &mut Vec<Refused>) -> Vec<Request> {
        let (max_docs, max_bytes) = (self.bulk.max_docs.max(1), self.bulk.max_bytes);
        let mut requests = Vec::new();
        let mut cur: Vec<(usize, Range<usize>)> = Vec::new();
        let capacity =
            |avg: usize, left: usize| (avg * left.min(max_docs)).min(max_bytes) + 2 * avg;
        let mut buf = Vec::with_capacity(capacity(1024, batch.len()));
        let mut encoded = 0usize;
        let mut encoded_docs = 0usize;
        let seal =
            |buf: Vec<u8>, cur: &mut Vec<(usize, Range<usize>)>, requests: &mut Vec<Request>| {
                let whole = Bytes::from(buf);
                let docs = cur
                    .drain(..)
                    .map(|(pos, r)| Doc {
                        pos,
                        bytes: whole.slice(r),
                        attempts: 0,
                    })
                    .collect();
                requests.push(Request { docs, whole });
            };
        for (pos, ev) in batch.iter().enumerate() {
            let start = buf.len();
            if let Err(e) = self.encoder.encode(ev, &mut buf) {
                refused.push(Refused {
                    pos,
                    reason: e.to_string(),
                    status: None,
                    attempts: 0,
                });
                continue;
            }
            let len = buf.len() - start;
            encoded += len;
            encoded_docs += 1;
            if !cur.is_empty() && (cur.len() >= max_docs || buf.len() > max_bytes) {
                // This document starts the next request.
                let avg = encoded / encoded_docs;
                let mut next = Vec::with_capacity(capacity(avg, batch.len() - pos).max(len));
                next.extend_from_slice(&buf[start..]);
                buf.truncate(start);
                seal(std::mem::replace(&mut buf, next), &mut cur, &mut requests);
                cur.push((pos, 0..len));
            } else {
                cur.push((pos, start..start + len));
            }
        }
        if !cur.is_empty() {
            seal(buf, &mut cur, &mut requests);
        }
        requests
    }

    async fn send_batch(&mut self, batch: Vec<Event>) -> Result<SinkAck, SinkError> {
        let mut refused: Vec<Refused> = Vec::new();
        let requests = self.encode_requests(&batch, &mut refused);
        if !refused.is_empty() {
            self.service
                .metrics
                .dead_lettered
                .increment(refused.len() as u64);
        }
        // The events are freed here, before the round trips: a batch in flight costs its
        // encoded bytes only. A document refused later is rebuilt from what was sent.
        let mut slots = Slots::new(batch, &refused, &requests);
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

/// What it takes to hand a refused document back as the event it was: the event itself when
/// it could not be encoded, otherwise its encoded bytes, source id and `@metadata` (which is
/// not sent).
enum Slot {
    Event(Event),
    Sent {
        doc: Bytes,
        source_id: Option<String>,
        metadata: Option<serde_json::Value>,
    },
    Taken,
}

struct Slots(Vec<Slot>);

impl Slots {
    fn new(batch: Vec<Event>, refused: &[Refused], requests: &[Request]) -> Self {
        let mut docs: Vec<Option<Bytes>> = vec![None; batch.len()];
        for d in requests.iter().flat_map(|r| &r.docs) {
            if let Some(slot) = docs.get_mut(d.pos) {
                *slot = Some(d.bytes.clone());
            }
        }
        let unencoded: std::collections::HashSet<usize> = refused.iter().map(|r| r.pos).collect();
        let slots = batch
            .into_iter()
            .zip(docs)
            .enumerate()
            .map(|(pos, (mut event, doc))| match doc {
                Some(doc) if !unencoded.contains(&pos) => Slot::Sent {
                    doc,
                    source_id: event.source_id.take(),
                    metadata: event.fields.remove(crate::event::METADATA),
                },
                _ => Slot::Event(event),
            })
            .collect();
        Slots(slots)
    }

    /// The event at `pos`, once.
    fn take(&mut self, pos: usize) -> Option<Event> {
        match std::mem::replace(self.0.get_mut(pos)?, Slot::Taken) {
            Slot::Event(e) => Some(e),
            Slot::Sent {
                doc,
                source_id,
                metadata,
            } => {
                // The document is its action line, then its source line.
                let source = doc.splitn(3, |b| *b == b'\n').nth(1).unwrap_or_default();
                let mut event = Event::decode(source, source_id);
                if let Some(m) = metadata {
                    event.fields.insert(crate::event::METADATA.to_string(), m);
                }
                Some(event)
            }
            Slot::Taken => None,
        }
    }
}

impl Sink for ElasticsearchSink {
    fn healthcheck(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move { ElasticsearchSink::healthcheck(self).await.map(|_| ()) })
    }

    fn send(&mut self, batch: Vec<Event>) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        Box::pin(self.send_batch(batch))
    }

    fn name(&self) -> &str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_cut_by_docs_and_bytes_and_keep_every_encoded_event() {
        let cfg = ElasticsearchConfig {
            index: "i-%{service}".into(),
            bulk: BulkConfig {
                max_docs: 3,
                max_bytes: 300,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut sink = ElasticsearchSink::new(cfg, "t").unwrap();
        let mut batch: Vec<Event> = (0..10)
            .map(|i| {
                let mut e = Event::from_message(format!("m{i}"));
                e.insert("service", serde_json::json!("s"));
                e
            })
            .collect();
        batch[4].insert("big", serde_json::json!("x".repeat(500)));
        batch[7].remove("service");
        let mut refused = Vec::new();
        let reqs = sink.encode_requests(&batch, &mut refused);
        assert_eq!(refused.iter().map(|r| r.pos).collect::<Vec<_>>(), vec![7]);
        let pos: Vec<Vec<usize>> = reqs
            .iter()
            .map(|r| r.docs.iter().map(|d| d.pos).collect())
            .collect();
        assert_eq!(
            pos,
            vec![vec![0, 1, 2], vec![3], vec![4], vec![5, 6, 8], vec![9]]
        );
        for r in &reqs {
            let joined: Vec<u8> = r.docs.iter().flat_map(|d| d.bytes.to_vec()).collect();
            assert_eq!(
                joined, r.whole,
                "the whole body is the documents back to back"
            );
        }
        for d in reqs.iter().flat_map(|r| &r.docs) {
            let text = std::str::from_utf8(&d.bytes).unwrap();
            assert!(
                text.contains(&format!("\"message\":\"m{}\"", d.pos)),
                "{text}"
            );
            assert_eq!(text.matches('\n').count(), 2);
        }
        for r in &reqs {
            let total: usize = r.docs.iter().map(|d| d.bytes.len()).sum();
            assert!(total <= 300 || r.docs.len() == 1);
        }
    }
}
