//! Delivering one bulk request until every document in it is acknowledged or refused for
//! good: retries of the whole request or of the failed items alone, back-off, 413 splitting,
//! `max_attempts`, and the metrics of all of it.

use super::client::Client;
use super::config::{OpType, RetryConfig};
use super::request::{Body, Doc, Request, body, split};
use super::response::{ItemOutcome, StatusClass, classify_items, classify_status, error_reason};
use super::retry::Backoff;
use bytes::Bytes;
use metrics::{Counter, Gauge, Histogram};
use std::sync::Arc;
use std::time::Duration;

/// A document refused for good.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Position of the event in the batch.
    pub pos: usize,
    /// Why.
    pub reason: String,
    /// HTTP status of the item or request, if any.
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
}

/// The sink's metric handles (labels `pipeline`, `sink`).
#[derive(Debug, Clone)]
pub struct SinkMetrics {
    /// `sluice_sink_docs_sent_total`: documents sent (each attempt counts).
    pub sent: Counter,
    /// `sluice_sink_docs_acked_total`: documents acknowledged.
    pub acked: Counter,
    /// `sluice_sink_docs_retried_total`: documents scheduled for another attempt.
    pub retried: Counter,
    /// `sluice_sink_docs_dead_lettered_total`: documents refused for good.
    pub dead_lettered: Counter,
    /// `sluice_sink_bytes_sent_total`: request body bytes on the wire.
    pub bytes: Counter,
    /// `sluice_sink_request_errors_total`: requests that failed as a whole.
    pub request_errors: Counter,
    /// `sluice_sink_bulk_latency_seconds`: time from sending a bulk request to its answer.
    pub latency: Histogram,
    /// `sluice_sink_requests_in_flight`: bulk requests awaiting an answer.
    pub in_flight: Gauge,
}

impl SinkMetrics {
    /// Registers the handles for `pipeline` and `sink`.
    pub fn new(pipeline: &str, sink: &str) -> Self {
        let l = [
            ("pipeline", pipeline.to_string()),
            ("sink", sink.to_string()),
        ];
        SinkMetrics {
            sent: metrics::counter!("sluice_sink_docs_sent_total", &l),
            acked: metrics::counter!("sluice_sink_docs_acked_total", &l),
            retried: metrics::counter!("sluice_sink_docs_retried_total", &l),
            dead_lettered: metrics::counter!("sluice_sink_docs_dead_lettered_total", &l),
            bytes: metrics::counter!("sluice_sink_bytes_sent_total", &l),
            request_errors: metrics::counter!("sluice_sink_request_errors_total", &l),
            latency: metrics::histogram!("sluice_sink_bulk_latency_seconds", &l),
            in_flight: metrics::gauge!("sluice_sink_requests_in_flight", &l),
        }
    }
}

/// Everything a delivery needs, shared by the concurrent requests of a batch.
#[derive(Debug)]
pub struct Service {
    /// The HTTP client.
    pub client: Client,
    /// Bulk action (for reading 409s).
    pub op: OpType,
    /// Compress bodies.
    pub gzip: bool,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Metric handles.
    pub metrics: SinkMetrics,
}

struct InFlight<'a>(&'a Gauge);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

enum Step {
    /// Retry these docs after the delay.
    Retry(Vec<Doc>, Option<Duration>, String, Option<u16>),
    /// These two halves go separately.
    Split(Vec<Doc>, Vec<Doc>),
    /// Nothing left.
    Done,
}

impl Service {
    /// Delivers one bulk request's documents; returns those refused for good.
    pub async fn deliver(self: Arc<Self>, req: Request) -> Vec<Refused> {
        let mut refused = Vec::new();
        // The first attempt sends the encoder's buffer as it is; later ones (a subset after
        // per-item retries, halves after a 413) assemble their body.
        let mut whole = Some(req.whole);
        let mut queue = vec![req.docs];
        while let Some(mut docs) = queue.pop() {
            let mut backoff = Backoff::new(&self.retry);
            loop {
                match self.attempt(docs, whole.take(), &mut refused).await {
                    Step::Done => break,
                    Step::Split(a, b) => {
                        queue.push(b);
                        queue.push(a);
                        break;
                    }
                    Step::Retry(rest, retry_after, why, status) => {
                        docs = self.give_up_exhausted(rest, &why, status, &mut refused);
                        if docs.is_empty() {
                            break;
                        }
                        self.metrics.retried.increment(docs.len() as u64);
                        let delay = backoff.next_delay(retry_after);
                        tracing::debug!(docs = docs.len(), ?delay, reason = %why, "retrying bulk documents");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        refused
    }

    /// Refuses the docs that used up `retry.max_attempts`; returns the others.
    fn give_up_exhausted(
        &self,
        docs: Vec<Doc>,
        why: &str,
        status: Option<u16>,
        refused: &mut Vec<Refused>,
    ) -> Vec<Doc> {
        let max = self.retry.max_attempts;
        if max == 0 {
            return docs;
        }
        let (keep, out): (Vec<Doc>, Vec<Doc>) = docs.into_iter().partition(|d| d.attempts < max);
        self.refuse(
            out.into_iter().map(|d| Refused {
                pos: d.pos,
                reason: format!("gave up after {} attempts: {why}", d.attempts),
                status,
                attempts: d.attempts,
            }),
            refused,
        );
        keep
    }

    fn refuse(&self, it: impl Iterator<Item = Refused>, refused: &mut Vec<Refused>) {
        let before = refused.len();
        refused.extend(it);
        let n = refused.len() - before;
        if n > 0 {
            self.metrics.dead_lettered.increment(n as u64);
        }
    }

    /// One request for `docs`; `whole` is their concatenation when the caller has it.
    async fn attempt(
        &self,
        mut docs: Vec<Doc>,
        whole: Option<Bytes>,
        refused: &mut Vec<Refused>,
    ) -> Step {
        for d in &mut docs {
            d.attempts += 1;
        }
        let built = match whole {
            Some(bytes) if !self.gzip => Ok(Body {
                raw_len: bytes.len(),
                bytes,
                gzip: false,
            }),
            _ => body(&docs, self.gzip),
        };
        let body = match built {
            Ok(b) => b,
            // Compressing into memory cannot really fail; retry if it ever does.
            Err(e) => return Step::Retry(docs, None, format!("compressing: {e}"), None),
        };
        self.metrics.sent.increment(docs.len() as u64);
        self.metrics.bytes.increment(body.bytes.len() as u64);
        self.metrics.in_flight.increment(1.0);
        let guard = InFlight(&self.metrics.in_flight);
        let started = tokio::time::Instant::now();
        let reply = self.client.bulk(body.bytes, body.gzip).await;
        self.metrics.latency.record(started.elapsed().as_secs_f64());
        drop(guard);
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                self.metrics.request_errors.increment(1);
                tracing::warn!(error = %e, docs = docs.len(), "bulk request failed; will retry");
                return Step::Retry(docs, None, e.to_string(), None);
            }
        };
        match classify_status(reply.status) {
            StatusClass::Items => {}
            StatusClass::TooLarge => {
                self.metrics.request_errors.increment(1);
                if docs.len() < 2 {
                    let why = format!(
                        "HTTP 413: the document alone ({} bytes) is larger than the server accepts: {}",
                        body.raw_len,
                        error_reason(&reply.body)
                    );
                    self.refuse(
                        docs.into_iter().map(|d| Refused {
                            pos: d.pos,
                            reason: why.clone(),
                            status: Some(413),
                            attempts: d.attempts,
                        }),
                        refused,
                    );
                    return Step::Done;
                }
                tracing::info!(host = %reply.host, bytes = body.raw_len, docs = docs.len(), "413: splitting the bulk request");
                return match split(docs) {
                    Some((a, b)) => Step::Split(a, b),
                    None => Step::Done,
                };
            }
            StatusClass::Retry => {
                self.metrics.request_errors.increment(1);
                let why = format!("HTTP {}: {}", reply.status, error_reason(&reply.body));
                tracing::warn!(host = %reply.host, reason = %why, docs = docs.len(), "bulk request refused; will retry");
                return Step::Retry(docs, reply.retry_after, why, Some(reply.status));
            }
            StatusClass::Reject => {
                self.metrics.request_errors.increment(1);
                let why = format!("HTTP {}: {}", reply.status, error_reason(&reply.body));
                tracing::error!(host = %reply.host, reason = %why, docs = docs.len(), "bulk request rejected");
                self.refuse(
                    docs.into_iter().map(|d| Refused {
                        pos: d.pos,
                        reason: why.clone(),
                        status: Some(reply.status),
                        attempts: d.attempts,
                    }),
                    refused,
                );
                return Step::Done;
            }
        }
        let outcomes = match classify_items(&reply.body, self.op, docs.len()) {
            Ok(o) => o,
            Err(e) => {
                self.metrics.request_errors.increment(1);
                tracing::warn!(host = %reply.host, error = %e, "unreadable bulk answer; will retry");
                return Step::Retry(docs, reply.retry_after, e.to_string(), Some(reply.status));
            }
        };
        let mut retry = Vec::new();
        let mut last_reason = String::new();
        let mut last_status = None;
        let mut acked = 0u64;
        for (doc, outcome) in docs.into_iter().zip(outcomes) {
            match outcome {
                ItemOutcome::Acked => acked += 1,
                ItemOutcome::Retry { status, reason } => {
                    last_reason = reason;
                    last_status = Some(status);
                    retry.push(doc);
                }
                ItemOutcome::Reject { status, reason } => self.refuse(
                    std::iter::once(Refused {
                        pos: doc.pos,
                        reason,
                        status: Some(status),
                        attempts: doc.attempts,
                    }),
                    refused,
                ),
            }
        }
        self.metrics.acked.increment(acked);
        if retry.is_empty() {
            Step::Done
        } else {
            Step::Retry(retry, reply.retry_after, last_reason, last_status)
        }
    }
}
